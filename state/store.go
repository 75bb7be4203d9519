package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
)

// Errors. Each is wrapped with the partition or directory it concerns; test with errors.Is.
var (
	// ErrClosed is returned by every operation on a closed Store (and by a second Close).
	ErrClosed = errors.New("state: closed")
	// ErrCorrupt means the local state cannot be trusted: Pebble reported corruption, or a
	// metadata value or the store header failed its checks. Kafka holds the truth: wipe the
	// partition (Wipe) or the whole store (Destroy, then Open) and restore from the changelog.
	ErrCorrupt = errors.New("state: corrupt local state (wipe it and restore from the changelog)")
	// ErrFormat means the store was written in a layout version this build does not know
	// (a newer kappa wrote it). Destroy it and restore from the changelog.
	ErrFormat = errors.New("state: unsupported store format (destroy it and restore from the changelog)")
	// ErrInvalidPartition is returned for a negative partition number.
	ErrInvalidPartition = errors.New("state: invalid partition")
	// ErrInvalidApplied is returned by Batch.Commit for offsets that cannot be stored:
	// negative offsets, or an input topic name that is empty or longer than Kafka allows.
	ErrInvalidApplied = errors.New("state: invalid applied offsets")
	// ErrBatchDone is returned by a Batch used after Commit or Close.
	ErrBatchDone = errors.New("state: batch already committed or closed")
	// ErrRestoreOrder is returned by Restore for entries that are not in strictly increasing
	// offset order, or that are older than what the partition has already applied.
	ErrRestoreOrder = errors.New("state: changelog entries out of order")
)

// formatMajorVersion is Pebble's on-disk format for new stores, pinned rather than
// pebble.FormatNewest so that a Pebble upgrade never ratchets the format (upgrades are
// one-way) without a deliberate change here. It is the newest format of pebble v2.1.7.
const formatMajorVersion = pebble.FormatValueSeparation

const (
	defaultCacheSize    = 64 << 20
	defaultMemTableSize = 64 << 20
	maxMemTableSize     = 4<<30 - 1 // Pebble's limit
)

// Options configures Open. The zero value is valid.
type Options struct {
	// FS is the filesystem holding the store. Nil means the operating system's; tests use
	// vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// CacheSize is the size in bytes of Pebble's block cache. Zero means 64 MiB.
	CacheSize int64
	// MemTableSize is the size in bytes of one Pebble memtable; Pebble queues up to two
	// before it stalls writes. Zero means 64 MiB. Both defaults are starting points, not
	// measured: tune them with benchmarks.
	MemTableSize uint64
	// Logger receives Pebble's logs and events: flushes and compactions at Debug, stalls and
	// slow disks at Warn, background errors at Error. Nil means zap.NewNop().
	Logger *zap.Logger

	// tune adjusts the Pebble options last; the tests use it for their option sets.
	tune func(*pebble.Options)
}

// Validate reports options Open would refuse.
func (o Options) Validate() error {
	if o.CacheSize < 0 {
		return fmt.Errorf("state: options: CacheSize %d is negative", o.CacheSize)
	}
	if o.MemTableSize > maxMemTableSize {
		return fmt.Errorf("state: options: MemTableSize %d exceeds Pebble's limit of %d", o.MemTableSize, uint64(maxMemTableSize))
	}
	return nil
}

// Store is the local state of the partitions this instance owns, in one Pebble database.
// Its methods are safe for concurrent use; each partition must have at most one writer (one
// open Batch, Restore or Wipe) at a time, which the processor's one-task-per-partition
// design gives.
type Store struct {
	db  *pebble.DB
	dir string
	log *zap.Logger

	mu     sync.Mutex
	closed bool
	ops    sync.WaitGroup // operations in flight; Close waits for them
}

// Open opens the store in dir, creating it if needed. It returns an error wrapping
// ErrCorrupt when Pebble reports corruption or the store header is damaged, and ErrFormat
// when a newer layout version wrote the store; in both cases Destroy the directory and
// restore every partition from its changelog.
func Open(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	po := &pebble.Options{
		FS:                 opts.FS,
		CacheSize:          opts.CacheSize,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: formatMajorVersion,
		Logger:             pebbleLogger{log.Named("pebble")},
		EventListener:      eventListener(log.Named("pebble")),
	}
	if po.CacheSize == 0 {
		po.CacheSize = defaultCacheSize
	}
	if po.MemTableSize == 0 {
		po.MemTableSize = defaultMemTableSize
	}
	if opts.tune != nil {
		opts.tune(po)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, classifyOpen(err))
	}
	if err := checkHeader(db); err != nil {
		return nil, errors.Join(fmt.Errorf("state: open %s: %w", dir, err), db.Close())
	}
	log.Debug("state store opened", zap.String("dir", dir))
	return &Store{db: db, dir: dir, log: log}, nil
}

