#!/usr/bin/env python3
"""Trains the parity models of package score and records the libraries' own predictions.

Run from the repository root (versions pinned in requirements.txt):

    python3 -m venv .venv && .venv/bin/pip install -r score/testdata/requirements.txt
    .venv/bin/python score/testdata/train.py

It writes, next to this script:

  heldout.csv     the held-out feature vectors (header f0..f4; "nan" is missing), including
                  rows whose values sit exactly on (and one float64 step beside) split
                  thresholds of the models, tiny values and signed zeros;
  <model files>   XGBoost JSON (Booster.save_model), LightGBM text (Booster.save_model) and
                  kappa-linear JSON (exported here from scikit-learn);
  tiny.json       the predictions of the hand-written tiny_xgb.json and tiny_lgb.txt;
  parity.json     for each model: its file, output width and the library's predictions on
                  heldout.csv, made by a booster loaded back from the saved file.

Everything is deterministic (fixed seeds, one thread), so rerunning it with the pinned
versions reproduces the committed files. TestParity (parity_test.go) compares them with Go.
"""

import gzip
import json
import os

import lightgbm as lgb
import numpy as np
import sklearn
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

OUT = os.path.dirname(os.path.abspath(__file__))
SEED = 20240605
FEATURES = ["f0", "f1", "f2", "f3", "f4"]


def make_data(rng, n, nan_in_f3):
    """Five features with missing values (NaN) whose pattern carries signal.

    f0, f1: normal, 15% and 10% missing. f2: small counts, many exact zeros, 5% missing.
    f3: normal, missing only in the held-out set (so LightGBM's missing_type is None for it
    and XGBoost's default direction was never trained). f4: log-normal amount, 5% missing.
    """
    f0 = rng.normal(size=n)
    f1 = rng.normal(size=n)
    f2 = rng.poisson(0.8, size=n).astype(float)
    f3 = rng.normal(size=n)
    f4 = rng.lognormal(3.0, 1.0, size=n)
    f0[rng.random(n) < 0.15] = np.nan
    f1[rng.random(n) < 0.10] = np.nan
    f2[rng.random(n) < 0.05] = np.nan
    if nan_in_f3:
        f3[rng.random(n) < 0.15] = np.nan
    f4[rng.random(n) < 0.05] = np.nan
    X = np.column_stack([f0, f1, f2, f3, f4])
    z = (
        1.2 * np.where(np.isnan(f0), 1.5, f0)
        - 0.8 * np.where(np.isnan(f1), -1.0, f1)
        + 0.9 * (np.nan_to_num(f2, nan=-1.0) == 0)
        + 0.7 * np.nan_to_num(f3)
        + 0.4 * (np.log(np.nan_to_num(f4, nan=20.0)) - 3.0)
    )
    return X, z


def labels(rng, z, X):
    n = len(z)
    p = 1.0 / (1.0 + np.exp(-z))
    y_bin = (rng.random(n) < p).astype(int)
    y_reg = 3.0 * z + rng.normal(scale=0.5, size=n) + 10.0
    y_prob = p  # continuous targets in [0, 1] for reg:logistic
    s = np.column_stack([z, -z, 0.8 * np.nan_to_num(X[:, 3]) + 0.5 * np.nan_to_num(X[:, 2])])
    s += rng.gumbel(size=s.shape)
    y_multi = s.argmax(axis=1)
    return y_bin, y_reg, y_prob, y_multi


def xgb_thresholds(booster):
    """(feature, float32 split condition) of every numerical split."""
    model = json.loads(booster.save_raw("json"))
    out = []
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(tree["left_children"]):
            if left != -1:
                out.append((tree["split_indices"][i], float(np.float32(tree["split_conditions"][i]))))
    return out


def lgb_thresholds(booster):
    """(feature, float64 threshold) of every split."""
    out = []
    for tree in booster.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                out.append((node["split_feature"], float(node["threshold"])))
                stack += [node["left_child"], node["right_child"]]
    return out


def edge_rows(rng, base, splits, k, steps):
    """Rows of base with one feature set exactly to a split value, or a float64 step beside it."""
    rows = []
    for j in rng.choice(len(splits), size=min(k, len(splits)), replace=False):
        feature, value = splits[j]
        for step in steps:
            row = base[rng.integers(len(base))].copy()
            v = value
            if step < 0:
                v = np.nextafter(value, -np.inf)
            elif step > 0:
                v = np.nextafter(value, np.inf)
            row[feature] = v
            rows.append(row)
    return rows


