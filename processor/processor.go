package processor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
	"github.com/kappa-stream/kappa/windows"
)

// Config is what a Processor runs. Definition, Store, NewClient and Changelog are required.
type Config struct {
	// Definition is the validated pipeline.
	Definition *pipeline.Definition
	// Store is the opened local state; the processor does not close it.
	Store *state.Store
	// NewClient returns a new Kafka client whose group callbacks report to a. The processor
	// calls it at start and again after a client failed (an unknown transaction outcome, a
	// lost connection), so that state is rebuilt from the changelog on reassignment.
	NewClient func(a Assignment) (Client, error)
	// Changelog reads the changelog topic for restores.
	Changelog Changelog
	// Logger receives lifecycle logs; nothing is logged per record. Default: no logging.
	Logger *zap.Logger
	// Registerer receives the processor's metrics. Default: none are exported.
	Registerer prometheus.Registerer
	// ShutdownTimeout bounds finishing the open transaction at shutdown. Default 10s.
	ShutdownTimeout time.Duration
	// RetryBackoff is the pause before a failed client is rebuilt. Default 1s.
	RetryBackoff time.Duration
	// Model and Shadow give the models of a score operator (Shadow only when it has a
	// shadow model). A source must hold a model before Run starts.
	Model, Shadow ModelSource
	// WarmUp, for a bounded run that reads from before the range it outputs (a replay),
	// says what to leave out. Nil: write everything.
	WarmUp *WarmUp
	// DriftReference is the reference distributions of quality.drift: required when the
	// pipeline has it, unless Profile is set.
	DriftReference *drift.Reference
	// Profile, for `kappa profile`, receives the values of quality.drift's series (outside
	// any warm-up) instead of a drift monitor: nothing goes to the drift topic.
	Profile *drift.Profiler
}

// WarmUp is the part of a bounded run's input that only builds state. Records of partition
// p before offset Start[p] are processed but write nothing: no output, score, alert, late or
// dead-letter record, and no window update. Window results of windows that end before
// MinWindowEnd (epoch ms) are not written either; a window that closes later and ends at or
// after it is written in full, with the warm-up records it holds.
type WarmUp struct {
	Start        map[int32]int64
	MinWindowEnd int64
}

// Processor runs a pipeline over the input partitions its client is assigned, one task per
// partition, committing each commit interval: outputs, changelog records and input offsets in
// one Kafka transaction, then the tasks' state batches. See processor/DESIGN.md.
type Processor struct {
	cfg     Config
	log     *zap.Logger
	def     *pipeline.Definition
	agg     *aggregateOp // the pipeline's operators: agg, win, sc, or win then sc
	win     *windowOp
	sc      *scoreOp
	dedup   *deduper // input.dedup; nil without
	quality *quality
	drift   *driftOp // quality.drift; nil without
	dec     *decoder // the fields every operator and quality check reads
	// histFields are the decoder's indexes of quality.histograms' fields.
	histFields []int
	// driftFields are the decoder's indexes of quality.drift's features.
	driftFields []int
	metrics     *metrics

	mu       sync.Mutex // guards pending
	pending  []assignEvent
	restores atomic.Int32 // tasks restoring now
	running  atomic.Bool  // a client is up

	stats Stats
}

// Stats are counters for a progress line. Read them with [Processor.Snapshot].
type Stats struct {
	RecordsIn    atomic.Int64
	RecordsOut   atomic.Int64
	DeadLetters  atomic.Int64
	Skipped      atomic.Int64 // records dropped by the skip policy (on_error)
	Late         atomic.Int64
	Alerts       atomic.Int64
	Duplicates   atomic.Int64 // records recognised as duplicates (input.dedup)
	DriftEvals   atomic.Int64 // drift windows evaluated (quality.drift), over series
	Drifted      atomic.Int64 // of which above the threshold
	Commits      atomic.Int64
	Aborts       atomic.Int64
	Restored     atomic.Int64
	LastCommitMs atomic.Int64 // wall-clock time of the last commit, epoch ms
}

