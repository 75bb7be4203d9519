package processor

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
)

// Drift monitoring (pipeline.Drift): per partition, a drift.Monitor compares the features
// and the score of the records of a sliding event-time window with the reference, and each
// evaluation goes to the drift topic and the kappa_drift_* gauges. The monitor's panes live
// in the partition's state under driftPrefix (FORMAT.md in package state):
//
//	[driftPrefix][0x00]                      -> drift.AppendClock
//	[driftPrefix][0x01][drift.AppendPaneKey] -> drift.AppendPane
const (
	driftPrefix   byte = 0xfe
	driftClockTag byte = 0x00
	driftPaneTag  byte = 0x01
)

// Drift series kinds: the kind label of the kappa_drift_* metrics and the drift records.
const (
	DriftKindFeature = "feature"
	DriftKindScore   = "score"
)

// driftOp is the pipeline's drift monitoring.
type driftOp struct {
	def    *pipeline.Drift
	series []driftSeries
	cfg    drift.Config // Series filled; the same for every partition

	psi, records *prometheus.GaugeVec
	evaluations  *prometheus.CounterVec
}

// driftSeries is one watched series: a feature (field >= 0, the decoder's index) or the
// score (field < 0).
type driftSeries struct {
	kind, name string
	field      int
	ok, drifts prometheus.Counter
}

// newDriftOp builds the drift monitoring of def against ref. With a profiler (kappa
// profile), ref may be nil: no monitor runs, the values feed the profiler.
func newDriftOp(def *pipeline.Definition, featureFields []int, ref *drift.Reference, profiling bool, reg prometheus.Registerer) (*driftOp, error) {
	d := def.Quality.Drift
	op := &driftOp{def: d}
	for i, name := range d.Features {
		op.series = append(op.series, driftSeries{kind: DriftKindFeature, name: name, field: featureFields[i]})
	}
	if d.Score {
		op.series = append(op.series, driftSeries{kind: DriftKindScore, name: DriftKindScore, field: -1})
	}
	if profiling {
		return op, nil
	}
	if ref == nil {
		return nil, errors.New("processor: quality.drift needs its reference distributions (Config.DriftReference); make them with kappa profile")
	}
	var err error
	if op.cfg.Series, err = ref.Series(d.Features, d.Score); err != nil {
		return nil, fmt.Errorf("processor: quality.drift: %w", err)
	}
	op.cfg.Window = d.Window.Milliseconds()
	op.cfg.Every = d.Every.Milliseconds()
	op.cfg.MinRecords = int64(d.MinRecords)
	op.cfg.OutOfOrderness = def.Input.MaxOutOfOrderness.Milliseconds()
	if _, err := drift.NewMonitor(op.cfg); err != nil {
		return nil, fmt.Errorf("processor: quality.drift: %w", err)
	}

	op.psi = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kappa_drift_psi",
		Help: "Population stability index of the last evaluated drift window against the reference, by series (kind feature or score, and name) and input partition.",
	}, []string{"kind", "name", "partition"})
	op.records = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kappa_drift_window_records",
		Help: "Records in the last evaluated drift window, by series and input partition.",
	}, []string{"kind", "name", "partition"})
	op.evaluations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kappa_drift_evaluations_total",
		Help: "Drift windows evaluated, by series and result: ok, or drift (PSI above quality.drift.threshold).",
	}, []string{"kind", "name", "result"})
	threshold := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kappa_drift_threshold",
		Help: "The pipeline's quality.drift.threshold: the PSI above which a series counts as drifted.",
	})
	threshold.Set(d.Threshold)
	for _, c := range []prometheus.Collector{op.psi, op.records, op.evaluations, threshold} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: register metrics: %w", err)
		}
	}
	for i := range op.series {
		s := &op.series[i]
		s.ok = op.evaluations.WithLabelValues(s.kind, s.name, "ok")
		s.drifts = op.evaluations.WithLabelValues(s.kind, s.name, "drift")
	}
	return op, nil
}

// driftTask is a partition's drift monitor.
type driftTask struct {
	mon     *drift.Monitor
	values  []float64
	results []drift.Result
}

// loadDrift builds the partition's monitor from the committed state (through the open
// batch, which holds no drift change yet: it runs at a task's first record and after an
// abort).
func (t *task) loadDrift(op *driftOp) error {
	mon, err := drift.NewMonitor(op.cfg)
	if err != nil {
		return err
	}
	var clock drift.Clock
	var panes []drift.Pane
	err = t.batch.Range([]byte{driftPrefix}, []byte{driftPrefix + 1}, 0, func(key, value []byte) error {
		switch {
		case len(key) == 2 && key[1] == driftClockTag:
			c, err := drift.DecodeClock(value)
			clock = c
			return err
		case len(key) > 2 && key[1] == driftPaneTag:
			start, err := drift.ParsePaneKey(key[2:])
			if err != nil {
				return err
			}
			pn, err := drift.DecodePane(start, value)
			panes = append(panes, pn)
			return err
		}
		return fmt.Errorf("%w: unknown drift state key % x", drift.ErrCorrupt, key)
	})
	if err == nil {
		err = mon.Restore(clock, panes)
	}
	if err != nil {
		return fmt.Errorf("load drift state: %w", err)
	}
	t.drift = &driftTask{mon: mon, values: make([]float64, len(op.series))}
	return nil
}

