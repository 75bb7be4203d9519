package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/windows"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "features:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "examples/fraud/fraud.yaml", "the pipeline file whose window and score operators define the features")
	n := fs.Int64("n", 200_000, "records to generate (malformed ones included, and left out of the CSV)")
	seed := fs.Uint64("seed", 1, "the generator's seed")
	rate := fs.Int("rate", 2000, "records per second of event time, as kappa demo -rate")
	cards := fs.Int("cards", gen.DefaultCards, "distinct cards")
	partitions := fs.Int("partitions", 4, "partitions, as kappa demo -partitions: one window operator each")
	compromised := fs.Int("compromised", 5, "cards compromised at any time (gen.Fraud.Compromised)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	def, err := pipeline.Load(*file)
	if err != nil {
		return err
	}
	c := demoCards(def, *seed, *rate, *partitions)
	c.Cards = *cards
	c.Fraud.Compromised = *compromised
	if err := c.Validate(); err != nil {
		return err
	}
	x, err := newExtractor(def)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}

	// A bufio.Writer keeps its first error and returns it from every later call: Flush
	// reports a failed write.
	w := bufio.NewWriter(stdout)
	fmt.Fprintln(w, strings.Join(x.names, ",")+",label")
	var rows, frauds, late int
	var buf []byte
	err = x.each(&c, 0, *n, func(_ int64, features []float64, isLate, fraud bool) {
		buf = buf[:0]
		for _, v := range features {
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			buf = append(buf, ',')
		}
		label := byte('0')
		if fraud {
			label = '1'
			frauds++
		}
		if isLate {
			late++
		}
		_, _ = w.Write(append(buf, label, '\n')) // Flush reports an error
		rows++
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "features: %d rows (%d fraud, %d late) from %d records of seed %d\n", rows, frauds, late, *n, *seed)
	return nil
}

// demoCards is the stream of `kappa demo` with the fraud pattern on: rate records per
// second of event time over partitions, one malformed record in 500, the pipeline's key and
// time fields.
func demoCards(def *pipeline.Definition, seed uint64, rate, partitions int) gen.Cards {
	return gen.Cards{
		Seed: seed, Partitions: int32(partitions), BadEvery: 500,
		KeyField: def.Input.KeyField, TimeField: def.Input.EventTime.Field,
		Step:  time.Second / time.Duration(max(1, rate)),
		Fraud: gen.Fraud{Compromised: 5},
	}
}

// extractor computes the score operator's features of records, one windows.Operator per
// partition, as the pipeline does.
type extractor struct {
	names []string // the features, as the score operator names them
	// By feature: the record field, or the index of the window aggregate (field "").
	field []string
	agg   []int

	def    windows.Definition
	opts   []windows.Option
	spec   *windows.Spec
	values []valueField // the fields the window aggregates, by windows.Record.Values index

	ops  map[int32]*windows.Operator
	seqs map[int32]uint64
}

// valueField is a field the window aggregates; text when only count_distinct reads it.
type valueField struct {
	name string
	text bool
}

var errNoScore = errors.New("no score operator: nothing says which features the model takes")