// Snapshot is a copy of the processor's counters.
type Snapshot struct {
	RecordsIn, RecordsOut, DeadLetters, Skipped, Late, Alerts, Commits, Aborts, Restored int64
	Duplicates, DriftEvals, Drifted                                                      int64
	LastCommit                                                                           time.Time
}

type assignEvent struct {
	partitions []int32
	revoked    bool
}

// New validates cfg and returns a processor. It does nothing until Run.
func New(cfg Config) (*Processor, error) {
	switch {
	case cfg.Definition == nil:
		return nil, errors.New("processor: Config.Definition is required")
	case cfg.Store == nil:
		return nil, errors.New("processor: Config.Store is required")
	case cfg.NewClient == nil:
		return nil, errors.New("processor: Config.NewClient is required")
	case cfg.Changelog == nil:
		return nil, errors.New("processor: Config.Changelog is required")
	}
	if err := cfg.Definition.Validate(); err != nil {
		return nil, fmt.Errorf("processor: invalid pipeline: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry() // private: metrics go nowhere
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = time.Second
	}
	p := &Processor{cfg: cfg, log: cfg.Logger, def: cfg.Definition}
	if err := p.buildOperators(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.Store)
	if err != nil {
		return nil, err
	}
	p.metrics = m
	if p.quality, err = newQuality(cfg.Definition, cfg.Registerer, p.histFields); err != nil {
		return nil, err
	}
	if cfg.Definition.HasDrift() {
		if p.drift, err = newDriftOp(cfg.Definition, p.driftFields, cfg.DriftReference, cfg.Profile != nil, cfg.Registerer); err != nil {
			return nil, err
		}
	}
	if p.win != nil {
		for _, topic := range cfg.Definition.Input.Topics {
			m.late.WithLabelValues(topic) // zero, not nothing, until the first late record
		}
	}
	reasons := []string{ReasonDecode, ReasonSchema}
	if p.win != nil {
		reasons = append(reasons, ReasonLate)
	}
	if p.sc != nil {
		reasons = append(reasons, ReasonScoring)
	}
	if p.dedup != nil {
		reasons = append(reasons, ReasonDuplicate)
		for _, topic := range cfg.Definition.Input.Topics {
			m.duplicates.WithLabelValues(topic)
		}
	}
	// Zero, not nothing, for every reason class the pipeline has, whatever its policy: a
	// dashboard or a rate() sees the first record that comes.
	for _, reason := range reasons {
		m.skipped.WithLabelValues(reason)
		if reason != ReasonLate { // late records go to the late topic
			m.deadLetters.WithLabelValues(reason)
		}
	}
	return p, nil
}

// buildOperators builds the pipeline's operators (Validate allows aggregate, window, score,
// or window then score) and the one decoder of the fields they read.
func (p *Processor) buildOperators() error {
	def := p.cfg.Definition
	var fields []field
	for i, op := range def.Operators {
		switch {
		case op.Aggregate != nil && i == 0:
			p.agg = newAggregateOp(byte(i), op.Aggregate)
			fields = p.agg.fields
		case op.Window != nil && i == 0:
			w, err := newWindowOp(byte(i), def, op.Window)
			if err != nil {
				return fmt.Errorf("processor: operators[%d].window: %w", i, err)
			}
			p.win = w
			fields = w.fields
		case op.Score != nil && i == len(def.Operators)-1:
			sc, all, err := newScoreOp(op.Score, p.win, fields, p.cfg.Model, p.cfg.Shadow)
			if err != nil {
				return fmt.Errorf("processor: operators[%d].score: %w", i, err)
			}
			p.sc, fields = sc, all
		default:
			return fmt.Errorf("processor: operators[%d] (%s) is not supported in this place; a pipeline runs aggregate, window, score, or window then score", i, op.Kind())
		}
	}
	if p.agg == nil && p.win == nil && p.sc == nil {
		return errors.New("processor: the pipeline has no operator")
	}
	p.dedup = newDeduper(def.Input.Dedup)
	var names []string
	for _, h := range def.Quality.Histograms {
		names = append(names, h.Field)
	}
	fields, p.histFields = appendOptional(fields, names)
	if d := def.Quality.Drift; d != nil {
		fields, p.driftFields = appendOptional(fields, d.Features)
	}
	p.dec = newDecoder(def, fields...)
	return nil
}

// Assigned records that the client was assigned partitions. Their tasks start (and restore)
// when their first records arrive, after the group's committed offsets are stable.
func (p *Processor) Assigned(partitions []int32) {
	p.mu.Lock()
	p.pending = append(p.pending, assignEvent{partitions: partitions})
	p.mu.Unlock()
}

// Revoked records that partitions were revoked or lost; their tasks stop before the next
// transaction.
func (p *Processor) Revoked(partitions []int32) {
	p.mu.Lock()
	p.pending = append(p.pending, assignEvent{partitions: partitions, revoked: true})
	p.mu.Unlock()
}

// Ready returns nil when the processor is running and no task is restoring.
func (p *Processor) Ready() error {
	if !p.running.Load() {
		return errors.New("not connected to Kafka")
	}
	if n := p.restores.Load(); n > 0 {
		return fmt.Errorf("%d partition(s) restoring state from the changelog", n)
	}
	return nil
}

// Snapshot returns the processor's counters.
func (p *Processor) Snapshot() Snapshot {
	s := Snapshot{
		RecordsIn:   p.stats.RecordsIn.Load(),
		RecordsOut:  p.stats.RecordsOut.Load(),
		DeadLetters: p.stats.DeadLetters.Load(),
		Skipped:     p.stats.Skipped.Load(),
		Late:        p.stats.Late.Load(),
		Alerts:      p.stats.Alerts.Load(),
		Commits:     p.stats.Commits.Load(),
		Aborts:      p.stats.Aborts.Load(),
		Restored:    p.stats.Restored.Load(),
		Duplicates:  p.stats.Duplicates.Load(),
		DriftEvals:  p.stats.DriftEvals.Load(),
		Drifted:     p.stats.Drifted.Load(),
	}
	if ms := p.stats.LastCommitMs.Load(); ms > 0 {
		s.LastCommit = time.UnixMilli(ms)
	}
	return s
}

// Run processes until ctx ends, then finishes the open transaction (bounded by
// ShutdownTimeout), applies its state and closes the client. It rebuilds the client after a
// client failure and returns an error only when processing cannot go on (state storage
// failed, the instance was fenced by another with the same instance id, bad configuration).
func (p *Processor) Run(ctx context.Context) error {
	for {
		err := p.runClient(ctx)
		if errors.Is(err, errFinished) || ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if errors.Is(err, model.ErrFenced) {
			return err
		}
		p.log.Warn("kafka client failed; rebuilding it and restoring state from the changelog", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.cfg.RetryBackoff):
		}
	}
}

