package processor

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/pipeline"
)

// quality is the pipeline's data-quality observation beyond the schema (pipeline.Quality):
// the distributions of configured fields as histograms, and the freshness threshold the
// alert rules compare the event-time lag with.
type quality struct {
	hists []fieldHistogram
}

// fieldHistogram observes one numeric input field.
type fieldHistogram struct {
	field int // index in the decoder's values
	h     prometheus.Histogram
}

// appendOptional appends the named fields to fields as optional ones (NaN when missing or
// not a number), for the checks that observe fields rather than require them, and returns
// the index of each.
func appendOptional(fields []field, names []string) ([]field, []int) {
	idx := make([]int, len(names))
	for i, name := range names {
		idx[i] = len(fields)
		fields = append(fields, field{name: name, optional: true})
	}
	return fields, idx
}

// newQuality registers the quality metrics of def on reg.
func newQuality(def *pipeline.Definition, reg prometheus.Registerer, histFields []int) (*quality, error) {
	q := &quality{}
	for i, h := range def.Quality.Histograms {
		buckets := h.Buckets
		if len(buckets) == 0 {
			buckets = pipeline.DefaultHistogramBuckets
		}
		hist := prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "kappa_quality_field_value",
			Help:        "Values of the numeric input fields named in quality.histograms, by field (records that decoded; missing or non-numeric values are not observed).",
			ConstLabels: prometheus.Labels{"field": h.Field},
			Buckets:     buckets,
		})
		if err := reg.Register(hist); err != nil {
			return nil, fmt.Errorf("processor: register the histogram of field %q: %w", h.Field, err)
		}
		q.hists = append(q.hists, fieldHistogram{field: histFields[i], h: hist})
	}
	freshness := def.Quality.Freshness
	if freshness <= 0 {
		freshness = pipeline.DefaultFreshness
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kappa_quality_freshness_threshold_seconds",
		Help: "The pipeline's quality.freshness: the event-time lag (kappa_processor_event_time_lag_seconds) above which its data counts as stale.",
	})
	g.Set(freshness.Seconds())
	if err := reg.Register(g); err != nil {
		return nil, fmt.Errorf("processor: register metrics: %w", err)
	}
	return q, nil
}

// observe records the configured fields of a decoded record.
func (q *quality) observe(ev *event) {
	for _, h := range q.hists {
		if v := ev.values[h.field].Num; !math.IsNaN(v) {
			h.h.Observe(v)
		}
	}
}
