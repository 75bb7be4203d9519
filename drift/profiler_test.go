package drift_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

func TestNewProfilerErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		features []string
		score    bool
		bins     int
		sample   int
		want     string
	}{
		{"no series", nil, false, 10, 100, "no features and no score"},
		{"one bin", []string{"a"}, false, 1, 100, "1 bins; want 2 to 100"},
		{"too many bins", []string{"a"}, false, 101, 1000, "101 bins; want 2 to 100"},
		{"sample below bins", []string{"a"}, false, 10, 9, "sample size 9 is below the 10 bins"},
		{"empty name", []string{"a", ""}, false, 10, 100, "feature 1 has no name"},
		{"duplicate", []string{"a", "b", "a"}, true, 10, 100, `feature "a" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drift.NewProfiler(tc.features, tc.score, tc.bins, tc.sample)
			if !errors.Is(err, drift.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
	if _, err := drift.NewProfiler(nil, true, 2, 2); err != nil {
		t.Errorf("score only: %v", err)
	}
}

// profile feeds n values of gen to a profiler of one feature and returns the reference's
// Bins and the file.
func profile(t *testing.T, bins, sample, n int, gen func(i int) float64) (*drift.Bins, []byte) {
	t.Helper()
	p, err := drift.NewProfiler([]string{"x"}, false, bins, sample)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.AddFeature(0, gen(i))
	}
	ref, err := p.Reference("test", "generated")
	if err != nil {
		t.Fatal(err)
	}
	data, err := ref.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drift.Parse("profiled", data); err != nil {
		t.Fatalf("the profiler made a file Parse refuses: %v", err)
	}
	return ref.Features["x"], data
}

func TestProfilerDeterministic(t *testing.T) {
	gen := func() func(int) float64 {
		r := rand.New(rand.NewPCG(7, 7))
		return func(int) float64 { return r.NormFloat64() }
	}
	_, a := profile(t, 10, 1000, 50_000, gen())
	_, b := profile(t, 10, 1000, 50_000, gen())
	if !bytes.Equal(a, b) {
		t.Errorf("two profiles of the same values differ:\n%s\n%s", a, b)
	}
}

func TestProfilerUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	b, _ := profile(t, 10, 10_000, 200_000, func(int) float64 { return r.Float64() })
	if len(b.Edges) != 9 {
		t.Fatalf("%d edges, want 9", len(b.Edges))
	}
	for i, e := range b.Edges {
		if want := float64(i+1) / 10; math.Abs(e-want) > 0.02 {
			t.Errorf("edges[%d] = %.4f, want about %.1f", i, e, want)
		}
	}
	for i, p := range b.Proportions[:10] {
		if math.Abs(p-0.1) > 1e-3 {
			t.Errorf("proportions[%d] = %.4f, want about 0.1", i, p)
		}
	}
	if b.Proportions[10] != 0 || b.Records != 200_000 {
		t.Errorf("missing %g, records %d; want 0, 200000", b.Proportions[10], b.Records)
	}
}

// TestProfilerTies: a discrete series gets fewer edges, no empty value bin (bin 0 in
// particular), and proportions that are the exact shares of its values.
func TestProfilerTies(t *testing.T) {
	// 0 for 70% of the values, then 1, 2, 3 for 10% each.
	b, _ := profile(t, 10, 1000, 1000, func(i int) float64 {
		if d := i % 10; d >= 7 {
			return float64(d - 6)
		}
		return 0
	})
	if want := []float64{1, 2, 3}; !equalFloats(b.Edges, want) {
		t.Fatalf("edges %v, want %v", b.Edges, want)
	}
	if want := []float64{0.7, 0.1, 0.1, 0.1, 0}; !equalFloats(b.Proportions, want) {
		t.Errorf("proportions %v, want %v", b.Proportions, want)
	}
	// A constant: no edges at all, one value bin.
	c, _ := profile(t, 10, 100, 500, func(int) float64 { return 42 })
	if len(c.Edges) != 0 || !equalFloats(c.Proportions, []float64{1, 0}) {
		t.Errorf("constant: edges %v proportions %v, want none and [1 0]", c.Edges, c.Proportions)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func TestProfilerMissing(t *testing.T) {
	// Every 8th value is missing (NaN, +Inf or -Inf): exactly 1/8 of 80 000.
	missing := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
	b, _ := profile(t, 4, 100, 80_000, func(i int) float64 {
		if i%8 == 0 {
			return missing[(i/8)%3]
		}
		return float64(i % 4)
	})
	if got := b.Proportions[len(b.Proportions)-1]; got != 0.125 {
		t.Errorf("missing proportion %g, want 0.125 exactly", got)
	}
	if b.Records != 80_000 {
		t.Errorf("records %d, want 80000", b.Records)
	}
	sum := 0.0
	for _, p := range b.Proportions {
		sum += p
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("proportions sum to %g", sum)
	}
}

// TestProfilerSampleBounded: the reservoir holds sampleSize values however many are added,
// and is a uniform sample: the quantiles of a million uniform values come out right from a
// sample of 500.
func TestProfilerSampleBounded(t *testing.T) {
	const n, sample = 1_000_000, 500
	allocs := testing.AllocsPerRun(1, func() {
		b, _ := profile(t, 4, sample, n, func(i int) float64 { return float64(i) })
		// With values 0..n-1 in order, a sample that kept the first values (no replacement)
		// would have edges far below n/4.
		for i, e := range b.Edges {
			if want := float64(i+1) * n / 4; math.Abs(e-want) > 0.1*n {
				t.Errorf("edges[%d] = %g, want about %g", i, e, want)
			}
		}
	})
	// The sample grows by append to 500 values: about 10 allocations, not one per value.
	if allocs > 100 {
		t.Errorf("profiling %d values made %v allocations; the reservoir is not bounded", n, allocs)
	}
}

func TestProfilerNoValues(t *testing.T) {
	p, err := drift.NewProfiler([]string{"amount", "hour"}, true, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		p.AddFeature(0, math.NaN())
		p.AddFeature(1, 3)
		p.AddScore(0.5)
	}
	_, err = p.Reference("fraud", "test")
	if want := "drift: no values of feature amount in the profiled range (10 records, none with a finite value); " +
		"profile a range of records where it is present, or stop watching it"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}

	q, err := drift.NewProfiler([]string{"amount"}, true, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	q.AddFeature(0, 1)
	if _, err := q.Reference("fraud", "test"); err == nil || !strings.Contains(err.Error(), "no values of the score") {
		t.Errorf("got %v, want an error about the score", err)
	}
}

func TestProfilerSeries(t *testing.T) {
	p, err := drift.NewProfiler([]string{"a", "b"}, true, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		p.AddFeature(0, float64(i))
		p.AddFeature(1, float64(-i))
		p.AddScore(float64(i) / 100)
	}
	ref, err := p.Reference("fraud", "topic fraud, offsets 0..99")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Version != drift.ReferenceVersion || ref.Pipeline != "fraud" || ref.Source != "topic fraud, offsets 0..99" {
		t.Errorf("header %d %q %q", ref.Version, ref.Pipeline, ref.Source)
	}
	if len(ref.Features) != 2 || ref.Score == nil {
		t.Fatalf("features %v, score %v; want a, b and the score", ref.Features, ref.Score)
	}
	if a, b := ref.Features["a"].Edges[0], ref.Features["b"].Edges[0]; !(a > 0 && b < 0) || ref.Score.Edges[0] >= 1 {
		t.Errorf("medians a %g, b %g, score %g: series mixed up", a, b, ref.Score.Edges[0])
	}
}