// fatalError ends Run.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func fatalf(format string, args ...any) error {
	return &fatalError{fmt.Errorf(format, args...)}
}

// runClient runs one client until ctx ends or the client fails.
func (p *Processor) runClient(ctx context.Context) error {
	cl, err := p.cfg.NewClient(p)
	if err != nil {
		// Creating a client does not talk to Kafka: a failure is configuration, and
		// retrying cannot fix it.
		return fatalf("processor: new kafka client: %w", err)
	}
	p.running.Store(true)
	r := &run{p: p, cl: cl, tasks: map[int32]*task{}}
	defer func() {
		p.running.Store(false)
		r.closeTasks()
		// A cycle that failed after a poll holds rebalances back; closing the client waits
		// for them to be allowed.
		cl.AllowRebalance()
		p.closeClient(cl)
		p.metrics.assigned.Set(0)
	}()
	p.mu.Lock()
	p.pending = nil // events of a previous client
	p.mu.Unlock()
	p.log.Info("processing", zap.String("pipeline", p.def.Name), zap.Strings("input", p.def.Input.Topics),
		zap.Bool("exactly_once", p.def.ExactlyOnce), zap.Duration("commit_interval", p.def.CommitInterval))
	for ctx.Err() == nil {
		if err := r.cycle(ctx); err != nil {
			return err
		}
	}
	return nil
}

