package processor

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/windows"
)

// windowOp is the event-time windowed aggregation: one windows.Operator per partition,
// whose aggregates live in the partition's state behind a per-transaction write-back cache
// (windowStore). All window logic is in package windows; this is the wiring to state and
// outputs.
type windowOp struct {
	index  byte // the operator's position in the pipeline: its state key prefix
	def    windows.Definition
	opts   []windows.Option
	spec   *windows.Spec
	fields []field // what it reads: the aggregates' fields, in their index order
	update bool    // emit: update
}

// State keys of a window operator, after the operator's index byte. FORMAT.md in package
// state describes them.
const (
	windowClockTag byte = 0x00 // [op][0x00] -> windows.AppendClock
	windowEntryTag byte = 0x01 // [op][0x01][windows.AppendEntryKey] -> Spec.AppendAggs
)

func newWindowOp(index byte, def *pipeline.Definition, w *pipeline.Window) (*windowOp, error) {
	ms := func(d interface{ Milliseconds() int64 }) int64 { return d.Milliseconds() }
	var wd windows.Definition
	var err error
	switch w.Type {
	case pipeline.WindowTumbling:
		wd, err = windows.NewTumbling(ms(w.Size))
	case pipeline.WindowHopping:
		wd, err = windows.NewHopping(ms(w.Size), ms(w.Advance))
	case pipeline.WindowSliding:
		wd, err = windows.NewSliding(ms(w.Size))
	case pipeline.WindowSession:
		wd, err = windows.NewSession(ms(w.Gap))
	default:
		err = fmt.Errorf("unknown window type %q", w.Type)
	}
	if err != nil {
		return nil, err
	}

	// Each field gets one index, in the order the aggregates first name it. A field may hold
	// text only when every aggregate of it is count_distinct.
	var fields []field
	index2 := map[string]int{}
	var aggs []windows.Aggregation
	for _, a := range w.Aggregates {
		fn, err := windows.ParseFunc(string(a.Func))
		if err != nil {
			return nil, err
		}
		g := windows.Aggregation{Name: a.Name(), Func: fn, Q: a.Q}
		if fn != windows.FuncCount {
			i, ok := index2[a.Field]
			if !ok {
				i = len(fields)
				index2[a.Field] = i
				fields = append(fields, field{name: a.Field, text: true})
			}
			if fn != windows.FuncCountDistinct {
				fields[i].text = false
			}
			g.Field = i
		}
		aggs = append(aggs, g)
	}
	spec, err := windows.NewSpec(aggs)
	if err != nil {
		return nil, err
	}
	mode := windows.Final
	if w.Emit == pipeline.EmitUpdate {
		mode = windows.Update
	}
	return &windowOp{
		index: index,
		def:   wd,
		opts: []windows.Option{
			windows.WithGrace(ms(w.Grace)),
			windows.WithOutOfOrderness(ms(def.Input.MaxOutOfOrderness)),
			windows.WithMode(mode),
			windows.WithSpec(spec),
		},
		spec:   spec,
		fields: fields,
		update: mode == windows.Update,
	}, nil
}

// windowTask is a task's window state: the partition's Operator and its store.
type windowTask struct {
	op      *windows.Operator // nil until loaded, and after an abort
	store   *windowStore
	lastSeq uint64
	anySeq  bool
}

// loadWindows builds the partition's Operator from the committed state: its clock and the
// index of its open windows. It runs when a task starts and after an abort, which leaves
// the in-memory index ahead of the state.
func (t *task) loadWindows(op *windowOp) error {
	ws := &windowStore{t: t, op: op, cache: map[windows.Entry]*cachedAggs{}}
	o, err := windows.NewOperator(op.def, append(op.opts, windows.WithStore(ws))...)
	if err != nil {
		return err
	}
	staleN := 0
	// Through the open batch, which holds no window change yet (this runs at a task's first
	// record and after an abort), and only over the operator's keys.
	err = t.batch.Range([]byte{op.index}, []byte{op.index + 1}, 0, func(key, value []byte) error {
		if len(key) < 2 {
			return fmt.Errorf("%w: window state key % x is too short", windows.ErrCorrupt, key)
		}
		switch key[1] {
		case windowClockTag:
			c, err := windows.DecodeClock(value)
			if err != nil {
				return err
			}
			ws.stored = c
			return o.SetClock(c)
		case windowEntryTag:
			e, err := windows.ParseEntryKey(key[2:])
			if err != nil {
				return err
			}
			stale, err := o.Load(e)
			if stale {
				// Closed before the clock the state holds: a deletion that did not reach
				// this state (its changelog tombstone was compacted away). Delete it now,
				// without emitting it again.
				staleN++
				return ws.Delete(e)
			}
			return err
		}
		return fmt.Errorf("%w: unknown window state key % x", windows.ErrCorrupt, key)
	})
	if err != nil {
		return fmt.Errorf("load window state: %w", err)
	}
	if staleN > 0 {
		t.p.log.Warn("window state held windows its watermark had closed; deleting them without emitting them again",
			zap.Int32("partition", t.partition), zap.Int("windows", staleN))
	}
	t.win = &windowTask{op: o, store: ws}
	return nil
}

