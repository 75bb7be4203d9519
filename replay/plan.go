package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/pipeline"
)

// Range is the part of the input log a replay covers: a time range (From, To) or an offset
// range (FromOffsets, ToOffsets). Times are Kafka record timestamps.
type Range struct {
	// From and To bound a time range [From, To): the first offset of a partition is the
	// first at or after From, its end the first at or after To (exclusive). A zero To is
	// the time the plan is made.
	From, To time.Time
	// FromOffsets and ToOffsets give an offset range per partition instead: partition p is
	// read from FromOffsets[p] up to ToOffsets[p] (exclusive). Partitions missing from
	// FromOffsets are not replayed; a partition missing from ToOffsets is read to its end.
	FromOffsets, ToOffsets map[int32]int64
	// WarmUp is how far before the range reading starts, to build windowed state. Zero
	// means the rule: WarmUpFor(definition) for a time range, none for an offset range.
	// Negative turns the warm-up off.
	WarmUp time.Duration
}

func (r Range) byOffsets() bool { return r.FromOffsets != nil }

// Validate checks that r is a time range or an offset range, and not an empty or inverted
// one.
func (r Range) Validate() error {
	switch {
	case r.byOffsets() && !r.From.IsZero():
		return errors.New("replay: give a time range or an offset range, not both")
	case r.byOffsets():
		if len(r.FromOffsets) == 0 {
			return errors.New("replay: the offset range names no partition")
		}
		for p, from := range r.FromOffsets {
			if from < 0 {
				return fmt.Errorf("replay: partition %d: from offset %d is negative", p, from)
			}
			if to, ok := r.ToOffsets[p]; ok && to < from {
				return fmt.Errorf("replay: partition %d: to offset %d is before from offset %d", p, to, from)
			}
		}
		for p := range r.ToOffsets {
			if _, ok := r.FromOffsets[p]; !ok {
				return fmt.Errorf("replay: partition %d has a to offset but no from offset", p)
			}
		}
	case r.From.IsZero():
		return errors.New("replay: the range has no start: give a from time or from offsets")
	case !r.To.IsZero() && !r.To.After(r.From):
		return fmt.Errorf("replay: the range [%s, %s) is empty: to must be after from", fmtTime(r.From), fmtTime(r.To))
	}
	return nil
}

// WarmUpFor is the warm-up a time range of def needs, the largest of what its stateful
// parts need, each plus the input's max_out_of_orderness:
//
//   - windows: the largest window size (the gap of a session window) plus its grace. A
//     record that can still change a window ending at or after T1 has an event time at or
//     after T1 - size, and it arrives before the watermark passes the window's end plus
//     grace; with timestamps that follow event times within max_out_of_orderness it is at
//     or after T1 - WarmUpFor(def).
//   - dedup: the horizon, so that the ids a record of the range is checked against are
//     read.
//   - drift: the drift window, so that the first evaluation in the range covers a whole
//     window.
//
// It is 0 for a pipeline without any of them.
func WarmUpFor(def *pipeline.Definition) time.Duration {
	var need time.Duration
	if w := def.WindowOp(); w != nil {
		size := w.Size
		if w.Type == pipeline.WindowSession {
			size = w.Gap
		}
		need = size + w.Grace
	}
	if d := def.Input.Dedup; d != nil {
		need = max(need, d.Horizon)
	}
	if d := def.Quality.Drift; d != nil {
		need = max(need, d.Window)
	}
	if need == 0 {
		return 0
	}
	return need + def.Input.MaxOutOfOrderness
}

// PartitionPlan is the offset range of one input partition.
type PartitionPlan struct {
	Topic     string
	Partition int32
	// Start is the first offset read, warm-up included.
	Start int64
	// From is the first offset of the range: records before it only build state.
	From int64
	// End is the end of the range (exclusive): records at or after it are not read.
	End int64
	// LogStart is the partition's log start offset when the plan was made.
	LogStart int64
}

// Plan is what a replay reads: an offset range per input partition.
type Plan struct {
	Partitions []PartitionPlan
	// WarmUp is the span read before the range.
	WarmUp time.Duration
	// MinWindowEnd is T1 in epoch ms: window results of windows that end before it are not
	// written. 0 writes every window.
	MinWindowEnd int64
	// Gaps describe the records the plan needs that are deleted; empty when none are.
	Gaps []Gap
}

// Offsets is the number of offsets the plan reads.
func (p *Plan) Offsets() int64 {
	var n int64
	for _, pp := range p.Partitions {
		n += pp.End - pp.Start
	}
	return n
}

