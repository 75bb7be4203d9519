package windows

// SKETCHES
//
// count_distinct and quantile(q) are estimated with two sketches from maintained libraries:
//
//   - DistinctAcc wraps a HyperLogLog++ sketch from github.com/axiomhq/hyperloglog with
//     precision p = 14 (m = 2^14 = 16384 registers). Up to about m distinct hashes it keeps
//     the sparse representation (25-bit hash prefixes), whose estimate is near exact for small
//     counts; beyond that it is dense. The relative standard error of the dense estimate is
//     about 1.04/sqrt(m) = 1.04/128 ≈ 0.81%, so about 99.7% of estimates fall within 3
//     standard errors (≈ 2.4%) of the true count. A dense sketch takes 16 KiB (one byte per
//     register); a sparse one a few bytes per distinct hash.
//
//   - QuantileAcc wraps a DDSketch from github.com/DataDog/sketches-go with a logarithmic
//     index mapping of relative accuracy α = QuantileRelativeAccuracy = 1% and unbounded dense
//     stores (no bin is ever collapsed, so the guarantee holds for every quantile). For a
//     quantile q over n values, let x be the exact value of rank floor(q·(n-1)) (0-based)
//     in sorted order; Quantile(q) returns x̃ with |x̃ - x| ≤ α·|x|. The number of bins
//     grows with the logarithm of the spread of the values, not with n: about
//     ln(max/min)/ln((1+α)/(1-α)) ≈ 50·ln(max/min) per sign.
//     Values whose magnitude is below the mapping's smallest indexable value (about 1e-308)
//     count as 0; ±Inf, NaN and magnitudes above the largest indexable value are rejected.
//
// Both have a binary encoding for state (AppendDistinct/DecodeDistinct,
// AppendQuantile/DecodeQuantile): a version byte followed by the library's own format.
// Encoding is deterministic, and so is merging: both sketches are functions of the set
// (HLL) or multiset (DDSketch: integer bin counts, exact in float64 up to 2^53) of the values
// added, so the same values, in any order or merged in any grouping, give the same bytes.
// The tests check this. Decoders accept exactly the bytes their encoder would write for the
// decoded sketch (decode then encode is the identity) and wrap ErrCorrupt otherwise.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
)

// DistinctPrecision is the HyperLogLog precision p of DistinctAcc: 2^p registers.
const DistinctPrecision = 14

// DistinctStdError is the relative standard error of DistinctAcc's estimate,
// 1.04/sqrt(2^DistinctPrecision).
var DistinctStdError = 1.04 / math.Sqrt(float64(uint64(1)<<DistinctPrecision))

// Version bytes of the sketch encodings; bump them when a layout changes.
const (
	distinctVersion = 1
	quantileVersion = 1
)

// DistinctAcc estimates the number of distinct values of one window (count_distinct) with
// a HyperLogLog sketch; see SKETCHES in sketches.go for its error bound.
//
// Values are hashed by their bytes: Add hashes the canonical 8-byte big-endian IEEE-754
// encoding of a float64 (with -0 folded into +0 and every NaN into one NaN, so values that
// compare equal count once), AddBytes hashes raw bytes (for string fields). One
// accumulator should be fed one kind: a float64 and an 8-byte string with the same bytes
// count as one value.
//
// The zero value is the empty accumulator. A DistinctAcc is not safe for concurrent use,
// even for encoding or estimating, which compact the sketch in place.
type DistinctAcc struct {
	sk *hyperloglog.Sketch
}

func (d *DistinctAcc) sketch() *hyperloglog.Sketch {
	if d.sk == nil {
		d.sk = newHLL()
	}
	return d.sk
}

func newHLL() *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(DistinctPrecision, true)
	if err != nil {
		panic(fmt.Sprintf("windows: hyperloglog precision %d: %v", DistinctPrecision, err))
	}
	return sk
}

// Add adds the float64 value v.
func (d *DistinctAcc) Add(v float64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], canonicalBits(v))
	d.sketch().Insert(b[:])
}