// closeClient closes cl, waiting at most ShutdownTimeout. Closing a group member can wait
// on the group (a join in progress, which the broker may hold until its rebalance timeout),
// and neither a shutdown, which has a pod's grace period to keep, nor a rebuild may hang on
// it: past the bound the client is left to finish closing on its own, and the broker expires
// its member after the session timeout.
func (p *Processor) closeClient(cl Client) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Close()
	}()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownTimeout):
		// The stacks say what the close waits on: a rare event worth a large log line.
		stacks := make([]byte, 64<<10)
		stacks = stacks[:runtime.Stack(stacks, true)]
		p.log.Warn("the kafka client did not close within the shutdown timeout; leaving it to close on its own",
			zap.Duration("shutdown_timeout", p.cfg.ShutdownTimeout), zap.ByteString("goroutines", stacks))
	}
}

// run is the state of one client's processing.
type run struct {
	p     *Processor
	cl    Client
	tasks map[int32]*task
	open  bool // a transaction is open

	prodMu  sync.Mutex // guards prodErr and task changelog offsets written by produce callbacks
	prodErr error
	out     []byte // scratch for output values
	// timestamps are the Kafka timestamps (ms) of the open transaction's input records, for
	// the end-to-end latency at its commit.
	timestamps []int64
	// quiet is set while a warm-up record is processed: it writes nothing (Config.WarmUp).
	quiet bool
}

// cycle is one commit interval: poll and process until the interval ends (or ctx does), then
// end the transaction and apply state.
func (r *run) cycle(ctx context.Context) error {
	p := r.p
	deadline := time.Now().Add(p.def.CommitInterval)
	for {
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		recs, err := r.cl.Poll(pollCtx)
		cycleOver := pollCtx.Err() != nil // read before cancel, which always sets it
		cancel()
		ended := errors.Is(err, ErrEndOfInput)
		if err != nil && !cycleOver && !ended {
			return fmt.Errorf("processor: poll: %w", err)
		}
		if err := r.applyAssignments(); err != nil {
			return err
		}
		if len(recs) > 0 {
			if err := r.process(ctx, recs); err != nil {
				return err
			}
		}
		r.publishLag()
		if ended {
			return r.finish(ctx)
		}
		if cycleOver || !time.Now().Before(deadline) {
			break
		}
	}
	if r.open {
		if err := r.end(ctx); err != nil {
			return err
		}
	}
	r.cl.AllowRebalance()
	return nil
}

// prepare opens the transaction, if none is open, and t's batch, if it has none.
func (r *run) prepare(t *task) error {
	if !r.open {
		if err := r.cl.Begin(); err != nil {
			return fmt.Errorf("processor: begin transaction: %w", err)
		}
		r.open = true
	}
	if t.batch == nil {
		t.batch = r.p.cfg.Store.NewBatch(t.partition)
	}
	return nil
}

// errFinished ends runClient, and Run with nil, after the end of a bounded input.
var errFinished = errors.New("processor: bounded input finished")

// finish closes every open window at the end of a bounded input, commits, and returns
// errFinished.
func (r *run) finish(ctx context.Context) error {
	p := r.p
	r.quiet = false
	if p.win != nil {
		for _, t := range r.sortedTasks() {
			if err := r.prepare(t); err != nil {
				return err
			}
			if t.win == nil || t.win.op == nil {
				if err := t.loadWindows(p.win); err != nil {
					return fatalf("processor: partition %d: %w", t.partition, err)
				}
			}
			res, err := t.win.op.AdvanceWatermark(windows.EndOfInput)
			if err != nil {
				return fatalf("processor: close the windows of partition %d: %w", t.partition, err)
			}
			r.emitWindows(t, p.win, t.partition, res.Emissions)
		}
	}
	if r.open {
		if err := r.end(ctx); err != nil {
			return err
		}
	}
	p.log.Info("end of input: every window closed")
	return errFinished
}