// Gap is a span of records a plan needs that retention (or DeleteRecords) removed.
type Gap struct {
	Topic     string
	Partition int32
	// NeedOffset is the first offset needed, or -1 when only its time is known.
	NeedOffset int64
	// NeedTime is the time of the first record needed, zero when only its offset is known.
	NeedTime time.Time
	// LogStart is the first offset left; LogStartTime the timestamp of the record there,
	// zero when unknown.
	LogStart     int64
	LogStartTime time.Time
}

func (g Gap) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d: ", g.Topic, g.Partition)
	if g.NeedOffset >= 0 {
		fmt.Fprintf(&b, "offsets %d-%d are deleted (the log starts at offset %d", g.NeedOffset, g.LogStart-1, g.LogStart)
	} else {
		fmt.Fprintf(&b, "records before offset %d are deleted (the log starts at offset %d", g.LogStart, g.LogStart)
	}
	if !g.LogStartTime.IsZero() {
		fmt.Fprintf(&b, ", time %s", fmtTime(g.LogStartTime))
	}
	b.WriteString(")")
	if !g.NeedTime.IsZero() {
		if g.LogStartTime.IsZero() {
			fmt.Fprintf(&b, "; the range needs records from %s", fmtTime(g.NeedTime))
		} else {
			fmt.Fprintf(&b, "; missing time span [%s, %s)", fmtTime(g.NeedTime), fmtTime(g.LogStartTime))
		}
	}
	return b.String()
}

// RetentionError is returned when records a replay needs are deleted.
type RetentionError struct{ Gaps []Gap }

