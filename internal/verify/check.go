package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter headers that name an input record's position; the same names as the
// processor's HeaderTopic, HeaderPartition and HeaderOffset.
const (
	HeaderTopic     = "kappa.source.topic"
	HeaderPartition = "kappa.source.partition"
	HeaderOffset    = "kappa.source.offset"
	// HeaderReason is the processor's HeaderReason: the reason class of a dead letter.
	HeaderReason = "kappa.dlq.reason"
)

// data is what the verifier read: per partition, in offset order.
type data struct {
	input  map[int32][]*kgo.Record // committed input records, below committed
	output map[int32][]*kgo.Record
	dlq    map[int32][]*kgo.Record
	late   map[int32][]*kgo.Record // window pipelines: the late topic
	// committed is the group's committed offset per input partition: the end of the input
	// that counts as consumed. A partition without a commit is absent.
	committed map[int32]int64
}

// position is an input record's partition and offset.
type position struct {
	partition int32
	offset    int64
}

// expected is what one input record must produce.
type expected struct {
	rec   *kgo.Record
	valid bool
	why   string // why the record is invalid
	// reason is the dead-letter reason class of an invalid record: decode or schema.
	reason string
	in     input
	agg    aggregate // the running aggregate of its key, it included
	seen   int       // output and dead-letter records of this input record
}

// aggregate is the running count, sum, min and max of one key, as the processor keeps it:
// the sum added in record order, so the same records give the same bits.
type aggregate struct {
	count         uint64
	sum, min, max float64
}

func (a *aggregate) add(v float64) {
	if a.count == 0 {
		a.min, a.max = v, v
	} else {
		a.min = min(a.min, v)
		a.max = max(a.max, v)
	}
	a.count++
	a.sum += v
}

// outputValue is an output record's value:
//
//	{"key":"card-17","count":3,"sum":37.5,"min":2.5,"max":20,"event_time":1764000000123,
//	 "source":{"topic":"in","partition":2,"offset":1234}}
//
// Pointers tell a missing member from a zero one.
type outputValue struct {
	Key       *string  `json:"key"`
	Count     *uint64  `json:"count"`
	Sum       *float64 `json:"sum"`
	Min       *float64 `json:"min"`
	Max       *float64 `json:"max"`
	EventTime *int64   `json:"event_time"`
	Source    *struct {
		Topic     *string `json:"topic"`
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
	} `json:"source"`
}

// checker recomputes the expected outputs and compares what was read against them.
type checker struct {
	cfg *Config
	v   *Verdict
	exp map[position]*expected
	win *windowRun // window pipelines only
}

// check fills v's counters from d. cfg has its defaults applied and, for a window pipeline,
// a valid Window.
func check(cfg *Config, d *data, v *Verdict) {
	c := &checker{cfg: cfg, v: v, exp: map[position]*expected{}}
	if cfg.Window != nil {
		spec, err := newWindowSpec(cfg.Window, cfg.MaxOutOfOrderness)
		if err != nil {
			panic(fmt.Sprintf("verify: check with an invalid Window: %v", err)) // Run validates first
		}
		c.win = &windowRun{spec: spec, parts: map[int32]*partitionRef{}, emitted: map[int32]map[winID]int{}}
	}
	c.recompute(d)
	if c.win != nil {
		c.windowOutputs(d)
		c.lateRecords(d)
	} else {
		for _, p := range sortedKeys(d.output) {
			last := int64(-1)
			for _, r := range d.output[p] {
				v.Emitted++
				c.output(d, r, &last)
			}
		}
	}
	for _, p := range sortedKeys(d.dlq) {
		last := int64(-1)
		for _, r := range d.dlq[p] {
			v.DLQ++
			c.deadLetter(d, r, &last)
		}
	}
	c.lost(d)
}

