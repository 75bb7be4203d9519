package verify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/kappa-stream/kappa/pipeline"
)

// This file is the verifier's own account of spec windows-wiring.md, section 4, for one
// input partition: it keeps every window's member records and computes the aggregates from
// them when the window closes, which is slow but leaves nothing to trust.

// winID names one window of one key: [start, end).
type winID struct {
	key        string
	start, end int64
}

func (w winID) String() string {
	return fmt.Sprintf("%s [%d,%d)", strconv.Quote(w.key), w.start, w.end)
}

// member is one input record of a window.
type member struct {
	offset, eventTime int64
	values            []float64 // by aggregation
}

// closedWindow is a window the reference closed: the processor must emit it exactly once.
type closedWindow struct {
	id        winID
	members   []member // in offset order
	watermark int64    // the watermark that closed it
	closedBy  int64    // the input offset whose event time raised the watermark
	index     int      // its place among the partition's emissions
	seen      int      // window records read for it
}

// lateRecord is an input record the reference classifies as late: all its windows were
// closed when it arrived.
type lateRecord struct {
	window    winID // the latest window it would have joined
	watermark int64 // the partition watermark when it arrived
	lateness  int64 // watermark - event time
	seen      int   // late-topic records read for it
}

// partitionRef is the reference run of one input partition.
type partitionRef struct {
	spec      *windowSpec
	closed    []*closedWindow
	byID      map[winID]*closedWindow
	open      map[winID][]member
	openByEnd map[int64][]winID // the open windows by end, to close them without a full scan
	late      map[int64]*lateRecord
	// watermarkAt is the watermark with which each valid record was processed, by offset.
	watermarkAt map[int64]int64
	stream      int64 // the largest event time of the valid records so far
	started     bool  // a valid record was seen: stream is set
}

func newPartitionRef(s *windowSpec) *partitionRef {
	return &partitionRef{
		spec: s, byID: map[winID]*closedWindow{}, open: map[winID][]member{},
		openByEnd: map[int64][]winID{}, late: map[int64]*lateRecord{}, watermarkAt: map[int64]int64{},
	}
}

// watermark is the stream time minus the allowed out-of-orderness, or ok false before the
// first valid record.
func (r *partitionRef) watermark() (wm int64, ok bool) {
	return r.stream - r.spec.outOfOrder, r.started
}

// windowStarts returns the starts of every window containing t, ascending: the multiples s
// of advance with s <= t < s+size (epoch aligned, also for negative t). Tumbling windows
// are those with advance = size: exactly one.
func (s *windowSpec) windowStarts(t int64) []int64 {
	last := t - ((t%s.advance)+s.advance)%s.advance // the largest multiple of advance <= t
	var starts []int64
	for start := last; start+s.size > t; start -= s.advance {
		starts = append(starts, start)
	}
	slices.Reverse(starts)
	return starts
}

// add processes the valid record at offset off: it observes its event time, adds it to each
// of its windows that is not closed (or classifies it as late when none is open), and, if
// the watermark advanced, closes every window with end + grace <= watermark.
func (r *partitionRef) add(off int64, in windowInput) {
	before, hadWatermark := r.watermark()
	if !r.started || in.eventTime > r.stream {
		r.stream, r.started = in.eventTime, true
	}
	wm, _ := r.watermark()
	r.watermarkAt[off] = wm
	starts := r.spec.windowStarts(in.eventTime)
	joined := 0
	for _, start := range starts {
		id := winID{in.key, start, start + r.spec.size}
		if wm >= id.end+r.spec.grace {
			continue // closed
		}
		if _, ok := r.open[id]; !ok {
			r.openByEnd[id.end] = append(r.openByEnd[id.end], id)
		}
		r.open[id] = append(r.open[id], member{offset: off, eventTime: in.eventTime, values: in.values})
		joined++
	}
	if joined == 0 {
		latest := starts[len(starts)-1]
		r.late[off] = &lateRecord{window: winID{in.key, latest, latest + r.spec.size}, watermark: wm, lateness: wm - in.eventTime}
	}
	if !hadWatermark || wm > before {
		r.closeUpTo(wm, off)
	}
}

