package windows

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDataDriven runs the semantics scripts in testdata/. Regenerate expectations with
//
//	go test ./windows/ -run TestDataDriven -rewrite
//
// Commands:
//
//	define kind=tumbling|hopping|sliding|session [size=] [advance=] [gap=] [grace=] [ooo=] [mode=final|update]
//	       [aggs=<fn>[:<field>[:<q>]],...]
//	    builds a fresh operator over a memory store. aggs defaults to count, sum, min, max,
//	    avg, first and last of field 0; an aggregation is named <fn> or <fn>_<field>.
//	feed
//	<key> <event time> <value> [<value>...]   (one record a line; seq is the line's arrival
//	order; a value that is not a number is text)
//	    prints the emissions and late records, then the watermark.
//	restart [grace=]
//	    builds a new operator with the same definition (or another grace) and loads it from
//	    the old one's store and clock, as the processor does after a restart.
//	watermark <ms>|end
//	    advances the watermark explicitly and prints what closes.
//	current <key>
//	    prints the key's open windows (the features later operators read).
//	assign kind=... size=... [advance=] <t>...
//	    prints the windows a stateless assigner gives each event time.
func TestDataDriven(t *testing.T) {
	files, cases := 0, 0
	defer func() { t.Logf("datadriven: files=%d cases=%d", files, cases) }()
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		files++
		var op *Operator
		var seq uint64
		var store MemStore
		var build func(...Option) (*Operator, error)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			cases++
			switch td.Cmd {
			case "define":
				def, opts, err := parseDefine(td)
				if err != nil {
					return "error: " + err.Error()
				}
				build = func(more ...Option) (*Operator, error) {
					store = MemStore{}
					return NewOperator(def, append(append(opts, more...), WithStore(store))...)
				}
				o, err := build()
				if err != nil {
					return "error: " + err.Error()
				}
				op, seq = o, 0
				if s := o.Spec().String(); s != DefaultSpec().String() {
					return "ok " + def.String() + " " + s
				}
				return "ok " + def.String()
			case "restart":
				requireOp(t, td, op)
				old, clock := store, op.Clock()
				var more []Option
				for _, a := range td.CmdArgs {
					if a.Key == "grace" {
						g, err := strconv.ParseInt(a.Vals[0], 10, 64)
						if err != nil {
							td.Fatalf(t, "grace: %v", err)
						}
						more = append(more, WithGrace(g))
					}
				}
				o, err := build(more...)
				if err != nil {
					td.Fatalf(t, "restart: %v", err)
				}
				if err := o.SetClock(clock); err != nil {
					td.Fatalf(t, "restart: %v", err)
				}
				for e, a := range old {
					// Through the encodings, as a store on disk would keep them.
					k, err := ParseEntryKey(AppendEntryKey(nil, e))
					if err != nil || k != e {
						td.Fatalf(t, "entry key round trip: %v, %v != %v", err, k, e)
					}
					a, err := o.Spec().DecodeAggs(o.Spec().AppendAggs(nil, a))
					if err != nil {
						td.Fatalf(t, "aggregates round trip: %v", err)
					}
					stale, err := o.Load(e)
					if err != nil {
						return "error: " + err.Error()
					}
					if !stale {
						store[e] = a
					}
				}
				op = o
				return fmt.Sprintf("restarted wm=%s open=%d entries=%d\n", fmtTime(op.Watermark()), op.OpenWindows(), len(store))
			case "feed":
				requireOp(t, td, op)
				var b strings.Builder
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					f := strings.Fields(line)
					if len(f) < 2 {
						td.Fatalf(t, "want <key> <time> <value>..., got %q", line)
					}
					ts, err := strconv.ParseInt(f[1], 10, 64)
					if err != nil {
						td.Fatalf(t, "time: %v", err)
					}
					var vals []Value
					for _, raw := range f[2:] {
						if v, err := strconv.ParseFloat(raw, 64); err == nil {
							vals = append(vals, Value{Num: v})
						} else {
							vals = append(vals, Value{Text: []byte(raw), IsText: true})
						}
					}
					seq++
					res, err := op.Process(Record{Key: f[0], EventTime: ts, Values: vals, Seq: seq})
					if err != nil {
						fmt.Fprintf(&b, "error: %v\n", err)
						continue
					}
					writeResult(&b, res)
				}
				fmt.Fprintf(&b, "wm=%s open=%d\n", fmtTime(op.Watermark()), op.OpenWindows())
				return b.String()
			case "watermark":
				requireOp(t, td, op)
				if len(td.CmdArgs) != 1 {
					td.Fatalf(t, "want watermark <ms>|end")
				}
				wm := EndOfInput
				if a := td.CmdArgs[0].Key; a != "end" {
					v, err := strconv.ParseInt(a, 10, 64)
					if err != nil {
						td.Fatalf(t, "watermark: %v", err)
					}
					wm = v
				}
				var b strings.Builder
				res, err := op.AdvanceWatermark(wm)
				if err != nil {
					td.Fatalf(t, "watermark: %v", err)
				}
				writeResult(&b, res)
				fmt.Fprintf(&b, "wm=%s open=%d\n", fmtTime(op.Watermark()), op.OpenWindows())
				return b.String()
			case "current":
				requireOp(t, td, op)
				var b strings.Builder
				cur, err := op.Current(td.CmdArgs[0].Key)
				if err != nil {
					td.Fatalf(t, "current: %v", err)
				}
				for _, e := range cur {
					fmt.Fprintln(&b, e)
				}
				if b.Len() == 0 {
					return "no open windows\n"
				}
				return b.String()
			case "assign":
				def, _, err := parseDefine(td)
				if err != nil {
					return "error: " + err.Error()
				}
				var b strings.Builder
				for _, a := range td.CmdArgs {
					if len(a.Vals) != 0 {
						continue
					}
					ts, err := strconv.ParseInt(a.Key, 10, 64)
					if err != nil {
						td.Fatalf(t, "time: %v", err)
					}
					var ws []Window
					switch d := def.(type) {
					case Tumbling:
						ws = d.Assign(ts, nil)
					case Hopping:
						ws = d.Assign(ts, nil)
					case Sliding:
						ws = []Window{d.Window(ts)}
					default:
						td.Fatalf(t, "assign needs a stateless definition, got %s", def)
					}
					fmt.Fprintf(&b, "%d:", ts)
					for _, w := range ws {
						fmt.Fprintf(&b, " %s", w)
					}
					b.WriteByte('\n')
				}
				return b.String()
			default:
				td.Fatalf(t, "unknown command %q", td.Cmd)
				return ""
			}
		})
	})
}

