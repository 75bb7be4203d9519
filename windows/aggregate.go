package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Acc accumulates count, sum, min, max, avg, first and last over the float64 values of one
// window. First and last are by event time; records with equal event times are ordered by
// their arrival sequence (the Kafka offset), so the result never depends on anything but
// the input. Values must not be NaN (the Operator rejects them).
//
// The zero value is the empty accumulator.
type Acc struct {
	Count     uint64
	Sum       float64
	Min, Max  float64
	First     float64 // value of the record with the smallest (event time, seq)
	Last      float64 // value of the record with the largest (event time, seq)
	FirstTime int64
	LastTime  int64
	FirstSeq  uint64
	LastSeq   uint64
}

// Add adds the value v of a record at event time t with arrival sequence seq.
func (a *Acc) Add(t int64, seq uint64, v float64) {
	a.Merge(Acc{Count: 1, Sum: v, Min: v, Max: v, First: v, Last: v, FirstTime: t, LastTime: t, FirstSeq: seq, LastSeq: seq})
}

// Merge adds the records of b to a, as when a record bridges two sessions. Sums add a's
// sum first, then b's: callers merge in a fixed order (by window start) to stay
// deterministic.
func (a *Acc) Merge(b Acc) {
	if b.Count == 0 {
		return
	}
	if a.Count == 0 {
		*a = b
		return
	}
	a.Count += b.Count
	a.Sum += b.Sum
	a.Min = min(a.Min, b.Min)
	a.Max = max(a.Max, b.Max)
	if b.FirstTime < a.FirstTime || (b.FirstTime == a.FirstTime && b.FirstSeq < a.FirstSeq) {
		a.First, a.FirstTime, a.FirstSeq = b.First, b.FirstTime, b.FirstSeq
	}
	if b.LastTime > a.LastTime || (b.LastTime == a.LastTime && b.LastSeq > a.LastSeq) {
		a.Last, a.LastTime, a.LastSeq = b.Last, b.LastTime, b.LastSeq
	}
}

// Avg is Sum / Count, or NaN for the empty accumulator.
func (a Acc) Avg() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	return a.Sum / float64(a.Count)
}

// String formats every aggregate, for test scripts and debugging.
func (a Acc) String() string {
	if a.Count == 0 {
		return "count=0"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d sum=%s min=%s max=%s avg=%s first=%s last=%s",
		a.Count, f(a.Sum), f(a.Min), f(a.Max), f(a.Avg()), f(a.First), f(a.Last))
	return b.String()
}

// Encoding errors. Decoding wraps ErrCorrupt for every malformed input.
var (
	ErrCorrupt = errors.New("windows: corrupt accumulator encoding")
)

// accVersion is the first byte of an encoded Acc; bump it when the layout changes.
const accVersion = 1

// AppendAcc appends the binary encoding of a to dst and returns the extended slice.
//
// Layout: version byte (1); uvarint count; if count > 0: sum, min, max, first, last as
// big-endian IEEE-754 bits (8 bytes each), then first time and last time as zig-zag
// varints, then first seq and last seq as uvarints. The encoding is canonical: an Acc has
// exactly one encoding, and DecodeAcc accepts only that one.
func AppendAcc(dst []byte, a Acc) []byte {
	dst = append(dst, accVersion)
	dst = binary.AppendUvarint(dst, a.Count)
	if a.Count == 0 {
		return dst
	}
	for _, f := range [...]float64{a.Sum, a.Min, a.Max, a.First, a.Last} {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
	}
	dst = binary.AppendVarint(dst, a.FirstTime)
	dst = binary.AppendVarint(dst, a.LastTime)
	dst = binary.AppendUvarint(dst, a.FirstSeq)
	dst = binary.AppendUvarint(dst, a.LastSeq)
	return dst
}

// DecodeAcc decodes an accumulator that AppendAcc encoded; src must hold exactly one
// encoding. It returns an error wrapping ErrCorrupt for an unknown version, truncated or
// trailing bytes, non-canonical varints, or values that break the invariants
// (first time > last time, min > max, NaN other than in the sum).
func DecodeAcc(src []byte) (Acc, error) {
	d := decoder{b: src}
	if v := d.byte(); d.err == nil && v != accVersion {
		return Acc{}, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, v, accVersion)
	}
	var a Acc
	a.Count = d.uvarint("count")
	if d.err == nil && a.Count > 0 {
		fs := [...]*float64{&a.Sum, &a.Min, &a.Max, &a.First, &a.Last}
		for _, f := range fs {
			*f = d.float()
		}
		a.FirstTime = d.varint("first time")
		a.LastTime = d.varint("last time")
		a.FirstSeq = d.uvarint("first seq")
		a.LastSeq = d.uvarint("last seq")
	}
	if d.err != nil {
		return Acc{}, d.err
	}
	if len(d.b) != 0 {
		return Acc{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	if a.Count > 0 {
		// Values are never NaN; the sum can be (+Inf + -Inf, or overflow both ways).
		for _, f := range [...]float64{a.Min, a.Max, a.First, a.Last} {
			if math.IsNaN(f) {
				return Acc{}, fmt.Errorf("%w: NaN min, max, first or last", ErrCorrupt)
			}
		}
		if a.Min > a.Max {
			return Acc{}, fmt.Errorf("%w: min %g > max %g", ErrCorrupt, a.Min, a.Max)
		}
		if a.FirstTime > a.LastTime || (a.FirstTime == a.LastTime && a.FirstSeq > a.LastSeq) {
			return Acc{}, fmt.Errorf("%w: first (time %d, seq %d) after last (time %d, seq %d)",
				ErrCorrupt, a.FirstTime, a.FirstSeq, a.LastTime, a.LastSeq)
		}
		if a.Count == 1 && (a.FirstTime != a.LastTime || a.FirstSeq != a.LastSeq) {
			return Acc{}, fmt.Errorf("%w: one record with distinct first and last", ErrCorrupt)
		}
	}
	return a, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("empty input")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated float: %d of 8 bytes", len(d.b))
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", field)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("non-canonical %s varint", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s varint", field)
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.fail("non-canonical %s varint", field)
		return 0
	}
	d.b = d.b[n:]
	return v
}
