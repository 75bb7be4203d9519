package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/pipeline"
)

// Headers of a late record (spec windows-wiring.md, section 3), besides the source position
// of HeaderTopic, HeaderPartition and HeaderOffset.
const (
	HeaderTimestamp        = "kappa.source.timestamp"
	HeaderLateWindowStart  = "kappa.late.window.start"
	HeaderLateWindowEnd    = "kappa.late.window.end"
	HeaderLateWatermark    = "kappa.late.watermark"
	HeaderLateLatenessMs   = "kappa.late.lateness_ms"
	lateHeaderPrefix       = "kappa.late."
	sourceHeaderPrefix     = "kappa.source."
	maxValueInProblemBytes = 300
)

// windowRun is the reference run of a window pipeline: one per input partition.
type windowRun struct {
	spec    *windowSpec
	parts   map[int32]*partitionRef
	emitted map[int32]map[winID]int // window records read, by output partition and window
}

// windowOutputs compares the window records of the output topic with the windows the
// reference closed.
func (c *checker) windowOutputs(d *data) {
	for _, p := range sortedKeys(d.output) {
		last := -1
		for _, r := range d.output[p] {
			c.v.Emitted++
			c.windowRecord(r, &last)
		}
	}
	for _, p := range sortedKeys(c.win.parts) {
		for _, w := range c.win.parts[p].closed {
			if w.seen == 0 {
				c.v.Lost++
				c.v.problemf("window %s of partition %d: lost: the reference closed it at watermark %d (input %s/%d@%d), no window record in %s",
					w.id, p, w.watermark, c.cfg.Input, p, w.closedBy, c.cfg.Output)
			}
		}
	}
}

// windowValueJSON is a window record's value as read, pointers telling a missing member.
// Only the members that name the window must have the right type; the others are compared
// as written.
type windowValueJSON struct {
	Key    *string `json:"key"`
	Window *struct {
		Start *int64 `json:"start"`
		End   *int64 `json:"end"`
	} `json:"window"`
	Emit       json.RawMessage `json:"emit"`
	Watermark  json.RawMessage `json:"watermark"`
	Aggregates json.RawMessage `json:"aggregates"`
}

func (c *checker) windowRecord(r *kgo.Record, last *int) {
	v := c.v
	at := fmt.Sprintf("window record %s/%d@%d", r.Topic, r.Partition, r.Offset)
	if r.Value == nil {
		v.WindowMismatches++
		v.problemf("%s: a tombstone (key %.200s); emit final writes none", at, r.Key)
		return
	}
	var wv windowValueJSON
	if err := json.Unmarshal(r.Value, &wv); err != nil || wv.Key == nil || wv.Window == nil || wv.Window.Start == nil || wv.Window.End == nil {
		v.WindowMismatches++
		v.problemf("%s: value %.*q names no key and window", at, maxValueInProblemBytes, r.Value)
		return
	}
	id := winID{*wv.Key, *wv.Window.Start, *wv.Window.End}
	at += " (window " + id.String() + ")"
	if c.win.emitted[r.Partition] == nil {
		c.win.emitted[r.Partition] = map[winID]int{}
	}
	c.win.emitted[r.Partition][id]++
	if n := c.win.emitted[r.Partition][id]; n > 1 {
		v.Duplicates++
		v.problemf("%s: duplicate: record %d for this window, want 1", at, n)
		return
	}
	ref := c.win.parts[r.Partition]
	var w *closedWindow
	if ref != nil {
		w = ref.byID[id]
	}
	if w == nil {
		v.WindowMismatches++
		v.problemf("%s: not closed by the reference: %s", at, c.whyNotClosed(r.Partition, id))
		return
	}
	w.seen++
	if w.index <= *last {
		v.Reordered++
		v.problemf("%s: after a window the reference emits later, want the reference's order (watermark, end, key, start)", at)
	}
	*last = max(*last, w.index)
	wantKey, wantValue := windowKey(id), c.win.spec.windowValue(w)
	if bytes.Equal(r.Key, wantKey) && bytes.Equal(r.Value, wantValue) {
		return
	}
	v.WindowMismatches++
	v.problemf("%s: %s", at, strings.Join(c.windowDiffs(r, &wv, w, wantKey, wantValue), "; "))
}

