package windows

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Func is an aggregate function of a window.
type Func uint8

// The aggregate functions. Count counts records; the others take a field of the record.
const (
	FuncCount         Func = iota + 1 // records in the window
	FuncSum                           // sum of a numeric field, added in arrival order
	FuncMin                           // smallest value
	FuncMax                           // largest value
	FuncAvg                           // sum / count
	FuncFirst                         // value of the earliest record by (event time, seq)
	FuncLast                          // value of the latest record by (event time, seq)
	FuncCountDistinct                 // distinct values (HyperLogLog; see SKETCHES)
	FuncQuantile                      // the q-quantile (DDSketch, 1% relative error; see SKETCHES)
)

var funcNames = [...]string{
	FuncCount: "count", FuncSum: "sum", FuncMin: "min", FuncMax: "max", FuncAvg: "avg",
	FuncFirst: "first", FuncLast: "last", FuncCountDistinct: "count_distinct", FuncQuantile: "quantile",
}

// String returns the function's name as pipelines write it: "count", "sum", ...
func (f Func) String() string {
	if int(f) < len(funcNames) && funcNames[f] != "" {
		return funcNames[f]
	}
	return fmt.Sprintf("Func(%d)", uint8(f))
}

// ParseFunc returns the function named s ("count", "count_distinct", ...).
func ParseFunc(s string) (Func, error) {
	for f, name := range funcNames {
		if name != "" && name == s {
			return Func(f), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown aggregate function %q", ErrInvalid, s)
}

// integral reports whether the function's result is a whole number.
func (f Func) integral() bool { return f == FuncCount || f == FuncCountDistinct }

// Aggregation is one aggregate of a window: a function over a field of the record.
type Aggregation struct {
	// Name names the result, for example in output records. Names are distinct.
	Name string
	Func Func
	// Field is the index of the field in Record.Values; ignored by FuncCount.
	Field int
	// Q is the quantile of FuncQuantile, in [0, 1].
	Q float64
}

// Value is one field of a record: a number, or the bytes of a text value (count_distinct
// only; the other functions need numbers).
type Value struct {
	Num    float64
	Text   []byte
	IsText bool
}

// Spec is a validated list of aggregations: what each window of an Operator computes. It
// keeps one accumulator per field and kind, shared by the aggregations that need it (sum,
// max and avg of one field share one Acc). A Spec is immutable and safe for concurrent use.
type Spec struct {
	aggs   []Aggregation
	fields int   // len(Record.Values) needed
	acc    []int // by field: slot in Aggs.Acc, or -1
	dist   []int // by field: slot in Aggs.Distinct, or -1
	quant  []int // by field: slot in Aggs.Quantile, or -1
	nAcc   int
	nDist  int
	nQuant int
	// fieldOf maps slots back to fields, in slot order.
	accField, distField, quantField []int
}

// NewSpec validates aggs: at least one, distinct non-empty names, known functions,
// non-negative fields, quantiles in [0, 1].
func NewSpec(aggs []Aggregation) (*Spec, error) {
	if len(aggs) == 0 {
		return nil, fmt.Errorf("%w: no aggregations", ErrInvalid)
	}
	s := &Spec{aggs: append([]Aggregation(nil), aggs...)}
	seen := map[string]bool{}
	for i, a := range aggs {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("%w: aggregation %d has no name", ErrInvalid, i)
		case seen[a.Name]:
			return nil, fmt.Errorf("%w: two aggregations are named %q", ErrInvalid, a.Name)
		case a.Func < FuncCount || a.Func > FuncQuantile:
			return nil, fmt.Errorf("%w: aggregation %q: unknown function %d", ErrInvalid, a.Name, a.Func)
		case a.Func != FuncCount && a.Field < 0:
			return nil, fmt.Errorf("%w: aggregation %q: field index %d", ErrInvalid, a.Name, a.Field)
		case a.Func == FuncQuantile && !(a.Q >= 0 && a.Q <= 1):
			return nil, fmt.Errorf("%w: aggregation %q: quantile %g is outside [0, 1]", ErrInvalid, a.Name, a.Q)
		}
		seen[a.Name] = true
		if a.Func != FuncCount {
			s.fields = max(s.fields, a.Field+1)
		}
	}
	s.acc, s.dist, s.quant = fill(s.fields), fill(s.fields), fill(s.fields)
	for _, a := range aggs {
		switch a.Func {
		case FuncCount:
		case FuncCountDistinct:
			s.nDist = slot(s.dist, a.Field, s.nDist, &s.distField)
		case FuncQuantile:
			s.nQuant = slot(s.quant, a.Field, s.nQuant, &s.quantField)
		default:
			s.nAcc = slot(s.acc, a.Field, s.nAcc, &s.accField)
		}
	}
	return s, nil
}

func fill(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// slot gives field its slot in slots if it has none, and returns the new slot count.
func slot(slots []int, field, n int, fields *[]int) int {
	if slots[field] >= 0 {
		return n
	}
	slots[field] = n
	*fields = append(*fields, field)
	return n + 1
}

// DefaultSpec is count, sum, min, max, avg, first and last of field 0, named by their
// functions: what an Operator computes unless WithSpec says otherwise.
func DefaultSpec() *Spec {
	var aggs []Aggregation
	for _, f := range []Func{FuncCount, FuncSum, FuncMin, FuncMax, FuncAvg, FuncFirst, FuncLast} {
		aggs = append(aggs, Aggregation{Name: f.String(), Func: f})
	}
	s, err := NewSpec(aggs)
	if err != nil {
		panic(err) // a constant list
	}
	return s
}

// Aggregations returns the aggregations, in order. The caller must not modify them.
func (s *Spec) Aggregations() []Aggregation { return s.aggs }

// Fields is the number of Record.Values an Operator with this spec needs.
func (s *Spec) Fields() int { return s.fields }

// String describes the spec: "count,sum_amount=sum(0),p99=quantile(1,0.99)".
func (s *Spec) String() string {
	var b strings.Builder
	for i, a := range s.aggs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.Name)
		b.WriteByte('=')
		b.WriteString(a.Func.String())
		switch a.Func {
		case FuncCount:
		case FuncQuantile:
			fmt.Fprintf(&b, "(%d,%s)", a.Field, strconv.FormatFloat(a.Q, 'g', -1, 64))
		default:
			fmt.Fprintf(&b, "(%d)", a.Field)
		}
	}
	return b.String()
}

