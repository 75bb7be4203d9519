package processor

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/score"
	"github.com/kappa-stream/kappa/windows"
)

// ModelSource gives the model in use. The processor reads it once per record, so a swap
// takes effect between two records and never inside one. Implementations must be safe for
// concurrent use.
type ModelSource interface {
	// Current returns the model with its name and version, or a nil model before the first
	// one loaded.
	Current() (m score.Model, name, version string)
}

// scoreOp scores every record with the model in use on features from the record's fields
// and the key's current window aggregates.
type scoreOp struct {
	def      *pipeline.Score
	features []feature
	names    [][]byte // the features' names as JSON strings, for the output
	alert    *pipeline.Alert
	primary  ModelSource
	shadow   ModelSource // nil: none
	buf      []float64   // scratch: the feature vector
	out      []float64   // scratch: predictions
}

// feature is where one feature comes from: a decoded field (field >= 0) or an aggregate of
// the key's current window (agg >= 0).
type feature struct {
	field int // index in the decoder's values, or -1
	agg   int // index in the window spec's aggregations, or -1
}

// newScoreOp builds the score operator. fields are the decoder's fields so far (the window
// operator's); the score's field features are added as optional fields (a missing one is a
// missing feature, not a dead letter). win is the window operator before it, or nil.
func newScoreOp(s *pipeline.Score, win *windowOp, fields []field, primary, shadow ModelSource) (*scoreOp, []field, error) {
	if primary == nil {
		return nil, nil, fmt.Errorf("the pipeline scores with model %q but the processor was given no model source", s.Model.Name)
	}
	if s.Shadow != nil && shadow == nil {
		return nil, nil, fmt.Errorf("the pipeline has shadow model %q but the processor was given no source for it", s.Shadow.Name)
	}
	op := &scoreOp{def: s, alert: s.Alert, primary: primary, shadow: shadow}
	for _, name := range s.Features {
		f := feature{field: -1, agg: -1}
		if agg, ok := strings.CutPrefix(name, "window."); ok {
			if win == nil {
				return nil, nil, fmt.Errorf("feature %q needs a window operator before the score", name)
			}
			for i, a := range win.spec.Aggregations() {
				if a.Name == agg {
					f.agg = i
				}
			}
			if f.agg < 0 {
				return nil, nil, fmt.Errorf("feature %q: the window has no aggregate named %q", name, agg)
			}
		} else {
			f.field = len(fields)
			fields = append(fields, field{name: name, optional: true})
		}
		op.features = append(op.features, f)
		op.names = append(op.names, appendJSONString(nil, []byte(name)))
	}
	op.buf = make([]float64, len(op.features))
	return op, fields, nil
}

// scored is one model's result for a record.
type scored struct {
	preds         []float64
	name, version string
	missing       bool // no model loaded yet
	multi         bool // more than one output: "scores"
	score         float64
	alertable     bool
}

func (op *scoreOp) predict(src ModelSource, features []float64, out []float64) (scored, []float64) {
	m, name, version := src.Current()
	if m == nil {
		return scored{missing: true}, out
	}
	if m.NumFeatures() != len(features) {
		// The sources check this when they load a model; a mismatch here is a bug.
		panic(fmt.Sprintf("processor: model %s %s takes %d features, the pipeline gives %d", name, version, m.NumFeatures(), len(features)))
	}
	out = m.Predict(features, out[:0])
	s := scored{preds: out, name: name, version: version, multi: len(out) != 1}
	if !s.multi {
		s.score = out[0]
		s.alertable = !math.IsNaN(s.score)
	}
	return s, out
}

// current returns the aggregates of the key's current window: among its open windows that
// contain t, the one that ends first. nil when there is none (a late record).
func currentWindow(o *windows.Operator, key string, t int64) (*windows.Aggs, error) {
	es, err := o.Current(key)
	if err != nil {
		return nil, err
	}
	for _, e := range es { // by window end, then start
		if e.Window.Contains(t) {
			return e.Aggs, nil
		}
	}
	return nil, nil
}

