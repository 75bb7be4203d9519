package drift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is wrapped by every error about state a Monitor could not have written: bytes
// the decoders refuse, and clocks or panes Restore refuses.
var ErrCorrupt = errors.New("drift: corrupt state")

// Version bytes of the encodings; bump them when a layout changes.
const (
	clockVersion = 1
	paneVersion  = 1
)

// AppendClock appends the encoding of c: version byte (1), a byte 1 or 0 for Started, then
// MaxEventTime and Emitted as zig-zag varints (both 0 when not Started).
func AppendClock(dst []byte, c Clock) []byte {
	dst = append(dst, clockVersion)
	if c.Started {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
		c = Clock{}
	}
	dst = binary.AppendVarint(dst, c.MaxEventTime)
	return binary.AppendVarint(dst, c.Emitted)
}

// DecodeClock decodes what AppendClock wrote. It wraps ErrCorrupt.
func DecodeClock(b []byte) (Clock, error) {
	d := decoder{b: b}
	if v := d.byte("clock version"); d.err == nil && v != clockVersion {
		return Clock{}, fmt.Errorf("%w: clock version %d, want %d", ErrCorrupt, v, clockVersion)
	}
	var c Clock
	switch f := d.byte("clock started flag"); {
	case d.err != nil:
	case f == 1:
		c.Started = true
	case f != 0:
		d.fail("clock started flag %d", f)
	}
	c.MaxEventTime = d.varint("max event time")
	c.Emitted = d.varint("emitted")
	switch {
	case d.err != nil:
	case len(d.b) > 0:
		d.fail("%d trailing bytes after the clock", len(d.b))
	case !c.Started && c != (Clock{}):
		d.fail("clock with times (max event time %d, emitted %d) but no record", c.MaxEventTime, c.Emitted)
	}
	if d.err != nil {
		return Clock{}, d.err
	}
	return c, nil
}

// AppendPane appends the encoding of p's counts (its start lives in the key, AppendPaneKey):
// version byte (1); uvarint number of series; for each series a uvarint number of bins, then
// each bin's count as a uvarint. Negative counts, which a Monitor never has, are written as
// 0. The encoding is canonical: DecodePane accepts nothing else.
func AppendPane(dst []byte, p Pane) []byte {
	dst = append(dst, paneVersion)
	dst = binary.AppendUvarint(dst, uint64(len(p.Counts)))
	for _, counts := range p.Counts {
		dst = binary.AppendUvarint(dst, uint64(len(counts)))
		for _, c := range counts {
			dst = binary.AppendUvarint(dst, uint64(max(c, 0)))
		}
	}
	return dst
}

// DecodePane decodes what AppendPane wrote, for the pane starting at start. It wraps
// ErrCorrupt for malformed bytes, no series, a series with fewer than 2 or more than
// MaxBins+1 bins, or counts beyond an int64. Whether the shape fits a Monitor is Restore's
// to check.
func DecodePane(start int64, b []byte) (Pane, error) {
	d := decoder{b: b}
	if v := d.byte("pane version"); d.err == nil && v != paneVersion {
		return Pane{}, fmt.Errorf("%w: pane version %d, want %d", ErrCorrupt, v, paneVersion)
	}
	n := d.uvarint("series count")
	switch {
	case d.err != nil:
	case n == 0:
		d.fail("pane %d without series", start)
	case n > uint64(len(d.b)): // each series takes a byte at least: no huge allocation
		d.fail("pane %d: %d series in %d bytes", start, n, len(d.b))
	}
	if d.err != nil {
		return Pane{}, d.err
	}
	p := Pane{Start: start, Counts: make([][]int64, n)}
	for i := range p.Counts {
		bins := d.uvarint("bin count")
		if d.err == nil && (bins < 2 || bins > MaxBins+1) {
			d.fail("pane %d series %d: %d bins, want 2 to %d", start, i, bins, MaxBins+1)
		}
		if d.err != nil {
			return Pane{}, d.err
		}
		counts := make([]int64, bins)
		for j := range counts {
			c := d.uvarint("count")
			if d.err == nil && c > math.MaxInt64 {
				d.fail("pane %d series %d bin %d: count %d beyond an int64", start, i, j, c)
			}
			counts[j] = int64(c)
		}
		p.Counts[i] = counts
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes after pane %d", len(d.b), start)
	}
	if d.err != nil {
		return Pane{}, d.err
	}
	return p, nil
}

// paneKeyLen is the length of a pane key.
const paneKeyLen = 8

// AppendPaneKey appends the key of the pane starting at start: 8 bytes big-endian with the
// sign bit flipped, so that keys sort as the starts do (the convention of
// windows.AppendEntryKey).
func AppendPaneKey(dst []byte, start int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(start)^1<<63)
}

// ParsePaneKey decodes what AppendPaneKey wrote. It wraps ErrCorrupt.
func ParsePaneKey(b []byte) (int64, error) {
	if len(b) != paneKeyLen {
		return 0, fmt.Errorf("%w: pane key of %d bytes, want %d", ErrCorrupt, len(b), paneKeyLen)
	}
	return int64(binary.BigEndian.Uint64(b) ^ 1<<63), nil
}

// decoder reads varints, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("no %s (truncated)", what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", what)
		return 0
	}
	var buf [binary.MaxVarintLen64]byte
	if n != len(binary.AppendUvarint(buf[:0], v)) {
		d.fail("non-canonical %s varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", what)
		return 0
	}
	var buf [binary.MaxVarintLen64]byte
	if n != len(binary.AppendVarint(buf[:0], v)) {
		d.fail("non-canonical %s varint", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}