// applyAssignments handles group events. Under BlockRebalanceOnPoll they only arrive between
// transactions, so no task with an open batch is ever dropped.
func (r *run) applyAssignments() error {
	p := r.p
	p.mu.Lock()
	events := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, ev := range events {
		p.metrics.rebalances.Inc()
		if !ev.revoked {
			p.log.Info("partitions assigned", zap.Int32s("partitions", ev.partitions))
			continue
		}
		p.log.Info("partitions revoked", zap.Int32s("partitions", ev.partitions))
		for _, part := range ev.partitions {
			if t, ok := r.tasks[part]; ok {
				if r.open && t.batch != nil {
					return errors.New("processor: partition revoked during an open transaction")
				}
				t.close()
				delete(r.tasks, part)
			}
		}
	}
	p.metrics.assigned.Set(float64(len(r.tasks)))
	return nil
}

func (r *run) process(ctx context.Context, recs []model.Record) error {
	// Start (and restore) new tasks before the transaction opens, so that a restore does not
	// eat into the transaction's timeout.
	for i := range recs {
		if part := recs[i].Partition; r.tasks[part] == nil {
			if _, err := r.startTask(ctx, part); err != nil {
				return err
			}
		}
	}
	for i := range recs {
		rec := &recs[i]
		t := r.tasks[rec.Partition]
		if err := r.prepare(t); err != nil {
			return err
		}
		if err := r.processRecord(t, rec); err != nil {
			if _, stop := errors.AsType[*RecordError](err); stop {
				r.abortOpen(ctx)
			}
			return err
		}
	}
	return nil
}

// publishLag sets the lag gauges of every task. It runs after every poll, records or not,
// so that the event-time lag keeps growing while the input is silent: that is the
// freshness breach the alert rules watch for.
func (r *run) publishLag() {
	now := time.Now()
	for _, t := range r.tasks {
		t.publishLag(now)
	}
}

func (r *run) processRecord(t *task, rec *model.Record) error {
	p := r.p
	t.recordsIn(rec.Topic).Inc()
	p.stats.RecordsIn.Add(1)
	r.quiet = false
	if w := p.cfg.WarmUp; w != nil {
		if start, ok := w.Start[rec.Partition]; ok && rec.Offset < start {
			r.quiet = true
		}
	}
	t.pendingInput[rec.Topic] = rec.Offset + 1
	ts := rec.Timestamp.UnixMilli()
	t.lastTimestamp = ts
	if !r.quiet { // a warm-up record writes nothing, so it has no end-to-end latency
		r.timestamps = append(r.timestamps, ts)
	}

	ev, err := p.dec.decode(rec.Value)
	if err == nil && (!t.anyEvent || ev.eventTime > t.maxEventTime) {
		t.maxEventTime, t.anyEvent = ev.eventTime, true
	}
	if err != nil {
		de, ok := errorsAsDecode(err)
		if !ok {
			return fatalf("processor: decode %s: %w", rec.Position, err)
		}
		return r.reject(rec, de)
	}
	if p.dedup != nil {
		if dup, err := r.processDuplicate(t, rec, &ev); dup || err != nil {
			return err
		}
	}
	if !r.quiet {
		p.quality.observe(&ev)
	}
	if p.win != nil {
		dead, err := r.processWindow(t, p.win, rec, ev)
		if dead || err != nil {
			return err
		}
	}
	score := math.NaN()
	switch {
	case p.sc != nil:
		if score, err = r.processScore(t, rec, ev); err != nil {
			return err
		}
	case p.win == nil:
		if err := r.processAggregate(t, rec, ev); err != nil {
			return err
		}
	}
	if p.drift != nil {
		return r.processDrift(t, rec, &ev, score)
	}
	return nil
}