// Aggs is the state of one window (or of one buffered record of a sliding window): the
// record count and one accumulator per field and kind, as the Spec lays them out. The zero
// value is not usable; use Spec.NewAggs.
type Aggs struct {
	Count    uint64
	Acc      []Acc
	Distinct []DistinctAcc
	Quantile []QuantileAcc
}

// NewAggs returns the empty state of a window.
func (s *Spec) NewAggs() *Aggs {
	return &Aggs{
		Acc:      make([]Acc, s.nAcc),
		Distinct: make([]DistinctAcc, s.nDist),
		Quantile: make([]QuantileAcc, s.nQuant),
	}
}

// Clone returns an independent copy of a.
func (a *Aggs) Clone() *Aggs {
	c := &Aggs{Count: a.Count, Acc: append([]Acc(nil), a.Acc...)}
	c.Distinct = make([]DistinctAcc, len(a.Distinct))
	for i := range a.Distinct {
		c.Distinct[i] = *a.Distinct[i].Clone()
	}
	c.Quantile = make([]QuantileAcc, len(a.Quantile))
	for i := range a.Quantile {
		c.Quantile[i] = *a.Quantile[i].Clone()
	}
	return c
}

// check reports a record whose fields the spec cannot aggregate: too few, a text value
// where a number is needed, NaN, or a value a quantile sketch cannot hold.
func (s *Spec) check(r *Record) error {
	if len(r.Values) < s.fields {
		return fmt.Errorf("%w: key %q seq %d: %d values, want %d", ErrInvalidRecord, r.Key, r.Seq, len(r.Values), s.fields)
	}
	for f := range s.fields {
		v := r.Values[f]
		numeric := s.acc[f] >= 0 || s.quant[f] >= 0
		switch {
		case numeric && v.IsText:
			return fmt.Errorf("%w: key %q seq %d: value %d is text; want a number", ErrInvalidRecord, r.Key, r.Seq, f)
		case !v.IsText && math.IsNaN(v.Num):
			return fmt.Errorf("%w: key %q seq %d: value %d is NaN", ErrInvalidRecord, r.Key, r.Seq, f)
		case s.quant[f] >= 0 && (math.IsInf(v.Num, 0) || math.Abs(v.Num) > quantileMapping.MaxIndexableValue()):
			return fmt.Errorf("%w: key %q seq %d: value %d (%g) is beyond what a quantile sketch holds", ErrInvalidRecord, r.Key, r.Seq, f, v.Num)
		}
	}
	return nil
}

// add adds a checked record to a.
func (s *Spec) add(a *Aggs, r *Record) {
	a.Count++
	for i, f := range s.accField {
		a.Acc[i].Add(r.EventTime, r.Seq, r.Values[f].Num)
	}
	for i, f := range s.distField {
		if v := r.Values[f]; v.IsText {
			a.Distinct[i].AddBytes(v.Text)
		} else {
			a.Distinct[i].Add(v.Num)
		}
	}
	for i, f := range s.quantField {
		// check rejected what Add refuses; only a sketch of 2^53 values could fail here,
		// and its count then stays exact in a.Count.
		_ = a.Quantile[i].Add(r.Values[f].Num)
	}
}

// merge adds the records of src to dst. Callers merge in a fixed order (by window start),
// which keeps sums deterministic; the sketches do not depend on the order.
func (s *Spec) merge(dst, src *Aggs) {
	dst.Count += src.Count
	for i := range dst.Acc {
		dst.Acc[i].Merge(src.Acc[i])
	}
	for i := range dst.Distinct {
		dst.Distinct[i].Merge(&src.Distinct[i])
	}
	for i := range dst.Quantile {
		dst.Quantile[i].Merge(&src.Quantile[i])
	}
}