func requireOp(t *testing.T, td *datadriven.TestData, op *Operator) {
	t.Helper()
	if op == nil {
		td.Fatalf(t, "%s before define", td.Cmd)
	}
}

func writeResult(b *strings.Builder, res Result) {
	for _, l := range res.Late {
		fmt.Fprintln(b, l)
	}
	for _, e := range res.Emissions {
		fmt.Fprintln(b, e)
	}
}

func parseDefine(td *datadriven.TestData) (Definition, []Option, error) {
	args := map[string]string{}
	for _, a := range td.CmdArgs {
		if len(a.Vals) == 1 {
			args[a.Key] = a.Vals[0]
		}
	}
	num := func(k string) (int64, error) {
		v, ok := args[k]
		if !ok {
			return 0, fmt.Errorf("missing %s=", k)
		}
		return strconv.ParseInt(v, 10, 64)
	}
	var def Definition
	var err error
	switch args["kind"] {
	case "tumbling", "hopping", "sliding":
		size, nerr := num("size")
		if nerr != nil {
			return nil, nil, nerr
		}
		switch args["kind"] {
		case "tumbling":
			def, err = NewTumbling(size)
		case "sliding":
			def, err = NewSliding(size)
		default:
			adv, aerr := num("advance")
			if aerr != nil {
				return nil, nil, aerr
			}
			def, err = NewHopping(size, adv)
		}
	case "session":
		gap, nerr := num("gap")
		if nerr != nil {
			return nil, nil, nerr
		}
		def, err = NewSession(gap)
	default:
		return nil, nil, fmt.Errorf("unknown kind %q", args["kind"])
	}
	if err != nil {
		return nil, nil, err
	}
	var opts []Option
	if _, ok := args["grace"]; ok {
		g, err := num("grace")
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, WithGrace(g))
	}
	if _, ok := args["ooo"]; ok {
		g, err := num("ooo")
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, WithOutOfOrderness(g))
	}
	if list, ok := args["aggs"]; ok {
		var aggs []Aggregation
		for _, item := range strings.Split(list, ",") {
			parts := strings.Split(item, ":")
			fn, err := ParseFunc(parts[0])
			if err != nil {
				return nil, nil, err
			}
			a := Aggregation{Name: parts[0], Func: fn}
			if len(parts) > 1 {
				if a.Field, err = strconv.Atoi(parts[1]); err != nil {
					return nil, nil, err
				}
				a.Name += "_" + parts[1]
			}
			if len(parts) > 2 {
				if a.Q, err = strconv.ParseFloat(parts[2], 64); err != nil {
					return nil, nil, err
				}
				a.Name += "_q" + parts[2]
			}
			aggs = append(aggs, a)
		}
		spec, err := NewSpec(aggs)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, WithSpec(spec))
	}
	switch args["mode"] {
	case "", "final":
	case "update":
		opts = append(opts, WithMode(Update))
	default:
		return nil, nil, fmt.Errorf("unknown mode %q", args["mode"])
	}
	return def, opts, nil
}