// checkHeader checks the store-wide format version, writing it (synced) into a new store.
func checkHeader(db *pebble.DB) error {
	v, closer, err := db.Get(headerKey)
	if errors.Is(err, pebble.ErrNotFound) {
		it, err := db.NewIter(nil)
		if err != nil {
			return classify(err)
		}
		empty := !it.First()
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return classify(err)
		}
		if !empty {
			return fmt.Errorf("store has keys but no format header: %w", ErrCorrupt)
		}
		if err := db.Set(headerKey, []byte{formatVersion}, pebble.Sync); err != nil {
			return fmt.Errorf("write format header: %w", classify(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read format header: %w", classify(err))
	}
	defer func() { _ = closer.Close() }()
	switch {
	case len(v) != 1:
		return fmt.Errorf("format header is %d bytes, want 1: %w", len(v), ErrCorrupt)
	case v[0] != formatVersion:
		return fmt.Errorf("format version %d, this build reads %d: %w", v[0], formatVersion, ErrFormat)
	}
	return nil
}

// Destroy removes the store in dir (nil fs means the operating system's filesystem) so the
// caller can open an empty one and restore everything from the changelog. The store must
// not be open. A missing directory is not an error.
func Destroy(dir string, fs vfs.FS) error {
	if fs == nil {
		fs = vfs.Default
	}
	if _, err := fs.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("state: destroy %s: %w", dir, err)
	}
	// Hold Pebble's own lock while removing, so an open store is refused rather than
	// deleted from under its feet.
	lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
	if err != nil {
		return fmt.Errorf("state: destroy %s: is the store open? %w", dir, err)
	}
	if err := errors.Join(fs.RemoveAll(dir), lock.Close()); err != nil {
		return fmt.Errorf("state: destroy %s: %w", dir, err)
	}
	return nil
}

// Close closes the store after the operations in flight end. Batches not yet committed are
// lost, as they would be in a crash. A second Close returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.ops.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.dir, classify(err))
	}
	return nil
}

// enter admits an operation unless the store is closed; the caller must call s.ops.Done.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// DiskUsage returns the bytes the store takes on disk (sstables, WAL, manifests), for a
// "state bytes" gauge. It returns 0 once the store is closed.
func (s *Store) DiskUsage() uint64 {
	if s.enter() != nil {
		return 0
	}
	defer s.ops.Done()
	return s.db.Metrics().DiskSpaceUsage()
}

// Applied is what a partition's state has applied.
type Applied struct {
	// Input is the next offset to read, per input topic, as of the transaction that wrote
	// this state. Informational: the processor resumes input from the group's committed
	// offsets, which Kafka holds.
	Input map[string]int64
	// Changelog is the next changelog offset to read when restoring this partition.
	Changelog int64
}

// Applied returns what partition p has applied, and false when it has no state (no
// metadata): then the caller wipes it (removing any stray data) and restores from changelog
// offset 0. An error wrapping ErrCorrupt means the metadata is damaged: wipe and restore.
func (s *Store) Applied(p int32) (Applied, bool, error) {
	if err := checkPartition(p); err != nil {
		return Applied{}, false, err
	}
	if err := s.enter(); err != nil {
		return Applied{}, false, fmt.Errorf("state: partition %d: %w", p, err)
	}
	defer s.ops.Done()
	a, ok, err := readApplied(s.db, p)
	if err != nil {
		return Applied{}, false, fmt.Errorf("state: partition %d: %w", p, err)
	}
	return a, ok, nil
}

// readApplied reads and decodes the metadata of partition p from r.
func readApplied(r pebble.Reader, p int32) (Applied, bool, error) {
	v, closer, err := r.Get(metaKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return Applied{}, false, nil
	}
	if err != nil {
		return Applied{}, false, fmt.Errorf("read metadata: %w", classify(err))
	}
	defer func() { _ = closer.Close() }()
	a, err := decodeApplied(v)
	if err != nil {
		return Applied{}, false, err
	}
	return a, true, nil
}

// Wipe deletes all data and metadata of partition p with one range deletion. It is applied
// without a sync: if a crash loses it, the partition comes back as it was and recovery
// decides again.
func (s *Store) Wipe(p int32) error {
	if err := checkPartition(p); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("state: partition %d: %w", p, err)
	}
	defer s.ops.Done()
	start, end := partitionBounds(p)
	if err := s.db.DeleteRange(start, end, pebble.NoSync); err != nil {
		return fmt.Errorf("state: partition %d: wipe: %w", p, classify(err))
	}
	return nil
}

// Partitions returns, in ascending order, the partitions that have metadata. It does not
// decode the metadata: a partition whose metadata is damaged is listed, and Applied
// reports the damage.
func (s *Store) Partitions() ([]int32, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	// Every partition's first key is its metadata key when it has one (nsMeta sorts first),
	// so one seek per partition present finds them all.
	it, err := s.db.NewIter(&pebble.IterOptions{UpperBound: []byte{0x80}})
	if err != nil {
		return nil, fmt.Errorf("state: partitions: %w", classify(err))
	}
	var ps []int32
	var seek [partitionLen]byte
	for next := uint64(0); next <= math.MaxInt32; {
		binary.BigEndian.PutUint32(seek[:], uint32(next))
		if !it.SeekGE(seek[:]) {
			break
		}
		p, ns, rest, err := parseKey(it.Key())
		if err != nil {
			return nil, errors.Join(fmt.Errorf("state: partitions: %w", err), it.Close())
		}
		if ns == nsMeta && len(rest) == 0 {
			ps = append(ps, p)
		}
		next = uint64(p) + 1
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("state: partitions: %w", classify(err))
	}
	return ps, nil
}

