package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/state"
)

type metrics struct {
	recordsIn     *prometheus.CounterVec
	recordsOut    *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	late          *prometheus.CounterVec
	predictions   prometheus.Counter
	alerts        prometheus.Counter
	transactions  *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	rebalances    prometheus.Counter
	restored      prometheus.Counter
	assigned      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, store *state.Store) (*metrics, error) {
	m := &metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_records_in_total",
			Help: "Input records processed, by topic and partition (records of aborted transactions count again when reprocessed).",
		}, []string{"topic", "partition"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_records_out_total",
			Help: "Output records produced, by topic and partition.",
		}, []string{"topic", "partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_dead_letters_total",
			Help: "Input records sent to the dead-letter topic, by reason class.",
		}, []string{"reason"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_late_records_total",
			Help: "Input records that arrived after every window they belong to had closed, sent to the late topic, by input topic.",
		}, []string{"topic"}),
		predictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kappa_score_predictions_total",
			Help: "Records scored by the primary model (records of aborted transactions count again when reprocessed).",
		}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kappa_score_alerts_total",
			Help: "Scored records at or above the alert threshold, sent to the alert topic.",
		}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_transactions_total",
			Help: "Ended transactions (commit cycles in at-least-once mode), by result: committed or aborted.",
		}, []string{"result"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kappa_processor_commit_duration_seconds",
			Help:    "Time to end a transaction: flush outputs, commit offsets, commit or abort.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kappa_processor_rebalances_total",
			Help: "Partition assignment changes (assigned or revoked) seen by this instance.",
		}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kappa_processor_restored_records_total",
			Help: "Changelog records applied to local state while restoring.",
		}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kappa_processor_active_partitions",
			Help: "Input partitions with a running task on this instance.",
		}),
	}
	stateBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kappa_state_disk_usage_bytes",
		Help: "Disk space used by the local state store.",
	}, func() float64 { return float64(store.DiskUsage()) })
	for _, c := range []prometheus.Collector{
		m.recordsIn, m.recordsOut, m.deadLetters, m.late, m.predictions, m.alerts, m.transactions, m.commitSeconds,
		m.rebalances, m.restored, m.assigned, stateBytes,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: register metrics: %w", err)
		}
	}
	// Pre-create the result series so dashboards show zero, not nothing.
	m.transactions.WithLabelValues("committed")
	m.transactions.WithLabelValues("aborted")
	return m, nil
}
