// Package score loads models trained offline (XGBoost JSON, LightGBM text, kappa-linear
// JSON) and evaluates them on feature vectors, in pure Go.
//
// It must never read the wall clock, do network I/O, log, or import Kafka, Pebble, zap or
// Prometheus. Load is its only I/O: it reads the one file it is given. A given model file
// and feature vector always give the same score.
//
// # Formats
//
// Parse recognizes the format from the content:
//
//   - XGBoost JSON, written by Booster.save_model("model.json") (XGBoost 1.6 to 3.x), with
//     the gbtree booster and the objectives binary:logistic, reg:logistic,
//     reg:squarederror and multi:softprob. Scores are XGBoost's own: features are cast to
//     float32, a NaN feature takes the node's default_left direction, float32(x) <
//     split_condition goes left, margins are summed in float32 starting from base_score
//     (a number, or a list of one per class as XGBoost 3 writes it, "[5E-1]") turned into a
//     margin as XGBoost does (the logit for the logistic objectives), then the sigmoid or
//     softmax. Every tree of the file is used (a Booster's predict without
//     iteration_range). Categorical splits, vector leaves, dart and gblinear are rejected.
//   - LightGBM text, written by Booster.save_model("model.txt") (versions v2 to v4), with
//     one output (objectives binary, regression and the regression objectives sharing its
//     output: regression_l1, huber, fair, quantile, mape) and numerical splits, scored as
//     LightGBM does in float64: a value within kZeroThreshold (1e-35) of zero is zero; with
//     missing_type NaN a NaN feature takes the default direction of decision_type; with
//     missing_type Zero both zero and NaN take it; with missing_type None a NaN is 0;
//     otherwise x <= threshold goes left. The raw scores of all trees are summed and the
//     binary objective applies 1/(1+exp(-sigmoid*x)). Categorical splits, linear trees,
//     multiclass and random-forest (average_output) models are rejected, naming the tree and
//     node.
//   - kappa-linear JSON, Kappa's own format for logistic and linear regression, below.
//
// # The kappa-linear format
//
// A JSON object with exactly these members:
//
//	{
//	  "format": "kappa-linear",          // required
//	  "version": 1,                      // required; this package reads version 1
//	  "objective": "binary:logistic",    // or "reg:linear"
//	  "features": ["amount", "count_10m"],
//	  "weights": [0.0021, 0.43],         // one per feature
//	  "intercept": -3.2,
//	  "impute": [57.3, 1.9]              // optional: the value of a missing (NaN) feature; default 0
//	}
//
// The score is z = intercept + sum(weights[i] * x[i]), with a missing x[i] replaced by
// impute[i]; binary:logistic outputs 1/(1+exp(-z)), reg:linear outputs z. Feature names
// must be unique and non-empty. A member that is not listed above is an error, so that a
// typo never yields a model without its weights. A scikit-learn pipeline of SimpleImputer,
// StandardScaler and LogisticRegression (or LinearRegression) is exported by folding the
// scaler into the weights and the imputer's statistics into impute: see save_linear in
// testdata/train.py.
//
// # Feature vectors
//
// A feature vector has exactly NumFeatures values in the order of FeatureNames; NaN is
// missing. Predict panics on a vector of another length: that is a bug in the caller, which
// builds the vector for the model, not bad data. ±Inf is a value, not missing (XGBoost
// refuses ±Inf and values beyond float32's range in its input; here they go right).
//
// # Errors
//
// A file that is not a valid, supported model gives an error wrapping ErrInvalidModel that
// names the file and where the problem is: the line and column of a JSON syntax error, the
// JSON path of a bad member (learner.gradient_booster.model.trees[3].split_indices[7]), the
// line and tree of a LightGBM text model (model.txt:41: Tree=3: ...).
//
// # Parity
//
// testdata/train.py trains models with XGBoost, LightGBM and scikit-learn on data with
// missing values and records the libraries' predictions; TestParity checks that every
// score here is within 1e-6 of theirs (in practice XGBoost's are bit-identical).
package score
