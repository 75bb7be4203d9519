package gen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrWrongPartitioner is returned when the broker acknowledged a record in another partition
// than [Partition] chose: the client was not created with
// kgo.RecordPartitioner(kgo.ManualPartitioner()).
var ErrWrongPartitioner = errors.New("gen: a record landed in another partition than chosen; create the client with kgo.RecordPartitioner(kgo.ManualPartitioner())")

// RunFlushTimeout bounds how long Run waits, after its context ends, for the broker to
// acknowledge the records it already handed to the client.
const RunFlushTimeout = 30 * time.Second

// ClientOpts are the options a producing client needs: the manual partitioner, so each
// record goes to the partition [Partition] chose. franz-go's defaults already make
// production idempotent with acks from all in-sync replicas; keep them.
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}
}

// Produce produces records [0, n) to topic; see [Cards.ProduceRange].
func (c *Cards) Produce(ctx context.Context, cl *kgo.Client, topic string, n int64) (int64, error) {
	return c.ProduceRange(ctx, cl, topic, 0, n)
}

// ProduceRange produces records [from, to) to topic, in index order, and waits until the
// broker has acknowledged each of them. cl must use [ClientOpts] and be idempotent (the
// franz-go default), so that retries neither duplicate nor reorder records: each partition
// then holds its records in index order.
//
// It returns how many records the broker acknowledged. After an error that is not
// necessarily a prefix of the range: each partition holds a prefix of its own records.
func (c *Cards) ProduceRange(ctx context.Context, cl *kgo.Client, topic string, from, to int64) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	p := newProducer(cl, topic)
	for i := from; i < to && ctx.Err() == nil && !p.failed(); i++ {
		p.produce(ctx, c, i)
	}
	return p.finish(ctx, ctx.Err())
}

// Run produces records from index from on, at about ratePerSec records per second, until ctx
// ends; then it waits up to RunFlushTimeout for the broker to acknowledge what it sent and
// returns how many records it acknowledged: with a nil error, exactly records
// [from, from+n). It stops at the first failed record. A stall (a full buffer, a slow
// broker) is caught up on by at most one second's worth of records.
func (c *Cards) Run(ctx context.Context, cl *kgo.Client, topic string, from int64, ratePerSec int) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	if ratePerSec <= 0 {
		return 0, fmt.Errorf("gen: rate is %d records per second; want more than 0", ratePerSec)
	}
	// Records already handed to the client must not fail because ctx ended: they are
	// produced with a context that ends only RunFlushTimeout after ctx does.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(RunFlushTimeout, pcancel) })
	defer stop()

	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	p := newProducer(cl, topic)
	next := from
	base, sent := time.Now(), int64(0) // records due since base: rate * elapsed
	for ctx.Err() == nil && !p.failed() {
		select {
		case <-ctx.Done():
		case now := <-t.C:
			due := int64(now.Sub(base).Seconds() * float64(ratePerSec))
			if due-sent > int64(ratePerSec) { // behind by more than a second: skip ahead
				sent = due - int64(ratePerSec)
			}
			for ; sent < due && ctx.Err() == nil && !p.failed(); sent++ {
				p.produce(pctx, c, next)
				next++
			}
		}
	}
	return p.finish(pctx, nil)
}

// producer counts acknowledged records and keeps the first error.
type producer struct {
	cl    *kgo.Client
	topic string
	acked atomic.Int64

	mu  sync.Mutex
	err error
	bad atomic.Bool
}

func newProducer(cl *kgo.Client, topic string) *producer {
	return &producer{cl: cl, topic: topic}
}

func (p *producer) failed() bool { return p.bad.Load() }

func (p *producer) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.bad.Store(true)
}

func (p *producer) produce(ctx context.Context, c *Cards, i int64) {
	part, key, value := c.Record(i)
	rec := &kgo.Record{Topic: p.topic, Partition: part, Key: key, Value: value}
	p.cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
		switch {
		case err != nil:
			p.fail(fmt.Errorf("gen: produce record %d to %s/%d: %w", i, p.topic, part, err))
		case r.Partition != part:
			p.acked.Add(1)
			p.fail(fmt.Errorf("%w (record %d: chose %d, got %d)", ErrWrongPartitioner, i, part, r.Partition))
		default:
			p.acked.Add(1)
		}
	})
}

// finish waits for every buffered record and returns the count and the first error: a
// record's, the flush's, or stopErr.
func (p *producer) finish(ctx context.Context, stopErr error) (int64, error) {
	flushErr := p.cl.Flush(ctx)
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	switch {
	case err != nil:
	case stopErr != nil:
		err = fmt.Errorf("gen: stopped: %w", stopErr)
	case flushErr != nil:
		err = fmt.Errorf("gen: flush: %w", flushErr)
	}
	return p.acked.Load(), err
}