func (e *RetentionError) Error() string {
	var b strings.Builder
	b.WriteString("replay: records the range needs are no longer in Kafka (retention or deleted records):")
	for _, g := range e.Gaps {
		b.WriteString("\n  ")
		b.WriteString(g.String())
	}
	b.WriteString("\nstart the range later, or pass --allow-partial to replay from each partition's log start")
	return b.String()
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// NewPlan resolves r into offsets of topic's partitions with adm: ListOffsets by timestamp
// for times, the log start and end offsets for the retention check and the end of an open
// range. opts connect a reader for the timestamps of an offset range's first records, which
// a warm-up on offsets needs. It does not fail on deleted records: they are in Plan.Gaps.
func NewPlan(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, topic string, def *pipeline.Definition, r Range) (*Plan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	starts, err := listed(adm.ListStartOffsets(ctx, topic))
	if err != nil {
		return nil, fmt.Errorf("replay: log start offsets of %s: %w", topic, err)
	}
	ends, err := listed(adm.ListEndOffsets(ctx, topic))
	if err != nil {
		return nil, fmt.Errorf("replay: end offsets of %s: %w", topic, err)
	}
	afterMilli := func(ms int64) (map[int32]kadm.ListedOffset, error) {
		l, err := listed(adm.ListOffsetsAfterMilli(ctx, ms, topic))
		if err != nil {
			return nil, fmt.Errorf("replay: offsets of %s at %s: %w", topic, fmtTime(time.UnixMilli(ms)), err)
		}
		return l[topic], nil
	}
	partitions := make([]int32, 0, len(ends[topic]))
	for p := range ends[topic] {
		partitions = append(partitions, p)
	}
	slices.Sort(partitions)
	if len(partitions) == 0 {
		return nil, fmt.Errorf("replay: input topic %q does not exist or has no partitions", topic)
	}

	warm := r.WarmUp
	if warm == 0 && !r.byOffsets() {
		warm = WarmUpFor(def)
	}
	warm = max(warm, 0)
	plan := &Plan{WarmUp: warm}

	// firstNeeded is, per partition, the offset found for the first time needed (T1 minus
	// the warm-up) with that time, when it was looked up by time.
	type byTime struct {
		at  time.Time
		off kadm.ListedOffset
	}
	firstNeeded := map[int32]byTime{}

	if r.byOffsets() {
		for p := range r.FromOffsets {
			if _, ok := ends[topic][p]; !ok {
				return nil, fmt.Errorf("replay: --from-offsets names partition %d, but %s has partitions 0-%d", p, topic, len(partitions)-1)
			}
		}
		var ts map[int32]time.Time
		if warm > 0 {
			from := map[int32]int64{}
			for p, off := range r.FromOffsets {
				if end := endOf(r, ends[topic][p].Offset, p); off < end {
					from[p] = off
				}
			}
			if ts, err = timestampsAt(ctx, opts, topic, from); err != nil {
				return nil, err
			}
		}
		for _, p := range partitions {
			from, ok := r.FromOffsets[p]
			if !ok {
				continue
			}
			hwm := ends[topic][p].Offset
			end := endOf(r, hwm, p)
			if end > hwm {
				return nil, fmt.Errorf("replay: partition %d: to offset %d is past the end of %s/%d (%d)", p, end, topic, p, hwm)
			}
			if from > end {
				return nil, fmt.Errorf("replay: partition %d: from offset %d is past the end of the range (%d)", p, from, end)
			}
			pp := PartitionPlan{Topic: topic, Partition: p, Start: from, From: from, End: end, LogStart: starts[topic][p].Offset}
			if t, ok := ts[p]; ok {
				at := t.Add(-warm)
				l, err := afterMilli(at.UnixMilli())
				if err != nil {
					return nil, err
				}
				pp.Start = min(l[p].Offset, from)
				firstNeeded[p] = byTime{at, l[p]}
				if ms := t.UnixMilli(); plan.MinWindowEnd == 0 || ms < plan.MinWindowEnd {
					plan.MinWindowEnd = ms
				}
			}
			plan.Partitions = append(plan.Partitions, pp)
		}
	} else {
		to := r.To
		if to.IsZero() {
			to = time.Now()
		}
		fromL, err := afterMilli(r.From.UnixMilli())
		if err != nil {
			return nil, err
		}
		toL, err := afterMilli(to.UnixMilli())
		if err != nil {
			return nil, err
		}
		startL := fromL
		at := r.From.Add(-warm)
		if warm > 0 {
			if startL, err = afterMilli(at.UnixMilli()); err != nil {
				return nil, err
			}
		}
		plan.MinWindowEnd = r.From.UnixMilli()
		for _, p := range partitions {
			end := toL[p].Offset
			from := min(fromL[p].Offset, end)
			pp := PartitionPlan{
				Topic: topic, Partition: p, Start: min(startL[p].Offset, from), From: from, End: end,
				LogStart: starts[topic][p].Offset,
			}
			firstNeeded[p] = byTime{at, startL[p]}
			plan.Partitions = append(plan.Partitions, pp)
		}
	}

	for _, pp := range plan.Partitions {
		if pp.Start >= pp.End {
			continue // nothing to read, nothing missing
		}
		g := Gap{Topic: topic, Partition: pp.Partition, NeedOffset: -1, LogStart: pp.LogStart}
		bt, timed := firstNeeded[pp.Partition]
		switch {
		case pp.Start < pp.LogStart:
			// An offset range reaching before the log start: the offsets are known.
			g.NeedOffset = pp.Start
			if timed {
				g.NeedTime = bt.at
			}
		case timed && pp.LogStart > 0 && pp.Start == pp.LogStart &&
			(bt.off.Timestamp < 0 || bt.off.Timestamp > bt.at.UnixMilli()):
			// The first record at or after the time needed is the first one left, and it is
			// later than that time: records before it, deleted, may have been in the span.
			g.NeedTime = bt.at
			if bt.off.Timestamp >= 0 {
				g.LogStartTime = time.UnixMilli(bt.off.Timestamp)
			}
		default:
			continue
		}
		plan.Gaps = append(plan.Gaps, g)
	}
	return plan, nil
}

// AllowGaps moves the start of each partition with a gap to its log start, so the plan
// reads what is left.
func (p *Plan) AllowGaps() {
	for i := range p.Partitions {
		pp := &p.Partitions[i]
		pp.Start = max(pp.Start, pp.LogStart)
		pp.From = max(pp.From, pp.Start)
		pp.End = max(pp.End, pp.Start)
	}
}

func endOf(r Range, hwm int64, p int32) int64 {
	if to, ok := r.ToOffsets[p]; ok {
		return to
	}
	return hwm
}

// listed returns the offsets of l by topic and partition, or the first error of any of them.
func listed(l kadm.ListedOffsets, err error) (map[string]map[int32]kadm.ListedOffset, error) {
	if err != nil {
		return nil, err
	}
	if err := l.Error(); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("the topic does not exist: %w", err)
		}
		return nil, err
	}
	return l, nil
}

// timestampsAt reads the timestamp of the first committed record at or after each offset.
func timestampsAt(ctx context.Context, opts []kgo.Opt, topic string, offsets map[int32]int64) (map[int32]time.Time, error) {
	out := map[int32]time.Time{}
	if len(offsets) == 0 {
		return out, nil
	}
	at := map[int32]kgo.Offset{}
	for p, o := range offsets {
		at[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("replay: kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(out) < len(offsets) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("replay: read the records at the from offsets of %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("replay: read %s/%d: %w", t, p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if _, done := out[fp.Partition]; !done && len(fp.Records) > 0 {
				out[fp.Partition] = fp.Records[0].Timestamp
			}
		})
	}
	return out, nil
}