// whyNotClosed explains why the reference has no closed window id in partition p.
func (c *checker) whyNotClosed(p int32, id winID) string {
	s := c.win.spec
	ref := c.win.parts[p]
	switch {
	case id.end-id.start != s.size || id.start%s.advance != 0:
		return fmt.Sprintf("not a window of the definition (size %d ms, starts at multiples of %d ms)", s.size, s.advance)
	case ref != nil && ref.open[id] != nil:
		wm, _ := ref.watermark()
		return fmt.Sprintf("still open at the end of the committed input (watermark %d < end + grace %d)", wm, id.end+s.grace)
	}
	for _, q := range sortedKeys(c.win.parts) {
		if c.win.parts[q].byID[id] != nil {
			return fmt.Sprintf("the reference closes it in partition %d", q)
		}
	}
	if ref == nil {
		return fmt.Sprintf("input partition %d has no committed valid record", p)
	}
	return "no committed record of the key falls in it"
}

// windowDiffs describes how a window record differs from the reference's.
func (c *checker) windowDiffs(r *kgo.Record, wv *windowValueJSON, w *closedWindow, wantKey, wantValue []byte) []string {
	var diffs []string
	if !bytes.Equal(r.Key, wantKey) {
		diffs = append(diffs, fmt.Sprintf("record key %.200s, want %s", r.Key, wantKey))
	}
	if want := strconv.Quote(string(pipeline.EmitFinal)); string(wv.Emit) != want {
		diffs = append(diffs, fmt.Sprintf("emit %s, want %s", orMissing(wv.Emit), want))
	}
	if want := strconv.FormatInt(w.watermark, 10); string(wv.Watermark) != want {
		diffs = append(diffs, fmt.Sprintf("watermark %s, want %s", orMissing(wv.Watermark), want))
	}
	diffs = append(diffs, c.aggregateDiffs(wv.Aggregates, c.win.spec.results(w.members))...)
	if len(diffs) == 0 { // the same content in another form: member order, spaces, escaping
		diffs = append(diffs, fmt.Sprintf("value %.*s, want exactly %s", maxValueInProblemBytes, r.Value, wantValue))
	}
	return diffs
}

// aggregateDiffs compares an aggregates object with the reference's results: the same names
// in definition order, integers equal, floats bit-exact as written (shortest round-trip
// form), null exactly for non-finite values.
func (c *checker) aggregateDiffs(raw json.RawMessage, want []result) []string {
	names, values, err := orderedMembers(raw)
	if err != nil {
		return []string{fmt.Sprintf("aggregates %.200s: %v", raw, err)}
	}
	wantNames := make([]string, len(want))
	for i := range want {
		wantNames[i] = c.win.spec.aggs[i].Name()
	}
	if !slices.Equal(names, wantNames) {
		return []string{fmt.Sprintf("aggregates named %q, want %q in that order", names, wantNames)}
	}
	var diffs []string
	for i, w := range want {
		got, text := string(values[i]), formatResult(w)
		if got == text {
			continue
		}
		f, err := strconv.ParseFloat(got, 64)
		switch {
		case text != "null" && got != "null" && err == nil && !w.integer && math.Float64bits(f) == math.Float64bits(w.value):
			diffs = append(diffs, fmt.Sprintf("%s %s is not in the shortest form %s", names[i], got, text))
		default:
			diffs = append(diffs, fmt.Sprintf("%s %s, want %s", names[i], got, text))
		}
	}
	return diffs
}

// orderedMembers returns the members of a JSON object in their order.
func orderedMembers(raw json.RawMessage) (names []string, values []json.RawMessage, err error) {
	if len(raw) == 0 {
		return nil, nil, fmt.Errorf("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		names = append(names, t.(string))
		values = append(values, v)
	}
	return names, values, nil
}

// orMissing returns a member's JSON text, or "missing".
func orMissing(raw json.RawMessage) string {
	if raw == nil {
		return "missing"
	}
	return fmt.Sprintf("%.200s", raw)
}

// lateRecords compares the late topic with the records the reference classifies as late.
func (c *checker) lateRecords(d *data) {
	seen := map[position]int{}
	for _, p := range sortedKeys(d.late) {
		last := int64(-1)
		for _, r := range d.late[p] {
			c.v.Late++
			c.lateRecord(d, r, &last, seen)
		}
	}
	for _, p := range sortedKeys(c.win.parts) {
		ref := c.win.parts[p]
		offs := make([]int64, 0, len(ref.late))
		for o := range ref.late {
			offs = append(offs, o)
		}
		slices.Sort(offs)
		for _, o := range offs {
			if l := ref.late[o]; l.seen == 0 {
				c.v.Lost++
				c.v.problemf("input %s/%d@%d: lost: late (window %s closed at watermark %d), no record in the late topic %s",
					c.cfg.Input, p, o, l.window, l.watermark, c.cfg.Late)
			}
		}
	}
}

// sourceOf reads the source position headers of a dead-letter or late record; problem
// says what is wrong with them.
func sourceOf(r *kgo.Record) (topic string, src position, problem string) {
	var part, off string
	var hasTopic, hasPart, hasOff bool
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderTopic:
			topic, hasTopic = string(h.Value), true
		case HeaderPartition:
			part, hasPart = string(h.Value), true
		case HeaderOffset:
			off, hasOff = string(h.Value), true
		}
	}
	p, perr := strconv.ParseInt(part, 10, 32)
	o, oerr := strconv.ParseInt(off, 10, 64)
	if !hasTopic || !hasPart || !hasOff || perr != nil || oerr != nil {
		return topic, src, fmt.Sprintf("headers %s=%q %s=%q %s=%q do not name a source position",
			HeaderTopic, topic, HeaderPartition, part, HeaderOffset, off)
	}
	return topic, position{int32(p), o}, ""
}