// processAggregate runs a decoded record through the running aggregate and writes its
// result.
func (r *run) processAggregate(t *task, rec *model.Record, ev event) error {
	p := r.p
	op := p.agg
	agg, err := t.aggregate(op.stateKey(ev.key))
	if err != nil {
		return fatalf("processor: state of %s (partition %d, key %q): %w", rec.Position, t.partition, ev.key, err)
	}
	agg.add(ev.values[0].Num)
	if r.quiet {
		return nil
	}
	r.out = appendAggregateJSON(r.out[:0], ev.key, agg, ev.eventTime, rec.Position)
	out := &model.Output{
		Topic:     p.def.Output.Topic,
		Partition: rec.Partition,
		Key:       ev.key,
		Value:     append([]byte(nil), r.out...),
	}
	r.produce(out, nil)
	t.recordsOut().Inc()
	p.stats.RecordsOut.Add(1)
	return nil
}

// reject applies the pipeline's policy for the reason class of de (on_error) to rec, a
// record that cannot be processed: a dead letter, a skip, or an error that stops the
// processor (a *RecordError, which process answers by aborting the transaction). A late
// record's dead letter goes to the late topic, which processWindow writes.
func (r *run) reject(rec *model.Record, de *DecodeError) error {
	if de.Reason == ReasonSchema && !r.quiet {
		r.p.metrics.schemaFailures.WithLabelValues(de.Field, de.Rule).Inc()
	}
	switch r.p.def.OnError.PolicyOf(de.Reason) {
	case pipeline.PolicySkip:
		r.skip(de.Reason)
	case pipeline.PolicyFail:
		if r.quiet {
			// A warm-up record only builds state; the run that wrote its range got past
			// it, so this one does not stop on it.
			return nil
		}
		return &fatalError{&RecordError{Position: rec.Position, Group: r.p.def.GroupID(), Err: de}}
	default:
		r.deadLetter(rec, de)
	}
	return nil
}

// skip counts a record dropped by the skip policy.
func (r *run) skip(reason string) {
	if r.quiet {
		return
	}
	r.p.metrics.skipped.WithLabelValues(reason).Inc()
	r.p.stats.Skipped.Add(1)
}

// abortOpen aborts the open transaction, if any, before the processor stops at a record
// (RecordError): nothing of the transaction is committed, so the group's committed offset
// stays before the record. A failed abort is left to the broker, which aborts the
// transaction when it times out or when the instance's next producer starts.
func (r *run) abortOpen(ctx context.Context) {
	if !r.open {
		return
	}
	p := r.p
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownTimeout)
	defer cancel()
	_, err := r.cl.End(endCtx, false)
	r.open = false
	r.prodMu.Lock()
	r.prodErr = nil
	r.prodMu.Unlock()
	r.dropTransaction()
	if err != nil && p.def.ExactlyOnce {
		p.log.Warn("abort before stopping at a record failed; the broker aborts the transaction when it times out", zap.Error(err))
	}
}

// deadLetter sends rec to the dead-letter topic with the reason it could not be processed.
func (r *run) deadLetter(rec *model.Record, de *DecodeError) {
	if r.quiet {
		return
	}
	r.produce(deadLetter(r.p.def, rec, de), nil)
	r.p.metrics.deadLetters.WithLabelValues(de.Reason).Inc()
	r.p.stats.DeadLetters.Add(1)
}

// produce sends out and records the first failure, which turns the commit into an abort.
// onOffset, when set, receives the produced offset.
func (r *run) produce(out *model.Output, onOffset func(int64)) {
	r.cl.Produce(out, func(offset int64, err error) {
		r.prodMu.Lock()
		defer r.prodMu.Unlock()
		if err != nil {
			if r.prodErr == nil {
				r.prodErr = fmt.Errorf("produce to %s/%d: %w", out.Topic, out.Partition, err)
			}
			return
		}
		if onOffset != nil {
			onOffset(offset)
		}
	})
}

