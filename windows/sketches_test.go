package windows

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
)

func distinctOf(vals []float64) *DistinctAcc {
	var d DistinctAcc
	for _, v := range vals {
		d.Add(v)
	}
	return &d
}

func quantileOf(t testing.TB, vals []float64) *QuantileAcc {
	t.Helper()
	var q QuantileAcc
	for _, v := range vals {
		if err := q.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	return &q
}

// distinctValues returns n values, each distinct, repeated so that the stream holds
// 3n records in shuffled order.
func distinctValues(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seen := make(map[float64]bool, n)
	vals := make([]float64, 0, 3*n)
	for len(seen) < n {
		v := math.Round(r.Float64()*1e9) / 100
		if seen[v] {
			continue
		}
		seen[v] = true
		vals = append(vals, v, v, v)
	}
	r.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	return vals
}

func TestDistinctAccuracy(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000, 20000, 100000} {
		for _, seed := range []uint64{1, 2, 3} {
			d := distinctOf(distinctValues(seed, n))
			got := d.Estimate()
			bound := 3 * DistinctStdError * float64(n)
			t.Logf("n=%d seed=%d estimate=%d error=%+.3f%% (3 std errors = %.2f%%)",
				n, seed, got, 100*(float64(got)-float64(n))/math.Max(1, float64(n)), 300*DistinctStdError)
			if math.Abs(float64(got)-float64(n)) > bound {
				t.Errorf("n=%d seed=%d: estimate %d, want within %.1f", n, seed, got, bound)
			}
		}
	}
}

func TestDistinctZeroAndBytes(t *testing.T) {
	var d DistinctAcc
	d.Add(0)
	d.Add(math.Copysign(0, -1))
	d.Add(math.NaN())
	d.Add(-math.NaN())
	if got := d.Estimate(); got != 2 {
		t.Errorf("0, -0, NaN, -NaN: estimate %d, want 2", got)
	}
	var s DistinctAcc
	for i := range 500 {
		s.AddBytes([]byte("merchant-" + strconv.Itoa(i%250)))
	}
	if got := s.Estimate(); got != 250 {
		t.Errorf("250 strings: estimate %d, want 250", got)
	}
}

func TestQuantileAccuracy(t *testing.T) {
	gens := map[string]func(r *rand.Rand) float64{
		"uniform":     func(r *rand.Rand) float64 { return r.Float64() * 1000 },
		"lognormal":   func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64() * 2) },
		"exponential": func(r *rand.Rand) float64 { return r.ExpFloat64() * 50 },
		"mixed-sign":  func(r *rand.Rand) float64 { return r.NormFloat64() * 100 },
		"with-zeros":  func(r *rand.Rand) float64 { return float64(r.IntN(5)) - 1 },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 1000, 100000} {
			r := rand.New(rand.NewPCG(7, uint64(n)))
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = gen(r)
			}
			q := quantileOf(t, vals)
			if q.Count() != uint64(n) {
				t.Errorf("%s n=%d: count %d", name, n, q.Count())
			}
			sorted := slices.Clone(vals)
			slices.Sort(sorted)
			for _, p := range []float64{0, 0.5, 0.9, 0.99, 1} {
				exact := sorted[int(math.Floor(p*float64(n-1)))]
				got := q.Quantile(p)
				if math.Abs(got-exact) > QuantileRelativeAccuracy*math.Abs(exact)+1e-12 {
					t.Errorf("%s n=%d p%g: got %g, exact %g, relative error %.4f > %g",
						name, n, 100*p, got, exact, math.Abs(got-exact)/math.Abs(exact), QuantileRelativeAccuracy)
				}
			}
		}
	}
}

