package score_test

import (
	"fmt"
	"math"

	"github.com/kappa-stream/kappa/score"
)

// A kappa-linear logistic model: the score of a transaction from its amount and the card's
// transaction count over the last 10 minutes, with a missing count imputed.
func ExampleParse() {
	model, err := score.Parse("fraud.json", []byte(`{
		"format": "kappa-linear", "version": 1, "objective": "binary:logistic",
		"features": ["amount", "count_10m"],
		"weights": [0.002, 0.8],
		"intercept": -4,
		"impute": [0, 1]
	}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(model.Kind(), model.Objective(), model.FeatureNames())
	out := make([]float64, 0, 1) // reused across records: Predict does not allocate
	for _, x := range [][]float64{{120, 1}, {900, 6}, {900, math.NaN()}} {
		out = model.Predict(x, out[:0])
		fmt.Printf("%v -> %.4f\n", x, out[0])
	}
	// Output:
	// logistic binary:logistic [amount count_10m]
	// [120 1] -> 0.0493
	// [900 6] -> 0.9309
	// [900 NaN] -> 0.1978
}

// An XGBoost model saved with Booster.save_model("model.json"); Load detects the format.
func ExampleLoad() {
	model, err := score.Load("testdata/tiny_xgb.json")
	if err != nil {
		panic(err)
	}
	fmt.Println(model.Kind(), model.Objective(), model.NumFeatures(), model.FeatureNames())
	fmt.Printf("%.6f\n", model.Predict([]float64{50, math.NaN()}, nil))
	// Output:
	// xgboost binary:logistic 2 [amount count]
	// [0.437824]
}
