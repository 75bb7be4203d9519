package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/score"
)

var seed = flag.Uint64("seed", 2, "the generator's seed for TestModelSeparatesFraud (the model was trained on seed 1)")

// TestModelSeparatesFraud scores fresh records (another seed than the training set's) with
// the committed model, from the features the pipeline computes, as the score operator will.
//
// The bounds: the pattern makes about 1/6 of the frauds indistinguishable (amounts of 200
// to 500 while the cardholder also buys at that level, see gen.Fraud), so the best model
// scores them low and its mean score on frauds cannot be much above 5/6 + 1/6*0.3 ≈ 0.88;
// train.py measured 0.867 on held-out rows. At least 0.8 leaves room for another seed and
// the warm-up minute, which is a large part of a short stream. Legitimate records score
// 0.003 on average there; below 0.02 still fails a model that flags even 2% of them.
// Precision at the alert threshold was 0.997: at least 0.98 here.
func TestModelSeparatesFraud(t *testing.T) {
	t.Logf("seed %d (-seed to change)", *seed)
	m, err := score.Load("../model.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := pipeline.Load(pipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	s := def.ScoreOp()
	if m.NumFeatures() != len(s.Features) || strings.Join(m.FeatureNames(), ",") != strings.Join(s.Features, ",") {
		t.Fatalf("model features %v, want the pipeline's %v", m.FeatureNames(), s.Features)
	}
	x, err := newExtractor(def)
	if err != nil {
		t.Fatal(err)
	}
	c := demoCards(def, *seed, 2000, 4)
	var sum [2]float64
	var n [2]int
	var alerts, trueAlerts int
	out := make([]float64, 0, 1)
	err = x.each(&c, 0, 240_000, func(_ int64, features []float64, _, fraud bool) {
		p := m.Predict(features, out[:0])[0]
		k := 0
		if fraud {
			k = 1
		}
		sum[k] += p
		n[k]++
		if p >= s.Alert.Threshold {
			alerts++
			if fraud {
				trueAlerts++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fraudMean, legitMean := sum[1]/float64(n[1]), sum[0]/float64(n[0])
	precision := float64(trueAlerts) / float64(alerts)
	t.Logf("records=%d frauds=%d mean score: fraud=%.4f not fraud=%.4f; alerts=%d precision=%.4f recall=%.4f",
		n[0]+n[1], n[1], fraudMean, legitMean, alerts, precision, float64(trueAlerts)/float64(n[1]))
	if n[1] < 2000 {
		t.Errorf("frauds: got %d, want at least 2000 (2%% of the records)", n[1])
	}
	if fraudMean < 0.8 {
		t.Errorf("mean score of frauds: got %.4f, want at least 0.8", fraudMean)
	}
	if legitMean > 0.02 {
		t.Errorf("mean score of legitimate records: got %.4f, want at most 0.02", legitMean)
	}
	if precision < 0.98 {
		t.Errorf("precision of alerts (score >= %g): got %.4f, want at least 0.98", s.Alert.Threshold, precision)
	}
}