func TestQuantileEdges(t *testing.T) {
	var q QuantileAcc
	if !math.IsNaN(q.Quantile(0.5)) || q.Count() != 0 {
		t.Errorf("empty: quantile %g count %d, want NaN 0", q.Quantile(0.5), q.Count())
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64} {
		if err := q.Add(v); err == nil {
			t.Errorf("Add(%g): no error", v)
		}
	}
	if q.Count() != 0 {
		t.Errorf("rejected values counted: %d", q.Count())
	}
	if err := q.Add(5); err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{-0.1, 1.1, math.NaN()} {
		if got := q.Quantile(p); !math.IsNaN(got) {
			t.Errorf("Quantile(%g) = %g, want NaN", p, got)
		}
	}
}

// TestSketchMergeEquivalence: splitting the input into parts, sketching each and merging
// in any order gives the same estimates and the same bytes as sketching it whole.
func TestSketchMergeEquivalence(t *testing.T) {
	for _, n := range []int{100, 5000, 50000} {
		r := rand.New(rand.NewPCG(11, uint64(n)))
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = math.Round(r.NormFloat64()*1e6) / 10
		}
		wholeD, wholeQ := distinctOf(vals), quantileOf(t, vals)
		wantD, wantQ := AppendDistinct(nil, wholeD), AppendQuantile(nil, wholeQ)

		cuts := []int{0, n / 7, n / 3, n / 2, n}
		var ds []*DistinctAcc
		var qs []*QuantileAcc
		for i := 1; i < len(cuts); i++ {
			ds = append(ds, distinctOf(vals[cuts[i-1]:cuts[i]]))
			qs = append(qs, quantileOf(t, vals[cuts[i-1]:cuts[i]]))
		}
		for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
			var d DistinctAcc
			var q QuantileAcc
			for _, i := range order {
				d.Merge(ds[i])
				q.Merge(qs[i])
			}
			if got := AppendDistinct(nil, &d); !bytes.Equal(got, wantD) {
				t.Errorf("n=%d order %v: merged distinct encoding differs from whole", n, order)
			}
			if got := AppendQuantile(nil, &q); !bytes.Equal(got, wantQ) {
				t.Errorf("n=%d order %v: merged quantile encoding differs from whole", n, order)
			}
			if d.Estimate() != wholeD.Estimate() {
				t.Errorf("n=%d order %v: merged estimate %d, whole %d", n, order, d.Estimate(), wholeD.Estimate())
			}
			for _, p := range []float64{0.5, 0.9, 0.99} {
				if q.Quantile(p) != wholeQ.Quantile(p) {
					t.Errorf("n=%d order %v p%g: merged %g, whole %g", n, order, 100*p, q.Quantile(p), wholeQ.Quantile(p))
				}
			}
		}
		// Merging does not change the argument; merging an accumulator into itself is safe.
		before := AppendDistinct(nil, ds[0])
		self := ds[0].Clone()
		self.Merge(self)
		if !bytes.Equal(AppendDistinct(nil, self), before) || !bytes.Equal(AppendDistinct(nil, ds[0]), before) {
			t.Errorf("n=%d: distinct self-merge or argument changed", n)
		}
		qself := qs[0].Clone()
		qself.Merge(qself)
		if qself.Count() != 2*qs[0].Count() {
			t.Errorf("n=%d: quantile self-merge count %d, want %d", n, qself.Count(), 2*qs[0].Count())
		}
	}
}

// TestSketchEncodingDeterministic: the same values, in the same or another order, give the
// same bytes.
func TestSketchEncodingDeterministic(t *testing.T) {
	for _, n := range []int{0, 1, 300, 20000} {
		vals := distinctValues(5, n)
		d1, d2 := AppendDistinct(nil, distinctOf(vals)), AppendDistinct(nil, distinctOf(vals))
		q1, q2 := AppendQuantile(nil, quantileOf(t, vals)), AppendQuantile(nil, quantileOf(t, vals))
		rev := slices.Clone(vals)
		slices.Reverse(rev)
		d3, q3 := AppendDistinct(nil, distinctOf(rev)), AppendQuantile(nil, quantileOf(t, rev))
		if !bytes.Equal(d1, d2) || !bytes.Equal(d1, d3) {
			t.Errorf("n=%d: distinct encodings differ", n)
		}
		if !bytes.Equal(q1, q2) || !bytes.Equal(q1, q3) {
			t.Errorf("n=%d: quantile encodings differ", n)
		}
		t.Logf("n=%d: distinct %d bytes, quantile %d bytes", n, len(d1), len(q1))
	}
}

func TestSketchEncodingRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100, 3000, 20000} {
		r := rand.New(rand.NewPCG(3, uint64(n)))
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = r.NormFloat64() * 1e3
			if i%10 == 0 {
				vals[i] = 0
			}
		}
		d := distinctOf(vals)
		enc := AppendDistinct([]byte("prefix"), d)[len("prefix"):]
		got, err := DecodeDistinct(enc)
		if err != nil {
			t.Fatalf("n=%d: DecodeDistinct: %v", n, err)
		}
		if got.Estimate() != d.Estimate() || !bytes.Equal(AppendDistinct(nil, got), enc) {
			t.Errorf("n=%d: distinct round trip changed the sketch", n)
		}
		got.Add(12345.5) // a decoded accumulator stays usable
		q := quantileOf(t, vals)
		qenc := AppendQuantile([]byte("prefix"), q)[len("prefix"):]
		gq, err := DecodeQuantile(qenc)
		if err != nil {
			t.Fatalf("n=%d: DecodeQuantile: %v", n, err)
		}
		if gq.Count() != q.Count() || !bytes.Equal(AppendQuantile(nil, gq), qenc) {
			t.Errorf("n=%d: quantile round trip changed the sketch", n)
		}
		for _, p := range []float64{0, 0.5, 0.99, 1} {
			if a, b := gq.Quantile(p), q.Quantile(p); a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Errorf("n=%d p%g: decoded %g, original %g", n, 100*p, a, b)
			}
		}
		if err := gq.Add(-3); err != nil {
			t.Error(err)
		}
	}
}

func TestSketchDecodeCorrupt(t *testing.T) {
	vals := distinctValues(9, 50)
	dOK := AppendDistinct(nil, distinctOf(vals))
	qOK := AppendQuantile(nil, quantileOf(t, vals))

	// An uncompacted sketch in the library's own format: valid for the library, not ours.
	var raw DistinctAcc
	raw.Add(1)
	rawBody, err := raw.sk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Another precision.
	other := AppendDistinct(nil, distinctOf([]float64{1, 2}))
	other[2] = 16

	distinctCases := map[string][]byte{
		"empty":         nil,
		"bad version":   append([]byte{9}, dOK[1:]...),
		"truncated":     dOK[:len(dOK)-1],
		"trailing":      append(slices.Clone(dOK), 0),
		"header only":   dOK[:4],
		"uncompacted":   append([]byte{distinctVersion}, rawBody...),
		"precision 16":  other,
		"empty sketch":  append([]byte{distinctVersion}, 2, 14, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"flipped flags": append([]byte{distinctVersion, 2, 14, 0, 7}, dOK[5:]...),
	}
	for name, src := range distinctCases {
		if _, err := DecodeDistinct(src); !errors.Is(err, ErrCorrupt) {
			t.Errorf("distinct %s: err %v, want ErrCorrupt", name, err)
		}
	}

	quantileCases := map[string][]byte{
		"empty":          nil,
		"bad version":    append([]byte{9}, qOK[1:]...),
		"truncated":      qOK[:len(qOK)-1],
		"trailing":       append(slices.Clone(qOK), 0),
		"unknown flag":   {quantileVersion, 0xff},
		"huge index":     {quantileVersion, 0x03 | 1<<2, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x02},
		"zero count 0":   varfloatFlag(0x04, 0),
		"zero count 0.5": varfloatFlag(0x04, 0.5),
		"zero count -1":  varfloatFlag(0x04, -1),
		"bin count 0.5":  append([]byte{quantileVersion, 0x05, 1, 2}, varfloatFlag(0, 0.5)[2:]...),
		"bin count NaN":  append([]byte{quantileVersion, 0x05, 1, 2}, varfloatFlag(0, math.NaN())[2:]...),
		"mapping":        mappingEncoded(t),
	}
	for name, src := range quantileCases {
		if _, err := DecodeQuantile(src); !errors.Is(err, ErrCorrupt) {
			t.Errorf("quantile %s: err %v, want ErrCorrupt", name, err)
		}
	}
	// Every single-byte change of a valid encoding either fails with ErrCorrupt or decodes
	// to something that re-encodes to exactly the changed bytes.
	for i := range qOK {
		for _, x := range []byte{1, 0x80, 0xff} {
			src := slices.Clone(qOK)
			src[i] ^= x
			q, err := DecodeQuantile(src)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("quantile byte %d ^ %#x: err %v not ErrCorrupt", i, x, err)
			}
			if err == nil && !bytes.Equal(AppendQuantile(nil, q), src) {
				t.Errorf("quantile byte %d ^ %#x: accepted non-canonical bytes", i, x)
			}
		}
	}
	for i := range dOK {
		for _, x := range []byte{1, 0x80, 0xff} {
			src := slices.Clone(dOK)
			src[i] ^= x
			d, err := DecodeDistinct(src)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Errorf("distinct byte %d ^ %#x: err %v not ErrCorrupt", i, x, err)
			}
			if err == nil && !bytes.Equal(AppendDistinct(nil, d), src) {
				t.Errorf("distinct byte %d ^ %#x: accepted non-canonical bytes", i, x)
			}
		}
	}
}