// processWindow runs one decoded record through the partition's windows and produces what
// it emits: window results to the output topic (unless a score operator follows, for which
// the windows are features), a late record to the late topic. dead reports that the
// windows refused the record and it went to the dead-letter topic.
func (r *run) processWindow(t *task, op *windowOp, rec *model.Record, ev event) (dead bool, err error) {
	p := r.p
	if t.win == nil || t.win.op == nil {
		if err := t.loadWindows(op); err != nil {
			return false, fatalf("processor: partition %d: %w; remove the state directory to restore it from the changelog", t.partition, err)
		}
	}
	w := t.win
	// Seq breaks ties between equal event times for first and last: the offset, which
	// increases within one input topic. With several input topics of one partition, the
	// arrival order.
	seq := uint64(rec.Offset)
	if w.anySeq && seq <= w.lastSeq {
		seq = w.lastSeq + 1
	}
	res, err := w.op.Process(windows.Record{Key: string(ev.key), EventTime: ev.eventTime, Values: ev.values, Seq: seq})
	if errors.Is(err, windows.ErrInvalidRecord) {
		return true, r.reject(rec, &DecodeError{Reason: ReasonSchema, Rule: RuleRange, Msg: err.Error()})
	}
	if err != nil {
		return false, fatalf("processor: windows of %s (partition %d, key %q): %w", rec.Position, t.partition, ev.key, err)
	}
	w.lastSeq, w.anySeq = seq, true
	r.emitWindows(t, op, rec.Partition, res.Emissions)
	for i := range res.Late {
		l := res.Late[i].Lateness
		if p.def.OnError.PolicyOf(ReasonLate) == pipeline.PolicyDLQ {
			// A late record's dead letter goes to the late topic, with the window it missed.
			if !r.quiet {
				r.produce(lateRecord(p.def, rec, l), nil)
				p.metrics.late.WithLabelValues(rec.Topic).Inc()
				p.stats.Late.Add(1)
			}
			continue
		}
		if err := r.reject(rec, &DecodeError{Reason: ReasonLate, Msg: fmt.Sprintf(
			"event time %d ms is late by %d ms: window [%d, %d) closed at watermark %d",
			ev.eventTime, l.Lateness, l.Window.Start, l.Window.End, l.Watermark)}); err != nil {
			return false, err
		}
	}
	return false, nil
}

// emitWindows writes window results, unless a score operator follows (the windows are its
// features) or a warm-up leaves them out (Config.WarmUp).
func (r *run) emitWindows(t *task, op *windowOp, partition int32, es []windows.Emission) {
	p := r.p
	if p.sc != nil {
		return
	}
	for i := range es {
		e := &es[i]
		if w := p.cfg.WarmUp; w != nil && (e.Window.End < w.MinWindowEnd || r.quiet && e.Kind != windows.KindFinal) {
			continue
		}
		p.metrics.windows.WithLabelValues(e.Kind.String()).Inc()
		r.produce(r.windowOutput(op, partition, e), nil)
		t.recordsOut().Inc()
		p.stats.RecordsOut.Add(1)
	}
}

// windowOutput is the output record of an emission: see the README's "Window output".
func (r *run) windowOutput(op *windowOp, partition int32, e *windows.Emission) *model.Output {
	out := &model.Output{Topic: r.p.def.Output.Topic, Partition: partition}
	out.Key = appendWindowKey(nil, e.Key, e.Window)
	if e.Kind == windows.KindDelete {
		return out // a tombstone retracts a merged session
	}
	emit := "final"
	if e.Kind == windows.KindUpdate {
		emit = "update"
	}
	b := append(r.out[:0], `{"key":`...)
	b = appendJSONString(b, []byte(e.Key))
	b = append(b, `,"window":{"start":`...)
	b = strconv.AppendInt(b, e.Window.Start, 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, e.Window.End, 10)
	b = append(b, `},"emit":"`...)
	b = append(b, emit...)
	b = append(b, `","watermark":`...)
	b = strconv.AppendInt(b, e.Watermark, 10)
	b = append(b, `,"aggregates":{`...)
	for i, a := range op.spec.Aggregations() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, []byte(a.Name))
		b = append(b, ':')
		v := op.spec.Result(e.Aggs, i)
		if op.spec.Integral(i) {
			b = strconv.AppendUint(b, uint64(v), 10)
		} else {
			b = appendNumber(b, v)
		}
	}
	b = append(b, "}}"...)
	r.out = b
	out.Value = bytes.Clone(b)
	return out
}

// appendWindowKey appends the Kafka key of a window result:
// {"key":"card-17","start":1767225600000,"end":1767226200000}.
func appendWindowKey(b []byte, key string, w windows.Window) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, []byte(key))
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, w.Start, 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, w.End, 10)
	return append(b, '}')
}

