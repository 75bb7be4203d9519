package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/source"
)

// Fetch sizes of a replay: it reads retained history as fast as the broker sends it.
const (
	fetchMaxBytes          = 64 << 20
	fetchMaxPartitionBytes = 16 << 20
)

// sink is where a replay's outputs go: versioned topics or a file.
type sink interface {
	// produce sends out and calls done with its position or an error.
	produce(out *model.Output, done func(offset int64, err error))
	// flush waits until everything produced is written and returns the first failure.
	flush(ctx context.Context) error
}

// client is the bounded processor.Client of a replay: it reads each planned partition from
// its start offset to its end offset, assigned directly (no group), read_committed, and
// writes to the sink in batches. Begin and End mark batch boundaries: End flushes the sink.
type client struct {
	cl    *kgo.Client
	topic string
	sink  sink
	// index maps a partition to its position in plan, next and done.
	index map[int32]int
	end   []int64
	next  []atomic.Int64 // the next offset of each partition, for progress
	done  []bool
	open  int   // partitions not done
	err   error // the first failure: the replay's error
}

// fail records err as the replay's failure, if it is the first, and returns it.
func (c *client) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

func newClient(plan *Plan, opts []kgo.Opt, s sink, log *zap.Logger) (*client, error) {
	c := &client{sink: s, index: map[int32]int{}}
	offsets := map[int32]kgo.Offset{}
	c.end = make([]int64, len(plan.Partitions))
	c.next = make([]atomic.Int64, len(plan.Partitions))
	c.done = make([]bool, len(plan.Partitions))
	for i, pp := range plan.Partitions {
		c.topic = pp.Topic
		c.index[pp.Partition] = i
		c.end[i] = pp.End
		c.next[i].Store(pp.Start)
		if pp.Start >= pp.End {
			c.done[i] = true
			continue
		}
		offsets[pp.Partition] = kgo.NewOffset().At(pp.Start)
		c.open++
	}
	if c.open == 0 {
		return c, nil
	}
	var err error
	c.cl, err = kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: offsets}),
		// Offsets out of range (deleted while the replay runs) are an error, not a reset.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) tell where a partition's end is when the
		// records before it were aborted: read_committed returns no aborted record, and a
		// fetch that has only those returns nothing at all.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.BrokerMaxReadBytes(2*fetchMaxBytes),
		kgo.WithLogger(kzap.New(log.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	)...)
	if err != nil {
		return nil, fmt.Errorf("replay: input client: %w", err)
	}
	return c, nil
}

// Poll implements processor.Client: records before each partition's end, in offset order;
// processor.ErrEndOfInput once every partition reached its end.
func (c *client) Poll(ctx context.Context) ([]model.Record, error) {
	if c.open == 0 {
		return nil, processor.ErrEndOfInput
	}
	fs := c.cl.PollFetches(ctx)
	if fs.IsClientClosed() {
		return nil, kgo.ErrClientClosed
	}
	var ctxErr, fetchErr error
	fs.EachError(func(topic string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			ctxErr = err
		case fetchErr == nil:
			fetchErr = fmt.Errorf("replay: read %s/%d: %w", topic, p, err)
		}
	})
	if fetchErr != nil {
		return nil, c.fail(fetchErr)
	}
	recs := make([]model.Record, 0, fs.NumRecords())
	var finished []int32
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		i, ok := c.index[fp.Partition]
		if !ok || c.done[i] || len(fp.Records) == 0 {
			return
		}
		end := c.end[i]
		last := int64(-1)
		for _, r := range fp.Records {
			if r.Offset >= end {
				break
			}
			last = r.Offset
			if !r.Attrs.IsControl() {
				recs = append(recs, source.Record(r))
			}
		}
		if last >= 0 {
			c.next[i].Store(last + 1)
		}
		// The partition ends with a record (or marker) at end-1 or any record beyond: an
		// offset at or after the end is never read, and what lies between is aborted.
		if last+1 >= end || fp.Records[len(fp.Records)-1].Offset >= end {
			c.done[i] = true
			c.next[i].Store(end)
			c.open--
			finished = append(finished, fp.Partition)
		}
	})
	if len(finished) > 0 {
		c.cl.RemoveConsumePartitions(map[string][]int32{c.topic: finished})
	}
	if c.open == 0 {
		return recs, processor.ErrEndOfInput
	}
	if len(recs) == 0 && ctxErr != nil {
		return nil, ctxErr
	}
	return recs, nil
}

// AllowRebalance implements processor.Client; there is no group.
func (c *client) AllowRebalance() {}

// Begin implements processor.Client: a batch starts; nothing to do.
func (c *client) Begin() error { return nil }

// Produce implements processor.Client.
func (c *client) Produce(out *model.Output, done func(offset int64, err error)) {
	c.sink.produce(out, done)
}

// End implements processor.Client: the batch ends when the sink has written it. A failed
// write cannot be rewound (there are no transactions), so it is an error that ends the
// replay.
func (c *client) End(ctx context.Context, commit bool) (bool, error) {
	if err := c.sink.flush(ctx); err != nil {
		return false, c.fail(err)
	}
	if !commit {
		return false, c.fail(errors.New("replay: an output failed"))
	}
	return true, nil
}

// Close implements processor.Client.
func (c *client) Close() {
	if c.cl != nil {
		c.cl.Close()
	}
}

// position returns the offsets read so far over all partitions.
func (c *client) position(plan *Plan) int64 {
	var n int64
	for i, pp := range plan.Partitions {
		n += c.next[i].Load() - pp.Start
	}
	return n
}

// finished reports whether every partition was read to its end.
func (c *client) finished() bool { return c.open == 0 }

// noChangelog is the processor.Changelog of a replay: its state starts empty and is never
// restored.
type noChangelog struct{}

func (noChangelog) Bounds(context.Context, int32) (int64, int64, error) { return 0, 0, nil }

func (noChangelog) Read(context.Context, int32, int64, int64, func([]model.Record) error) error {
	return nil
}
