package models

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the models' metrics, shared by every watcher of a process (the primary and
// the shadow model of a pipeline). Create them once, with NewMetrics.
type Metrics struct {
	info  *prometheus.GaugeVec
	loads *prometheus.CounterVec
}

// NewMetrics registers the models' metrics on reg:
//
//   - kappa_score_model_info{model,role,version}: 1 for the model in use; the series of the
//     version it replaced is deleted on a swap, so each model and role has one series.
//   - kappa_score_model_loads_total{model,role,result}: model loads, result "ok" or
//     "error" (a file or record that was not a valid model for the pipeline, or a file
//     that could not be read). An error keeps the model in use.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kappa_score_model_info",
			Help: "1 for the model version in use, by model name and role (primary or shadow).",
		}, []string{"model", "role", "version"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_score_model_loads_total",
			Help: "Model loads by model name, role and result (ok, or error: the model in use was kept).",
		}, []string{"model", "role", "result"}),
	}
	for _, c := range []prometheus.Collector{m.info, m.loads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("models: register metrics: %w", err)
		}
	}
	return m, nil
}

// unregistered returns metrics that no registry exports, for a watcher configured without
// Metrics.
func unregistered() *Metrics {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		panic(err) // a new registry holds nothing to collide with
	}
	return m
}