// Result returns the value of aggregation i over a. Count and count_distinct are whole
// numbers; avg of no records is NaN.
func (s *Spec) Result(a *Aggs, i int) float64 {
	g := s.aggs[i]
	switch g.Func {
	case FuncCount:
		return float64(a.Count)
	case FuncCountDistinct:
		return float64(a.Distinct[s.dist[g.Field]].Estimate())
	case FuncQuantile:
		return a.Quantile[s.quant[g.Field]].Quantile(g.Q)
	}
	acc := a.Acc[s.acc[g.Field]]
	switch g.Func {
	case FuncSum:
		return acc.Sum
	case FuncMin:
		return acc.Min
	case FuncMax:
		return acc.Max
	case FuncAvg:
		return acc.Avg()
	case FuncFirst:
		return acc.First
	case FuncLast:
		return acc.Last
	}
	return math.NaN()
}

// Integral reports whether aggregation i always gives a whole number (count,
// count_distinct), to be written without a fraction.
func (s *Spec) Integral(i int) bool { return s.aggs[i].Func.integral() }

// Format writes every result as name=value, for test scripts and logs:
// "count=3 sum=7 min=1 ...". A window without records is "count=0".
func (s *Spec) Format(a *Aggs) string {
	if a == nil || a.Count == 0 {
		return "count=0"
	}
	var b strings.Builder
	for i, g := range s.aggs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.Name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(s.Result(a, i), 'g', -1, 64))
	}
	return b.String()
}

// aggsVersion is the first byte of an encoded Aggs; bump it when the layout changes.
const aggsVersion = 1

// AppendAggs appends the binary encoding of a to dst.
//
// Layout: version byte (1); uvarint record count; uvarint numbers of Acc, distinct and
// quantile slots; then each slot's encoding (AppendAcc, AppendDistinct, AppendQuantile) after
// its uvarint length. Encodings are canonical, so equal states have equal bytes. Encoding
// compacts distinct sketches in place (their value does not change).
func (s *Spec) AppendAggs(dst []byte, a *Aggs) []byte {
	dst = append(dst, aggsVersion)
	dst = binary.AppendUvarint(dst, a.Count)
	dst = binary.AppendUvarint(dst, uint64(len(a.Acc)))
	dst = binary.AppendUvarint(dst, uint64(len(a.Distinct)))
	dst = binary.AppendUvarint(dst, uint64(len(a.Quantile)))
	var part []byte
	put := func(p []byte) {
		dst = binary.AppendUvarint(dst, uint64(len(p)))
		dst = append(dst, p...)
	}
	for i := range a.Acc {
		part = AppendAcc(part[:0], a.Acc[i])
		put(part)
	}
	for i := range a.Distinct {
		part = AppendDistinct(part[:0], &a.Distinct[i])
		put(part)
	}
	for i := range a.Quantile {
		part = AppendQuantile(part[:0], &a.Quantile[i])
		put(part)
	}
	return dst
}

// DecodeAggs decodes what AppendAggs wrote for a spec with the same layout. It wraps
// ErrCorrupt for malformed bytes and for slot counts that do not match the spec (state
// written by another definition).
func (s *Spec) DecodeAggs(src []byte) (*Aggs, error) {
	d := decoder{b: src}
	if v := d.byte(); d.err == nil && v != aggsVersion {
		return nil, fmt.Errorf("%w: aggregates version %d, want %d", ErrCorrupt, v, aggsVersion)
	}
	count := d.uvarint("count")
	nAcc, nDist, nQuant := d.uvarint("accumulators"), d.uvarint("distinct sketches"), d.uvarint("quantile sketches")
	if d.err != nil {
		return nil, d.err
	}
	if nAcc != uint64(s.nAcc) || nDist != uint64(s.nDist) || nQuant != uint64(s.nQuant) {
		return nil, fmt.Errorf("%w: aggregates have %d/%d/%d accumulators, the definition %d/%d/%d; was the window definition changed?",
			ErrCorrupt, nAcc, nDist, nQuant, s.nAcc, s.nDist, s.nQuant)
	}
	a := s.NewAggs()
	a.Count = count
	next := func(what string) []byte {
		n := d.uvarint(what + " length")
		if d.err != nil {
			return nil
		}
		if n > uint64(len(d.b)) {
			d.fail("%s: %d bytes, %d left", what, n, len(d.b))
			return nil
		}
		p := d.b[:n]
		d.b = d.b[n:]
		return p
	}
	var err error
	for i := range a.Acc {
		if p := next("accumulator"); d.err == nil {
			if a.Acc[i], err = DecodeAcc(p); err != nil {
				return nil, err
			}
		}
	}
	for i := range a.Distinct {
		if p := next("distinct sketch"); d.err == nil {
			dd, err := DecodeDistinct(p)
			if err != nil {
				return nil, err
			}
			a.Distinct[i] = *dd
		}
	}
	for i := range a.Quantile {
		if p := next("quantile sketch"); d.err == nil {
			q, err := DecodeQuantile(p)
			if err != nil {
				return nil, err
			}
			a.Quantile[i] = *q
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return a, nil
}
