package drift

import (
	"fmt"
	"math"
	"slices"
)

// MaxBins is the most value bins a series may have (so at most MaxBins-1 edges): what a
// pipeline's quality.drift.bins allows, and a bound on the size of a monitor's panes.
const MaxBins = 100

// sumTolerance is how far from 1 the proportions of a series may sum.
const sumTolerance = 1e-6

// Bins is the reference distribution of one series.
type Bins struct {
	// Edges are finite and strictly ascending; they make len(Edges)+1 value bins.
	Edges []float64 `json:"edges"`
	// Proportions has len(Edges)+2 entries: the value bins, then the missing bin. Each is in
	// [0, 1] and they sum to 1 within 1e-6.
	Proportions []float64 `json:"proportions"`
	// Records is the number of records the reference was made from (missing included).
	Records int64 `json:"records"`
}

// Len is the number of bins including the missing bin: len(Edges)+2.
func (b *Bins) Len() int { return len(b.Edges) + 2 }

// Bin returns the bin of v: len(Edges)+1 (the missing bin) for NaN; otherwise the number of
// edges at or below v, so 0 below Edges[0], i for Edges[i-1] <= v < Edges[i], and len(Edges)
// from the last edge up. -Inf is in bin 0 and +Inf in bin len(Edges).
func (b *Bins) Bin(v float64) int {
	if math.IsNaN(v) {
		return len(b.Edges) + 1
	}
	i, found := slices.BinarySearch(b.Edges, v)
	if found {
		return i + 1
	}
	return i
}

// Validate reports what is wrong with b, if anything: edges that are not finite or not
// strictly ascending, more than MaxBins value bins, the wrong number of proportions,
// proportions outside [0, 1] or not summing to 1, or a negative record count. No edges is
// valid: one value bin and the missing bin.
func (b *Bins) Validate() error {
	if len(b.Edges) > MaxBins-1 {
		return fmt.Errorf("%d edges make %d value bins; at most %d are allowed", len(b.Edges), len(b.Edges)+1, MaxBins)
	}
	for i, e := range b.Edges {
		switch {
		case math.IsNaN(e) || math.IsInf(e, 0):
			return fmt.Errorf("edges[%d] %g is not finite", i, e)
		case i > 0 && !(e > b.Edges[i-1]):
			return fmt.Errorf("edges[%d] %g is not above edges[%d] %g", i, e, i-1, b.Edges[i-1])
		}
	}
	if len(b.Proportions) != b.Len() {
		return fmt.Errorf("%d proportions for %d edges; want %d (%d value bins, then the missing bin)",
			len(b.Proportions), len(b.Edges), b.Len(), len(b.Edges)+1)
	}
	sum := 0.0
	for i, p := range b.Proportions {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("proportions[%d] %g is outside [0, 1]", i, p)
		}
		sum += p
	}
	if math.Abs(sum-1) > sumTolerance {
		return fmt.Errorf("proportions sum to %g; want 1", sum)
	}
	if b.Records < 0 {
		return fmt.Errorf("records %d is negative", b.Records)
	}
	return nil
}

// Epsilon is the floor of both proportions in PSI: an empty bin counts as Epsilon, which
// keeps the logarithm finite.
const Epsilon = 1e-4

// PSI is the population stability index of the counts actual against the proportions
// expected:
//
//	Σ_i (a_i - e_i) · ln(a_i / e_i),  a_i = actual[i] / Σ actual
//
// with a_i and e_i floored at Epsilon. It is 0 when Σ actual is 0. The terms are summed in
// bin order, so equal inputs give bit-identical results. expected and actual must have the
// same length (one entry per bin, Bins.Len): PSI panics otherwise, as on any other
// programming error.
func PSI(expected []float64, actual []int64) float64 {
	if len(expected) != len(actual) {
		panic(fmt.Sprintf("drift: PSI of %d counts against %d proportions; both must have one entry per bin", len(actual), len(expected)))
	}
	var total int64
	for _, c := range actual {
		total += c
	}
	if total == 0 {
		return 0
	}
	n := float64(total)
	psi := 0.0
	for i, c := range actual {
		a := max(float64(c)/n, Epsilon)
		e := max(expected[i], Epsilon)
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}
