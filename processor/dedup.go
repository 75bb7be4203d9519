package processor

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
)

// Deduplication by event id (pipeline.Dedup). Its state lives under dedupPrefix, a key
// byte no operator index reaches, in three kinds of keys (FORMAT.md in package state):
//
//	[dedupPrefix][0x00]               -> the partition's dedup clock: 8 bytes, the latest event time seen
//	[dedupPrefix][0x01][id]           -> 8 bytes: the event time of the id's first copy
//	[dedupPrefix][0x02][time][id]     -> empty: the expiry index, in event-time order
//
// A record is a duplicate when its id has an entry whose event time is at or after
// clock - horizon, with the clock including the record itself. Expiry only deletes entries
// before that cutoff, which no later record can count (the clock never goes back), so
// whether an entry is expired yet never changes an answer: live and replay agree whatever
// their transactions.
const (
	dedupPrefix   byte = 0xfd
	dedupClockTag byte = 0x00
	dedupIDTag    byte = 0x01
	dedupTimeTag  byte = 0x02
)

// dedupExpireChunk bounds the expiry index entries read at once.
const dedupExpireChunk = 4096

type deduper struct {
	field   string
	horizon int64 // ms
}

func newDeduper(d *pipeline.Dedup) *deduper {
	if d == nil {
		return nil
	}
	return &deduper{field: d.Field, horizon: d.Horizon.Milliseconds()}
}

// dedupState is a task's dedup clock, read once per task and written once per transaction
// that changed it.
type dedupState struct {
	loaded bool
	clock  int64 // the latest event time seen; valid when seen
	seen   bool
	dirty  bool
	// expired is the cutoff up to which this process emptied the expiry index (when
	// expiredSet): the next expiry starts there.
	expired    int64
	expiredSet bool
}

var dedupClockKey = []byte{dedupPrefix, dedupClockTag}

func appendDedupIDKey(dst, id []byte) []byte {
	return append(append(dst, dedupPrefix, dedupIDTag), id...)
}

func appendDedupTimeKey(dst []byte, t int64, id []byte) []byte {
	dst = append(dst, dedupPrefix, dedupTimeTag)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t)^1<<63) // sorts as signed
	return append(dst, id...)
}

func appendMillis(dst []byte, t int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(t)) }

func decodeMillis(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("dedup state: %d-byte time, want 8; remove the state directory to restore it from the changelog", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// duplicate reports whether ev is a duplicate of a record its partition processed within
// the horizon, and when it is not, remembers its id. first is the event time of the first
// copy.
func (t *task) duplicate(d *deduper, ev *event) (dup bool, first int64, err error) {
	s := &t.dedup
	if !s.loaded {
		v, ok, err := t.batch.Get(dedupClockKey)
		if err != nil {
			return false, 0, err
		}
		if ok {
			if s.clock, err = decodeMillis(v); err != nil {
				return false, 0, err
			}
			s.seen = true
		}
		s.loaded = true
	}
	if !s.seen || ev.eventTime > s.clock {
		s.clock, s.seen, s.dirty = ev.eventTime, true, true
	}
	cutoff := s.clock - d.horizon
	if ev.eventTime < cutoff {
		// Older than the horizon: its first copy, if any, is forgotten. Not remembered
		// either, since no later record could count it.
		return false, 0, nil
	}
	t.key = appendDedupIDKey(t.key[:0], ev.id)
	v, ok, err := t.batch.Get(t.key)
	if err != nil {
		return false, 0, err
	}
	if ok {
		at, err := decodeMillis(v)
		if err != nil {
			return false, 0, err
		}
		if at >= cutoff {
			return true, at, nil
		}
		// An entry past the horizon that expiry has not deleted yet: this copy replaces
		// it, and its expiry key goes with it, so that each id has one expiry key.
		if err := t.batch.Delete(appendDedupTimeKey(nil, at, ev.id)); err != nil {
			return false, 0, err
		}
	}
	t.val = appendMillis(t.val[:0], ev.eventTime)
	if err := t.batch.Set(t.key, t.val); err != nil {
		return false, 0, err
	}
	t.key = appendDedupTimeKey(t.key[:0], ev.eventTime, ev.id)
	return false, 0, t.batch.Set(t.key, nil)
}

// flushDedup writes the clock, if it changed, and deletes the ids the clock has put out of
// the horizon: a prefix of the expiry index.
func (t *task) flushDedup(d *deduper) error {
	s := &t.dedup
	if !s.dirty {
		return nil
	}
	t.val = appendMillis(t.val[:0], s.clock)
	if err := t.batch.Set(dedupClockKey, t.val); err != nil {
		return err
	}
	s.dirty = false
	cutoff := s.clock - d.horizon
	if s.expiredSet && s.expired >= cutoff {
		return nil
	}
	// From where this process last expired to: below that are only the tombstones of
	// earlier expiries, which an LSM iterator would step over one by one every time.
	lo := []byte{dedupPrefix, dedupTimeTag}
	if s.expiredSet {
		lo = appendDedupTimeKey(nil, s.expired, nil)
	}
	hi := appendDedupTimeKey(nil, cutoff, nil)
	for {
		var keys [][]byte
		err := t.batch.Range(lo, hi, dedupExpireChunk, func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := t.expireDedup(k); err != nil {
				return err
			}
		}
		if len(keys) < dedupExpireChunk {
			break
		}
	}
	s.expired, s.expiredSet = cutoff, true
	return nil
}

// expireDedup deletes the expiry index key k and its id's entry. Each id's entry has exactly
// one expiry key, of the entry's time: duplicate deletes the old key when an id seen again
// after its horizon replaces its entry.
func (t *task) expireDedup(k []byte) error {
	const head = 2 + 8
	if len(k) < head {
		return fmt.Errorf("dedup state: expiry key % x is too short; remove the state directory to restore it from the changelog", k)
	}
	if err := t.batch.Delete(k); err != nil {
		return err
	}
	t.key = appendDedupIDKey(t.key[:0], k[head:])
	return t.batch.Delete(t.key)
}

// duplicateError is the reason a duplicate goes to the dead-letter topic or stops the
// processor.
func duplicateError(d *deduper, id []byte, first int64) *DecodeError {
	return &DecodeError{Reason: ReasonDuplicate, Field: d.field, Msg: fmt.Sprintf(
		"event id %s was already seen, with event time %s, within the dedup horizon of %s",
		shortQuote(id), time.UnixMilli(first).UTC().Format(time.RFC3339Nano), time.Duration(d.horizon)*time.Millisecond)}
}

// processDuplicate checks rec for a duplicate; dup reports that it was one and was handled
// (counted, and skipped, dead-lettered or stopped at by the policy).
func (r *run) processDuplicate(t *task, rec *model.Record, ev *event) (dup bool, err error) {
	p := r.p
	dup, first, err := t.duplicate(p.dedup, ev)
	if err != nil {
		return false, fatalf("processor: dedup state of %s (partition %d): %w", rec.Position, t.partition, err)
	}
	if !dup {
		return false, nil
	}
	if !r.quiet {
		p.metrics.duplicates.WithLabelValues(rec.Topic).Inc()
		p.stats.Duplicates.Add(1)
	}
	return true, r.reject(rec, duplicateError(p.dedup, ev.id, first))
}