// varfloatFlag is a quantile encoding of the flag byte then the varfloat v.
func varfloatFlag(flag byte, v float64) []byte {
	b := []byte{quantileVersion, flag}
	enc.EncodeVarfloat64(&b, v)
	return b
}

// mappingEncoded is a valid sketch encoded with its index mapping, which AppendQuantile omits.
func mappingEncoded(t *testing.T) []byte {
	q := quantileOf(t, []float64{1, 2})
	b := []byte{quantileVersion}
	q.sk.Encode(&b, false)
	return b
}

func FuzzDecodeDistinct(f *testing.F) {
	f.Add([]byte{distinctVersion})
	f.Add(AppendDistinct(nil, distinctOf([]float64{1, 2, 3})))
	f.Add(AppendDistinct(nil, distinctOf(distinctValues(1, 300))))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := DecodeDistinct(src)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendDistinct(nil, d); !bytes.Equal(got, src) {
			t.Fatalf("decode then encode changed the bytes:\n in %x\nout %x", src, got)
		}
		d.Add(1)
		d.Merge(d.Clone())
		_ = d.Estimate()
	})
}

func FuzzDecodeQuantile(f *testing.F) {
	f.Add([]byte{quantileVersion})
	f.Add(AppendQuantile(nil, quantileOf(f, []float64{-1, 0, 1, 2, 3})))
	f.Add(AppendQuantile(nil, quantileOf(f, distinctValues(2, 3000))))
	f.Fuzz(func(t *testing.T, src []byte) {
		q, err := DecodeQuantile(src)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := AppendQuantile(nil, q); !bytes.Equal(got, src) {
			t.Fatalf("decode then encode changed the bytes:\n in %x\nout %x", src, got)
		}
		for _, p := range []float64{0, 0.5, 1} {
			if v := q.Quantile(p); q.Count() > 0 && math.IsNaN(v) {
				t.Fatalf("Quantile(%g) of %d values is NaN", p, q.Count())
			}
		}
		q.Merge(q.Clone())
		if err := q.Add(1); err != nil && q.Count() < maxSketchCount {
			t.Fatal(err)
		}
	})
}

func BenchmarkDecodeDistinctDense(b *testing.B) {
	src := AppendDistinct(nil, distinctOf(distinctValues(1, 20000)))
	for b.Loop() {
		if _, err := DecodeDistinct(src); err != nil {
			b.Fatal(err)
		}
	}
}