func (c *checker) lateRecord(d *data, r *kgo.Record, last *int64, seen map[position]int) {
	v := c.v
	at := fmt.Sprintf("late record %s/%d@%d", r.Topic, r.Partition, r.Offset)
	topic, src, problem := sourceOf(r)
	if problem != "" {
		v.WindowMismatches++
		v.problemf("%s: %s", at, problem)
		return
	}
	if topic != c.cfg.Input {
		v.WindowMismatches++
		v.problemf("%s: source topic %q, want the input %q", at, topic, c.cfg.Input)
		return
	}
	at += fmt.Sprintf(" (source %s/%d@%d)", topic, src.partition, src.offset)
	seen[src]++
	if seen[src] > 1 {
		v.WindowMismatches++
		v.problemf("%s: duplicate: late record %d for this input record, want 1", at, seen[src])
		return
	}
	if src.partition != r.Partition {
		v.WindowMismatches++
		v.problemf("%s: in partition %d, want the source's partition number %d", at, r.Partition, src.partition)
		return
	}
	if src.offset <= *last {
		v.Reordered++
		v.problemf("%s: after a late record of source offset %d, want increasing source offsets", at, *last)
	}
	*last = max(*last, src.offset)
	if committed, ok := d.committed[src.partition]; !ok || src.offset >= committed {
		v.AbortedReads++
		v.problemf("%s: the input record is not committed (group offset %s)", at, offsetString(committed, ok))
		return
	}
	e := c.exp[src]
	switch {
	case e == nil:
		v.WindowMismatches++
		v.problemf("%s: not a committed input record (below the log start, a control record or aborted)", at)
		return
	case !e.valid:
		v.WindowMismatches++
		v.problemf("%s: the input record is invalid (%s), want a dead-letter record", at, e.why)
		return
	}
	ref := c.win.parts[src.partition]
	l := ref.late[src.offset]
	if l == nil {
		v.WindowMismatches++
		v.problemf("%s: the reference does not classify it as late: it joined an open window at watermark %d", at, ref.watermarkAt[src.offset])
		return
	}
	l.seen++
	var diffs []string
	if !bytes.Equal(r.Key, e.rec.Key) || !bytes.Equal(r.Value, e.rec.Value) {
		diffs = append(diffs, "key and value differ from the input record's, want them copied unchanged")
	}
	var kept []kgo.RecordHeader
	got := map[string]string{}
	for _, h := range r.Headers {
		if strings.HasPrefix(h.Key, lateHeaderPrefix) || strings.HasPrefix(h.Key, sourceHeaderPrefix) {
			got[h.Key] = string(h.Value)
		} else {
			kept = append(kept, h)
		}
	}
	for _, h := range [][2]string{
		{HeaderLateWindowStart, strconv.FormatInt(l.window.start, 10)},
		{HeaderLateWindowEnd, strconv.FormatInt(l.window.end, 10)},
		{HeaderLateWatermark, strconv.FormatInt(l.watermark, 10)},
		{HeaderLateLatenessMs, strconv.FormatInt(l.lateness, 10)},
		{HeaderTimestamp, strconv.FormatInt(e.rec.Timestamp.UnixMilli(), 10)},
	} {
		if g, ok := got[h[0]]; !ok || g != h[1] {
			if !ok {
				g = "missing"
			}
			diffs = append(diffs, fmt.Sprintf("header %s %s, want %s", h[0], g, h[1]))
		}
	}
	if !slices.EqualFunc(kept, e.rec.Headers, func(a, b kgo.RecordHeader) bool {
		return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
	}) {
		diffs = append(diffs, fmt.Sprintf("%d headers besides kappa.*, want the input record's %d unchanged", len(kept), len(e.rec.Headers)))
	}
	if len(diffs) > 0 {
		v.WindowMismatches++
		v.problemf("%s: %s", at, strings.Join(diffs, "; "))
	}
}
