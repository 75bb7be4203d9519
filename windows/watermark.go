package windows

import (
	"fmt"
	"math"
)

// NoWatermark is the watermark before a partition has seen any record: no window is closed.
const NoWatermark int64 = math.MinInt64

// EndOfInput is the watermark at the end of a bounded replay: every window is closed.
const EndOfInput int64 = math.MaxInt64

// StreamTime is the event-time clock of one partition: its stream time is the largest event
// time seen, and its watermark is the stream time minus the allowed out-of-orderness. It
// never goes backwards and never reads the wall clock. The zero value is not usable; use
// NewStreamTime.
type StreamTime struct {
	outOfOrder int64
	max        int64
	seen       bool
	floor      int64 // explicit advances (AdvanceTo); NoWatermark if none
}

// NewStreamTime returns the clock of one partition allowing records up to outOfOrder ms
// behind the largest event time seen before windows may close on them (0 is allowed).
func NewStreamTime(outOfOrder int64) (*StreamTime, error) {
	if err := checkNonNegative("allowed out-of-orderness", outOfOrder); err != nil {
		return nil, err
	}
	return &StreamTime{outOfOrder: outOfOrder, floor: NoWatermark}, nil
}

// Observe records an event time and reports whether the watermark advanced.
func (s *StreamTime) Observe(t int64) bool {
	before := s.Watermark()
	if !s.seen || t > s.max {
		s.max, s.seen = t, true
	}
	return s.Watermark() > before
}

// state returns the clock's state for storage.
func (s *StreamTime) state() Clock { return Clock{Max: s.max, Seen: s.seen, Floor: s.floor} }

// restore sets the clock's state from storage.
func (s *StreamTime) restore(c Clock) {
	s.max, s.seen, s.floor = c.Max, c.Seen, c.Floor
	if !c.Seen {
		s.max = 0
	}
}

// Max returns the stream time (largest event time seen) and whether any record was seen.
func (s *StreamTime) Max() (int64, bool) { return s.max, s.seen }

// AdvanceTo raises the watermark to at least wm, for the end of a bounded replay
// (EndOfInput) or an explicit watermark. It never lowers it. It reports whether the
// watermark advanced.
func (s *StreamTime) AdvanceTo(wm int64) bool {
	before := s.Watermark()
	if wm > s.floor {
		s.floor = wm
	}
	return s.Watermark() > before
}

// Watermark returns max(stream time - out-of-orderness, explicit advances), or NoWatermark
// before the first record.
func (s *StreamTime) Watermark() int64 {
	wm := NoWatermark
	if s.seen {
		wm = s.max - s.outOfOrder
	}
	return max(wm, s.floor)
}

// Closed reports whether the window w with the given grace is closed: the watermark is at or
// past w.End + grace. Closed windows accept no more records.
func (s *StreamTime) Closed(w Window, grace int64) bool {
	return closedAt(w.End, grace, s.Watermark())
}

// closedAt reports whether a window ending at end closes at watermark wm; end+grace never
// overflows for times and durations within the package's bounds.
func closedAt(end, grace, wm int64) bool { return wm >= end+grace }

// Lateness says by how much a record missed its windows.
type Lateness struct {
	// Window is the latest window the record would have joined.
	Window Window
	// Watermark is the watermark when the record arrived.
	Watermark int64
	// Lateness is Watermark - event time in ms: how far behind the watermark the record is.
	Lateness int64
}

// String formats the lateness for logs and test output.
func (l Lateness) String() string {
	return fmt.Sprintf("window=%s wm=%s lateness=%d", l.Window, fmtTime(l.Watermark), l.Lateness)
}

// LateFixed classifies a record at t for tumbling or hopping windows: it is late when all the
// windows it belongs to are closed at watermark wm with the given grace. For hopping windows
// the latest window closes last, so it decides.
func LateFixed(def Definition, t, grace, wm int64) (Lateness, bool) {
	var buf [1]Window
	var ws []Window
	switch d := def.(type) {
	case Tumbling:
		ws = d.Assign(t, buf[:0])
	case Hopping:
		ws = d.Assign(t, buf[:0])
	default:
		return Lateness{}, false
	}
	last := ws[len(ws)-1]
	if !closedAt(last.End, grace, wm) {
		return Lateness{}, false
	}
	return Lateness{Window: last, Watermark: wm, Lateness: behind(wm, t)}, true
}

// behind returns wm - t, saturating at math.MaxInt64 (wm may be EndOfInput).
func behind(wm, t int64) int64 {
	if t < 0 && wm > math.MaxInt64+t {
		return math.MaxInt64
	}
	return wm - t
}
