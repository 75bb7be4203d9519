package windows

import (
	"errors"
	"fmt"
)

// Event times and durations are milliseconds since the Unix epoch. They are bounded so that
// no window arithmetic (end + gap + grace) can overflow an int64.
const (
	// MinTime is the smallest event time the package accepts.
	MinTime int64 = -(1 << 62)
	// MaxTime is the largest event time the package accepts.
	MaxTime int64 = 1<<62 - 1
	// MaxDuration is the largest size, advance, gap, grace or out-of-orderness accepted.
	MaxDuration int64 = 1 << 59
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrInvalid is wrapped by every error about a bad window definition or option.
	ErrInvalid = errors.New("windows: invalid definition")
	// ErrInvalidRecord is wrapped by every error about a record an Operator refuses: NaN
	// value, event time out of range, or a sequence number that does not increase.
	ErrInvalidRecord = errors.New("windows: invalid record")
	// ErrStateMismatch is wrapped by errors about stored state that the Operator's
	// definition could not have written (Operator.Load).
	ErrStateMismatch = errors.New("windows: state does not match the window definition")
)

// Window is the half-open event-time interval [Start, End) in epoch milliseconds.
type Window struct{ Start, End int64 }

// Contains reports whether the event time t lies in [Start, End).
func (w Window) Contains(t int64) bool { return w.Start <= t && t < w.End }

// String formats the window as [start,end).
func (w Window) String() string { return fmt.Sprintf("[%d,%d)", w.Start, w.End) }

// Definition is one of Tumbling, Hopping, Sliding or Session. It is closed: only this
// package implements it.
type Definition interface {
	// String describes the definition, for example "hopping(size=600000,advance=60000)".
	String() string
	// closeExtra is added to a window's end (with the grace) to get the watermark at which
	// it closes: zero for every kind except sessions, which a record up to gap ms after the
	// end can still extend.
	closeExtra() int64
}

func checkDuration(what string, d int64) error {
	if d <= 0 || d > MaxDuration {
		return fmt.Errorf("%w: %s must be in [1, %d] ms, got %d", ErrInvalid, what, MaxDuration, d)
	}
	return nil
}

// checkNonNegative is checkDuration for parameters where 0 means "none".
func checkNonNegative(what string, d int64) error {
	if d < 0 || d > MaxDuration {
		return fmt.Errorf("%w: %s must be in [0, %d] ms, got %d", ErrInvalid, what, MaxDuration, d)
	}
	return nil
}

// checkTime reports an event time out of [MinTime, MaxTime].
func checkTime(t int64) error {
	if t < MinTime || t > MaxTime {
		return fmt.Errorf("%w: event time %d ms is outside [%d, %d]", ErrInvalidRecord, t, MinTime, MaxTime)
	}
	return nil
}

// floorTo rounds t down to a multiple of m (m > 0), also for negative t.
func floorTo(t, m int64) int64 {
	r := t % m
	if r < 0 {
		r += m
	}
	return t - r
}

// Tumbling windows are fixed-size, non-overlapping and aligned to epoch 0: a record at t
// belongs to exactly one window, [floor(t/size)*size, +size).
type Tumbling struct{ size int64 }

// NewTumbling returns tumbling windows of size ms.
func NewTumbling(size int64) (Tumbling, error) {
	if err := checkDuration("tumbling size", size); err != nil {
		return Tumbling{}, err
	}
	return Tumbling{size: size}, nil
}

// Size is the window length in ms.
func (t Tumbling) Size() int64 { return t.size }

// Assign appends the one window containing ts to dst.
func (t Tumbling) Assign(ts int64, dst []Window) []Window {
	s := floorTo(ts, t.size)
	return append(dst, Window{Start: s, End: s + t.size})
}

// String implements Definition.
func (t Tumbling) String() string { return fmt.Sprintf("tumbling(size=%d)", t.size) }

func (Tumbling) closeExtra() int64 { return 0 }

