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
	skipped       *prometheus.CounterVec
	late          *prometheus.CounterVec
	predictions   prometheus.Counter
	alerts        prometheus.Counter
	predictTime   prometheus.Histogram
	scores        prometheus.Histogram
	recordAge     *prometheus.GaugeVec
	eventLag      *prometheus.GaugeVec
	watermark     *prometheus.GaugeVec
	latency       prometheus.Histogram
	windows       *prometheus.CounterVec
	restoreLeft   prometheus.Gauge
	transactions  *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	rebalances    prometheus.Counter
	restored      prometheus.Counter
	assigned      prometheus.Gauge

	duplicates     *prometheus.CounterVec
	schemaFailures *prometheus.CounterVec
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
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_skipped_records_total",
			Help: "Input records dropped by the skip policy of on_error, by reason class: decode, schema, late or duplicate.",
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
		predictTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kappa_score_predict_duration_seconds",
			Help:    "Time to build a record's feature vector and score it with the primary (and shadow) model.",
			Buckets: prometheus.ExponentialBuckets(1e-7, 2.5, 14),
		}),
		scores: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kappa_score_value",
			Help:    "Scores of the primary model (single-output models).",
			Buckets: prometheus.LinearBuckets(0.05, 0.05, 20),
		}),
		recordAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kappa_processor_record_age_seconds",
			Help: "Wall-clock time minus the Kafka timestamp of the last record processed, by input partition: the consumer lag in seconds.",
		}, []string{"partition"}),
		eventLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kappa_processor_event_time_lag_seconds",
			Help: "Wall-clock time minus the partition's stream time (the largest event time seen), by input partition.",
		}, []string{"partition"}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kappa_processor_watermark_seconds",
			Help: "The partition's event-time watermark as Unix seconds (window pipelines), by input partition.",
		}, []string{"partition"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kappa_processor_end_to_end_latency_seconds",
			Help:    "From an input record's Kafka timestamp to the commit of the transaction holding its outputs.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_windows_emitted_total",
			Help: "Window results written, by kind: final (a closed window), update (an upsert), delete (a merged session).",
		}, []string{"emit"}),
		restoreLeft: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kappa_processor_restore_remaining_records",
			Help: "Changelog records still to restore, over the partitions restoring now.",
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
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_duplicates_total",
			Help: "Input records whose event id was already seen within the dedup horizon (input.dedup), by input topic; on_error.duplicate says what became of them.",
		}, []string{"topic"}),
		schemaFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kappa_processor_schema_failures_total",
			Help: "Input records that broke a schema rule, by field and rule: missing, type, format, range, min, max, allowed, pattern, max_length.",
		}, []string{"field", "rule"}),
	}
	stateBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kappa_state_disk_usage_bytes",
		Help: "Disk space used by the local state store.",
	}, func() float64 { return float64(store.DiskUsage()) })
	for _, c := range []prometheus.Collector{
		m.recordsIn, m.recordsOut, m.deadLetters, m.skipped, m.late, m.predictions, m.alerts, m.predictTime, m.scores,
		m.recordAge, m.eventLag, m.watermark, m.latency, m.windows, m.restoreLeft, m.transactions, m.commitSeconds,
		m.rebalances, m.restored, m.assigned, stateBytes, m.duplicates, m.schemaFailures,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: register metrics: %w", err)
		}
	}
	// Pre-create the result series so dashboards show zero, not nothing.
	m.transactions.WithLabelValues("committed")
	m.transactions.WithLabelValues("aborted")
	for _, e := range []string{"final", "update", "delete"} {
		m.windows.WithLabelValues(e)
	}
	return m, nil
}