// flushDrift writes the panes and clock the transaction changed into the batch.
func (t *task) flushDrift() error {
	if t.drift == nil {
		return nil
	}
	m := t.drift.mon
	changed, deleted, clockChanged := m.Changes()
	for _, start := range deleted {
		t.key = drift.AppendPaneKey(append(t.key[:0], driftPrefix, driftPaneTag), start)
		if err := t.batch.Delete(t.key); err != nil {
			return err
		}
	}
	for _, pn := range changed {
		t.key = drift.AppendPaneKey(append(t.key[:0], driftPrefix, driftPaneTag), pn.Start)
		t.val = drift.AppendPane(t.val[:0], pn)
		if err := t.batch.Set(t.key, t.val); err != nil {
			return err
		}
	}
	if clockChanged {
		t.val = drift.AppendClock(t.val[:0], m.Clock())
		if err := t.batch.Set([]byte{driftPrefix, driftClockTag}, t.val); err != nil {
			return err
		}
	}
	m.ResetChanges()
	return nil
}

// processDrift adds a processed record's features and score (NaN: none) to the
// partition's drift monitor, or to the profiler, and writes the evaluations of the windows
// the record closed.
func (r *run) processDrift(t *task, rec *model.Record, ev *event, score float64) error {
	p := r.p
	op := p.drift
	if prof := p.cfg.Profile; prof != nil {
		if r.quiet {
			return nil
		}
		for i, s := range op.series {
			if s.field >= 0 {
				prof.AddFeature(i, ev.values[s.field].Num)
			} else {
				prof.AddScore(score)
			}
		}
		return nil
	}
	if t.drift == nil {
		if err := t.loadDrift(op); err != nil {
			return fatalf("processor: partition %d: %w; remove the state directory to restore it from the changelog", t.partition, err)
		}
	}
	d := t.drift
	for i, s := range op.series {
		if s.field >= 0 {
			d.values[i] = ev.values[s.field].Num
		} else {
			d.values[i] = score
		}
	}
	d.results, _ = d.mon.Add(d.results[:0], ev.eventTime, d.values)
	if r.quiet {
		return nil
	}
	label := strconv.Itoa(int(t.partition))
	for i := range d.results {
		res := &d.results[i]
		s := &op.series[res.Series]
		drifted := res.PSI > op.def.Threshold
		op.psi.WithLabelValues(s.kind, s.name, label).Set(res.PSI)
		op.records.WithLabelValues(s.kind, s.name, label).Set(float64(res.Records))
		p.stats.DriftEvals.Add(1)
		if drifted {
			s.drifts.Inc()
			p.stats.Drifted.Add(1)
		} else {
			s.ok.Inc()
		}
		r.out = appendDriftJSON(r.out[:0], p.def.Name, s, t.partition, res, op.def.Threshold, drifted)
		r.produce(&model.Output{
			Topic:     p.def.DriftTopic(),
			Partition: rec.Partition,
			Key:       []byte(s.kind + ":" + s.name),
			Value:     append([]byte(nil), r.out...),
		}, nil)
	}
	return nil
}

// appendDriftJSON appends a drift record's value: see the README's "Data quality".
func appendDriftJSON(b []byte, pipelineName string, s *driftSeries, partition int32, res *drift.Result, threshold float64, drifted bool) []byte {
	b = append(b, `{"pipeline":`...)
	b = appendJSONString(b, []byte(pipelineName))
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, []byte(s.kind))
	b = append(b, `,"name":`...)
	b = appendJSONString(b, []byte(s.name))
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, `,"window_start":"`...)
	b = time.UnixMilli(res.Start).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","window_end":"`...)
	b = time.UnixMilli(res.End).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","records":`...)
	b = strconv.AppendInt(b, res.Records, 10)
	b = append(b, `,"psi":`...)
	b = appendNumber(b, res.PSI)
	b = append(b, `,"threshold":`...)
	b = appendNumber(b, threshold)
	b = append(b, `,"drifted":`...)
	b = strconv.AppendBool(b, drifted)
	b = append(b, `,"counts":[`...)
	for i, c := range res.Counts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, c, 10)
	}
	return append(b, "]}"...)
}

// closePartition deletes the partition's drift series.
func (op *driftOp) closePartition(partition int32) {
	if op == nil || op.psi == nil {
		return
	}
	label := prometheus.Labels{"partition": strconv.Itoa(int(partition))}
	op.psi.DeletePartialMatch(label)
	op.records.DeletePartialMatch(label)
}
