package windows

import (
	"encoding/binary"
	"fmt"
)

// Entry names one piece of an Operator's state: an open window of a key, or (sliding
// windows only) a buffered record that a window yet to be created may still need.
type Entry struct {
	Key    string
	Window Window // a buffered record's is [t, t+1)
	// CloseAt is the watermark at which the entry closes and leaves the state: window end +
	// grace (sessions: + gap), for a buffered record the close of the last window it can
	// join.
	CloseAt int64
	// Buffer marks a buffered record; Seq tells records with equal times apart.
	Buffer bool
	Seq    uint64
}

// Store holds the aggregates of an Operator's entries. The Operator keeps an index of its
// entries (keys, windows, close times) in memory and asks the Store only for entries it
// has put and not deleted; the Store may keep the aggregates wherever it likes (the
// processor: a write-back cache over Pebble). Errors from a Store are returned by the
// Operator's methods unchanged.
//
// Get returns the aggregates for update: the Operator changes them in place and then calls
// Put with the same pointer. Pointers passed to Put belong to the Store afterwards.
type Store interface {
	Get(e Entry) (*Aggs, error)
	Put(e Entry, a *Aggs) error
	Delete(e Entry) error
}

// MemStore is a Store in a map, the default of an Operator.
type MemStore map[Entry]*Aggs

// Get implements Store.
func (m MemStore) Get(e Entry) (*Aggs, error) {
	a, ok := m[e]
	if !ok {
		return nil, fmt.Errorf("windows: memory store has no entry %s", e)
	}
	return a, nil
}

// Put implements Store.
func (m MemStore) Put(e Entry, a *Aggs) error { m[e] = a; return nil }

// Delete implements Store.
func (m MemStore) Delete(e Entry) error { delete(m, e); return nil }

// String formats the entry for messages.
func (e Entry) String() string {
	if e.Buffer {
		return fmt.Sprintf("buffered record of key %q at %d seq %d (closes at %s)", e.Key, e.Window.Start, e.Seq, fmtTime(e.CloseAt))
	}
	return fmt.Sprintf("window %s of key %q (closes at %s)", e.Window, e.Key, fmtTime(e.CloseAt))
}

// Entry keys order entries by close time, so the entries a watermark closes are one
// contiguous range of an ordered store:
//
//	[8] close time   [1] kind (0 window, 1 buffered record)   [8] window start   [8] window end
//	[8] seq (buffered records only)   [rest] the record key
//
// Times are big-endian with the sign bit flipped, so they sort as signed numbers.
const (
	entryWindow byte = 0
	entryBuffer byte = 1
	entryHead        = 8 + 1 + 8 + 8
)

// AppendEntryKey appends the ordered encoding of e to dst.
func AppendEntryKey(dst []byte, e Entry) []byte {
	dst = binary.BigEndian.AppendUint64(dst, sortable(e.CloseAt))
	if e.Buffer {
		dst = append(dst, entryBuffer)
	} else {
		dst = append(dst, entryWindow)
	}
	dst = binary.BigEndian.AppendUint64(dst, sortable(e.Window.Start))
	dst = binary.BigEndian.AppendUint64(dst, sortable(e.Window.End))
	if e.Buffer {
		dst = binary.BigEndian.AppendUint64(dst, e.Seq)
	}
	return append(dst, e.Key...)
}

// ParseEntryKey decodes what AppendEntryKey wrote. It wraps ErrCorrupt.
func ParseEntryKey(b []byte) (Entry, error) {
	if len(b) < entryHead {
		return Entry{}, fmt.Errorf("%w: entry key of %d bytes, want at least %d", ErrCorrupt, len(b), entryHead)
	}
	e := Entry{
		CloseAt: unsortable(binary.BigEndian.Uint64(b)),
		Window:  Window{Start: unsortable(binary.BigEndian.Uint64(b[9:])), End: unsortable(binary.BigEndian.Uint64(b[17:]))},
	}
	rest := b[entryHead:]
	switch b[8] {
	case entryWindow:
	case entryBuffer:
		if len(rest) < 8 {
			return Entry{}, fmt.Errorf("%w: buffered record key without a sequence number", ErrCorrupt)
		}
		e.Buffer, e.Seq = true, binary.BigEndian.Uint64(rest)
		rest = rest[8:]
	default:
		return Entry{}, fmt.Errorf("%w: entry kind %d", ErrCorrupt, b[8])
	}
	if e.Window.End <= e.Window.Start {
		return Entry{}, fmt.Errorf("%w: empty window %s", ErrCorrupt, e.Window)
	}
	e.Key = string(rest)
	return e, nil
}

func sortable(t int64) uint64   { return uint64(t) ^ 1<<63 }
func unsortable(u uint64) int64 { return int64(u ^ 1<<63) }

// Clock is the state of a partition's event-time clock, to be kept with its windows: the
// stream time (largest event time seen) and the explicit watermark floor.
type Clock struct {
	Max   int64
	Seen  bool  // whether any record was seen; Max is meaningless otherwise
	Floor int64 // NoWatermark when nothing advanced the watermark explicitly
}

// clockVersion is the first byte of an encoded Clock.
const clockVersion = 1

// AppendClock appends the encoding of c: version byte (1), a byte 1 or 0 for Seen, then Max
// and Floor as zig-zag varints.
func AppendClock(dst []byte, c Clock) []byte {
	dst = append(dst, clockVersion)
	if c.Seen {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
		c.Max = 0
	}
	dst = binary.AppendVarint(dst, c.Max)
	return binary.AppendVarint(dst, c.Floor)
}

// DecodeClock decodes what AppendClock wrote. It wraps ErrCorrupt.
func DecodeClock(b []byte) (Clock, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != clockVersion {
		return Clock{}, fmt.Errorf("%w: clock version %d, want %d", ErrCorrupt, v, clockVersion)
	}
	var c Clock
	switch d.byte() {
	case 0:
	case 1:
		c.Seen = true
	default:
		d.fail("clock seen flag")
	}
	c.Max = d.varint("stream time")
	c.Floor = d.varint("watermark floor")
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes after the clock", len(d.b))
	}
	if d.err == nil && !c.Seen && c.Max != 0 {
		d.fail("stream time %d without a record seen", c.Max)
	}
	if d.err == nil && c.Seen && checkTime(c.Max) != nil {
		d.fail("stream time %d out of range", c.Max)
	}
	if d.err != nil {
		return Clock{}, d.err
	}
	return c, nil
}
