package score_test

import (
	"errors"
	"math"
	"testing"

	"github.com/kappa-stream/kappa/score"
)

// FuzzParse: Parse never panics, every error wraps ErrInvalidModel, and a model it accepts
// predicts without panicking and with a stable number of outputs. Run it with
//
//	go test -run '^$' -fuzz FuzzParse -parallel 1 ./score
func FuzzParse(f *testing.F) {
	for _, file := range []string{
		"tiny_xgb.json", "tiny_lgb.txt", "linear_binary.json", "xgb_multi.json", "lgb_reg.txt",
	} {
		data := readTestdata(f, file)
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte(`{"format":"kappa-linear","version":1,"objective":"reg:linear","features":[],"weights":[],"intercept":1}`))
	f.Add([]byte("tree\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=regression\n\nTree=0\nnum_leaves=1\nleaf_value=1\n\nend of trees\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := score.Parse("fuzz", data)
		if err != nil {
			if !errors.Is(err, score.ErrInvalidModel) {
				t.Fatalf("error %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		switch m.Kind() {
		case "xgboost", "lightgbm", "logistic":
		default:
			t.Fatalf("Kind() = %q", m.Kind())
		}
		n := m.NumFeatures()
		if n < 0 || n > 1<<16 {
			return // valid, but too wide to score here
		}
		if names := m.FeatureNames(); names != nil && len(names) != n {
			t.Fatalf("%d feature names for %d features", len(names), n)
		}
		width := -1
		for _, v := range []float64{math.NaN(), 0, 1, -1, 1e-36, math.Inf(1)} {
			x := make([]float64, n)
			for i := range x {
				x[i] = v
			}
			out := m.Predict(x, nil)
			if width >= 0 && len(out) != width {
				t.Fatalf("Predict gave %d outputs, then %d", width, len(out))
			}
			width = len(out)
		}
		if width < 1 {
			t.Fatalf("Predict gave %d outputs", width)
		}
	})
}
