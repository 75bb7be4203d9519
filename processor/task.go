package processor

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
	"github.com/kappa-stream/kappa/windows"
)

// task is the processing of one input partition (of every input topic) by one client.
type task struct {
	p         *Processor
	partition int32
	batch     *state.Batch // mutations of the open transaction; nil when none

	applied          state.Applied    // what the store holds
	pendingInput     map[string]int64 // input offsets processed in the open transaction
	pendingChangelog int64            // next changelog offset after the open transaction's records

	// The write-back cache of the open transaction: the aggregates it changed, in the order
	// first changed. They reach the batch (and the changelog) once per key, at the end.
	dirty     map[string]*aggState
	dirtyKeys []string

	win *windowTask // window pipelines: the partition's windows; nil until loaded

	dedup    dedupState // input.dedup: the partition's dedup clock
	drift    *driftTask // quality.drift: the partition's monitor; nil until loaded
	key, val []byte     // scratch for state keys and values

	in  map[string]prometheus.Counter
	out prometheus.Counter

	// For the lag gauges: the Kafka timestamp of the last record and the largest event
	// time seen (ms), set per record and published once per poll.
	lastTimestamp int64
	maxEventTime  int64
	anyEvent      bool
	age, lag, wm  prometheus.Gauge
}

// startTask opens partition's state and brings it up to date with the changelog before any
// of its records is processed: it restores from the recorded changelog offset to the
// changelog's committed end, or wipes and restores everything when local state is missing,
// ahead of Kafka, or behind the log start.
func (r *run) startTask(ctx context.Context, partition int32) (*task, error) {
	p := r.p
	if r.open {
		// process starts the tasks of a poll before it opens a transaction; only a partition
		// whose first records come in a later poll of the same cycle restores inside one.
		p.log.Info("restoring a partition while a transaction is open", zap.Int32("partition", partition))
	}
	p.restores.Add(1)
	defer p.restores.Add(-1)
	start := time.Now()
	store := p.cfg.Store

	applied, ok, err := store.Applied(partition)
	if err != nil {
		p.log.Warn("local state unreadable; wiping it and restoring from the changelog",
			zap.Int32("partition", partition), zap.Error(err))
		ok = false
	}
	lo, hi, err := p.cfg.Changelog.Bounds(ctx, partition)
	if err != nil {
		return nil, fmt.Errorf("processor: changelog bounds of partition %d: %w", partition, err)
	}
	from := lo
	reason := "no local state"
	switch {
	case !ok:
	case applied.Changelog > hi:
		reason = fmt.Sprintf("local state is ahead of the changelog (local %d, changelog end %d)", applied.Changelog, hi)
	case applied.Changelog < lo:
		reason = fmt.Sprintf("local state is older than the changelog's start (local %d, log start %d)", applied.Changelog, lo)
	default:
		from, reason = applied.Changelog, ""
	}
	if reason != "" {
		if err := store.Wipe(partition); err != nil {
			return nil, fatalf("processor: wipe state of partition %d: %w", partition, err)
		}
		applied = state.Applied{Input: map[string]int64{}, Changelog: lo}
		if lo < hi || reason != "no local state" {
			p.log.Info("restoring partition from the changelog", zap.Int32("partition", partition),
				zap.String("reason", reason), zap.Int64("from", lo), zap.Int64("to", hi))
		}
	}

	var restored int64
	if from < hi {
		left := float64(hi - from)
		p.metrics.restoreLeft.Add(left)
		defer func() { p.metrics.restoreLeft.Sub(left) }()
		err := p.cfg.Changelog.Read(ctx, partition, from, hi, func(recs []model.Record) error {
			entries := make([]state.ChangelogEntry, len(recs))
			for i, rec := range recs {
				entries[i] = state.ChangelogEntry{Key: rec.Key, Value: rec.Value, Offset: rec.Offset}
			}
			if err := store.Restore(partition, entries); err != nil {
				return err
			}
			restored += int64(len(recs))
			left -= float64(len(recs))
			p.metrics.restoreLeft.Sub(float64(len(recs)))
			p.metrics.restored.Add(float64(len(recs)))
			p.stats.Restored.Add(int64(len(recs)))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("processor: restore partition %d from changelog offset %d: %w", partition, from, err)
		}
		if applied, _, err = store.Applied(partition); err != nil {
			return nil, fatalf("processor: read state of partition %d after restore: %w", partition, err)
		}
	}
	if applied.Input == nil {
		applied.Input = map[string]int64{}
	}
	p.log.Info("partition ready", zap.Int32("partition", partition), zap.Int64("restored_records", restored),
		zap.Int64("changelog_offset", max(applied.Changelog, from)), zap.Duration("took", time.Since(start)))

	t := &task{
		p:                p,
		partition:        partition,
		applied:          applied,
		pendingInput:     maps.Clone(applied.Input),
		pendingChangelog: max(applied.Changelog, from),
		in:               map[string]prometheus.Counter{},
	}
	label := strconv.Itoa(int(partition))
	t.age = p.metrics.recordAge.WithLabelValues(label)
	t.lag = p.metrics.eventLag.WithLabelValues(label)
	if p.win != nil {
		t.wm = p.metrics.watermark.WithLabelValues(label)
	}
	r.tasks[partition] = t
	p.metrics.assigned.Set(float64(len(r.tasks)))
	return t, nil
}

func (t *task) recordsIn(topic string) prometheus.Counter {
	c, ok := t.in[topic]
	if !ok {
		c = t.p.metrics.recordsIn.WithLabelValues(topic, strconv.Itoa(int(t.partition)))
		t.in[topic] = c
	}
	return c
}

func (t *task) recordsOut() prometheus.Counter {
	if t.out == nil {
		t.out = t.p.metrics.recordsOut.WithLabelValues(t.p.def.Output.Topic, strconv.Itoa(int(t.partition)))
	}
	return t.out
}

// apply commits the open batch with the offsets it covers. Call only after Kafka committed.
func (t *task) apply() error {
	if t.batch == nil {
		return nil
	}
	a := state.Applied{Input: maps.Clone(t.pendingInput), Changelog: t.pendingChangelog}
	err := t.batch.Commit(a)
	t.batch.Close()
	t.batch = nil
	if err != nil {
		return err
	}
	t.applied = a
	return nil
}

// aggregate returns the open transaction's aggregate of key for update: from the cache, or
// read once from the store.
func (t *task) aggregate(key []byte) (*aggState, error) {
	if a, ok := t.dirty[string(key)]; ok {
		return a, nil
	}
	a := new(aggState)
	cur, ok, err := t.batch.Get(key)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := a.unmarshal(cur); err != nil {
			return nil, fmt.Errorf("%w; remove the state directory to restore it from the changelog", err)
		}
	}
	if t.dirty == nil {
		t.dirty = map[string]*aggState{}
	}
	k := string(key)
	t.dirty[k] = a
	t.dirtyKeys = append(t.dirtyKeys, k)
	return a, nil
}

