package drift

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrInvalid is wrapped by every error about bad arguments to NewProfiler or NewMonitor.
var ErrInvalid = errors.New("drift: invalid configuration")

// profilerSeed seeds the PRNG of every series' reservoir (the second PCG word is the
// series' index), so that the same input always gives the same sample and reference.
const profilerSeed = 0x6b61707061 // "kappa"

// Profiler builds a Reference from a stream of values. For each series (the features, then
// the score) it keeps a uniform reservoir sample of the finite values (Algorithm R, with a
// PRNG of fixed seed: the same values in the same order give the same reference) and exact
// counts of all values and of the missing ones. It is not safe for concurrent use.
type Profiler struct {
	features []string
	score    bool
	bins     int
	size     int
	series   []reservoir // features, then the score
}

// reservoir is the sample and the counts of one series.
type reservoir struct {
	sample  []float64
	finite  int64 // finite values seen: the sample's population
	missing int64
	rng     *rand.Rand
}

// NewProfiler returns a Profiler of the named features, and of the score if score is set,
// that makes bins value bins per series (from 2 to MaxBins) from a sample of up to
// sampleSize values per series (at least bins). Feature names must be distinct and not
// empty, and there must be at least one series.
func NewProfiler(features []string, score bool, bins, sampleSize int) (*Profiler, error) {
	switch {
	case len(features) == 0 && !score:
		return nil, fmt.Errorf("%w: no features and no score to profile", ErrInvalid)
	case bins < 2 || bins > MaxBins:
		return nil, fmt.Errorf("%w: %d bins; want 2 to %d", ErrInvalid, bins, MaxBins)
	case sampleSize < bins:
		return nil, fmt.Errorf("%w: sample size %d is below the %d bins", ErrInvalid, sampleSize, bins)
	}
	seen := make(map[string]bool, len(features))
	for i, f := range features {
		switch {
		case f == "":
			return nil, fmt.Errorf("%w: feature %d has no name", ErrInvalid, i)
		case seen[f]:
			return nil, fmt.Errorf("%w: feature %q is listed twice", ErrInvalid, f)
		}
		seen[f] = true
	}
	p := &Profiler{features: slices.Clone(features), score: score, bins: bins, size: sampleSize}
	n := len(features)
	if score {
		n++
	}
	p.series = make([]reservoir, n)
	for i := range p.series {
		p.series[i].rng = rand.New(rand.NewPCG(profilerSeed, uint64(i)))
	}
	return p, nil
}

// AddFeature adds a value of feature i (the index in NewProfiler's features). NaN and ±Inf
// count as missing.
func (p *Profiler) AddFeature(i int, v float64) {
	if i < 0 || i >= len(p.features) {
		panic(fmt.Sprintf("drift: AddFeature(%d) of a profiler of %d features", i, len(p.features)))
	}
	p.series[i].add(v, p.size)
}

// AddScore adds a value of the score. NaN and ±Inf count as missing. It panics if the
// profiler was made without the score.
func (p *Profiler) AddScore(v float64) {
	if !p.score {
		panic("drift: AddScore on a profiler made without the score")
	}
	p.series[len(p.features)].add(v, p.size)
}

// add is one step of Algorithm R: the k-th finite value (from 0) replaces a uniformly chosen
// element of a full sample with probability size/(k+1).
func (r *reservoir) add(v float64, size int) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.missing++
		return
	}
	k := r.finite
	r.finite++
	if k < int64(size) {
		r.sample = append(r.sample, v)
		return
	}
	if j := r.rng.Int64N(k + 1); j < int64(size) {
		r.sample[j] = v
	}
}

// Reference returns the reference of the values added so far, for the pipeline named
// pipeline; source says what they were (see Reference.Source). It is an error for a series to
// have no finite values. The profiler may be used further afterwards.
//
// The edges of a series are quantiles of its sorted sample s of n values:
// s[floor(j*n/bins)] for j = 1 .. bins-1, without duplicates and without s[0] (which would
// leave bin 0 empty), so a discrete series gets fewer, never empty, value bins. A value bin's
// proportion is its share of the sample times the share of finite values in the stream; the
// missing bin's is the exact share of missing values. Records counts every value added.
func (p *Profiler) Reference(pipeline, source string) (*Reference, error) {
	ref := &Reference{Version: ReferenceVersion, Pipeline: pipeline, Source: source}
	for i := range p.series {
		what := "the score"
		if i < len(p.features) {
			what = fmt.Sprintf("feature %s", p.features[i])
		}
		r := &p.series[i]
		if r.finite == 0 {
			return nil, fmt.Errorf("drift: no values of %s in the profiled range (%d records, none with a finite value); "+
				"profile a range of records where it is present, or stop watching it", what, r.missing)
		}
		b := r.bins(p.bins)
		if i < len(p.features) {
			if ref.Features == nil {
				ref.Features = make(map[string]*Bins, len(p.features))
			}
			ref.Features[p.features[i]] = b
		} else {
			ref.Score = b
		}
	}
	return ref, nil
}

// bins computes the Bins of a series with finite values.
func (r *reservoir) bins(bins int) *Bins {
	s := slices.Clone(r.sample)
	slices.Sort(s)
	n := len(s)
	b := &Bins{}
	for j := 1; j < bins; j++ {
		q := s[j*n/bins]
		if q > s[0] && (len(b.Edges) == 0 || q > b.Edges[len(b.Edges)-1]) {
			b.Edges = append(b.Edges, q)
		}
	}
	counts := make([]int64, b.Len())
	for _, v := range s {
		counts[b.Bin(v)]++
	}
	total := r.finite + r.missing
	missing := float64(r.missing) / float64(total)
	b.Proportions = make([]float64, b.Len())
	for i, c := range counts[:len(counts)-1] {
		b.Proportions[i] = float64(c) / float64(n) * (1 - missing)
	}
	b.Proportions[len(b.Proportions)-1] = missing
	b.Records = total
	return b
}