// end produces the changelog of the cycle, ends the transaction and, only if Kafka reports
// the commit, applies each task's batch with its new offsets.
func (r *run) end(ctx context.Context) error {
	p := r.p
	for _, t := range r.sortedTasks() {
		if t.batch == nil {
			continue
		}
		if err := t.flush(); err != nil {
			return fatalf("processor: write state of partition %d: %w", t.partition, err)
		}
		for _, c := range latestChanges(t.batch.Changes()) {
			r.produce(&model.Output{Topic: p.def.ChangelogTopic(), Partition: t.partition, Key: c.Key, Value: c.Value},
				func(off int64) {
					if off+1 > t.pendingChangelog {
						t.pendingChangelog = off + 1
					}
				})
		}
	}

	// A shutdown (ctx ending) must not abort the transaction: it gets ShutdownTimeout to
	// finish, counted from the shutdown, whether that came before End or during it.
	endCtx, cancelEnd := context.WithCancel(context.WithoutCancel(ctx))
	ended := make(chan struct{})
	defer func() { close(ended); cancelEnd() }()
	go func() {
		select {
		case <-ended:
			return
		case <-ctx.Done():
		}
		select {
		case <-ended:
		case <-time.After(p.cfg.ShutdownTimeout):
			cancelEnd()
		}
	}()
	start := time.Now()
	r.prodMu.Lock()
	commit := r.prodErr == nil
	r.prodMu.Unlock()
	committed, err := r.cl.End(endCtx, commit)
	p.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	r.open = false

	r.prodMu.Lock()
	prodErr := r.prodErr
	r.prodErr = nil
	r.prodMu.Unlock()

	if committed && prodErr != nil {
		// The client broke its contract: the transaction holds outputs without the state
		// changes that go with them. Continuing would build on a changelog that disagrees
		// with the outputs.
		return fatalf("processor: the transaction committed although a produce failed (%v); stopping, this is a bug", prodErr)
	}
	if committed {
		r.prodMu.Lock() // the changelog offsets were set by produce callbacks
		defer r.prodMu.Unlock()
		for _, t := range r.tasks {
			if err := t.apply(); err != nil {
				return fatalf("processor: apply state of partition %d after commit: %w", t.partition, err)
			}
		}
		p.metrics.transactions.WithLabelValues("committed").Inc()
		p.stats.Commits.Add(1)
		now := time.Now().UnixMilli()
		p.stats.LastCommitMs.Store(now)
		for _, ts := range r.timestamps {
			p.metrics.latency.Observe(float64(now-ts) / 1000)
		}
		r.timestamps = r.timestamps[:0]
		return nil
	}
	r.dropTransaction()
	switch {
	case err != nil:
		return fmt.Errorf("processor: end transaction (outcome unknown; state is rebuilt from the changelog): %w", err)
	case prodErr != nil:
		p.log.Warn("transaction aborted: a produce failed; the records are processed again", zap.Error(prodErr))
	default:
		p.log.Info("transaction aborted by a rebalance; the records are processed again")
	}
	return nil
}

// dropTransaction forgets an aborted transaction: every task's batch, cache and offsets,
// and the timestamps of its records, which are reprocessed and counted in a later one.
func (r *run) dropTransaction() {
	r.timestamps = r.timestamps[:0]
	r.prodMu.Lock() // a failed End may leave produce callbacks running
	for _, t := range r.tasks {
		t.discard()
	}
	r.prodMu.Unlock()
	r.p.metrics.transactions.WithLabelValues("aborted").Inc()
	r.p.stats.Aborts.Add(1)
}

func (r *run) sortedTasks() []*task {
	ts := make([]*task, 0, len(r.tasks))
	for _, t := range r.tasks {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].partition < ts[j].partition })
	return ts
}

func (r *run) closeTasks() {
	r.prodMu.Lock() // a failed End may leave produce callbacks running
	defer r.prodMu.Unlock()
	for part, t := range r.tasks {
		t.close()
		delete(r.tasks, part)
	}
}

// latestChanges keeps the last change of each key, in the order of those last changes: the
// changelog needs only the final value of a key per transaction.
func latestChanges(cs []state.ChangelogEntry) []state.ChangelogEntry {
	last := make(map[string]int, len(cs))
	for i, c := range cs {
		last[string(c.Key)] = i
	}
	out := make([]state.ChangelogEntry, 0, len(last))
	for i, c := range cs {
		if last[string(c.Key)] == i {
			out = append(out, c)
		}
	}
	return out
}