// canonicalBits is the IEEE-754 encoding of v with -0 as +0 and every NaN as one NaN.
func canonicalBits(v float64) uint64 {
	switch {
	case v == 0:
		return 0
	case math.IsNaN(v):
		return math.Float64bits(math.NaN())
	}
	return math.Float64bits(v)
}

// AddBytes adds the value whose bytes are b, such as a string field.
func (d *DistinctAcc) AddBytes(b []byte) {
	d.sketch().Insert(b)
}

// Merge adds the values of b to d; b is not modified. The result does not depend on the
// order of merges (HyperLogLog registers take maxima).
func (d *DistinctAcc) Merge(b *DistinctAcc) {
	if b == nil || b.sk == nil {
		return
	}
	other := b.sk
	if b == d {
		other = b.sk.Clone()
	}
	if err := d.sketch().Merge(other); err != nil {
		// Every sketch here has DistinctPrecision: Add, Merge and DecodeDistinct make sure.
		panic(fmt.Sprintf("windows: merging distinct sketches: %v", err))
	}
}

// Estimate returns the estimated number of distinct values, 0 for the empty accumulator.
func (d *DistinctAcc) Estimate() uint64 {
	if d.sk == nil {
		return 0
	}
	return d.sk.Estimate()
}

// Clone returns an independent copy of d.
func (d *DistinctAcc) Clone() *DistinctAcc {
	if d.sk == nil {
		return &DistinctAcc{}
	}
	return &DistinctAcc{sk: d.sk.Clone()}
}

// AppendDistinct appends the binary encoding of d to dst and returns the extended slice.
// It compacts d's sketch first (which changes its representation, not its value).
//
// Layout: version byte (1); then, unless d is empty, the hyperloglog library's version 2
// binary format (github.com/axiomhq/hyperloglog Sketch.AppendBinary) of the compacted
// sketch: a sorted, delta-encoded sparse list with an empty temporary set, or the 2^14 dense
// registers. Same values (in any order, merged in any grouping) give the same bytes.
func AppendDistinct(dst []byte, d *DistinctAcc) []byte {
	dst = append(dst, distinctVersion)
	if d == nil || d.sk == nil || d.sk.Estimate() == 0 { // Estimate compacts
		return dst
	}
	out, err := d.sk.AppendBinary(dst)
	if err != nil {
		panic(fmt.Sprintf("windows: encoding distinct sketch: %v", err))
	}
	return out
}

// DecodeDistinct decodes an accumulator that AppendDistinct encoded; src must hold exactly
// one encoding. It returns an error wrapping ErrCorrupt for an unknown version, a sketch
// the library rejects, another precision, an empty sketch in non-empty form, or bytes that
// AppendDistinct would not write for the decoded sketch (for instance an uncompacted one).
func DecodeDistinct(src []byte) (*DistinctAcc, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	if src[0] != distinctVersion {
		return nil, fmt.Errorf("%w: distinct version %d, want %d", ErrCorrupt, src[0], distinctVersion)
	}
	body := src[1:]
	if len(body) == 0 {
		return &DistinctAcc{}, nil
	}
	if len(body) >= 2 && body[1] != DistinctPrecision {
		return nil, fmt.Errorf("%w: hyperloglog precision %d, want %d", ErrCorrupt, body[1], DistinctPrecision)
	}
	sk := new(hyperloglog.Sketch)
	if err := sk.UnmarshalBinary(body); err != nil {
		return nil, fmt.Errorf("%w: hyperloglog: %w", ErrCorrupt, err)
	}
	d := &DistinctAcc{sk: sk}
	// An empty sketch re-encodes as the version byte alone, so this also rejects it.
	if re := AppendDistinct(nil, d); !bytes.Equal(re[1:], body) {
		return nil, fmt.Errorf("%w: non-canonical hyperloglog encoding", ErrCorrupt)
	}
	return d, nil
}

// QuantileRelativeAccuracy is the relative accuracy α of QuantileAcc: every quantile it
// returns is within α·|x| of the exact value x.
const QuantileRelativeAccuracy = 0.01