// Scan calls fn for each key of partition p in key order, with its value, as committed. key
// and value are valid only until fn returns. An error from fn stops the scan and is returned
// as is.
func (s *Store) Scan(p int32, fn func(key, value []byte) error) error {
	if err := checkPartition(p); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("state: partition %d: %w", p, err)
	}
	defer s.ops.Done()
	lo, hi := namespaceBounds(p, nsData)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	return iterate(p, "scan", it, err, 0, fn)
}

// iterate calls fn with the user key and value of each of its keys, up to limit (<= 0:
// all), and closes it; err is NewIter's. op names the operation in errors.
func iterate(p int32, op string, it *pebble.Iterator, err error, limit int, fn func(key, value []byte) error) error {
	if err != nil {
		return fmt.Errorf("state: partition %d: %s: %w", p, op, classify(err))
	}
	n := 0
	for valid := it.First(); valid && (limit <= 0 || n < limit); valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("state: partition %d: %s: %w", p, op, classify(err)), it.Close())
		}
		if err := fn(it.Key()[prefixLen:], v); err != nil {
			_ = it.Close() // fn's error is the one that matters
			return err
		}
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("state: partition %d: %s: %w", p, op, classify(err))
	}
	return nil
}

// ChangelogEntry is one state mutation as it travels through the changelog topic: the user
// key, the value (nil for a deletion, a tombstone in Kafka; a Set of an empty value has a
// non-nil empty Value), and, when restoring, the entry's changelog offset.
type ChangelogEntry struct {
	Key    []byte
	Value  []byte
	Offset int64
}

// Restore applies changelog entries of partition p, read from the changelog topic in offset
// order (read_committed), in one batch, and records Changelog = last offset + 1 in the
// partition's metadata; the Input offsets are kept. A restore may be split into many calls
// (one per fetch); each is atomic. Entries must have strictly increasing offsets, none below
// the partition's recorded Changelog, or Restore returns ErrRestoreOrder and changes nothing.
// It applies without a sync, like Batch.Commit.
func (s *Store) Restore(p int32, entries []ChangelogEntry) error {
	if err := checkPartition(p); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return fmt.Errorf("state: partition %d: %w", p, err)
	}
	defer s.ops.Done()
	if len(entries) == 0 {
		return nil
	}
	cur, _, err := readApplied(s.db, p)
	if err != nil {
		return fmt.Errorf("state: partition %d: restore: %w", p, err)
	}
	b := s.db.NewBatch()
	defer func() { _ = b.Close() }()
	prev := cur.Changelog - 1
	var key []byte
	for i, e := range entries {
		if e.Offset <= prev {
			return fmt.Errorf("state: partition %d: restore: entry %d has offset %d, want above %d: %w", p, i, e.Offset, prev, ErrRestoreOrder)
		}
		key = appendDataKey(key[:0], p, e.Key)
		if e.Value == nil {
			err = b.Delete(key, nil)
		} else {
			err = b.Set(key, e.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("state: partition %d: restore offset %d: %w", p, e.Offset, classify(err))
		}
		prev = e.Offset
	}
	meta := encodeApplied(nil, Applied{Input: cur.Input, Changelog: prev + 1})
	if err := b.Set(metaKey(p), meta, nil); err != nil {
		return fmt.Errorf("state: partition %d: restore: %w", p, classify(err))
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: partition %d: restore: %w", p, classify(err))
	}
	return nil
}

func checkPartition(p int32) error {
	if p < 0 {
		return fmt.Errorf("%w: %d", ErrInvalidPartition, p)
	}
	return nil
}

// classifyOpen is classify for pebble.Open, which also reports damage it does not mark as
// corruption: a file the store refers to is missing (a deleted MANIFEST or sstable), store
// files without a manifest marker, or an sstable whose size differs from the MANIFEST's
// record (a truncated file). TestOpenCorrupt pins each case, so a Pebble upgrade that
// changes one fails there rather than in production.
func classifyOpen(err error) error {
	switch {
	case pebble.IsCorruptionError(err),
		errors.Is(err, os.ErrNotExist),
		errors.Is(err, pebble.ErrDBNotPristine),
		strings.Contains(err.Error(), "object size mismatch"):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// classify marks Pebble's corruption errors with ErrCorrupt so callers need only errors.Is.
// (Pebble marks corruption with cockroachdb/errors, which the standard errors.Is does not
// see.)
func classify(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) || !pebble.IsCorruptionError(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}