// Late-record headers, added to the record's own and the source headers.
const (
	HeaderLateWindowStart = "kappa.late.window.start"
	HeaderLateWindowEnd   = "kappa.late.window.end"
	HeaderLateWatermark   = "kappa.late.watermark"
	HeaderLateLateness    = "kappa.late.lateness_ms"
)

// lateRecord is the late-topic record of rec: unchanged key, value and headers, plus headers
// naming the window it missed, the watermark and the lateness, and the source position.
func lateRecord(def *pipeline.Definition, rec *model.Record, l windows.Lateness) *model.Output {
	h := copyHeaders(rec, 8)
	h = append(h,
		model.Header{Key: HeaderLateWindowStart, Value: strconv.AppendInt(nil, l.Window.Start, 10)},
		model.Header{Key: HeaderLateWindowEnd, Value: strconv.AppendInt(nil, l.Window.End, 10)},
		model.Header{Key: HeaderLateWatermark, Value: strconv.AppendInt(nil, l.Watermark, 10)},
		model.Header{Key: HeaderLateLateness, Value: strconv.AppendInt(nil, l.Lateness, 10)},
	)
	h = appendSourceHeaders(h, rec)
	return &model.Output{
		Topic:     def.LateTopic(),
		Partition: rec.Partition,
		Key:       bytes.Clone(rec.Key),
		Value:     bytes.Clone(rec.Value),
		Headers:   h,
	}
}

// windowStore is the windows.Store of one task: aggregates in the partition's state, read
// once per transaction into a write-back cache and written back, once per entry, when the
// transaction ends (flush). The Operator's index says which entries exist, so an entry it
// puts without a get is new and one it deletes before any write never reaches the state.
type windowStore struct {
	t      *task
	op     *windowOp
	cache  map[windows.Entry]*cachedAggs
	order  []windows.Entry // entries in the order first touched: flush order
	stored windows.Clock   // the clock the committed state holds
	key    []byte          // scratch
	val    []byte          // scratch
}

type cachedAggs struct {
	a       *windows.Aggs
	dirty   bool // to write
	deleted bool // to delete
	stored  bool // the state may hold it: it was read from there, or predates the cache
}

func (s *windowStore) stateKey(e windows.Entry) []byte {
	s.key = windows.AppendEntryKey(append(s.key[:0], s.op.index, windowEntryTag), e)
	return s.key
}

func (s *windowStore) remember(e windows.Entry, c *cachedAggs) {
	s.cache[e] = c
	s.order = append(s.order, e)
}

// Get implements windows.Store.
func (s *windowStore) Get(e windows.Entry) (*windows.Aggs, error) {
	if c := s.cache[e]; c != nil {
		if c.deleted {
			return nil, fmt.Errorf("%s was deleted in this transaction", e)
		}
		return c.a, nil
	}
	v, ok, err := s.t.batch.Get(s.stateKey(e))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s is in the index but not in the state", windows.ErrCorrupt, e)
	}
	a, err := s.op.spec.DecodeAggs(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e, err)
	}
	s.remember(e, &cachedAggs{a: a, stored: true})
	return a, nil
}

// Put implements windows.Store.
func (s *windowStore) Put(e windows.Entry, a *windows.Aggs) error {
	if c := s.cache[e]; c != nil {
		c.a, c.dirty, c.deleted = a, true, false
		return nil
	}
	s.remember(e, &cachedAggs{a: a, dirty: true})
	return nil
}

// Delete implements windows.Store.
func (s *windowStore) Delete(e windows.Entry) error {
	if c := s.cache[e]; c != nil {
		c.a, c.dirty, c.deleted = nil, false, true
		return nil
	}
	s.remember(e, &cachedAggs{deleted: true, stored: true})
	return nil
}

// flush writes the cached entries and the clock into the task's batch: sets and deletes in
// the order the entries were first touched (deterministic, so a replay writes the same
// changelog), then the clock if it moved.
func (s *windowStore) flush(clock windows.Clock) error {
	b := s.t.batch
	for _, e := range s.order {
		c := s.cache[e]
		switch {
		case c.deleted && c.stored:
			if err := b.Delete(s.stateKey(e)); err != nil {
				return err
			}
		case c.dirty:
			s.val = s.op.spec.AppendAggs(s.val[:0], c.a)
			if err := b.Set(s.stateKey(e), s.val); err != nil {
				return err
			}
		}
	}
	if clock != s.stored {
		if err := b.Set([]byte{s.op.index, windowClockTag}, windows.AppendClock(nil, clock)); err != nil {
			return err
		}
		// If the transaction aborts, the task reloads its windows, and this with them.
		s.stored = clock
	}
	s.clear()
	return nil
}

func (s *windowStore) clear() {
	clear(s.cache)
	s.order = s.order[:0]
}