// maxSketchCount is the largest total count QuantileAcc keeps exactly (float64 counts).
const maxSketchCount = 1 << 53

var quantileMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(QuantileRelativeAccuracy)
	if err != nil {
		panic(fmt.Sprintf("windows: DDSketch mapping: %v", err))
	}
	return m
}()

// QuantileAcc estimates quantiles of the float64 values of one window (quantile(q)) with a
// DDSketch; see SKETCHES in sketches.go for its error bound.
//
// The zero value is the empty accumulator. A QuantileAcc is not safe for concurrent
// mutation.
type QuantileAcc struct {
	sk *ddsketch.DDSketch
}

func newDDSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketch(quantileMapping, store.NewDenseStore(), store.NewDenseStore())
}

func (q *QuantileAcc) sketch() *ddsketch.DDSketch {
	if q.sk == nil {
		q.sk = newDDSketch()
	}
	return q.sk
}

// Add adds the value v. It returns an error for NaN, ±Inf and magnitudes beyond the
// sketch's indexable range (about 1.7e308), and leaves q unchanged then. Magnitudes below
// about 1e-308 count as 0.
func (q *QuantileAcc) Add(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > quantileMapping.MaxIndexableValue() {
		return fmt.Errorf("windows: quantile of untrackable value %g", v)
	}
	if q.Count() >= maxSketchCount {
		return fmt.Errorf("windows: quantile sketch holds %d values already", q.Count())
	}
	if err := q.sketch().Add(v); err != nil {
		return fmt.Errorf("windows: quantile of %g: %w", v, err)
	}
	return nil
}

// Merge adds the values of b to q; b is not modified. Bin counts are whole numbers, so the
// result does not depend on the order of merges.
func (q *QuantileAcc) Merge(b *QuantileAcc) {
	if b == nil || b.sk == nil || b.sk.IsEmpty() {
		return
	}
	other := b.sk
	if b == q {
		other = b.sk.Copy()
	}
	if err := q.sketch().MergeWith(other); err != nil {
		// Every sketch here uses quantileMapping: Add, Merge and DecodeQuantile make sure.
		panic(fmt.Sprintf("windows: merging quantile sketches: %v", err))
	}
}

// Count is the number of values added.
func (q *QuantileAcc) Count() uint64 {
	if q.sk == nil {
		return 0
	}
	return uint64(q.sk.GetCount())
}

// Quantile returns the estimated q-quantile (0 ≤ q ≤ 1) of the values: within
// QuantileRelativeAccuracy of the value of rank floor(q·(n-1)). It is NaN for the empty
// accumulator or q outside [0, 1].
func (q *QuantileAcc) Quantile(quantile float64) float64 {
	if q.sk == nil || q.sk.IsEmpty() || !(quantile >= 0 && quantile <= 1) {
		return math.NaN()
	}
	v, err := q.sk.GetValueAtQuantile(quantile)
	if err != nil {
		return math.NaN()
	}
	return v
}

// Clone returns an independent copy of q.
func (q *QuantileAcc) Clone() *QuantileAcc {
	if q.sk == nil {
		return &QuantileAcc{}
	}
	return &QuantileAcc{sk: q.sk.Copy()}
}

// AppendQuantile appends the binary encoding of q to dst and returns the extended slice.
//
// Layout: version byte (1); then the sketches-go DDSketch binary format
// (DDSketch.Encode with the index mapping omitted; it is fixed: logarithmic, α = 1%): the
// zero count if non-zero, then the positive and the negative store, each either contiguous
// counts or index deltas and counts, whichever is shorter. The empty accumulator is the
// version byte alone. Same values, in any order or merge grouping, give the same bytes.
func AppendQuantile(dst []byte, q *QuantileAcc) []byte {
	dst = append(dst, quantileVersion)
	if q == nil || q.sk == nil {
		return dst
	}
	q.sk.Encode(&dst, true)
	return dst
}

