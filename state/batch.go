package state

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// A Batch is the state mutations of one transaction for one partition. It is an indexed
// Pebble batch, so Get sees the batch's own writes over the committed state, and it records
// every mutation as a ChangelogEntry so that the processor can produce them to the
// changelog topic inside the Kafka transaction.
//
// The life of a Batch follows the commit protocol: mutate, produce Changes, and call Commit
// only after Kafka has confirmed the transaction; on abort or any doubt, Close. A Batch is
// not safe for concurrent use.
type Batch struct {
	s       *Store
	p       int32
	b       *pebble.Batch
	err     error // set at creation (closed store, bad partition): every method returns it
	done    bool  // committed or closed
	changes []ChangelogEntry
	arena   []byte // backing store of the changes' keys and values
	key     []byte // scratch for encoded keys
}

// arenaChunk is the allocation unit of a Batch's change copies.
const arenaChunk = 4 << 10

// NewBatch starts a batch for partition p. Errors (a closed store, a negative partition)
// surface from the batch's methods.
func (s *Store) NewBatch(p int32) *Batch {
	b := &Batch{s: s, p: p}
	if err := checkPartition(p); err != nil {
		b.err = err
		return b
	}
	if err := s.enter(); err != nil {
		b.err = fmt.Errorf("state: partition %d: %w", p, err)
		return b
	}
	defer s.ops.Done()
	b.b = s.db.NewIndexedBatch()
	return b
}

// usable returns the reason the batch cannot be used, if any.
func (b *Batch) usable() error {
	switch {
	case b.err != nil:
		return b.err
	case b.done:
		return fmt.Errorf("state: partition %d: %w", b.p, ErrBatchDone)
	}
	return nil
}

// Get returns the value of key as this batch sees it: its own writes over the committed
// state. The value is a copy, safe to keep; ok is false when the key has no value.
func (b *Batch) Get(key []byte) (value []byte, ok bool, err error) {
	if err := b.usable(); err != nil {
		return nil, false, err
	}
	if err := b.s.enter(); err != nil {
		return nil, false, fmt.Errorf("state: partition %d: %w", b.p, err)
	}
	defer b.s.ops.Done()
	b.key = appendDataKey(b.key[:0], b.p, key)
	v, closer, err := b.b.Get(b.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: partition %d: get: %w", b.p, classify(err))
	}
	value = append(make([]byte, 0, len(v)), v...)
	return value, true, closer.Close()
}

// Range calls fn for each key in [lo, hi) as this batch sees it (its own writes over the
// committed state), in key order, with its value, up to limit keys (limit <= 0: all). A nil
// hi is the end of the partition's keys. key and value are valid only until fn returns, and
// fn must not change the batch: collect what to change and change it after Range returns.
// An error from fn stops the scan and is returned as is.
func (b *Batch) Range(lo, hi []byte, limit int, fn func(key, value []byte) error) error {
	if err := b.usable(); err != nil {
		return err
	}
	if err := b.s.enter(); err != nil {
		return fmt.Errorf("state: partition %d: %w", b.p, err)
	}
	defer b.s.ops.Done()
	opts := &pebble.IterOptions{LowerBound: appendDataKey(nil, b.p, lo)}
	if hi != nil {
		opts.UpperBound = appendDataKey(nil, b.p, hi)
	} else {
		_, opts.UpperBound = namespaceBounds(b.p, nsData)
	}
	it, err := b.b.NewIter(opts)
	return iterate(b.p, "range", it, err, limit, fn)
}

// Set sets key to value. A nil value is stored as an empty one (only Delete writes a
// tombstone). Both slices may be reused once Set returns.
func (b *Batch) Set(key, value []byte) error {
	if err := b.usable(); err != nil {
		return err
	}
	b.key = appendDataKey(b.key[:0], b.p, key)
	if err := b.b.Set(b.key, value, nil); err != nil {
		return fmt.Errorf("state: partition %d: set: %w", b.p, classify(err))
	}
	v := b.clone(value)
	if v == nil {
		v = []byte{}
	}
	b.changes = append(b.changes, ChangelogEntry{Key: b.clone(key), Value: v})
	return nil
}

// Delete deletes key; its changelog entry is a tombstone (nil Value).
func (b *Batch) Delete(key []byte) error {
	if err := b.usable(); err != nil {
		return err
	}
	b.key = appendDataKey(b.key[:0], b.p, key)
	if err := b.b.Delete(b.key, nil); err != nil {
		return fmt.Errorf("state: partition %d: delete: %w", b.p, classify(err))
	}
	b.changes = append(b.changes, ChangelogEntry{Key: b.clone(key)})
	return nil
}

// clone copies p into the batch's arena: a few large allocations instead of two per
// mutation. It returns nil for an empty p.
func (b *Batch) clone(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if len(p) > cap(b.arena)-len(b.arena) {
		b.arena = make([]byte, 0, max(arenaChunk, len(p)))
	}
	n := len(b.arena)
	b.arena = append(b.arena, p...)
	return b.arena[n:len(b.arena):len(b.arena)]
}

// Changes returns the batch's mutations in the order they were made, for the changelog
// topic: Key is the user key, Value nil is a deletion, Offset is zero. The entries stay
// valid after Commit and Close; the caller must not modify them.
func (b *Batch) Changes() []ChangelogEntry { return b.changes }

// Commit writes a, the partition's complete applied position after this transaction, into
// the batch and applies the batch, without a sync: Kafka holds the truth and a crash that
// loses the tail is repaired by restoring from a.Changelog. Call it ONLY after Kafka
// confirmed the transaction that carried Changes. After Commit, whatever it returns, the
// batch is done; an error means the local state is in doubt and the partition must be
// recovered (reopen, Applied, Restore).
func (b *Batch) Commit(a Applied) error {
	if err := b.usable(); err != nil {
		return err
	}
	if err := validateApplied(a); err != nil {
		return fmt.Errorf("state: partition %d: commit: %w", b.p, err)
	}
	if err := b.s.enter(); err != nil {
		return fmt.Errorf("state: partition %d: %w", b.p, err)
	}
	defer b.s.ops.Done()
	b.done = true
	b.key = encodeApplied(b.key[:0], a)
	if err := b.b.Set(metaKey(b.p), b.key, nil); err != nil {
		return errors.Join(fmt.Errorf("state: partition %d: commit: %w", b.p, classify(err)), b.b.Close())
	}
	err := b.b.Commit(pebble.NoSync)
	if cerr := b.b.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: partition %d: commit: %w", b.p, classify(err))
	}
	return nil
}

// Close discards the batch unless it was committed (the abort path). It is safe to call
// more than once and after Commit.
func (b *Batch) Close() {
	if b.err != nil || b.done {
		return
	}
	b.done = true
	_ = b.b.Close() // releases memory only; it cannot fail on a batch not yet closed
}