def fmt(v):
    return repr(float(v))


def save_xgb(name, params, dtrain, rounds, gz=False):
    params = dict(params, seed=SEED, nthread=1, tree_method="hist")
    booster = xgb.train(params, dtrain, num_boost_round=rounds)
    path = os.path.join(OUT, name + ".json")
    booster.save_model(path)
    loaded = xgb.Booster(model_file=path)
    if gz:
        with open(path, "rb") as f:
            raw = f.read()
        os.remove(path)
        path += ".gz"
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(raw)
    return loaded, os.path.basename(path)


def save_lgb(name, params, X, y, rounds, gz=False):
    params = dict(params, seed=SEED, num_threads=1, deterministic=True, verbose=-1)
    booster = lgb.train(params, lgb.Dataset(X, label=y, feature_name=FEATURES), num_boost_round=rounds)
    path = os.path.join(OUT, name + ".txt")
    booster.save_model(path)
    loaded = lgb.Booster(model_file=path)
    if gz:
        with open(path, "rb") as f:
            raw = f.read()
        os.remove(path)
        path += ".gz"
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(raw)
    return loaded, os.path.basename(path)


def save_linear(name, objective, pipe, X):
    """Exports imputer + scaler + linear model as one kappa-linear file.

    The scaler is folded into the weights (w/s, intercept - sum(w*m/s)), and the imputer's
    means become "impute": the value a missing feature takes.
    """
    imputer, scaler, est = pipe.steps[0][1], pipe.steps[1][1], pipe.steps[2][1]
    coef = np.ravel(est.coef_)
    intercept = float(np.ravel([est.intercept_])[0])
    weights = coef / scaler.scale_
    intercept -= float(np.sum(coef * scaler.mean_ / scaler.scale_))
    doc = {
        "format": "kappa-linear",
        "version": 1,
        "objective": objective,
        "features": FEATURES,
        "weights": [float(w) for w in weights],
        "intercept": intercept,
        "impute": [float(v) for v in imputer.statistics_],
    }
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return os.path.basename(path)


