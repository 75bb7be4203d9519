package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrOpenTransaction is returned when a transaction is still open on a checked partition
// when Config.WaitTimeout runs out: its records can be neither counted nor ruled out.
var ErrOpenTransaction = errors.New("verify: transactions are still open")

// pollInterval is how often the verifier looks at offsets while it waits.
const pollInterval = 200 * time.Millisecond

// bounds are a topic's offsets per partition: log start, high watermark (end) and last
// stable offset (stable; below end while a transaction is open).
type bounds struct {
	start, end, stable map[int32]int64
}

// snapshot is the state of the pipeline's topics and group at one moment.
type snapshot struct {
	input     bounds
	committed map[int32]int64   // the group's committed input offsets; absent: none
	pending   []int32           // input partitions with a pending transactional commit
	others    map[string]bounds // output, dead-letter, late and changelog topics that exist
	order     []string          // topics in the order checked: input first
}

// behind lists input partitions whose committed offset is below the end.
func (s *snapshot) behind() []string {
	var out []string
	for _, p := range sortedKeys(s.input.end) {
		c, ok := s.committed[p]
		if end := s.input.end[p]; (ok && c < end) || (!ok && s.input.start[p] < end) {
			out = append(out, fmt.Sprintf("%d (committed %s, end %d)", p, offsetString(c, ok), end))
		}
	}
	return out
}

// open lists partitions with an open transaction: last stable offset below the end, or a
// pending transactional offset commit of the group.
func (s *snapshot) open(group, input string) []string {
	var out []string
	for _, t := range s.order {
		b := s.input
		if t != input {
			b = s.others[t]
		}
		for _, p := range sortedKeys(b.end) {
			if b.stable[p] < b.end[p] {
				out = append(out, fmt.Sprintf("%s/%d (last stable offset %d, high watermark %d)", t, p, b.stable[p], b.end[p]))
			}
		}
	}
	for _, p := range s.pending {
		out = append(out, fmt.Sprintf("group %s offsets of %s/%d (pending transactional commit)", group, input, p))
	}
	return out
}

// settle waits until the group has committed the whole input and no transaction is open, or
// until cfg.WaitTimeout. After the timeout it returns ErrOpenTransaction if a transaction is
// still open; if only the group is behind it returns the snapshot and notes the partitions
// behind as problems of v, so the verdict counts what was not committed.
func settle(ctx context.Context, adm *kadm.Client, cfg *Config, v *Verdict) (*snapshot, error) {
	deadline := time.Now().Add(cfg.WaitTimeout)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		s, err := look(ctx, adm, cfg)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("verify: waiting for group %s to commit %s: %w", cfg.Group, cfg.Input, ctx.Err())
		}
		if err == nil && len(s.behind()) == 0 && len(s.open(cfg.Group, cfg.Input)) == 0 && !s.outputMissing(cfg) {
			return s, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("verify: still failing after %s: %w", cfg.WaitTimeout, err)
			}
			if open := s.open(cfg.Group, cfg.Input); len(open) > 0 {
				return nil, fmt.Errorf("%w after %s on %s: a producer died inside a transaction or is still running; "+
					"stop it, or wait for the broker's transaction timeout to abort it, then verify again",
					ErrOpenTransaction, cfg.WaitTimeout, strings.Join(open, ", "))
			}
			for _, b := range s.behind() {
				v.problemf("group %s did not commit all of %s after %s: partition %s", cfg.Group, cfg.Input, cfg.WaitTimeout, b)
			}
			return s, nil
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// outputMissing reports whether input was committed while the output topic is not there
// yet: the topic exists once anything was processed, so its absence is a stale view.
func (s *snapshot) outputMissing(cfg *Config) bool {
	if _, ok := s.others[cfg.Output]; ok || cfg.Output == "" {
		return false
	}
	for _, c := range s.committed {
		if c > 0 {
			return true
		}
	}
	return false
}