// recompute derives every input record's expected output: a running aggregate per
// (partition, key) in offset order over the valid records or, for a window pipeline, the
// reference run of each partition.
func (c *checker) recompute(d *data) {
	dec := &decoder{keyField: c.cfg.KeyField, amountField: c.cfg.AmountField, timeField: c.cfg.TimeField, timeFormat: c.cfg.TimeFormat, schema: c.cfg.Schema}
	if c.cfg.Dedup != nil {
		dec.idField = c.cfg.Dedup.Field
	}
	for _, p := range sortedKeys(d.input) {
		aggs := map[string]aggregate{}
		ids := dedupRef{first: map[string]int64{}}
		for _, r := range d.input[p] {
			c.v.CommittedIn++
			e := &expected{rec: r}
			c.exp[position{r.Partition, r.Offset}] = e
			if c.win != nil {
				in, err := dec.decodeWindow(r.Value, c.win.spec.aggs)
				if err != nil {
					e.why, e.reason = err.Error(), reasonOf(err)
					continue
				}
				e.valid = true
				if c.win.parts[p] == nil {
					c.win.parts[p] = newPartitionRef(c.win.spec)
				}
				c.win.parts[p].add(r.Offset, in)
				continue
			}
			in, err := dec.decode(r.Value)
			if err != nil {
				e.why, e.reason = err.Error(), reasonOf(err)
				continue
			}
			if dd := c.cfg.Dedup; dd != nil {
				if first, dup := ids.offer(in.id, in.eventTime, dd.Horizon.Milliseconds()); dup {
					e.why, e.reason = fmt.Sprintf("event id %q was first seen at event time %d, within the horizon", in.id, first), "duplicate"
					continue
				}
			}
			a := aggs[in.key]
			a.add(in.amount)
			aggs[in.key] = a
			e.valid, e.in, e.agg = true, in, a
		}
	}
}

// attribute counts a record of position src that was read from a partition whose previous
// records came from input offsets up to *last. It returns the input record's expectation
// when this is the first record for it and it can be compared.
func (c *checker) attribute(what string, r *kgo.Record, src position, last *int64, d *data) *expected {
	v := c.v
	at := fmt.Sprintf("%s %s/%d@%d (source %s/%d@%d)", what, r.Topic, r.Partition, r.Offset, c.cfg.Input, src.partition, src.offset)
	e := c.exp[src]
	if e != nil {
		e.seen++
		if e.seen > 1 {
			v.Duplicates++
			v.problemf("%s: duplicate: record %d for this input record, want 1", at, e.seen)
			return nil
		}
	}
	if src.partition != r.Partition {
		v.AggregateMismatches++
		v.problemf("%s: in partition %d, want the source's partition number %d", at, r.Partition, src.partition)
		return nil
	}
	if src.offset <= *last {
		v.Reordered++
		v.problemf("%s: after a record of source offset %d, want increasing source offsets", at, *last)
	}
	*last = max(*last, src.offset)
	if committed, ok := d.committed[src.partition]; !ok || src.offset >= committed {
		v.AbortedReads++
		v.problemf("%s: the input record is not committed (group offset %s)", at, offsetString(committed, ok))
		return nil
	}
	if e == nil {
		v.AggregateMismatches++
		v.problemf("%s: not a committed input record (below the log start, a control record or aborted)", at)
		return nil
	}
	return e
}