// flush writes the cached aggregates into the batch, once per key, in the order they were
// first changed (deterministic, so a replay writes the same changelog).
func (t *task) flush() error {
	if d := t.p.dedup; d != nil {
		if err := t.flushDedup(d); err != nil {
			return err
		}
	}
	if err := t.flushDrift(); err != nil {
		return err
	}
	if t.win != nil && t.win.op != nil {
		if err := t.win.store.flush(t.win.op.Clock()); err != nil {
			return err
		}
	}
	buf := make([]byte, 0, aggStateLen)
	for _, k := range t.dirtyKeys {
		if err := t.batch.Set([]byte(k), t.dirty[k].appendBinary(buf[:0])); err != nil {
			return err
		}
	}
	t.clearCache()
	return nil
}

func (t *task) clearCache() {
	clear(t.dirty)
	t.dirtyKeys = t.dirtyKeys[:0]
}

// discard drops the open batch after an abort and forgets its offsets. The windows'
// in-memory index is ahead of the state then: it is rebuilt at the next record.
func (t *task) discard() {
	t.clearCache()
	t.win = nil
	t.dedup = dedupState{}
	t.drift = nil
	if t.batch != nil {
		t.batch.Close()
		t.batch = nil
	}
	t.pendingInput = maps.Clone(t.applied.Input)
	t.pendingChangelog = t.applied.Changelog
}

