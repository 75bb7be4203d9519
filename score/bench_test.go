package score_test

import (
	"testing"
)

// BenchmarkPredict measures one prediction (ns/op) with the committed models, cycling
// through the held-out rows (a fifth of their values are missing). xgboost-100x6 is a
// binary:logistic model of 100 trees of depth 6; lightgbm-500 a binary model of 500 trees
// of 8 leaves; both have 5 features.
func BenchmarkPredict(b *testing.B) {
	_, rows := heldout(b)
	for _, bc := range []struct{ name, file string }{
		{"xgboost-100x6", "xgb_bench_100x6.json.gz"},
		{"lightgbm-500", "lgb_bench_500.txt.gz"},
		{"xgboost-multi-3x5x3", "xgb_multi.json"},
		{"logistic-5", "linear_binary.json"},
	} {
		m := loadTestModel(b, bc.file)
		b.Run(bc.name, func(b *testing.B) {
			out := make([]float64, 0, 8)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out = m.Predict(rows[i], out[:0])
				if i++; i == len(rows) {
					i = 0
				}
			}
		})
	}
}