// Hopping windows have a fixed size and start every advance ms, aligned to epoch 0 (starts
// are multiples of advance). A record belongs to every window containing it: size/advance
// windows when advance divides size, otherwise floor or ceil of that.
type Hopping struct{ size, advance int64 }

// NewHopping returns hopping windows of size ms starting every advance ms. The advance must
// not exceed the size (that would leave gaps that no window covers); advance == size is
// tumbling.
func NewHopping(size, advance int64) (Hopping, error) {
	if err := checkDuration("hopping size", size); err != nil {
		return Hopping{}, err
	}
	if err := checkDuration("hopping advance", advance); err != nil {
		return Hopping{}, err
	}
	if advance > size {
		return Hopping{}, fmt.Errorf("%w: hopping advance %d ms exceeds size %d ms; records between windows would belong to none", ErrInvalid, advance, size)
	}
	return Hopping{size: size, advance: advance}, nil
}

// Size is the window length in ms.
func (h Hopping) Size() int64 { return h.size }

// Advance is the distance in ms between consecutive window starts.
func (h Hopping) Advance() int64 { return h.advance }

// Assign appends every window containing ts to dst, by ascending start.
func (h Hopping) Assign(ts int64, dst []Window) []Window {
	last := floorTo(ts, h.advance)
	first := last
	for first-h.advance > ts-h.size {
		first -= h.advance
	}
	for s := first; s <= last; s += h.advance {
		dst = append(dst, Window{Start: s, End: s + h.size})
	}
	return dst
}

// String implements Definition.
func (h Hopping) String() string {
	return fmt.Sprintf("hopping(size=%d,advance=%d)", h.size, h.advance)
}

func (Hopping) closeExtra() int64 { return 0 }

// Sliding windows follow Kafka Streams' SlidingWindows with timeDifference = size: two
// records are in the same window when their event times differ by at most size ms.
//
// Each record at t defines the window [t-size, t+1), that is Kafka's inclusive
// [t-size, t] (its "left window"); records at the same t share it. A window holds every
// record, earlier or later in arrival, whose event time it contains, so a record at t also
// joins the still-open windows of records at u in [t, t+size]. Unlike Kafka Streams, the
// "right windows" [t+1, t+1+size] (the sets left after the earliest record drops out) are
// not produced: there is exactly one window per distinct event time.
type Sliding struct{ size int64 }

// NewSliding returns sliding windows with a maximum time difference of size ms.
func NewSliding(size int64) (Sliding, error) {
	if err := checkDuration("sliding size", size); err != nil {
		return Sliding{}, err
	}
	return Sliding{size: size}, nil
}

// Size is the maximum time difference in ms between two records of one window.
func (s Sliding) Size() int64 { return s.size }

// Window returns the window a record at ts defines: [ts-size, ts+1).
func (s Sliding) Window(ts int64) Window { return Window{Start: ts - s.size, End: ts + 1} }

// String implements Definition.
func (s Sliding) String() string { return fmt.Sprintf("sliding(size=%d)", s.size) }

func (Sliding) closeExtra() int64 { return 0 }

// Session windows group a key's records separated by at most gap ms of inactivity. A
// session's window is [first, last+1) over its records' event times. A record at t joins
// every session with start-gap <= t <= last+gap, which merges them when it bridges two.
//
// A session [s, e) closes when the watermark reaches e + gap + grace: until then a record
// could still extend it (the same rule as Kafka Streams' session close time).
type Session struct{ gap int64 }

// NewSession returns session windows with the inactivity gap in ms.
func NewSession(gap int64) (Session, error) {
	if err := checkDuration("session gap", gap); err != nil {
		return Session{}, err
	}
	return Session{gap: gap}, nil
}

// Gap is the inactivity gap in ms.
func (s Session) Gap() int64 { return s.gap }

// Joins reports whether a record at t joins (or bridges into) the session w.
func (s Session) Joins(w Window, t int64) bool {
	return t >= w.Start-s.gap && t <= w.End-1+s.gap
}

// String implements Definition.
func (s Session) String() string { return fmt.Sprintf("session(gap=%d)", s.gap) }

func (s Session) closeExtra() int64 { return s.gap }