func newExtractor(def *pipeline.Definition) (*extractor, error) {
	s := def.ScoreOp()
	if s == nil {
		return nil, errNoScore
	}
	x := &extractor{ops: map[int32]*windows.Operator{}, seqs: map[int32]uint64{}}
	if w := def.WindowOp(); w != nil {
		if err := x.translate(def, w); err != nil {
			return nil, err
		}
	}
	for _, f := range s.Features {
		x.names = append(x.names, f)
		name, ok := pipeline.WindowFeature(f)
		if !ok {
			x.field, x.agg = append(x.field, f), append(x.agg, -1)
			continue
		}
		i := -1
		if x.spec != nil {
			for j, a := range x.spec.Aggregations() {
				if a.Name == name {
					i = j
				}
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("feature %s: no window aggregate named %q", f, name)
		}
		x.field, x.agg = append(x.field, ""), append(x.agg, i)
	}
	return x, nil
}

// translate builds the windows.Operator settings of the pipeline's window operator as the
// processor does (processor/window.go): one Values index per field, in the order the
// aggregates first name it; grace, out-of-orderness and emit mode from the file.
func (x *extractor) translate(def *pipeline.Definition, w *pipeline.Window) error {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	var err error
	switch w.Type {
	case pipeline.WindowTumbling:
		x.def, err = windows.NewTumbling(ms(w.Size))
	case pipeline.WindowHopping:
		x.def, err = windows.NewHopping(ms(w.Size), ms(w.Advance))
	case pipeline.WindowSliding:
		x.def, err = windows.NewSliding(ms(w.Size))
	case pipeline.WindowSession:
		x.def, err = windows.NewSession(ms(w.Gap))
	default:
		err = fmt.Errorf("unknown window type %q", w.Type)
	}
	if err != nil {
		return err
	}
	index := map[string]int{}
	var aggs []windows.Aggregation
	for _, a := range w.Aggregates {
		fn, err := windows.ParseFunc(string(a.Func))
		if err != nil {
			return err
		}
		g := windows.Aggregation{Name: a.Name(), Func: fn, Q: a.Q}
		if fn != windows.FuncCount {
			i, ok := index[a.Field]
			if !ok {
				i = len(x.values)
				index[a.Field] = i
				x.values = append(x.values, valueField{name: a.Field, text: true})
			}
			if fn != windows.FuncCountDistinct {
				x.values[i].text = false
			}
			g.Field = i
		}
		aggs = append(aggs, g)
	}
	if x.spec, err = windows.NewSpec(aggs); err != nil {
		return err
	}
	mode := windows.Final
	if w.Emit == pipeline.EmitUpdate {
		mode = windows.Update
	}
	x.opts = []windows.Option{
		windows.WithGrace(ms(w.Grace)),
		windows.WithOutOfOrderness(ms(def.Input.MaxOutOfOrderness)),
		windows.WithMode(mode),
		windows.WithSpec(x.spec),
	}
	return nil
}

// each computes the features of the well-formed records among [from, to) of c, in order,
// and calls fn with each record's index, features (valid until fn returns), whether the
// window operator found it late, and its label. Records must be fed once, in order: the
// window operators keep their state between calls.
func (x *extractor) each(c *gen.Cards, from, to int64, fn func(i int64, features []float64, late, fraud bool)) error {
	features := make([]float64, len(x.names))
	values := make([]windows.Value, len(x.values))
	for i := from; i < to; i++ {
		tx, ok := c.Txn(i)
		if !ok {
			continue // the pipeline's dead letters
		}
		p, _, value := c.Record(i)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(value, &fields); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		var cur *windows.Emission
		late := false
		if x.spec != nil {
			for j, f := range x.values {
				v, err := value1(fields[f.name], f.text)
				if err != nil {
					return fmt.Errorf("record %d: field %s: %w", i, f.name, err)
				}
				values[j] = v
			}
			op, err := x.operator(p)
			if err != nil {
				return err
			}
			res, err := op.Process(windows.Record{Key: tx.Card, EventTime: tx.EventTime, Values: values, Seq: x.seqs[p]})
			if err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
			x.seqs[p]++
			late = len(res.Late) > 0
			if cur, err = current(op, tx.Card, tx.EventTime); err != nil {
				return err
			}
		}
		for k := range features {
			switch {
			case x.agg[k] >= 0 && cur != nil:
				features[k] = x.spec.Result(cur.Aggs, x.agg[k])
			case x.agg[k] >= 0:
				features[k] = math.NaN()
			default:
				features[k] = number(fields[x.field[k]])
			}
		}
		fn(i, features, late, tx.Fraud)
	}
	return nil
}

func (x *extractor) operator(p int32) (*windows.Operator, error) {
	if op := x.ops[p]; op != nil {
		return op, nil
	}
	op, err := windows.NewOperator(x.def, x.opts...)
	if err != nil {
		return nil, err
	}
	x.ops[p] = op
	return op, nil
}

// current returns the key's current window: among its open windows that contain t, the one
// with the earliest end; nil when none does.
func current(op *windows.Operator, key string, t int64) (*windows.Emission, error) {
	cur, err := op.Current(key)
	if err != nil {
		return nil, err
	}
	for i := range cur { // by end, then start
		if cur[i].Window.Contains(t) {
			return &cur[i], nil
		}
	}
	return nil, nil
}

// value1 decodes a field the window aggregates: a string (text fields only) or a number.
func value1(raw json.RawMessage, text bool) (windows.Value, error) {
	if text && len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return windows.Value{}, err
		}
		return windows.Value{Text: []byte(s), IsText: true}, nil
	}
	v := number(raw)
	if math.IsNaN(v) {
		return windows.Value{}, fmt.Errorf("got %s, want a number", raw)
	}
	return windows.Value{Num: v}, nil
}

// number is a numeric field's value, or NaN (missing) when it is absent or not a number.
func number(raw json.RawMessage) float64 {
	var v float64
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &v) != nil {
		return math.NaN()
	}
	return v
}
