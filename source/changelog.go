package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/model"
)

// Changelog reads a pipeline's changelog topic for restores. It implements the processor's
// Changelog interface.
type Changelog struct {
	topic string
	opts  []kgo.Opt
	adm   *kadm.Client
	cl    *kgo.Client
	// IdleTimeout ends a read that has seen no record for this long: the rest of the range
	// can hold only records read_committed never returns. Default 5s.
	IdleTimeout time.Duration
	// StableTimeout bounds the wait in Bounds for a transaction open on a changelog
	// partition to end. Default 2m: beyond any transaction timeout Kappa sets.
	StableTimeout time.Duration
}

// NewChangelog returns a reader of topic. opts must hold the seed brokers and may add TLS
// or SASL.
func NewChangelog(topic string, opts ...kgo.Opt) (*Changelog, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("source: changelog client: %w", err)
	}
	return &Changelog{topic: topic, opts: opts, adm: kadm.NewClient(cl), cl: cl, IdleTimeout: 5 * time.Second, StableTimeout: 2 * time.Minute}, nil
}

// Close releases the reader.
func (c *Changelog) Close() { c.cl.Close() }

// Bounds implements processor.Changelog: the log start offset and the end of the committed
// records. It waits until no transaction is open on the partition (its last stable offset
// equals its high watermark), at most StableTimeout. The caller owns the input partition, so
// the only transactions that can be open there are a previous owner's, about to end: its
// markers may land on the changelog a moment after its offsets became stable, and restoring
// before them would miss state that the committed input offsets already cover.
func (c *Changelog) Bounds(ctx context.Context, partition int32) (start, end int64, err error) {
	deadline := time.Now().Add(c.StableTimeout)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		start, end, hwm, err := c.bounds(ctx, partition)
		if err != nil || end == hwm {
			return start, end, err
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("source: changelog %s/%d has a transaction open for more than %s (last stable offset %d, high watermark %d); a previous owner did not finish it",
				c.topic, partition, c.StableTimeout, end, hwm)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (c *Changelog) bounds(ctx context.Context, partition int32) (start, stable, hwm int64, err error) {
	lookup := func(what string, list func(context.Context, ...string) (kadm.ListedOffsets, error)) (int64, error) {
		l, err := list(ctx, c.topic)
		if err != nil {
			return 0, fmt.Errorf("source: list %s offsets of %s: %w", what, c.topic, err)
		}
		o, ok := l.Lookup(c.topic, partition)
		switch {
		case !ok:
			return 0, fmt.Errorf("source: changelog %s has no partition %d", c.topic, partition)
		case o.Err != nil:
			return 0, fmt.Errorf("source: %s offset of %s/%d: %w", what, c.topic, partition, o.Err)
		}
		return o.Offset, nil
	}
	if start, err = lookup("start", c.adm.ListStartOffsets); err != nil {
		return
	}
	if stable, err = lookup("committed end", c.adm.ListCommittedOffsets); err != nil {
		return
	}
	hwm, err = lookup("end", c.adm.ListEndOffsets)
	return
}

// Read implements processor.Changelog. It keeps control records (and drops them) so that it
// sees the commit marker that usually ends the range and knows it is done.
func (c *Changelog) Read(ctx context.Context, partition int32, from, end int64, fn func([]model.Record) error) error {
	if from >= end {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("source: changelog reader: %w", err)
	}
	defer cl.Close()

	next := from
	lastProgress := time.Now()
	batch := make([]model.Record, 0, 1024)
	for next < end {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var fetchErr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = err
			}
		})
		if fetchErr != nil {
			return fmt.Errorf("source: read %s/%d at %d: %w", c.topic, partition, next, fetchErr)
		}
		batch = batch[:0]
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				return
			}
			next = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			batch = append(batch, Record(r))
		})
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if fs.NumRecords() > 0 {
			lastProgress = time.Now()
		} else if time.Since(lastProgress) > c.IdleTimeout {
			return nil
		}
	}
	return nil
}