// look takes a snapshot.
func look(ctx context.Context, adm *kadm.Client, cfg *Config) (*snapshot, error) {
	s := &snapshot{others: map[string]bounds{}, order: []string{cfg.Input}}
	in, ok, err := topicBounds(ctx, adm, cfg.Input)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("input topic %q does not exist", cfg.Input)
	}
	s.input = in
	s.committed = map[int32]int64{}
	resp, err := adm.FetchOffsets(kadm.RequireStable(ctx), cfg.Group)
	switch {
	case errors.Is(err, kerr.UnstableOffsetCommit):
		s.pending = sortedKeys(in.end)
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("fetch offsets of group %s: %w", cfg.Group, err)
	}
	for p, o := range resp[cfg.Input] {
		switch {
		case errors.Is(o.Err, kerr.UnstableOffsetCommit):
			s.pending = append(s.pending, p)
		case o.Err != nil:
			return nil, fmt.Errorf("fetch offsets of group %s, %s/%d: %w", cfg.Group, cfg.Input, p, o.Err)
		case o.At >= 0:
			s.committed[p] = o.At
		}
	}
	sort.Slice(s.pending, func(i, j int) bool { return s.pending[i] < s.pending[j] })
	// The outputs' bounds come after the group's offsets: every transaction that committed
	// those offsets committed its outputs too, so the outputs read below cover them. Taken
	// before, they could miss a transaction that committed in between (or a topic not yet
	// created).
	for _, t := range []string{cfg.Output, cfg.DeadLetter, cfg.Late, cfg.Changelog} {
		if t == "" {
			continue
		}
		b, ok, err := topicBounds(ctx, adm, t)
		if err != nil {
			return nil, err
		}
		if ok {
			s.others[t] = b
			s.order = append(s.order, t)
		}
	}
	return s, nil
}

// topicBounds lists a topic's offsets; ok is false when the topic does not exist.
func topicBounds(ctx context.Context, adm *kadm.Client, topic string) (b bounds, ok bool, err error) {
	get := func(list func(context.Context, ...string) (kadm.ListedOffsets, error), what string) (map[int32]int64, bool, error) {
		l, err := list(ctx, topic)
		if err != nil {
			return nil, false, fmt.Errorf("list %s offsets of %s: %w", what, topic, err)
		}
		m := map[int32]int64{}
		for p, o := range l[topic] {
			switch {
			case p < 0 && errors.Is(o.Err, kerr.UnknownTopicOrPartition):
				return nil, false, nil
			case o.Err != nil:
				return nil, false, fmt.Errorf("list %s offsets of %s/%d: %w", what, topic, p, o.Err)
			}
			m[p] = o.Offset
		}
		return m, len(m) > 0, nil
	}
	if b.start, ok, err = get(adm.ListStartOffsets, "start"); !ok || err != nil {
		return b, ok, err
	}
	if b.end, ok, err = get(adm.ListEndOffsets, "end"); !ok || err != nil {
		return b, ok, err
	}
	b.stable, ok, err = get(adm.ListCommittedOffsets, "last stable")
	return b, ok, err
}

// span is a range of offsets to read, [from, to).
type span struct{ from, to int64 }

// read reads the given spans read_committed and returns their data records per topic and
// partition, in offset order. It keeps control records to know where a span ends: the last
// offset below a partition's high watermark, once no transaction is open, is always either
// a committed record or a transaction marker. It fails when no record arrives for stall.
func read(ctx context.Context, cfg *Config, spans map[string]map[int32]span, stall time.Duration) (map[string]map[int32][]*kgo.Record, error) {
	out := map[string]map[int32][]*kgo.Record{}
	starts := map[string]map[int32]kgo.Offset{}
	left := 0
	for t, ps := range spans {
		out[t] = map[int32][]*kgo.Record{}
		for p, s := range ps {
			if s.from >= s.to {
				continue
			}
			if starts[t] == nil {
				starts[t] = map[int32]kgo.Offset{}
			}
			starts[t][p] = kgo.NewOffset().At(s.from)
			left++
		}
	}
	if left == 0 {
		return out, nil
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(starts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("verify: reader client: %w", err)
	}
	defer cl.Close()

	done := map[string]map[int32]bool{}
	finish := func(t string, p int32) {
		if done[t] == nil {
			done[t] = map[int32]bool{}
		}
		if !done[t][p] {
			done[t][p] = true
			left--
			cl.PauseFetchPartitions(map[string][]int32{t: {p}})
		}
	}
	for left > 0 {
		pctx, cancel := context.WithTimeout(ctx, stall)
		fs := cl.PollFetches(pctx)
		stalled := pctx.Err() != nil && fs.NumRecords() == 0
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verify: reading: %w", err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !kerr.IsRetriable(err) {
				ferr = fmt.Errorf("verify: reading %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			s := spans[r.Topic][r.Partition]
			if done[r.Topic][r.Partition] {
				return
			}
			if r.Offset < s.to && !r.Attrs.IsControl() {
				out[r.Topic][r.Partition] = append(out[r.Topic][r.Partition], r)
			}
			if r.Offset >= s.to-1 {
				finish(r.Topic, r.Partition)
			}
		})
		if stalled && left > 0 {
			var missing []string
			for t, ps := range starts {
				for p := range ps {
					if !done[t][p] {
						missing = append(missing, fmt.Sprintf("%s/%d (to offset %d)", t, p, spans[t][p].to))
					}
				}
			}
			sort.Strings(missing)
			return nil, fmt.Errorf("verify: no record for %s while reading %s", stall, strings.Join(missing, ", "))
		}
	}
	return out, nil
}
