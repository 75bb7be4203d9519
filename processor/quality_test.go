package processor

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/pipeline"
)

// TestQualityMetrics: the histogram of a quality.histograms field observes the field of
// every record that decoded, and only those; the freshness threshold is exported.
func TestQualityMetrics(t *testing.T) {
	def := testDef(t, "quality", true, "in")
	def.Quality = pipeline.Quality{
		Histograms: []pipeline.Histogram{{Field: "amount", Buckets: []float64{-50, 0, 50}}, {Field: "fee"}},
		Freshness:  90 * time.Second,
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 5, MaxPerTxn: 20})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(3, 4)), 300, 10)
	var n, below, sum float64
	for _, rs := range w.recs {
		for _, r := range rs {
			if r.bad == "" {
				n++
				sum += r.amount
				if r.amount <= 0 {
					below++
				}
			}
		}
	}
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	reg := prometheus.NewRegistry()
	r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.Registerer = reg })
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkOutputs(t, k, w)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "kappa_quality_field_value":
			for _, m := range mf.GetMetric() {
				field := m.GetLabel()[0].GetValue()
				found[field] = true
				h := m.GetHistogram()
				switch field {
				case "amount":
					if float64(h.GetSampleCount()) != n || math.Abs(h.GetSampleSum()-sum) > 1e-6 {
						t.Errorf("amount: got count %d sum %v, want %v and %v (the good records)", h.GetSampleCount(), h.GetSampleSum(), n, sum)
					}
					if b := h.GetBucket()[1]; b.GetUpperBound() != 0 || float64(b.GetCumulativeCount()) != below {
						t.Errorf("amount: bucket le=%v holds %d, want le=0 with %v", b.GetUpperBound(), b.GetCumulativeCount(), below)
					}
				case "fee": // in no record: nothing observed, default buckets
					if h.GetSampleCount() != 0 || len(h.GetBucket()) != len(pipeline.DefaultHistogramBuckets) {
						t.Errorf("fee: got %d samples and %d buckets, want 0 and the %d default buckets",
							h.GetSampleCount(), len(h.GetBucket()), len(pipeline.DefaultHistogramBuckets))
					}
				}
			}
		case "kappa_quality_freshness_threshold_seconds":
			found["freshness"] = true
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 90 {
				t.Errorf("freshness threshold: got %v, want 90", v)
			}
		}
	}
	for _, want := range []string{"amount", "fee", "freshness"} {
		if !found[want] {
			t.Errorf("no %s metric among the gathered", want)
		}
	}
}
