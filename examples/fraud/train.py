#!/usr/bin/env python3
"""Trains the fraud model of examples/fraud from the CSV that features/main.go writes.

Run from the repository root (versions pinned in requirements.txt):

    python3 -m venv .venv && .venv/bin/pip install -r examples/fraud/requirements.txt
    go run ./examples/fraud/features -n 1000000 > /tmp/f.csv
    .venv/bin/python examples/fraud/train.py /tmp/f.csv

The CSV has one column per feature of the pipeline's score operator, in its order and named
as the pipeline names them ("NaN" is missing), then "label". The rows are in stream order,
so the last fifth is held out: the model is judged on later transactions, and on cards
compromised after the ones it learnt from. The script writes model.json next to itself
(XGBoost JSON, binary:logistic, the feature names of the header) and prints the held-out
AUC, and precision and recall at 0.5 and at the pipeline's alert threshold.

It is deterministic (fixed seed, one thread): with the pinned versions, the same CSV gives
the same model.json.
"""

import os
import sys

import numpy as np
import xgboost as xgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.json")
HELD_OUT = 0.2
ALERT_THRESHOLD = 0.9  # fraud.yaml's alert.threshold
PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 4,
    "eta": 0.3,
    "tree_method": "hist",
    "eval_metric": "auc",
    "nthread": 1,
    "seed": 1,
}
ROUNDS = 50


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header[-1] != "label":
        sys.exit(f"{path}: the last column is {header[-1]!r}; want label")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return header[:-1], data[:, :-1], data[:, -1]


def auc(y, p):
    """The area under the ROC curve: the chance a fraud scores above a non-fraud (ties half)."""
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ps = p[order]
    # Average ranks over ties.
    i = 0
    while i < len(ps):
        j = i
        while j + 1 < len(ps) and ps[j + 1] == ps[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def report(name, y, p):
    print(f"{name}: n={len(y)} fraud={int(y.sum())} auc={auc(y, p):.4f}", end="")
    for t in (0.5, ALERT_THRESHOLD):
        hit = p >= t
        tp = int((hit & (y == 1)).sum())
        precision = tp / max(1, int(hit.sum()))
        recall = tp / max(1, int(y.sum()))
        print(f" | threshold={t}: precision={precision:.4f} recall={recall:.4f}", end="")
    print(f" | mean score: fraud={p[y == 1].mean():.4f} not fraud={p[y == 0].mean():.4f}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: train.py FEATURES.csv")
    names, x, y = load(sys.argv[1])
    cut = int(len(y) * (1 - HELD_OUT))
    train = xgb.DMatrix(x[:cut], label=y[:cut], feature_names=names, missing=np.nan)
    test = xgb.DMatrix(x[cut:], label=y[cut:], feature_names=names, missing=np.nan)
    booster = xgb.train(PARAMS, train, ROUNDS)
    booster.save_model(OUT)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes): {ROUNDS} trees of depth {PARAMS['max_depth']} on {names}")
    # Judge the saved model, as Kappa will load it.
    saved = xgb.Booster(model_file=OUT)
    report("train", y[:cut], saved.predict(train))
    report("held out", y[cut:], saved.predict(test))


if __name__ == "__main__":
    main()