// headerOf returns the value of r's header key, or "".
func headerOf(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func offsetString(o int64, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.FormatInt(o, 10)
}

func (c *checker) output(d *data, r *kgo.Record, last *int64) {
	v := c.v
	var ov outputValue
	if err := json.Unmarshal(r.Value, &ov); err != nil || ov.Source == nil || ov.Source.Topic == nil ||
		ov.Source.Partition == nil || ov.Source.Offset == nil {
		v.AggregateMismatches++
		v.problemf("output %s/%d@%d: value %.200q has no source topic, partition and offset", r.Topic, r.Partition, r.Offset, r.Value)
		return
	}
	if *ov.Source.Topic != c.cfg.Input {
		v.AggregateMismatches++
		v.problemf("output %s/%d@%d: source topic %q, want the input %q", r.Topic, r.Partition, r.Offset, *ov.Source.Topic, c.cfg.Input)
		return
	}
	src := position{*ov.Source.Partition, *ov.Source.Offset}
	e := c.attribute("output", r, src, last, d)
	if e == nil {
		return
	}
	at := fmt.Sprintf("output %s/%d@%d (source %s/%d@%d)", r.Topic, r.Partition, r.Offset, c.cfg.Input, src.partition, src.offset)
	if !e.valid {
		v.AggregateMismatches++
		v.problemf("%s: the input record is invalid (%s), want a dead-letter record", at, e.why)
		return
	}
	var diffs []string
	diff := func(name string, ok bool, got, want string) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s, want %s", name, got, want))
		}
	}
	str := func(p *string) string {
		if p == nil {
			return "missing"
		}
		return strconv.Quote(*p)
	}
	flt := func(p *float64) string {
		if p == nil {
			return "missing"
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	num := func(p *int64) string {
		if p == nil {
			return "missing"
		}
		return strconv.FormatInt(*p, 10)
	}
	cnt := "missing"
	if ov.Count != nil {
		cnt = strconv.FormatUint(*ov.Count, 10)
	}
	a := &e.agg
	diff("record key", string(r.Key) == e.in.key, strconv.Quote(string(r.Key)), strconv.Quote(e.in.key))
	diff("key", ov.Key != nil && *ov.Key == e.in.key, str(ov.Key), strconv.Quote(e.in.key))
	diff("count", ov.Count != nil && *ov.Count == a.count, cnt, strconv.FormatUint(a.count, 10))
	diff("sum", ov.Sum != nil && *ov.Sum == a.sum, flt(ov.Sum), flt(&a.sum))
	diff("min", ov.Min != nil && *ov.Min == a.min, flt(ov.Min), flt(&a.min))
	diff("max", ov.Max != nil && *ov.Max == a.max, flt(ov.Max), flt(&a.max))
	diff("event_time", ov.EventTime != nil && *ov.EventTime == e.in.eventTime, num(ov.EventTime), num(&e.in.eventTime))
	if len(diffs) > 0 {
		v.AggregateMismatches++
		v.problemf("%s: %s", at, strings.Join(diffs, "; "))
	}
}

func (c *checker) deadLetter(d *data, r *kgo.Record, last *int64) {
	v := c.v
	topic, src, problem := sourceOf(r)
	if problem != "" {
		v.AggregateMismatches++
		v.problemf("dead letter %s/%d@%d: %s", r.Topic, r.Partition, r.Offset, problem)
		return
	}
	if topic != c.cfg.Input {
		v.AggregateMismatches++
		v.problemf("dead letter %s/%d@%d: source topic %q, want the input %q", r.Topic, r.Partition, r.Offset, topic, c.cfg.Input)
		return
	}
	e := c.attribute("dead letter", r, src, last, d)
	if e == nil {
		return
	}
	at := fmt.Sprintf("dead letter %s/%d@%d (source %s/%d@%d)", r.Topic, r.Partition, r.Offset, c.cfg.Input, src.partition, src.offset)
	switch {
	case e.valid && c.win != nil:
		v.AggregateMismatches++
		v.problemf("%s: the input record is valid, want it in its windows", at)
	case e.valid:
		v.AggregateMismatches++
		v.problemf("%s: the input record is valid, want an output record", at)
	case !bytes.Equal(r.Key, e.rec.Key) || !bytes.Equal(r.Value, e.rec.Value):
		v.AggregateMismatches++
		v.problemf("%s: key and value differ from the input record's, want them copied unchanged", at)
	case headerOf(r, HeaderReason) != e.reason:
		v.AggregateMismatches++
		v.problemf("%s: reason %q, want %q (the input record is invalid: %s)", at, headerOf(r, HeaderReason), e.reason, e.why)
	}
}

// lost counts committed input records without any output (for a window pipeline: invalid
// ones without a dead letter; windows are counted by windowOutputs), and generated records
// that were never committed.
func (c *checker) lost(d *data) {
	v := c.v
	for _, p := range sortedKeys(d.input) {
		for _, r := range d.input[p] {
			e := c.exp[position{r.Partition, r.Offset}]
			if e.seen > 0 || (c.win != nil && e.valid) {
				continue
			}
			v.Lost++
			want := "output record"
			if !e.valid {
				want = "dead-letter record (the record is invalid: " + e.why + ")"
			}
			v.problemf("input %s/%d@%d: lost: no %s", r.Topic, r.Partition, r.Offset, want)
		}
	}
	switch {
	case v.CommittedIn < v.Generated:
		v.Lost += v.Generated - v.CommittedIn
		v.problemf("%d of %d generated records were never committed by group %q", v.Generated-v.CommittedIn, v.Generated, c.cfg.Group)
	case v.CommittedIn > v.Generated:
		v.problemf("group %q committed %d input records, more than the %d generated", c.cfg.Group, v.CommittedIn, v.Generated)
	}
}

func sortedKeys[V any](m map[int32]V) []int32 {
	ks := make([]int32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// dedupRef is one partition's deduplication as pipeline.Dedup defines it, with every id kept
// (no expiry): the stream time is the largest event time seen, a record older than the
// horizon is neither checked nor remembered, and a record is a duplicate when its id was
// first seen within the horizon of the stream time.
type dedupRef struct {
	clock int64
	seen  bool
	first map[string]int64
}

// offer reports whether a record is a duplicate, with the event time of the id's first
// copy, and remembers the id when it is not.
func (d *dedupRef) offer(id string, t, horizon int64) (first int64, dup bool) {
	if !d.seen || t > d.clock {
		d.clock, d.seen = t, true
	}
	cutoff := d.clock - horizon
	if t < cutoff {
		return 0, false
	}
	if at, ok := d.first[id]; ok && at >= cutoff {
		return at, true
	}
	d.first[id] = t
	return 0, false
}