// processScore scores a decoded record and produces its output (and alert); it returns the
// primary model's score (NaN when it has none: several outputs, or a NaN prediction).
func (r *run) processScore(t *task, rec *model.Record, ev event) (float64, error) {
	p := r.p
	op := p.sc
	start := time.Now()
	var cur *windows.Aggs
	if p.win != nil && t.win != nil && t.win.op != nil {
		var err error
		if cur, err = currentWindow(t.win.op, string(ev.key), ev.eventTime); err != nil {
			return math.NaN(), fatalf("processor: windows of %s (partition %d, key %q): %w", rec.Position, t.partition, ev.key, err)
		}
	}
	for i, f := range op.features {
		v := math.NaN()
		switch {
		case f.field >= 0:
			v = ev.values[f.field].Num // NaN when missing (optional field)
		case cur != nil:
			v = p.win.spec.Result(cur, f.agg)
		}
		op.buf[i] = v
	}
	main, out := op.predict(op.primary, op.buf, op.out)
	op.out = out
	if main.missing {
		return math.NaN(), fatalf("processor: no model loaded for %q; the model source must load one before processing starts", op.def.Model.Name)
	}
	if i := slices.IndexFunc(main.preds, notFinite); i >= 0 {
		// What the model made of these features is not a score: the record is a scoring
		// error, handled by on_error.scoring like any record that cannot be processed.
		return math.NaN(), r.reject(rec, &DecodeError{Reason: ReasonScoring, Msg: fmt.Sprintf(
			"model %s version %s predicted %v (output %d) from features %s; check the model and the features' ranges",
			main.name, main.version, main.preds[i], i, appendFeatures(nil, op.names, op.buf))})
	}
	var shadow scored
	if op.shadow != nil {
		shadow, _ = op.predict(op.shadow, op.buf, nil)
	}
	score := math.NaN()
	if main.alertable { // a single, non-NaN score
		score = main.score
	}
	if r.quiet { // warm-up: state only, so no output and no metric either
		return score, nil
	}
	p.metrics.predictTime.Observe(time.Since(start).Seconds())
	if main.alertable {
		p.metrics.scores.Observe(score)
	}
	b := r.appendScored(r.out[:0], rec, ev, main, shadow)
	r.out = b
	r.produce(&model.Output{Topic: p.def.Output.Topic, Partition: rec.Partition, Key: bytes.Clone(ev.key), Value: bytes.Clone(b)}, nil)
	t.recordsOut().Inc()
	p.stats.RecordsOut.Add(1)
	p.metrics.predictions.Inc()
	if op.alert != nil && main.alertable && main.score >= op.alert.Threshold {
		r.produce(&model.Output{Topic: op.alert.Topic, Partition: rec.Partition, Key: bytes.Clone(ev.key), Value: bytes.Clone(b)}, nil)
		p.metrics.alerts.Inc()
		p.stats.Alerts.Add(1)
	}
	return score, nil
}

// appendScored appends the output value of a scored record: see the README's "Scoring".
func (r *run) appendScored(b []byte, rec *model.Record, ev event, main, shadow scored) []byte {
	op := r.p.sc
	b = append(b, `{"key":`...)
	b = appendJSONString(b, ev.key)
	b = append(b, `,"event_time":`...)
	b = strconv.AppendInt(b, ev.eventTime, 10)
	b = appendPrediction(b, main, ",")
	b = append(b, `,"features":`...)
	b = appendFeatures(b, op.names, op.buf)
	if op.shadow != nil {
		b = append(b, `,"shadow":{`...)
		if shadow.missing {
			b = append(b, `"score":null`...)
		} else {
			b = appendPrediction(b, shadow, "")
		}
		b = append(b, '}')
	}
	b = append(b, `,"source":{"topic":`...)
	b = appendJSONString(b, []byte(rec.Topic))
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(rec.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, rec.Offset, 10)
	return append(b, "}}"...)
}

// appendPrediction appends sep, then "score":x (or "scores":[...]),"model_name":..,
// "model_version":..
func appendPrediction(b []byte, s scored, sep string) []byte {
	b = append(b, sep...)
	if s.multi {
		b = append(b, `"scores":[`...)
		for i, v := range s.preds {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNumber(b, v)
		}
		b = append(b, ']')
	} else {
		b = append(b, `"score":`...)
		b = appendNumber(b, s.score)
	}
	b = append(b, `,"model_name":`...)
	b = appendJSONString(b, []byte(s.name))
	b = append(b, `,"model_version":`...)
	return appendJSONString(b, []byte(s.version))
}

// appendNumber appends v in Go's shortest round-trip form, or null when it is not finite.
func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendFeatures appends the feature vector as a JSON object of the features' (quoted)
// names and values.
func appendFeatures(b []byte, names [][]byte, values []float64) []byte {
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, name...)
		b = append(b, ':')
		b = appendNumber(b, values[i])
	}
	return append(b, '}')
}

func notFinite(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