def main():
    rng = np.random.default_rng(SEED)
    X, z = make_data(rng, 3000, nan_in_f3=False)
    y_bin, y_reg, y_prob, y_multi = labels(rng, z, X)
    X_test, _ = make_data(rng, 200, nan_in_f3=True)

    def dm(y):
        return xgb.DMatrix(X, label=y, feature_names=FEATURES)

    models = []  # (name, file, predict(X) -> 2-D array)

    def xgb_model(name, params, y, rounds, gz=False):
        booster, file = save_xgb(name, params, dm(y), rounds, gz)
        pred = lambda A: booster.predict(xgb.DMatrix(A, feature_names=FEATURES))
        models.append((name, file, pred, xgb_thresholds(booster)))

    def lgb_model(name, params, y, rounds, gz=False):
        booster, file = save_lgb(name, params, X, y, rounds, gz)
        models.append((name, file, booster.predict, lgb_thresholds(booster)))

    xgb_model("xgb_binary", {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3}, y_bin, 10)
    xgb_model("xgb_reg", {"objective": "reg:squarederror", "max_depth": 4, "eta": 0.3}, y_reg, 10)
    # base_score given explicitly: stored as "[5E-1]", transformed to a margin of 0.
    xgb_model(
        "xgb_reglogistic",
        {"objective": "reg:logistic", "max_depth": 3, "eta": 0.3, "base_score": 0.5},
        y_prob,
        10,
    )
    xgb_model(
        "xgb_multi",
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3},
        y_multi,
        5,
    )
    xgb_model(
        "xgb_bench_100x6",
        {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "max_bin": 32},
        y_bin,
        100,
        gz=True,
    )
    lgb_model("lgb_binary", {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 10}, y_bin, 10)
    # zero_as_missing gives every split missing_type Zero: 0 and NaN take the default side.
    lgb_model(
        "lgb_reg",
        {"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 10, "zero_as_missing": True},
        y_reg,
        10,
    )
    lgb_model(
        "lgb_bench_500",
        {"objective": "binary", "num_leaves": 8, "learning_rate": 0.05, "min_data_in_leaf": 20, "max_bin": 31},
        y_bin,
        500,
        gz=True,
    )

    logit = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), LogisticRegression(C=1.0))
    logit.fit(X, y_bin)
    models.append(
        ("linear_binary", save_linear("linear_binary", "binary:logistic", logit, X), lambda A: logit.predict_proba(A)[:, 1], [])
    )
    linreg = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), LinearRegression())
    linreg.fit(X, y_reg)
    models.append(("linear_reg", save_linear("linear_reg", "reg:linear", linreg, X), linreg.predict, []))

    # Held-out rows: 200 fresh rows, then edge rows on split values of every tree model, then
    # hand-made rows: all missing, tiny values (LightGBM's kZeroThreshold), signed zeros.
    rows = list(X_test)
    for _, _, _, splits in models:
        if splits:
            rows += edge_rows(rng, X_test, splits, 12, (-1, 0, 1))
    nan = np.nan
    rows += [
        np.array([nan, nan, nan, nan, nan]),
        np.array([0.0, 0.0, 0.0, 0.0, 0.0]),
        np.array([-0.0, -0.0, -0.0, -0.0, -0.0]),
        np.array([1e-40, -1e-40, 1e-36, -1e-36, 1e-300]),
        np.array([nan, 1e-36, 0.0, nan, 0.0]),
        np.array([1e6, -1e6, 1e6, -1e6, 1e6]),  # beyond every split; small enough for the linear models
        # LightGBM's kZeroThreshold (1e-35f): its predictor turns |x| <= it into 0, which
        # matters when a threshold is -kZeroThreshold, a common bin boundary.
        np.full(5, float(np.float32(1e-35))),
        np.full(5, -float(np.float32(1e-35))),
        np.full(5, np.nextafter(-float(np.float32(1e-35)), -np.inf)),
    ]
    H = np.array(rows)

    with open(os.path.join(OUT, "heldout.csv"), "w") as f:
        f.write(",".join(FEATURES) + "\n")
        for row in H:
            f.write(",".join(fmt(v) for v in row) + "\n")

    parity = {
        "versions": {
            "xgboost": xgb.__version__,
            "lightgbm": lgb.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "models": [],
    }
    for name, file, pred, _ in models:
        p = np.asarray(pred(H))
        # XGBoost predicts float32: its shortest repr parses back exactly as a float32.
        bits = 32 if p.dtype == np.float32 else 64
        if p.ndim == 1:
            p = p[:, None]
        parity["models"].append(
            {
                "name": name,
                "file": file,
                "outputs": int(p.shape[1]),
                "bits": bits,
                "predictions": [repr(v) for v in p.ravel().tolist()] if bits == 64 else [str(v) for v in p.ravel()],
            }
        )
    with open(os.path.join(OUT, "parity.json"), "w") as f:
        json.dump(parity, f, separators=(",", ":"))
        f.write("\n")
    print("rows=%d models=%d" % (len(H), len(models)))
    tiny()


def tiny():
    """Predicts with the two hand-written models tiny_xgb.json and tiny_lgb.txt (two features,
    amount and count) on rows that each exercise one rule, into tiny.json.

    tiny_xgb: tree 0 amount < 100 (NaN goes left): -0.5 else 0.5; tree 1 count < 3 (NaN goes
    right): -0.25 else 0.25; base_score 0.5. Features are float32: 99.99999 < 100 but
    2.9999999 rounds to 3.
    tiny_lgb: tree 0 amount <= 100 (missing_type NaN, default left), then count <= 3.5
    (missing_type Zero, default right): -0.5 else 0.25; amount > 100: 0.5; tree 1 is one
    leaf, 0.125. 0 and NaN counts are missing; a NaN amount is missing; |x| <= 1e-35 is 0.
    """
    nan = np.nan
    rows = [
        [50, 1], [50, 5], [150, 1], [150, 5], [nan, 1], [nan, nan], [100, 3],
        [99.99999, 2.9999999], [0, 0], [50, 0], [50, nan], [150, nan], [1e-36, 3.5],
        [-1e-40, 3.50000001], [-1e-35, 3.5],
    ]
    X = np.array(rows, dtype=float)
    names = ["amount", "count"]
    xb = xgb.Booster(model_file=os.path.join(OUT, "tiny_xgb.json"))
    lb = lgb.Booster(model_file=os.path.join(OUT, "tiny_lgb.txt"))
    doc = {
        "rows": [[fmt(v) for v in r] for r in X],
        "tiny_xgb.json": [str(v) for v in xb.predict(xgb.DMatrix(X, feature_names=names))],
        "tiny_lgb.txt": [repr(float(v)) for v in lb.predict(X)],
    }
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