// DecodeQuantile decodes an accumulator that AppendQuantile encoded; src must hold exactly
// one encoding. It returns an error wrapping ErrCorrupt for an unknown version, input the
// library rejects, counts that are not whole numbers in [0, 2^53], bin indexes outside
// the mapping's range, or bytes that AppendQuantile would not write for the decoded sketch.
func DecodeQuantile(src []byte) (*QuantileAcc, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	if src[0] != quantileVersion {
		return nil, fmt.Errorf("%w: quantile version %d, want %d", ErrCorrupt, src[0], quantileVersion)
	}
	body := src[1:]
	if len(body) == 0 {
		return &QuantileAcc{}, nil
	}
	pos, neg := newCheckedStore(), newCheckedStore()
	stores := []*checkedStore{pos, neg}
	provider := func() store.Store {
		s := stores[0]
		stores = stores[1:]
		return s
	}
	dec, err := ddsketch.DecodeDDSketch(body, provider, quantileMapping)
	if err != nil {
		return nil, fmt.Errorf("%w: ddsketch: %w", ErrCorrupt, err)
	}
	for _, s := range [...]*checkedStore{pos, neg} {
		if s.err != nil {
			return nil, s.err
		}
	}
	zero := dec.GetZeroCount()
	if zero != math.Trunc(zero) || !(zero >= 0 && zero <= maxSketchCount) {
		return nil, fmt.Errorf("%w: ddsketch zero count %g", ErrCorrupt, zero)
	}
	if total := dec.GetCount(); !(total <= maxSketchCount) {
		return nil, fmt.Errorf("%w: ddsketch total count %g", ErrCorrupt, total)
	}
	sk := ddsketch.NewDDSketch(quantileMapping, pos.DenseStore, neg.DenseStore)
	if zero > 0 {
		if err := sk.AddWithCount(0, zero); err != nil {
			return nil, fmt.Errorf("%w: ddsketch zero count: %w", ErrCorrupt, err)
		}
	}
	q := &QuantileAcc{sk: sk}
	if re := AppendQuantile(nil, q); !bytes.Equal(re, src) {
		return nil, fmt.Errorf("%w: non-canonical ddsketch encoding", ErrCorrupt)
	}
	return q, nil
}

// checkedStore is the dense store DecodeQuantile decodes into: it refuses bins outside the
// mapping's index range or with counts that are not whole numbers in [0, 2^53], so that
// corrupt input cannot make the dense store allocate without bound or hold fractions.
type checkedStore struct {
	*store.DenseStore
	minIndex, maxIndex int
	err                error
}

func newCheckedStore() *checkedStore {
	return &checkedStore{
		DenseStore: store.NewDenseStore(),
		minIndex:   quantileMapping.Index(quantileMapping.MinIndexableValue()),
		maxIndex:   quantileMapping.Index(quantileMapping.MaxIndexableValue()),
	}
}

func (s *checkedStore) Add(index int) { s.AddWithCount(index, 1) }

func (s *checkedStore) AddBin(bin store.Bin) { s.AddWithCount(bin.Index(), bin.Count()) }

func (s *checkedStore) AddWithCount(index int, count float64) {
	if s.err != nil {
		return
	}
	if index < s.minIndex || index > s.maxIndex {
		s.err = fmt.Errorf("%w: ddsketch bin index %d outside [%d, %d]", ErrCorrupt, index, s.minIndex, s.maxIndex)
		return
	}
	// The contiguous-counts encoding writes the empty bins inside the range as 0.
	if count != math.Trunc(count) || !(count >= 0 && count <= maxSketchCount) {
		s.err = fmt.Errorf("%w: ddsketch bin count %g", ErrCorrupt, count)
		return
	}
	s.DenseStore.AddWithCount(index, count)
}

// DecodeAndMergeWith decodes through s, not the embedded store, so that the checks run.
func (s *checkedStore) DecodeAndMergeWith(b *[]byte, mode enc.SubFlag) error {
	if err := store.DecodeAndMergeWith(s, b, mode); err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("%w: ddsketch store: %w", ErrCorrupt, err)
		}
		return err
	}
	return nil
}