// close drops the task and its per-partition series.
func (t *task) close() {
	t.discard()
	label := strconv.Itoa(int(t.partition))
	t.p.metrics.recordAge.DeleteLabelValues(label)
	t.p.metrics.eventLag.DeleteLabelValues(label)
	t.p.metrics.watermark.DeleteLabelValues(label)
	t.p.drift.closePartition(t.partition)
}

// publishLag sets the partition's lag gauges from the records processed so far.
func (t *task) publishLag(now time.Time) {
	if t.lastTimestamp != 0 {
		t.age.Set(float64(now.UnixMilli()-t.lastTimestamp) / 1000)
	}
	if t.anyEvent {
		t.lag.Set(float64(now.UnixMilli()-t.maxEventTime) / 1000)
	}
	if t.wm != nil && t.win != nil && t.win.op != nil {
		if wm := t.win.op.Watermark(); wm != windows.NoWatermark {
			t.wm.Set(float64(wm) / 1000)
		}
	}
}

// aggregateOp is the running count/sum/min/max operator.
type aggregateOp struct {
	index  byte    // the operator's position in the pipeline: its state key prefix
	fields []field // what it reads: the aggregated field
}

func newAggregateOp(index byte, a *pipeline.Aggregate) *aggregateOp {
	return &aggregateOp{index: index, fields: []field{{name: a.Field}}}
}

// stateKey is the operator's state key for an aggregation key: its index, then the key.
func (op *aggregateOp) stateKey(key []byte) []byte {
	k := make([]byte, 0, 1+len(key))
	return append(append(k, op.index), key...)
}

// Dead-letter headers. The record's key and value are copied unchanged.
const (
	HeaderReason    = "kappa.dlq.reason"
	HeaderField     = "kappa.dlq.field"
	HeaderMessage   = "kappa.dlq.message"
	HeaderRule      = "kappa.dlq.rule" // schema errors only: the kind of rule broken (RuleMissing, ...)
	HeaderTopic     = "kappa.source.topic"
	HeaderPartition = "kappa.source.partition"
	HeaderOffset    = "kappa.source.offset"
	HeaderTimestamp = "kappa.source.timestamp"
)

// deadLetter is the dead-letter record of rec: unchanged key, value and headers, plus
// headers naming the reason and the source position. It goes to the same partition number
// of the pipeline's dead-letter topic.
func deadLetter(def *pipeline.Definition, rec *model.Record, de *DecodeError) *model.Output {
	h := copyHeaders(rec, 8)
	h = append(h,
		model.Header{Key: HeaderReason, Value: []byte(de.Reason)},
		model.Header{Key: HeaderField, Value: []byte(de.Field)},
		model.Header{Key: HeaderMessage, Value: []byte(de.Msg)},
	)
	if de.Rule != "" {
		h = append(h, model.Header{Key: HeaderRule, Value: []byte(de.Rule)})
	}
	h = appendSourceHeaders(h, rec)
	return &model.Output{
		Topic:     DeadLetterTopic(def),
		Partition: rec.Partition,
		Key:       append([]byte(nil), rec.Key...),
		Value:     append([]byte(nil), rec.Value...),
		Headers:   h,
	}
}

// copyHeaders copies rec's headers, with room for more: the source may reuse the record's
// buffers once it is processed.
func copyHeaders(rec *model.Record, more int) []model.Header {
	h := make([]model.Header, 0, len(rec.Headers)+more)
	for _, hd := range rec.Headers {
		h = append(h, model.Header{Key: hd.Key, Value: bytes.Clone(hd.Value)})
	}
	return h
}

// appendSourceHeaders appends the headers naming rec's topic, partition, offset and
// timestamp.
func appendSourceHeaders(h []model.Header, rec *model.Record) []model.Header {
	return append(h,
		model.Header{Key: HeaderTopic, Value: []byte(rec.Topic)},
		model.Header{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		model.Header{Key: HeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		model.Header{Key: HeaderTimestamp, Value: strconv.AppendInt(nil, rec.Timestamp.UnixMilli(), 10)},
	)
}

// DeadLetterTopic is the pipeline's dead-letter topic: "<name>-dlq".
func DeadLetterTopic(def *pipeline.Definition) string { return def.DeadLetterTopic() }