// closeUpTo closes every open window with end + grace <= wm, in (end, key, start) order.
func (r *partitionRef) closeUpTo(wm, off int64) {
	var ids []winID
	for end, at := range r.openByEnd {
		if end+r.spec.grace <= wm {
			ids = append(ids, at...)
			delete(r.openByEnd, end)
		}
	}
	slices.SortFunc(ids, func(a, b winID) int {
		if c := cmp.Compare(a.end, b.end); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	for _, id := range ids {
		w := &closedWindow{id: id, members: r.open[id], watermark: wm, closedBy: off, index: len(r.closed)}
		delete(r.open, id)
		r.closed = append(r.closed, w)
		r.byID[id] = w
	}
}

// result is one aggregate of a closed window.
type result struct {
	value   float64
	integer bool // count: written as an integer
}

// results computes the window's aggregates from its members: count; sum added in offset
// order starting from the first value (so one record's sum is its value, -0 included);
// min and max as Go's min and max; avg = sum / count; first and last the values of the
// members with the smallest and largest (event time, offset).
func (s *windowSpec) results(ms []member) []result {
	out := make([]result, len(s.aggs))
	first, last := ms[0], ms[0]
	for _, m := range ms[1:] {
		if m.eventTime < first.eventTime || (m.eventTime == first.eventTime && m.offset < first.offset) {
			first = m
		}
		if m.eventTime > last.eventTime || (m.eventTime == last.eventTime && m.offset > last.offset) {
			last = m
		}
	}
	for i, a := range s.aggs {
		sum, lo, hi := ms[0].values[i], ms[0].values[i], ms[0].values[i]
		for _, m := range ms[1:] {
			sum += m.values[i]
			lo, hi = min(lo, m.values[i]), max(hi, m.values[i])
		}
		switch a.Func {
		case pipeline.AggCount:
			out[i] = result{value: float64(len(ms)), integer: true}
		case pipeline.AggSum:
			out[i].value = sum
		case pipeline.AggMin:
			out[i].value = lo
		case pipeline.AggMax:
			out[i].value = hi
		case pipeline.AggAvg:
			out[i].value = sum / float64(len(ms))
		case pipeline.AggFirst:
			out[i].value = first.values[i]
		case pipeline.AggLast:
			out[i].value = last.values[i]
		}
	}
	return out
}

// formatResult writes an aggregate as spec section 2 does: integers as integers, other
// values in Go's shortest round-trip form, non-finite values as null.
func formatResult(r result) string {
	switch {
	case r.integer:
		return strconv.FormatUint(uint64(r.value), 10)
	case math.IsInf(r.value, 0) || math.IsNaN(r.value):
		return "null"
	}
	return strconv.FormatFloat(r.value, 'g', -1, 64)
}

// appendJSONString appends s as encoding/json writes it, HTML escaping included.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// windowKey is the Kafka record key of a window record (spec section 2):
// {"key":"card-17","start":1767225600000,"end":1767226200000}.
func windowKey(id winID) []byte {
	b := append([]byte(`{"key":`), appendJSONString(nil, id.key)...)
	return fmt.Appendf(b, `,"start":%d,"end":%d}`, id.start, id.end)
}

// windowValue is the value of a final window record (spec section 2).
func (s *windowSpec) windowValue(w *closedWindow) []byte {
	b := append([]byte(`{"key":`), appendJSONString(nil, w.id.key)...)
	b = fmt.Appendf(b, `,"window":{"start":%d,"end":%d},"emit":"final","watermark":%d,"aggregates":{`, w.id.start, w.id.end, w.watermark)
	for i, r := range s.results(w.members) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.aggs[i].Name())
		b = append(b, ':')
		b = append(b, formatResult(r)...)
	}
	return append(b, "}}"...)
}
