package windows

import (
	"cmp"
	"container/heap"
	"fmt"
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
	Kind   Kind
	Key    string
	Window Window
	// Aggs is the window's state: read its results with Spec.Result. It is nil for
	// KindDelete, and valid only until the next call to the Operator (updates change it).
	Aggs      *Aggs
	Watermark int64 // the partition watermark when the result was emitted

	spec *Spec
}

// String formats the emission for test scripts.
func (e Emission) String() string {
	if e.Kind == KindDelete || e.spec == nil {
		return fmt.Sprintf("%s %s %s wm=%s", e.Kind, e.Key, e.Window, fmtTime(e.Watermark))
	}
	return fmt.Sprintf("%s %s %s wm=%s %s", e.Kind, e.Key, e.Window, fmtTime(e.Watermark), e.spec.Format(e.Aggs))
}

// Late is a record that arrived after all the windows it belongs to had closed. It is
// returned to the caller, never dropped.
type Late struct {
	Record Record
	Lateness
}

// String formats the late record for test scripts.
func (l Late) String() string {
	v := ""
	if len(l.Record.Values) > 0 {
		v = fmt.Sprintf(" v=%g", l.Record.Values[0].Num)
	}
	return fmt.Sprintf("late %s t=%d%s %s", l.Record.Key, l.Record.EventTime, v, l.Lateness)
}

