package windows

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
)

// Mode says when an Operator emits a window's aggregates.
type Mode uint8

const (
	// Final emits one record per window, when the window closes.
	Final Mode = iota
	// Update emits an upsert each time a window's aggregates change, keyed by key and window
	// (fit for a compacted topic), and a delete when a session is merged into another.
	// Closing a window emits nothing more: its last upsert is its final value.
	Update
)

// String returns "final" or "update".
func (m Mode) String() string {
	switch m {
	case Final:
		return "final"
	case Update:
		return "update"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Kind is the kind of an Emission.
type Kind uint8

const (
	// KindFinal is a closed window's result (Final mode).
	KindFinal Kind = iota
	// KindUpdate is an upsert of an open window's current result (Update mode).
	KindUpdate
	// KindDelete retracts a session window that was merged into another (Update mode).
	KindDelete
)

// String returns "final", "update" or "delete".
func (k Kind) String() string {
	switch k {
	case KindFinal:
		return "final"
	case KindUpdate:
		return "update"
	case KindDelete:
		return "delete"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Emission is one window result of one key.
type Emission struct {
	Kind      Kind
	Key       string
	Window    Window
	Acc       Acc   // zero for KindDelete
	Watermark int64 // the partition watermark when the result was emitted
}

// String formats the emission for test scripts.
func (e Emission) String() string {
	if e.Kind == KindDelete {
		return fmt.Sprintf("%s %s %s wm=%s", e.Kind, e.Key, e.Window, fmtTime(e.Watermark))
	}
	return fmt.Sprintf("%s %s %s wm=%s %s", e.Kind, e.Key, e.Window, fmtTime(e.Watermark), e.Acc)
}

// Late is a record that arrived after all the windows it belongs to had closed. It is
// returned to the caller, never dropped.
type Late struct {
	Record Record
	Lateness
}

// String formats the late record for test scripts.
func (l Late) String() string {
	return fmt.Sprintf("late %s t=%d v=%g %s", l.Record.Key, l.Record.EventTime, l.Record.Value, l.Lateness)
}

// Record is one input record of an Operator.
type Record struct {
	Key       string
	EventTime int64   // epoch ms, within [MinTime, MaxTime]
	Value     float64 // not NaN
	// Seq is the arrival order within the partition, for example the Kafka offset. It must
	// increase from one record to the next; it breaks ties between equal event times for
	// first and last, so a replay gives the same result as the live run.
	Seq uint64
}

// Result is what one call to an Operator produced: emissions in the deterministic order
// (window end, then key, then window start; within one record, updates and deletes come
// before the finals of windows the watermark closed) and late records.
type Result struct {
	Emissions []Emission
	Late      []Late
}

// Option configures an Operator.
type Option func(*Operator) error

// WithGrace keeps windows open grace ms after their end (past the watermark). Default 0.
func WithGrace(grace int64) Option {
	return func(o *Operator) error {
		if err := checkNonNegative("grace", grace); err != nil {
			return err
		}
		o.grace = grace
		return nil
	}
}

// WithOutOfOrderness sets the allowed out-of-orderness in ms: the watermark trails the
// stream time by this much. Default 0.
func WithOutOfOrderness(ms int64) Option {
	return func(o *Operator) error {
		c, err := NewStreamTime(ms)
		if err != nil {
			return err
		}
		o.clock = c
		return nil
	}
}

// WithMode sets the emit mode. Default Final.
func WithMode(m Mode) Option {
	return func(o *Operator) error {
		if m != Final && m != Update {
			return fmt.Errorf("%w: unknown emit mode %d", ErrInvalid, m)
		}
		o.mode = m
		return nil
	}
}

// Operator is the in-memory windowed aggregation of one partition: feed it the partition's
// records in order and it returns window results and late records. It is deterministic:
// the same records give the same results, whatever the batching of calls. It is not safe
// for concurrent use; use one Operator per partition.
type Operator struct {
	def   Definition
	grace int64
	mode  Mode
	clock *StreamTime

	keys    map[string]*keyState
	closing closeHeap
	lastSeq uint64
	anySeq  bool
	scratch []Window
}

type keyState struct {
	wins map[Window]*Acc
	buf  []Record // sliding only: records that may still join a new window, by arrival
}

// NewOperator returns an operator for the window definition def.
func NewOperator(def Definition, opts ...Option) (*Operator, error) {
	switch def.(type) {
	case Tumbling, Hopping, Sliding, Session:
	default:
		return nil, fmt.Errorf("%w: unknown window definition %T", ErrInvalid, def)
	}
	clock, _ := NewStreamTime(0)
	o := &Operator{def: def, mode: Final, clock: clock, keys: map[string]*keyState{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Watermark returns the partition's current watermark.
func (o *Operator) Watermark() int64 { return o.clock.Watermark() }

// Process feeds one record. It returns an error, and changes nothing, when the record is
// invalid: NaN value, event time out of range, or a sequence number that does not increase.
func (o *Operator) Process(r Record) (Result, error) {
	if math.IsNaN(r.Value) {
		return Result{}, fmt.Errorf("%w: key %q seq %d: value is NaN", ErrInvalidRecord, r.Key, r.Seq)
	}
	if err := checkTime(r.EventTime); err != nil {
		return Result{}, fmt.Errorf("key %q seq %d: %w", r.Key, r.Seq, err)
	}
	if o.anySeq && r.Seq <= o.lastSeq {
		return Result{}, fmt.Errorf("%w: key %q: seq %d does not follow %d", ErrInvalidRecord, r.Key, r.Seq, o.lastSeq)
	}
	o.lastSeq, o.anySeq = r.Seq, true

	var res Result
	advanced := o.clock.Observe(r.EventTime)
	wm := o.clock.Watermark()
	ks := o.keys[r.Key]
	if ks == nil {
		ks = &keyState{wins: map[Window]*Acc{}}
		o.keys[r.Key] = ks
	}
	var changed, deleted []Window
	var late *Lateness
	switch d := o.def.(type) {
	case Tumbling:
		changed, late = o.addFixed(ks, d.Assign(r.EventTime, o.scratch[:0]), r, wm)
	case Hopping:
		changed, late = o.addFixed(ks, d.Assign(r.EventTime, o.scratch[:0]), r, wm)
	case Sliding:
		changed, late = o.addSliding(ks, d, r, wm)
	case Session:
		changed, deleted, late = o.addSession(ks, d, r, wm)
	}
	if late != nil {
		res.Late = append(res.Late, Late{Record: r, Lateness: *late})
	}
	if len(ks.wins) == 0 && len(ks.buf) == 0 {
		delete(o.keys, r.Key)
	}
	if o.mode == Update {
		start := len(res.Emissions)
		for _, w := range deleted {
			res.Emissions = append(res.Emissions, Emission{Kind: KindDelete, Key: r.Key, Window: w, Watermark: wm})
		}
		for _, w := range changed {
			res.Emissions = append(res.Emissions, Emission{Kind: KindUpdate, Key: r.Key, Window: w, Acc: *ks.wins[w], Watermark: wm})
		}
		sortEmissions(res.Emissions[start:])
	}
	if advanced {
		res.Emissions = o.closeWindows(res.Emissions)
	}
	return res, nil
}

// AdvanceWatermark raises the watermark to at least wm (it never goes back) and emits the
// windows that closes. Use EndOfInput at the end of a bounded replay to close them all.
func (o *Operator) AdvanceWatermark(wm int64) Result {
	var res Result
	if o.clock.AdvanceTo(wm) {
		res.Emissions = o.closeWindows(nil)
	}
	return res
}

// Current returns the open windows of key with their aggregates, by window end then start,
// as Update emissions: the features a later operator reads.
func (o *Operator) Current(key string) []Emission {
	ks := o.keys[key]
	if ks == nil {
		return nil
	}
	out := make([]Emission, 0, len(ks.wins))
	for w, a := range ks.wins {
		out = append(out, Emission{Kind: KindUpdate, Key: key, Window: w, Acc: *a, Watermark: o.clock.Watermark()})
	}
	sortEmissions(out)
	return out
}

// OpenWindows returns the number of open windows over all keys, a measure of state size.
func (o *Operator) OpenWindows() int {
	n := 0
	for _, ks := range o.keys {
		n += len(ks.wins)
	}
	return n
}

func (o *Operator) closed(w Window, wm int64) bool {
	return closedAt(w.End+o.def.closeExtra(), o.grace, wm)
}

func (o *Operator) open(ks *keyState, key string, w Window) *Acc {
	a := &Acc{}
	ks.wins[w] = a
	heap.Push(&o.closing, closeEntry{at: w.End + o.def.closeExtra() + o.grace, key: key, w: w})
	return a
}

func (o *Operator) addFixed(ks *keyState, ws []Window, r Record, wm int64) ([]Window, *Lateness) {
	o.scratch = ws
	var changed []Window
	for _, w := range ws {
		if o.closed(w, wm) {
			continue
		}
		a := ks.wins[w]
		if a == nil {
			a = o.open(ks, r.Key, w)
		}
		a.Add(r.EventTime, r.Seq, r.Value)
		changed = append(changed, w)
	}
	if len(changed) == 0 {
		last := ws[len(ws)-1]
		return nil, &Lateness{Window: last, Watermark: wm, Lateness: behind(wm, r.EventTime)}
	}
	return changed, nil
}

func (o *Operator) addSliding(ks *keyState, d Sliding, r Record, wm int64) ([]Window, *Lateness) {
	var changed []Window
	for w, a := range ks.wins {
		if w.Contains(r.EventTime) {
			a.Add(r.EventTime, r.Seq, r.Value)
			changed = append(changed, w)
		}
	}
	own := d.Window(r.EventTime)
	if ks.wins[own] == nil && !o.closed(own, wm) {
		a := o.open(ks, r.Key, own)
		for _, b := range ks.buf {
			if own.Contains(b.EventTime) {
				a.Add(b.EventTime, b.Seq, b.Value)
			}
		}
		a.Add(r.EventTime, r.Seq, r.Value)
		changed = append(changed, own)
	}
	// Keep only the records that a window not yet closed could still contain: a record at
	// t is in the windows of records at [t, t+size], the latest of which closes at
	// t+size+1+grace.
	ks.buf = slices.DeleteFunc(ks.buf, func(b Record) bool { return o.closed(d.Window(b.EventTime+d.size), wm) })
	if len(changed) == 0 {
		latest := d.Window(r.EventTime + d.size)
		return nil, &Lateness{Window: latest, Watermark: wm, Lateness: behind(wm, r.EventTime)}
	}
	if !o.closed(d.Window(r.EventTime+d.size), wm) {
		ks.buf = append(ks.buf, r)
	}
	slices.SortFunc(changed, Window.compare)
	return changed, nil
}

func (o *Operator) addSession(ks *keyState, d Session, r Record, wm int64) (changed, deleted []Window, late *Lateness) {
	merged := Window{Start: r.EventTime, End: r.EventTime + 1}
	var joined []Window
	for w := range ks.wins {
		if d.Joins(w, r.EventTime) {
			joined = append(joined, w)
			merged.Start = min(merged.Start, w.Start)
			merged.End = max(merged.End, w.End)
		}
	}
	if len(joined) == 0 && o.closed(merged, wm) {
		return nil, nil, &Lateness{Window: merged, Watermark: wm, Lateness: behind(wm, r.EventTime)}
	}
	slices.SortFunc(joined, Window.compare)
	var acc Acc
	for _, w := range joined {
		acc.Merge(*ks.wins[w])
		if w != merged {
			delete(ks.wins, w) // its heap entry goes stale and is skipped
			deleted = append(deleted, w)
		}
	}
	acc.Add(r.EventTime, r.Seq, r.Value)
	if a, ok := ks.wins[merged]; ok {
		*a = acc // same bounds: its heap entry stays valid
	} else {
		*o.open(ks, r.Key, merged) = acc
	}
	return []Window{merged}, deleted, nil
}

// closeWindows pops every window closed at the current watermark, evicts it and, in Final
// mode, appends its result to out in (end, key, start) order.
func (o *Operator) closeWindows(out []Emission) []Emission {
	wm := o.clock.Watermark()
	start := len(out)
	for o.closing.Len() > 0 && o.closing[0].at <= wm {
		e := heap.Pop(&o.closing).(closeEntry)
		ks := o.keys[e.key]
		if ks == nil {
			continue
		}
		a, ok := ks.wins[e.w]
		if !ok {
			continue // a session merged into another; its entry is stale
		}
		delete(ks.wins, e.w)
		if len(ks.wins) == 0 && len(ks.buf) == 0 {
			delete(o.keys, e.key)
		}
		if o.mode == Final {
			out = append(out, Emission{Kind: KindFinal, Key: e.key, Window: e.w, Acc: *a, Watermark: wm})
		}
	}
	// Sliding buffers of keys that received nothing lately shrink here too.
	if d, ok := o.def.(Sliding); ok {
		for k, ks := range o.keys {
			ks.buf = slices.DeleteFunc(ks.buf, func(b Record) bool { return o.closed(d.Window(b.EventTime+d.size), wm) })
			if len(ks.wins) == 0 && len(ks.buf) == 0 {
				delete(o.keys, k)
			}
		}
	}
	sortEmissions(out[start:])
	return out
}

func (w Window) compare(o Window) int {
	if c := cmp.Compare(w.End, o.End); c != 0 {
		return c
	}
	return cmp.Compare(w.Start, o.Start)
}

// sortEmissions orders emissions by window end, then key, then window start.
func sortEmissions(es []Emission) {
	slices.SortStableFunc(es, func(a, b Emission) int {
		if c := cmp.Compare(a.Window.End, b.Window.End); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Window.Start, b.Window.Start)
	})
}

func fmtTime(t int64) string {
	switch t {
	case NoWatermark:
		return "none"
	case EndOfInput:
		return "end"
	}
	return fmt.Sprint(t)
}

type closeEntry struct {
	at  int64
	key string
	w   Window
}

// closeHeap orders pending closes by close watermark; ties are resolved by sortEmissions.
type closeHeap []closeEntry

func (h closeHeap) Len() int           { return len(h) }
func (h closeHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h closeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *closeHeap) Push(x any)        { *h = append(*h, x.(closeEntry)) }
func (h *closeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
