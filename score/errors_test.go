package score_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/score"
)

// TestParseErrors: a file that is not a valid, supported model gives an error wrapping
// ErrInvalidModel that names the file and where the problem is.
func TestParseErrors(t *testing.T) {
	xgbModel := string(readTestdata(t, "tiny_xgb.json"))
	lgbModel := string(readTestdata(t, "tiny_lgb.txt"))
	linModel := `{"format":"kappa-linear","version":1,"objective":"binary:logistic","features":["a","b"],"weights":[1,2],"intercept":0}`
	xgb := func(pairs ...string) string { return replaceAll(t, xgbModel, pairs...) }
	lgb := func(pairs ...string) string { return replaceAll(t, lgbModel, pairs...) }
	lin := func(pairs ...string) string { return replaceAll(t, linModel, pairs...) }
	const tree0 = "learner.gradient_booster.model.trees[0]"

	for _, tc := range []struct {
		name, data, want string
	}{
		// Any format.
		{"empty", " \n", "m: empty file: want an XGBoost JSON, LightGBM text or kappa-linear JSON model"},
		{"unknown format", "hello", `m: unrecognized format: want an XGBoost JSON model (Booster.save_model("model.json")), a LightGBM text model (Booster.save_model("model.txt")) or a kappa-linear JSON model`},
		{"UBJSON", "{L\x00\x00\x00\x00\x00\x00\x00\x07learner{", `m: binary data, not JSON: for an XGBoost UBJSON model (.ubj), save it with Booster.save_model("model.json")`},
		{"legacy binary", "binf\x00\x00\x00?", `m: binary data: for an XGBoost model in UBJSON or the legacy binary format, save it with Booster.save_model("model.json")`},
		{"truncated JSON", xgbModel[:200], "m:2:102: invalid JSON: unexpected end of input (truncated file?)"},
		{"JSON syntax", "{\n  \"learner\": ,\n}", "m:2:14: invalid JSON: invalid character ',' looking for beginning of value"},
		{"data after JSON", linModel + "\n{}", "m:2:1: invalid JSON: data after the top-level value"},
		{"other JSON", `{"model": {}}`, `m: JSON object with neither "learner" (an XGBoost model) nor "format" (a kappa-linear model)`},

		// XGBoost JSON.
		{"xgb learner type", `{"learner": []}`, "m: learner: want an object, got an array"},
		{
			"xgb wrong type", xgb(`"num_feature":"2","num_target"`, `"num_feature":2,"num_target"`),
			"m: learner.learner_model_param.num_feature: want an integer in a string, got the number 2",
		},
		{
			"xgb missing objective", xgb(`"name":"binary:logistic",`, ``),
			"m: learner.objective.name: missing: want a string",
		},
		{
			"xgb unknown objective", xgb(`"binary:logistic"`, `"multi:softmax"`),
			`m: learner.objective.name: unsupported objective "multi:softmax" (supported: binary:logistic, reg:logistic, reg:squarederror, multi:softprob)`,
		},
		{
			"xgb dart", xgb(`"name":"gbtree"`, `"name":"dart"`),
			`m: learner.gradient_booster.name: booster "dart" is not supported: want gbtree`,
		},
		{
			"xgb categorical split", xgb(`"split_type":[0,0,0]`, `"split_type":[1,0,0]`),
			"m: " + tree0 + ": node 0: categorical split (split_type 1) is not supported",
		},
		{
			"xgb child out of range", xgb(`"left_children":[1,-1,-1]`, `"left_children":[7,-1,-1]`),
			"m: " + tree0 + ".left_children[0]: want an integer in [-1, 2], got 7",
		},
		{
			"xgb array too short", xgb(`"split_conditions":[100.0,-0.5,0.5]`, `"split_conditions":[100.0,-0.5]`),
			"m: " + tree0 + ".split_conditions: want 3 values, got 2",
		},
		{
			"xgb feature out of range", xgb(`"split_indices":[1,0,0]`, `"split_indices":[2,0,0]`),
			"m: learner.gradient_booster.model.trees[1]: node 0 splits on feature 2, but the model has 2 features",
		},
		{
			"xgb cycle", xgb(`"left_children":[1,-1,-1]`, `"left_children":[1,0,-1]`, `"right_children":[2,-1,-1]`, `"right_children":[2,2,-1]`),
			"m: " + tree0 + ": node 0 is reached twice: the children arrays do not form a tree",
		},
		{
			"xgb no right child", xgb(`"right_children":[2,-1,-1]`, `"right_children":[-1,-1,-1]`),
			"m: " + tree0 + ": node 0 has a left child but no right child",
		},
		{
			"xgb string number", xgb(`"split_conditions":[100.0,`, `"split_conditions":["100",`),
			"m: " + tree0 + `.split_conditions[0]: want a number, got the string "100"`,
		},
		{
			"xgb tree_info", xgb(`"tree_info":[0,0]`, `"tree_info":[0,1]`),
			"m: learner.gradient_booster.model.tree_info[1]: want an integer in [0, 0], got 1",
		},
		{
			"xgb num_trees", xgb(`"num_trees":"2"`, `"num_trees":"3"`),
			"m: learner.gradient_booster.model.gbtree_model_param.num_trees: 3 trees, but the trees array has 2",
		},
		{
			"xgb base_score not a number", xgb(`"[5E-1]"`, `"[half]"`),
			`m: learner.learner_model_param.base_score: want a number or a list of numbers, got "[half]"`,
		},
		{
			"xgb base_score out of (0,1)", xgb(`"[5E-1]"`, `"[1.5E0]"`),
			"m: learner.learner_model_param.base_score: base_score 1.5 of a logistic objective must be in (0, 1)",
		},
		{
			"xgb base_score count", xgb(`"[5E-1]"`, `"[5E-1,5E-1]"`),
			"m: learner.learner_model_param.base_score: 2 values for 1 outputs",
		},
		{
			"xgb softprob without classes", xgb(`"binary:logistic"`, `"multi:softprob"`),
			"m: learner.learner_model_param.num_class: multi:softprob needs num_class >= 2, got 0",
		},
		{
			"xgb multi-target", xgb(`"num_target":"1"`, `"num_target":"2"`),
			"m: learner.learner_model_param.num_target: 2 targets: multi-target models are not supported",
		},
		{
			"xgb vector leaf", xgb(`"size_leaf_vector":"1"`, `"size_leaf_vector":"3"`),
			"m: " + tree0 + ".tree_param.size_leaf_vector: vector leaves (multi_strategy=multi_output_tree) are not supported",
		},
		{
			"xgb feature names", xgb(`"feature_names":["amount","count"]`, `"feature_names":["amount"]`),
			"m: learner.feature_names: 1 names for 2 features (learner_model_param.num_feature)",
		},

		// LightGBM text.
		{"lgb not a model", "tree\nversion=v4\n", "m:2: header: missing num_class"},
		{
			"lgb multiclass", lgb("num_class=1", "num_class=3"),
			"m:3: num_class=3: only models with one output (binary, regression) are supported",
		},
		{
			"lgb unknown objective", lgb("objective=binary sigmoid:1", "objective=lambdarank"),
			`m:7: unsupported objective "lambdarank" (supported: binary, regression, regression_l1, huber, fair, quantile, mape)`,
		},
		{
			"lgb categorical split", lgb("decision_type=10 4", "decision_type=10 5"),
			"m:17: Tree=0: node 1: categorical split (decision_type 5) is not supported",
		},
		{
			"lgb child out of range", lgb("left_child=1 -1", "left_child=1 -9"),
			`m:18: Tree=0: left_child: value 1: want an integer in [-3, 1], got "-9"`,
		},
		{
			"lgb threshold count", lgb("threshold=100 3.5", "threshold=100"),
			"m:16: Tree=0: threshold: want 2 values, got 1",
		},
		{
			"lgb threshold not a number", lgb("threshold=100 3.5", "threshold=100 abc"),
			`m:16: Tree=0: threshold: value 1: want a number, got "abc"`,
		},
		{
			"lgb feature out of range", lgb("split_feature=0 1", "split_feature=0 2"),
			"m:14: Tree=0: node 1 splits on feature 2, but the model has 2 features (max_feature_idx=1)",
		},
		{
			"lgb tree numbering", lgb("Tree=1", "Tree=2"),
			`m:30: want Tree=1, got "Tree=2"`,
		},
		{
			"lgb truncated", lgbModel[:strings.Index(lgbModel, "Tree=1")],
			`m:30: truncated: no "end of trees" line after 1 trees`,
		},
		{
			"lgb truncated tree", lgbModel[:strings.Index(lgbModel, "leaf_value=-0.5")],
			"m:11: Tree=0: missing leaf_value",
		},
		{
			"lgb shared leaf", lgb("right_child=-3 -2", "right_child=-3 -1"),
			"m:18: Tree=0: leaf 0 is reached twice: left_child and right_child do not form a tree",
		},
		{
			"lgb linear tree", lgb("is_linear=0\nshrinkage=1\n\n\nTree=1", "is_linear=1\nshrinkage=1\n\n\nTree=1"),
			"m:26: Tree=0: linear trees (is_linear=1) are not supported",
		},
		{
			"lgb random forest", lgb("objective=binary sigmoid:1\n", "objective=binary sigmoid:1\naverage_output\n"),
			"m:8: average_output (boosting=rf) is not supported",
		},
		{
			"lgb feature names", lgb("feature_names=amount count", "feature_names=amount"),
			"m:8: feature_names: 1 names for 2 features (max_feature_idx=1)",
		},

		// kappa-linear JSON.
		{
			"linear unknown member", lin(`"weights"`, `"weight"`),
			"m: weight: unknown member (a kappa-linear model has format, version, objective, features, weights, intercept and impute)",
		},
		{
			"linear format", lin(`"kappa-linear"`, `"kappa-linear2"`),
			`m: format: unknown format "kappa-linear2": want "kappa-linear"`,
		},
		{
			"linear version", lin(`"version":1`, `"version":2`),
			"m: version: unsupported version 2: this Kappa reads version 1",
		},
		{
			"linear objective", lin(`"binary:logistic"`, `"reg:logistic"`),
			`m: objective: unsupported objective "reg:logistic" (supported: binary:logistic, reg:linear)`,
		},
		{
			"linear weights count", lin(`"weights":[1,2]`, `"weights":[1]`),
			"m: weights: want 2 values, got 1",
		},
		{
			"linear weight type", lin(`"weights":[1,2]`, `"weights":[1,null]`),
			"m: weights[1]: want a number, got null",
		},
		{
			"linear intercept", lin(`"intercept":0`, `"intercept":"0"`),
			`m: intercept: want a number, got the string "0"`,
		},
		{
			"linear duplicate feature", lin(`["a","b"]`, `["a","a"]`),
			`m: features: features 0 and 1 are both named "a"`,
		},
		{
			"linear impute count", lin(`"intercept":0`, `"intercept":0,"impute":[0]`),
			"m: impute: want 2 values, got 1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := score.Parse("m", []byte(tc.data))
			if err == nil {
				t.Fatalf("Parse succeeded (%s model), want error %q", m.Kind(), tc.want)
			}
			if !errors.Is(err, score.ErrInvalidModel) {
				t.Errorf("error %v does not wrap ErrInvalidModel", err)
			}
			if got, want := err.Error(), "score: invalid model: "+tc.want; got != want {
				t.Errorf("got error\n  %s\nwant\n  %s", got, want)
			}
		})
	}
}

// replaceAll applies old, new pairs to s, each of which must match.
func replaceAll(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		s = replaceOnce(t, s, pairs[i], pairs[i+1])
	}
	return s
}
