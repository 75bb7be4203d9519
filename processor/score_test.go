package processor

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/score"
	"github.com/kappa-stream/kappa/state"
	"github.com/kappa-stream/kappa/windows"
)

// linearModel returns a kappa-linear binary model over n features with the given weights.
func linearModel(t testing.TB, intercept float64, weights ...float64) score.Model {
	t.Helper()
	names := make([]string, len(weights))
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	b, err := json.Marshal(map[string]any{
		"format": "kappa-linear", "version": 1, "objective": "binary:logistic",
		"features": names, "weights": weights, "intercept": intercept,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := score.Parse("test-model.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testModels is a ModelSource whose model tests swap.
type testModels struct {
	mu      sync.Mutex
	m       score.Model
	name    string
	version string
}

func (s *testModels) Current() (score.Model, string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m, s.name, s.version
}

func (s *testModels) set(m score.Model, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.version = m, version
}

// scoreDef is a window pipeline followed by a score operator.
func scoreDef(t testing.TB, features []string, alert *pipeline.Alert, shadow bool) *pipeline.Definition {
	t.Helper()
	w := testWindows()["hopping-final"]
	d := testDef(t, "scored", true, "in")
	d.Input.MaxOutOfOrderness = 30 * time.Millisecond
	sc := &pipeline.Score{
		Model:    pipeline.ModelRef{File: "fraud.json", Name: "fraud"},
		Features: features,
		Alert:    alert,
	}
	if shadow {
		sc.Shadow = &pipeline.ModelRef{File: "fraud-v2.json", Name: "fraud-v2"}
	}
	d.Operators = []pipeline.Operator{{Window: &w}, {Score: sc}}
	d.ApplyDefaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("test definition is invalid: %v", err)
	}
	return d
}

// scoredOutput is the part of a scored output record the tests check.
type scoredOutput struct {
	Key          string              `json:"key"`
	EventTime    int64               `json:"event_time"`
	Score        *float64            `json:"score"`
	ModelName    string              `json:"model_name"`
	ModelVersion string              `json:"model_version"`
	Features     map[string]*float64 `json:"features"`
	Shadow       *struct {
		Score        *float64 `json:"score"`
		ModelName    string   `json:"model_name"`
		ModelVersion string   `json:"model_version"`
	} `json:"shadow"`
	Source struct {
		Offset int64 `json:"offset"`
	} `json:"source"`
}

// TestScoreWindowFeatures scores every record on a field and the key's current window
// aggregates: the outputs must be, byte for byte, what an in-memory Operator and the models
// give, shadow included; the alert topic must hold exactly the outputs at or above the
// threshold; late records are scored too, with their window features missing.
func TestScoreWindowFeatures(t *testing.T) {
	features := []string{"amount", "window.count", "window.sum_amount", "window.count_distinct_merchant"}
	alert := &pipeline.Alert{Threshold: 0.7, Topic: "alerts"}
	def := scoreDef(t, features, alert, true)
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 7, MaxPerTxn: 30})
	k.addTopic(alert.Topic)
	w := windowWorkload(k, def, 11, 300)
	primary := &testModels{m: linearModel(t, -1, 0.01, 0.05, 0.001, 0.2), name: "fraud", version: "v1"}
	shadow := &testModels{m: linearModel(t, 0.5, -0.01, 0.1, 0, 0), name: "fraud-v2", version: "s1"}

	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := startWith(t, def, store, k.instance("pod-0", true), primary, shadow)
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	// The reference: the windows in memory, the current window by hand, the models.
	op, err := newWindowOp(0, def, def.Operators[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	var alerts, lates int
	for p := range int32(2) {
		o, err := windows.NewOperator(op.def, op.opts...)
		if err != nil {
			t.Fatal(err)
		}
		got := k.records(def.Output.Topic, p)
		var want []string
		for _, in := range w.recs[topicPartition{"in", p}] {
			if in.bad != "" {
				continue
			}
			ev, err := newDecoder(def, op.fields...).decode(in.value)
			if err != nil {
				t.Fatal(err)
			}
			res, err := o.Process(windows.Record{Key: string(ev.key), EventTime: ev.eventTime, Values: ev.values, Seq: uint64(in.pos.Offset)})
			if err != nil {
				t.Fatal(err)
			}
			lates += len(res.Late)
			vec := []float64{in.amount, math.NaN(), math.NaN(), math.NaN()}
			cur, err := o.Current(string(ev.key))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range cur {
				if e.Window.Contains(ev.eventTime) {
					for i, name := range []string{"count", "sum_amount", "count_distinct_merchant"} {
						for j, a := range op.spec.Aggregations() {
							if a.Name == name {
								vec[i+1] = op.spec.Result(e.Aggs, j)
							}
						}
					}
					break
				}
			}
			s := primary.m.Predict(vec, nil)[0]
			sh := shadow.m.Predict(vec, nil)[0]
			fs := make([]string, len(vec))
			for i, v := range vec {
				fs[i] = fmt.Sprintf("%q:%s", features[i], string(appendNumber(nil, v)))
			}
			want = append(want, fmt.Sprintf(`{"key":%s,"event_time":%d,"score":%s,"model_name":"fraud","model_version":"v1","features":{%s},"shadow":{"score":%s,"model_name":"fraud-v2","model_version":"s1"},"source":{"topic":"in","partition":%d,"offset":%d}}`,
				jsonText(in.aggKey), ev.eventTime, appendNumber(nil, s), strings.Join(fs, ","), appendNumber(nil, sh), p, in.pos.Offset))
			if s >= alert.Threshold {
				alerts++
			}
		}
		var gotV []string
		for _, g := range got {
			gotV = append(gotV, string(g.Value))
		}
		diffLines(t, fmt.Sprintf("partition %d scored outputs", p), gotV, want)
		var wantAlerts []string
		for _, g := range gotV {
			var so scoredOutput
			if err := json.Unmarshal([]byte(g), &so); err != nil {
				t.Fatalf("output %s: %v", g, err)
			}
			if so.Score != nil && *so.Score >= alert.Threshold {
				wantAlerts = append(wantAlerts, g)
			}
		}
		var gotAlerts []string
		for _, a := range k.records(alert.Topic, p) {
			gotAlerts = append(gotAlerts, string(a.Value))
		}
		diffLines(t, fmt.Sprintf("partition %d alerts", p), gotAlerts, wantAlerts)
	}
	if alerts == 0 || alerts == w.good() {
		t.Fatalf("%d of %d records alert; the threshold tests nothing", alerts, w.good())
	}
	if lates == 0 {
		t.Fatalf("no late record was scored; the workload tests nothing")
	}
	if s := r.p.Snapshot(); s.Alerts != int64(alerts) {
		t.Fatalf("snapshot counts %d alerts, want %d", s.Alerts, alerts)
	}
}

// TestScoreModelSwap swaps the model back and forth while records are processed: every
// output names a version that was in use, and its score is exactly that version's
// prediction on the output's features (no record is scored by a mix of two models), and
// both versions score some records.
func TestScoreModelSwap(t *testing.T) {
	features := []string{"amount", "window.count"}
	def := scoreDef(t, features, nil, false)
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 10})
	w := windowWorkload(k, def, 12, 400)
	v1, v2 := linearModel(t, 0.1, 0.02, -0.3), linearModel(t, -0.4, -0.01, 0.25)
	src := &testModels{m: v1, name: "fraud", version: "v1"}
	var swaps atomic.Int32
	rng := rand.New(rand.NewPCG(3, 3))
	var mu sync.Mutex
	k.setHook(func(pt fakePoint) fakeAction {
		if pt.Name != "poll" {
			return fakeContinue
		}
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(3) == 0 {
			if _, _, v := src.Current(); v == "v1" {
				src.set(v2, "v2")
			} else {
				src.set(v1, "v1")
			}
			swaps.Add(1)
		}
		return fakeContinue
	})
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := startWith(t, def, store, k.instance("pod-0", true), src, nil)
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	byVersion := map[string]int{}
	for p := range int32(2) {
		for _, g := range k.records(def.Output.Topic, p) {
			var so scoredOutput
			if err := json.Unmarshal(g.Value, &so); err != nil {
				t.Fatalf("output %s: %v", g.Value, err)
			}
			m := map[string]score.Model{"v1": v1, "v2": v2}[so.ModelVersion]
			if m == nil || so.ModelName != "fraud" {
				t.Fatalf("output %s: model %s %s was never in use", g.Value, so.ModelName, so.ModelVersion)
			}
			vec := make([]float64, len(features))
			for i, f := range features {
				vec[i] = math.NaN()
				if v := so.Features[f]; v != nil {
					vec[i] = *v
				}
			}
			if want := m.Predict(vec, nil)[0]; so.Score == nil || *so.Score != want {
				t.Fatalf("output %s: score is not %s's prediction %v on its features", g.Value, so.ModelVersion, want)
			}
			byVersion[so.ModelVersion]++
		}
	}
	if swaps.Load() < 5 || byVersion["v1"] == 0 || byVersion["v2"] == 0 {
		t.Fatalf("%d swaps, outputs by version %v: the swaps did not land between records", swaps.Load(), byVersion)
	}
	if n := byVersion["v1"] + byVersion["v2"]; n != w.good() {
		t.Fatalf("%d scored outputs, want one per good record (%d)", n, w.good())
	}
	t.Logf("swap: swaps=%d outputs_by_version=%v", swaps.Load(), byVersion)
}

// startWith is start with model sources.
func startWith(t testing.TB, def *pipeline.Definition, store *state.Store, inst *fakeInstance, model, shadow ModelSource) *running {
	t.Helper()
	return startConfig(t, def, store, inst, func(c *Config) { c.Model, c.Shadow = model, shadow })
}

// TestScoringErrors: a record whose prediction is not a finite number is a scoring error.
// By default it goes to the dead-letter topic with reason scoring and a message naming the
// model and the features; the records the model scores are written as usual; with skip, it
// is dropped and counted.
func TestScoringErrors(t *testing.T) {
	// reg:linear with a weight near the largest float64: amounts of 2 or more (in absolute
	// value) overflow to an infinite prediction.
	b, err := json.Marshal(map[string]any{
		"format": "kappa-linear", "version": 1, "objective": "reg:linear",
		"features": []string{"amount"}, "weights": []float64{1e308}, "intercept": 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := score.Parse("overflow.json", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, policy := range []pipeline.Policy{"", pipeline.PolicySkip} {
		t.Run(cmp.Or(string(policy), "dlq by default"), func(t *testing.T) {
			def := testDef(t, "scoring", true, "in")
			def.Operators = []pipeline.Operator{{Score: &pipeline.Score{Model: pipeline.ModelRef{File: "overflow.json", Name: "overflow"}, Features: []string{"amount"}}}}
			def.OnError.Scoring = policy
			def.ApplyDefaults()
			if err := def.Validate(); err != nil {
				t.Fatal(err)
			}
			k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 7, MaxPerTxn: 30})
			w := newWorkload(def)
			w.add(k, rand.New(rand.NewPCG(8, 9)), 300, 0)
			var scored, overflow int
			wantDead := map[string]bool{}
			for _, rs := range w.recs {
				for _, r := range rs {
					if p := m.Predict([]float64{r.amount}, nil)[0]; math.IsInf(p, 0) {
						overflow++
						wantDead[r.pos.String()] = true
					} else {
						scored++
					}
				}
			}
			if overflow == 0 || scored == 0 {
				t.Fatalf("the workload has %d records that overflow and %d that do not; want some of each", overflow, scored)
			}
			store := openStore(t, vfs.NewMem())
			defer store.Close()
			r := startWith(t, def, store, k.instance("pod-0", true), &testModels{m: m, name: "overflow", version: "v1"}, nil)
			waitConsumed(t, k, r)
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			var outs, dead int
			for p := range int32(2) {
				outs += len(k.records(def.Output.Topic, p))
				for _, d := range k.records(DeadLetterTopic(def), p) {
					dead++
					reason, _ := headerValue(d.Headers, HeaderReason)
					msg, _ := headerValue(d.Headers, HeaderMessage)
					pos, err := headerPosition(d.Headers)
					if err != nil || reason != ReasonScoring || !wantDead[pos.String()] ||
						!strings.HasPrefix(msg, "model overflow version v1 predicted +Inf (output 0) from features {\"amount\":") && !strings.HasPrefix(msg, "model overflow version v1 predicted -Inf") {
						t.Errorf("dead letter of %v (%v): reason %q message %q; want a scoring error of a record that overflows", pos, err, reason, msg)
					}
				}
			}
			wantDLQ := overflow
			if policy == pipeline.PolicySkip {
				wantDLQ = 0
				if got := testutil.ToFloat64(r.p.metrics.skipped.WithLabelValues(ReasonScoring)); int(got) != overflow {
					t.Errorf("skipped{reason=scoring}: got %v, want %d", got, overflow)
				}
			}
			if outs != scored || dead != wantDLQ {
				t.Errorf("got %d outputs and %d dead letters, want %d and %d", outs, dead, scored, wantDLQ)
			}
		})
	}
}