// Record is one input record of an Operator.
type Record struct {
	Key       string
	EventTime int64 // epoch ms, within [MinTime, MaxTime]
	// Values are the fields the Spec aggregates, by field index: numbers (not NaN), or text
	// for count_distinct. The Operator keeps no reference to them.
	Values []Value
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

// WithSpec sets what each window computes. Default DefaultSpec().
func WithSpec(s *Spec) Option {
	return func(o *Operator) error {
		if s == nil {
			return fmt.Errorf("%w: nil spec", ErrInvalid)
		}
		o.spec = s
		return nil
	}
}

// WithStore keeps the aggregates in s instead of a MemStore.
func WithStore(s Store) Option {
	return func(o *Operator) error {
		if s == nil {
			return fmt.Errorf("%w: nil store", ErrInvalid)
		}
		o.store = s
		return nil
	}
}

// Operator is the windowed aggregation of one partition: feed it the partition's records in
// order and it returns window results and late records. It is deterministic: the same
// records give the same results, whatever the batching of calls and wherever the Store keeps
// the aggregates. It keeps an index of its open windows in memory (keys, bounds and close
// times, not aggregates), which Load rebuilds from a Store's entries after a restart. It is
// not safe for concurrent use; use one Operator per partition.
type Operator struct {
	def   Definition
	spec  *Spec
	store Store
	grace int64
	mode  Mode
	clock *StreamTime

	keys    map[string]*keyState
	closing closeHeap
	open    int // open windows, not counting buffered records
	lastSeq uint64
	anySeq  bool
	scratch []Window
}

type keyState struct {
	wins []Window // open windows
	buf  []bufRec // sliding only: records that may still join a new window, by arrival
}

type bufRec struct {
	t   int64
	seq uint64
}

func (ks *keyState) has(w Window) bool { return slices.Contains(ks.wins, w) }

func (ks *keyState) remove(w Window) bool {
	i := slices.Index(ks.wins, w)
	if i < 0 {
		return false
	}
	ks.wins = slices.Delete(ks.wins, i, i+1)
	return true
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
	if o.spec == nil {
		o.spec = DefaultSpec()
	}
	if o.store == nil {
		o.store = MemStore{}
	}
	return o, nil
}

// Spec returns what each window computes.
func (o *Operator) Spec() *Spec { return o.spec }

// Watermark returns the partition's current watermark.
func (o *Operator) Watermark() int64 { return o.clock.Watermark() }

// Clock returns the state of the partition's clock, to keep with the windows.
func (o *Operator) Clock() Clock { return o.clock.state() }

// SetClock restores the partition's clock after a restart, before any record.
func (o *Operator) SetClock(c Clock) error {
	if c.Seen {
		if err := checkTime(c.Max); err != nil {
			return err
		}
	}
	o.clock.restore(c)
	return nil
}

// Load adds an entry of a Store to the index after a restart (after SetClock): the
// Operator then treats it as open. It refuses entries that the definition and grace would
// not close at e.CloseAt, or buffered records outside sliding windows: state written by
// another definition. An entry the restored watermark has already closed is stale (its
// deletion was lost, as when a compacted changelog dropped the tombstone): Load reports it
// and leaves it out, and the caller deletes it without emitting it again.
func (o *Operator) Load(e Entry) (stale bool, err error) {
	if err := o.checkEntry(e); err != nil {
		return false, err
	}
	if e.CloseAt <= o.clock.Watermark() {
		return true, nil
	}
	ks := o.keys[e.Key]
	if ks == nil {
		ks = &keyState{}
		o.keys[e.Key] = ks
	}
	if e.Buffer {
		b := bufRec{t: e.Window.Start, seq: e.Seq}
		if slices.Contains(ks.buf, b) {
			return false, fmt.Errorf("%w: %s loaded twice", ErrStateMismatch, e)
		}
		ks.buf = append(ks.buf, b)
		slices.SortFunc(ks.buf, func(a, b bufRec) int { return cmp.Compare(a.seq, b.seq) }) // arrival order
	} else {
		if ks.has(e.Window) {
			return false, fmt.Errorf("%w: %s loaded twice", ErrStateMismatch, e)
		}
		ks.wins = append(ks.wins, e.Window)
		o.open++
	}
	heap.Push(&o.closing, closeEntry{at: e.CloseAt, key: e.Key, w: e.Window, buf: e.Buffer, seq: e.Seq})
	return false, nil
}

// checkEntry refuses an entry this Operator could not have written.
func (o *Operator) checkEntry(e Entry) error {
	want := o.closeAt(e.Window)
	if e.Buffer {
		d, ok := o.def.(Sliding)
		if !ok {
			return fmt.Errorf("%w: %s, but only sliding windows buffer records", ErrStateMismatch, e)
		}
		want = o.closeAt(d.Window(e.Window.Start + d.size))
	}
	if e.CloseAt != want {
		return fmt.Errorf("%w: %s, but %s with grace %d closes it at %s", ErrStateMismatch, e, o.def, o.grace, fmtTime(want))
	}
	return nil
}

// Process feeds one record. It returns an error wrapping ErrInvalidRecord, and changes
// nothing, when the record is invalid: a value the spec cannot aggregate, event time out of
// range, or a sequence number that does not increase. Other errors come from the Store.
func (o *Operator) Process(r Record) (Result, error) {
	if err := o.spec.check(&r); err != nil {
		return Result{}, err
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
		ks = &keyState{}
		o.keys[r.Key] = ks
	}
	var changed []update
	var deleted []Window
	var late *Lateness
	var err error
	switch d := o.def.(type) {
	case Tumbling:
		changed, late, err = o.addFixed(ks, d.Assign(r.EventTime, o.scratch[:0]), &r, wm)
	case Hopping:
		changed, late, err = o.addFixed(ks, d.Assign(r.EventTime, o.scratch[:0]), &r, wm)
	case Sliding:
		changed, late, err = o.addSliding(ks, d, &r, wm)
	case Session:
		changed, deleted, late, err = o.addSession(ks, d, &r, wm)
	}
	if err != nil {
		return Result{}, err
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
			res.Emissions = append(res.Emissions, Emission{Kind: KindDelete, Key: r.Key, Window: w, Watermark: wm, spec: o.spec})
		}
		for _, u := range changed {
			res.Emissions = append(res.Emissions, Emission{Kind: KindUpdate, Key: r.Key, Window: u.w, Aggs: u.a, Watermark: wm, spec: o.spec})
		}
		sortEmissions(res.Emissions[start:])
	}
	if advanced {
		if res.Emissions, err = o.closeWindows(res.Emissions); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// AdvanceWatermark raises the watermark to at least wm (it never goes back) and emits the
// windows that closes. Use EndOfInput at the end of a bounded replay to close them all.
func (o *Operator) AdvanceWatermark(wm int64) (Result, error) {
	var res Result
	var err error
	if o.clock.AdvanceTo(wm) {
		res.Emissions, err = o.closeWindows(nil)
	}
	return res, err
}

// Current returns the open windows of key with their aggregates, by window end then start,
// as Update emissions: the features a later operator reads.
func (o *Operator) Current(key string) ([]Emission, error) {
	ks := o.keys[key]
	if ks == nil {
		return nil, nil
	}
	out := make([]Emission, 0, len(ks.wins))
	for _, w := range ks.wins {
		a, err := o.store.Get(o.entry(key, w))
		if err != nil {
			return nil, err
		}
		out = append(out, Emission{Kind: KindUpdate, Key: key, Window: w, Aggs: a, Watermark: o.clock.Watermark(), spec: o.spec})
	}
	sortEmissions(out)
	return out, nil
}

// OpenWindows returns the number of open windows over all keys, a measure of state size.
func (o *Operator) OpenWindows() int { return o.open }

// update is a window a record changed, with its new state.
type update struct {
	w Window
	a *Aggs
}

func (o *Operator) closeAt(w Window) int64 { return w.End + o.def.closeExtra() + o.grace }

func (o *Operator) closed(w Window, wm int64) bool {
	return closedAt(w.End+o.def.closeExtra(), o.grace, wm)
}

func (o *Operator) entry(key string, w Window) Entry {
	return Entry{Key: key, Window: w, CloseAt: o.closeAt(w)}
}

// bufEntry is the entry of a buffered record of a sliding window: it lives until the
// last window that can contain it, the one of a record size ms later, closes.
func (o *Operator) bufEntry(key string, d Sliding, b bufRec) Entry {
	return Entry{Key: key, Window: Window{Start: b.t, End: b.t + 1}, CloseAt: o.closeAt(d.Window(b.t + d.size)), Buffer: true, Seq: b.seq}
}

// open adds a new window to the index.
func (o *Operator) openWindow(ks *keyState, key string, w Window) {
	ks.wins = append(ks.wins, w)
	o.open++
	heap.Push(&o.closing, closeEntry{at: o.closeAt(w), key: key, w: w})
}

// get returns the state of an open window of ks, or a new one (added to the index).
func (o *Operator) get(ks *keyState, key string, w Window) (*Aggs, error) {
	if ks.has(w) {
		return o.store.Get(o.entry(key, w))
	}
	o.openWindow(ks, key, w)
	return o.spec.NewAggs(), nil
}

func (o *Operator) addFixed(ks *keyState, ws []Window, r *Record, wm int64) ([]update, *Lateness, error) {
	o.scratch = ws
	var changed []update
	for _, w := range ws {
		if o.closed(w, wm) {
			continue
		}
		a, err := o.get(ks, r.Key, w)
		if err != nil {
			return nil, nil, err
		}
		o.spec.add(a, r)
		if err := o.store.Put(o.entry(r.Key, w), a); err != nil {
			return nil, nil, err
		}
		changed = append(changed, update{w, a})
	}
	if len(changed) == 0 {
		last := ws[len(ws)-1]
		return nil, &Lateness{Window: last, Watermark: wm, Lateness: behind(wm, r.EventTime)}, nil
	}
	return changed, nil, nil
}

func (o *Operator) addSliding(ks *keyState, d Sliding, r *Record, wm int64) ([]update, *Lateness, error) {
	var changed []update
	for _, w := range ks.wins {
		if !w.Contains(r.EventTime) {
			continue
		}
		e := o.entry(r.Key, w)
		a, err := o.store.Get(e)
		if err != nil {
			return nil, nil, err
		}
		o.spec.add(a, r)
		if err := o.store.Put(e, a); err != nil {
			return nil, nil, err
		}
		changed = append(changed, update{w, a})
	}
	own := d.Window(r.EventTime)
	if !ks.has(own) && !o.closed(own, wm) {
		a := o.spec.NewAggs()
		// Buffered records were all on time; those that an open window can still contain
		// are exactly the buffer (closeWindows drops the others).
		for _, b := range ks.buf {
			if own.Contains(b.t) {
				ba, err := o.store.Get(o.bufEntry(r.Key, d, b))
				if err != nil {
					return nil, nil, err
				}
				o.spec.merge(a, ba)
			}
		}
		o.spec.add(a, r)
		o.openWindow(ks, r.Key, own)
		if err := o.store.Put(o.entry(r.Key, own), a); err != nil {
			return nil, nil, err
		}
		changed = append(changed, update{own, a})
	}
	latest := d.Window(r.EventTime + d.size)
	if len(changed) == 0 {
		return nil, &Lateness{Window: latest, Watermark: wm, Lateness: behind(wm, r.EventTime)}, nil
	}
	if !o.closed(latest, wm) {
		b := bufRec{t: r.EventTime, seq: r.Seq}
		a := o.spec.NewAggs()
		o.spec.add(a, r)
		e := o.bufEntry(r.Key, d, b)
		if err := o.store.Put(e, a); err != nil {
			return nil, nil, err
		}
		ks.buf = append(ks.buf, b)
		heap.Push(&o.closing, closeEntry{at: e.CloseAt, key: r.Key, w: e.Window, buf: true, seq: b.seq})
	}
	slices.SortFunc(changed, func(a, b update) int { return a.w.compare(b.w) })
	return changed, nil, nil
}

func (o *Operator) addSession(ks *keyState, d Session, r *Record, wm int64) (changed []update, deleted []Window, late *Lateness, err error) {
	merged := Window{Start: r.EventTime, End: r.EventTime + 1}
	var joined []Window
	for _, w := range ks.wins {
		if d.Joins(w, r.EventTime) {
			joined = append(joined, w)
			merged.Start = min(merged.Start, w.Start)
			merged.End = max(merged.End, w.End)
		}
	}
	if len(joined) == 0 && o.closed(merged, wm) {
		return nil, nil, &Lateness{Window: merged, Watermark: wm, Lateness: behind(wm, r.EventTime)}, nil
	}
	slices.SortFunc(joined, Window.compare)
	acc := o.spec.NewAggs()
	for _, w := range joined {
		e := o.entry(r.Key, w)
		a, err := o.store.Get(e)
		if err != nil {
			return nil, nil, nil, err
		}
		o.spec.merge(acc, a)
		if w != merged {
			if err := o.store.Delete(e); err != nil {
				return nil, nil, nil, err
			}
			ks.remove(w) // its heap entry goes stale and is skipped
			o.open--
			deleted = append(deleted, w)
		}
	}
	o.spec.add(acc, r)
	if !ks.has(merged) {
		o.openWindow(ks, r.Key, merged)
	} // else: same bounds, its heap entry stays valid
	if err := o.store.Put(o.entry(r.Key, merged), acc); err != nil {
		return nil, nil, nil, err
	}
	return []update{{merged, acc}}, deleted, nil, nil
}

// closeWindows pops every entry closed at the current watermark and deletes it: windows
// leave the state and, in Final mode, their results are appended to out in (end, key,
// start) order; buffered records of sliding windows are dropped.
func (o *Operator) closeWindows(out []Emission) ([]Emission, error) {
	wm := o.clock.Watermark()
	start := len(out)
	for o.closing.Len() > 0 && o.closing[0].at <= wm {
		e := heap.Pop(&o.closing).(closeEntry)
		ks := o.keys[e.key]
		if ks == nil {
			continue
		}
		if e.buf {
			b := bufRec{t: e.w.Start, seq: e.seq}
			if i := slices.Index(ks.buf, b); i >= 0 {
				ks.buf = slices.Delete(ks.buf, i, i+1)
				if err := o.store.Delete(Entry{Key: e.key, Window: e.w, CloseAt: e.at, Buffer: true, Seq: e.seq}); err != nil {
					return nil, err
				}
			}
		} else if ks.has(e.w) {
			en := o.entry(e.key, e.w)
			a, err := o.store.Get(en)
			if err != nil {
				return nil, err
			}
			if err := o.store.Delete(en); err != nil {
				return nil, err
			}
			ks.remove(e.w)
			o.open--
			if o.mode == Final {
				out = append(out, Emission{Kind: KindFinal, Key: e.key, Window: e.w, Aggs: a, Watermark: wm, spec: o.spec})
			}
		} // else: a session merged into another; its entry is stale
		if len(ks.wins) == 0 && len(ks.buf) == 0 {
			delete(o.keys, e.key)
		}
	}
	sortEmissions(out[start:])
	return out, nil
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
	buf bool   // a buffered record of a sliding window
	seq uint64 // buf: the record's Seq
}

// less orders pending closes by close watermark, then totally, so that the order of the
// Store calls (and so of the changelog) does not depend on the order of pushes.
func (e closeEntry) less(o closeEntry) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	if e.buf != o.buf {
		return !e.buf
	}
	if e.key != o.key {
		return e.key < o.key
	}
	if c := e.w.compare(o.w); c != 0 {
		return c < 0
	}
	return e.seq < o.seq
}

// closeHeap orders pending closes (closeEntry.less).
type closeHeap []closeEntry

func (h closeHeap) Len() int           { return len(h) }
func (h closeHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h closeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *closeHeap) Push(x any)        { *h = append(*h, x.(closeEntry)) }
func (h *closeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
