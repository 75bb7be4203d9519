package drift_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

func TestBin(t *testing.T) {
	three := &drift.Bins{Edges: []float64{1, 2, 3}}
	none := &drift.Bins{}
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		b    *drift.Bins
		v    float64
		want int
	}{
		{"below the first edge", three, 0.5, 0},
		{"-Inf", three, math.Inf(-1), 0},
		{"on the first edge", three, 1, 1},
		{"between edges", three, 1.5, 1},
		{"on a middle edge", three, 2, 2},
		{"just below an edge", three, math.Nextafter(3, 0), 2},
		{"on the last edge", three, 3, 3},
		{"above the last edge", three, 1e300, 3},
		{"+Inf", three, math.Inf(1), 3},
		{"NaN is missing", three, nan, 4},
		{"negative zero", &drift.Bins{Edges: []float64{0}}, math.Copysign(0, -1), 1},
		{"no edges: one value bin", none, -7, 0},
		{"no edges: +Inf", none, math.Inf(1), 0},
		{"no edges: NaN", none, nan, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Bin(tc.v); got != tc.want {
				t.Errorf("Bin(%g) = %d, want %d", tc.v, got, tc.want)
			}
			if got := tc.b.Bin(tc.v); got >= tc.b.Len() {
				t.Errorf("Bin(%g) = %d, beyond Len %d", tc.v, got, tc.b.Len())
			}
		})
	}
}

func TestBinDoesNotAllocate(t *testing.T) {
	b := &drift.Bins{Edges: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	v := 0.0
	if n := testing.AllocsPerRun(100, func() { v += float64(b.Bin(v)) }); n != 0 {
		t.Errorf("Bin allocates %v times, want 0", n)
	}
}

func TestValidate(t *testing.T) {
	many := make([]float64, drift.MaxBins)
	for i := range many {
		many[i] = float64(i)
	}
	for _, tc := range []struct {
		name string
		b    drift.Bins
		want string // "" for valid
	}{
		{"valid", drift.Bins{Edges: []float64{1, 2}, Proportions: []float64{0.25, 0.25, 0.5, 0}, Records: 4}, ""},
		{"no edges", drift.Bins{Proportions: []float64{0.9, 0.1}}, ""},
		{"within the tolerance", drift.Bins{Proportions: []float64{0.5, 0.5 + 5e-7}}, ""},
		{
			"edges not ascending",
			drift.Bins{Edges: []float64{1, 2, 3, 1.5}, Proportions: []float64{0.2, 0.2, 0.2, 0.2, 0.2, 0}},
			"edges[3] 1.5 is not above edges[2] 3",
		},
		{
			"equal edges",
			drift.Bins{Edges: []float64{1, 1}, Proportions: []float64{0.5, 0, 0.5, 0}},
			"edges[1] 1 is not above edges[0] 1",
		},
		{
			"NaN edge",
			drift.Bins{Edges: []float64{math.NaN()}, Proportions: []float64{0.5, 0.5, 0}},
			"edges[0] NaN is not finite",
		},
		{
			"infinite edge",
			drift.Bins{Edges: []float64{0, math.Inf(1)}, Proportions: []float64{0.5, 0.5, 0, 0}},
			"edges[1] +Inf is not finite",
		},
		{
			"too many edges",
			drift.Bins{Edges: many, Proportions: make([]float64, len(many)+2)},
			"100 edges make 101 value bins; at most 100 are allowed",
		},
		{
			"too few proportions",
			drift.Bins{Edges: []float64{1}, Proportions: []float64{0.5, 0.5}},
			"2 proportions for 1 edges; want 3 (2 value bins, then the missing bin)",
		},
		{
			"negative proportion",
			drift.Bins{Proportions: []float64{1.5, -0.5}},
			"proportions[0] 1.5 is outside [0, 1]",
		},
		{
			"NaN proportion",
			drift.Bins{Proportions: []float64{math.NaN(), 1}},
			"proportions[0] NaN is outside [0, 1]",
		},
		{
			"sum below 1",
			drift.Bins{Proportions: []float64{0.5, 0.4}},
			"proportions sum to 0.9; want 1",
		},
		{
			"negative records",
			drift.Bins{Proportions: []float64{1, 0}, Records: -1},
			"records -1 is negative",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tc.want != "" && err == nil:
				t.Errorf("got valid, want %q", tc.want)
			case tc.want != "" && err.Error() != tc.want:
				t.Errorf("got %q, want %q", err, tc.want)
			}
		})
	}
}

func TestPSI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expected []float64
		actual   []int64
		want     float64
	}{
		{"identical", []float64{0.25, 0.25, 0.5, 0}, []int64{25, 25, 50, 0}, 0},
		{"identical, scaled", []float64{0.1, 0.2, 0.7}, []int64{1, 2, 7}, 0},
		{"no records", []float64{0.5, 0.5}, []int64{0, 0}, 0},
		// a = (0.4, 0.6), e = (0.5, 0.5): (-0.1)ln(0.8) + (0.1)ln(1.2).
		{"hand-computed", []float64{0.5, 0.5}, []int64{4, 6}, -0.1*math.Log(0.8) + 0.1*math.Log(1.2)},
		// An empty actual bin counts as Epsilon: (1e-4 - 0.5)ln(1e-4/0.5) + (0.5)ln(1/0.5),
		// and the empty expected missing bin as Epsilon too (actual 0 there: term 0).
		{
			"empty actual bin floored",
			[]float64{0.5, 0.5, 0},
			[]int64{0, 10, 0},
			(drift.Epsilon-0.5)*math.Log(drift.Epsilon/0.5) + 0.5*math.Log(1/0.5),
		},
		{
			"empty expected bin floored",
			[]float64{1, 0},
			[]int64{1, 1},
			(0.5-1)*math.Log(0.5/1) + (0.5-drift.Epsilon)*math.Log(0.5/drift.Epsilon),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := drift.PSI(tc.expected, tc.actual)
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("PSI = %.15g, want %.15g", got, tc.want)
			}
			if got < 0 || math.IsNaN(got) || math.IsInf(got, 0) {
				t.Errorf("PSI = %g, want finite and >= 0", got)
			}
		})
	}
}

// TestPSISymmetric: PSI is symmetric in a and e (each term is), so swapping the roles of two
// distributions that both have whole counts gives the same index; and a larger shift gives
// a larger index.
func TestPSISymmetric(t *testing.T) {
	p := []int64{10, 20, 30, 40}
	q := []int64{40, 30, 20, 10}
	pf, qf := props(p), props(q)
	if a, b := drift.PSI(pf, q), drift.PSI(qf, p); math.Abs(a-b) > 1e-12 {
		t.Errorf("PSI(p, q) = %g, PSI(q, p) = %g; want equal", a, b)
	}
	mild := drift.PSI(pf, []int64{15, 20, 30, 35})
	strong := drift.PSI(pf, q)
	if !(0 < mild && mild < strong) {
		t.Errorf("PSI of a mild shift %g, of a strong one %g; want 0 < mild < strong", mild, strong)
	}
}

func props(counts []int64) []float64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	out := make([]float64, len(counts))
	for i, c := range counts {
		out[i] = float64(c) / float64(n)
	}
	return out
}

func TestPSIPanicsOnLengths(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "PSI of 3 counts against 2 proportions") {
			t.Errorf("panic %v, want one about the lengths", r)
		}
	}()
	drift.PSI([]float64{0.5, 0.5}, []int64{1, 2, 3})
}
