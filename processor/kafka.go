package processor

import (
	"context"
	"errors"

	"github.com/kappa-stream/kappa/model"
)

// Client is the Kafka side of a running pipeline as the processor needs it: a consumer-group
// member that polls input records and produces outputs, inside transactions when the pipeline
// is exactly-once. cmd/kappa plugs in the franz-go implementation from package source.
//
// The processor calls Poll, Begin, Produce, End and AllowRebalance from one goroutine.
type Client interface {
	// Poll waits for records of assigned input partitions, at most until ctx ends, and
	// returns them in offset order per partition. It returns ctx.Err() when ctx ends before
	// records arrive. After a non-empty result the client holds rebalances back until
	// AllowRebalance.
	Poll(ctx context.Context) ([]model.Record, error)
	// AllowRebalance lets a pending rebalance (and its assignment callbacks) proceed. The
	// processor calls it only between transactions.
	AllowRebalance()
	// Begin starts a transaction; a no-op for an at-least-once client.
	Begin() error
	// Produce sends out asynchronously and calls done with its offset or an error. It must
	// not block on the broker.
	Produce(out *model.Output, done func(offset int64, err error))
	// End flushes what was produced and, when commit is true and every record produced in
	// the transaction was acknowledged, commits the outputs together with the offsets of
	// every polled record; otherwise it aborts. The decision is taken after the flush: a
	// record that fails during it turns the commit into an abort. It reports whether the
	// commit happened. After an abort the client rewinds to the committed offsets, so the
	// aborted records are polled again. A non-nil error means the outcome is unknown or the
	// client is unusable: the processor discards the client and rebuilds state from the
	// changelog.
	End(ctx context.Context, commit bool) (committed bool, err error)
	// Close leaves the group (unless the member is static) and releases the client.
	Close()
}

// ErrEndOfInput is what a bounded client's Poll returns (with the last records, or none)
// once every assigned partition has been read to its end, as in a replay. The processor then
// closes every open window (the watermark of each partition advances to
// windows.EndOfInput), ends the transaction, and Run returns nil.
var ErrEndOfInput = errors.New("processor: end of input")

// Changelog reads a pipeline's changelog topic, whose partition p holds the state mutations
// of input partition p.
type Changelog interface {
	// Bounds returns the partition's log start offset and its committed end offset (the last
	// stable offset: nothing at or after it is readable read_committed).
	Bounds(ctx context.Context, partition int32) (start, end int64, err error)
	// Read calls fn with the committed records of the partition from offset from up to end,
	// in offset order, in chunks. Control records and aborted records are skipped.
	Read(ctx context.Context, partition int32, from, end int64, fn func([]model.Record) error) error
}

// Assignment tells the processor about partition ownership changes. The source's group
// callbacks call it; it only records the change and returns at once.
type Assignment interface {
	Assigned(partitions []int32)
	Revoked(partitions []int32)
}
