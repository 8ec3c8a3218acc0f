"""Trains XGBoost and LightGBM models and writes their own predictions, for
verge's tree parity test (host/tests/all/trees_parity.rs) to hold verge to.

    python tests/trees/parity.py OUT_DIR [HORSE_COLIC_DATA]

Run with the venv of scripts/trees-venv (pinned xgboost, lightgbm, numpy). Data:

- a generated set, seeded: 50,000 rows x 30 features, 10% NaN, half the
  features on a 0.1 grid (so rows sit exactly on split thresholds), feature 29
  an integer code 0..9; 3 classes from a fixed score, a binary label (class 2)
  and a regression target;
- the UCI horse-colic training file (optional second argument): 21 numeric
  columns (`?` missing), "surgical lesion" as the binary label and "outcome"
  as the 3-class label.

Each case trains one model (1 to 500 trees, depth up to 10), saves it in the
library's own format (XGBoost JSON, LightGBM model.txt), and predicts on an
evaluation matrix: the first rows of its data, plus "probe" rows whose values
are replaced by the model's own split thresholds (read back from the saved
file), with NaN kept. Writes OUT_DIR/manifest.json and per case `<name>.x`
(rows of floats, `nan` for missing) and `<name>.pred` (one row per input row:
probabilities, or the value). Floats are written with repr, which round-trips.
"""

import json
import pathlib
import sys

import lightgbm as lgb
import numpy as np
import xgboost as xgb

ROWS = 50_000
FEATURES = 30
EVAL_ROWS = 3_000
PROBE_ROWS = 1_000


def generated():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(ROWS, FEATURES))
    x[:, :15] = np.round(x[:, :15], 1)
    x[:, 29] = rng.integers(0, 10, size=ROWS)
    clean = x.copy()
    x[rng.random(x.shape) < 0.1] = np.nan
    score = (
        clean[:, 0]
        + 0.5 * clean[:, 1]
        - clean[:, 2] * clean[:, 3]
        + np.sin(clean[:, 4])
        + np.isin(clean[:, 29], [1, 3, 5])
        + 0.3 * rng.normal(size=ROWS)
    )
    cuts = np.quantile(score, [1 / 3, 2 / 3])
    y3 = np.digitize(score, cuts).astype(np.int64)
    return x, y3, (y3 == 2).astype(np.int64), score


def horse(path):
    rows = [line.split() for line in open(path) if line.strip()]
    keep = [i for i in range(22) if i != 2]
    def num(v):
        return np.nan if v == "?" else float(v)
    x = np.array([[num(r[i]) for i in keep] for r in rows])
    outcome = np.array([num(r[22]) for r in rows])
    lesion = np.array([num(r[23]) for r in rows])
    ok = ~np.isnan(outcome) & ~np.isnan(lesion)
    return x[ok], (outcome[ok] - 1).astype(np.int64), (lesion[ok] - 1).astype(np.int64)


def xgb_thresholds(model_path):
    model = json.loads(pathlib.Path(model_path).read_text())
    found = {}
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        for left, f, t, kind in zip(
            tree["left_children"], tree["split_indices"], tree["split_conditions"], tree.get("split_type", [])
        ):
            if left >= 0 and kind == 0:
                found.setdefault(f, set()).add(np.float32(t))
    return {f: sorted(float(v) for v in ts) for f, ts in found.items()}


def lgb_thresholds(booster):
    found = {}
    def walk(node):
        if "split_feature" in node:
            if node.get("decision_type") == "<=":
                found.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])
    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return {f: sorted(ts) for f, ts in found.items()}


def probes(x, thresholds, seed):
    """Rows of x whose values are moved onto the model's thresholds."""
    rng = np.random.default_rng(seed)
    rows = x[rng.integers(0, len(x), size=PROBE_ROWS)].copy()
    features = [f for f in thresholds if thresholds[f]]
    for r in rows:
        for f in rng.choice(features, size=min(10, len(features)), replace=False):
            if not np.isnan(r[f]):
                ts = thresholds[f]
                r[f] = ts[rng.integers(0, len(ts))]
    return rows


def write_rows(path, rows):
    with open(path, "w") as out:
        for r in np.atleast_2d(rows):
            out.write(",".join(repr(float(v)) for v in r) + "\n")


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gx, gy3, gy2, greg = generated()
    data = {"gen": (gx, gy3, gy2, greg)}
    if len(sys.argv) > 2:
        hx, hy3, hy2 = horse(sys.argv[2])
        data["horse"] = (hx, hy3, hy2, None)
    cases = []
    # (data, task, trees per class, depth, categorical feature 29)
    plan = [
        ("gen", "binary", 1, 1, False),
        ("gen", "binary", 100, 6, False),
        ("gen", "multiclass", 50, 10, False),
        ("gen", "regression", 500, 4, False),
        ("gen", "multiclass", 20, 6, True),
        ("horse", "binary", 50, 3, False),
        ("horse", "multiclass", 30, 4, False),
    ]
    for lib in ("xgboost", "lightgbm"):
        for dataset, task, trees, depth, categorical in plan:
            if dataset not in data:
                continue
            x, y3, y2, reg = data[dataset]
            y = {"binary": y2, "multiclass": y3, "regression": reg}[task]
            name = f"{lib}-{dataset}-{task}-{trees}x{depth}" + ("-cat" if categorical else "")
            if lib == "xgboost":
                path, n_classes, predict = train_xgb(out, name, x, y, task, trees, depth, categorical)
                thresholds = xgb_thresholds(path)
            else:
                path, n_classes, predict, booster = train_lgb(out, name, x, y, task, trees, depth, categorical)
                thresholds = lgb_thresholds(booster)
            rows = np.vstack([x[:EVAL_ROWS], probes(x, thresholds, len(cases))])
            pred = predict(rows)
            write_rows(out / f"{name}.x", rows)
            write_rows(out / f"{name}.pred", pred.reshape(len(rows), -1))
            cases.append({
                "name": name, "library": lib, "task": task, "model": path.name,
                "classes": n_classes, "trees": trees, "depth": depth,
            })
            print(name, file=sys.stderr)
    (out / "manifest.json").write_text(json.dumps({
        "xgboost": xgb.__version__, "lightgbm": lgb.__version__, "cases": cases,
    }, indent=1))


def train_xgb(out, name, x, y, task, trees, depth, categorical):
    objective = {"binary": "binary:logistic", "multiclass": "multi:softprob", "regression": "reg:squarederror"}[task]
    params = {"objective": objective, "max_depth": depth, "eta": 0.3, "nthread": 2, "seed": 15, "tree_method": "hist"}
    n_classes = {"binary": 2, "multiclass": 3, "regression": 0}[task]
    if task == "multiclass":
        params["num_class"] = 3
    types = None
    if categorical:
        types = ["q"] * (x.shape[1] - 1) + ["c"]
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan, feature_types=types, enable_categorical=categorical)
    booster = xgb.train(params, dtrain, num_boost_round=trees)
    path = out / f"{name}.json"
    booster.save_model(path)
    def predict(rows):
        d = xgb.DMatrix(rows, missing=np.nan, feature_types=types, enable_categorical=categorical)
        p = booster.predict(d)
        return np.column_stack([1 - p, p]) if task == "binary" else p
    return path, n_classes, predict


def train_lgb(out, name, x, y, task, trees, depth, categorical):
    objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
    params = {"objective": objective, "max_depth": depth, "num_leaves": min(2 ** depth, 255),
              "learning_rate": 0.3, "num_threads": 2, "seed": 15, "verbose": -1, "min_data_in_leaf": 5}
    n_classes = {"binary": 2, "multiclass": 3, "regression": 0}[task]
    if task == "multiclass":
        params["num_class"] = 3
    cat = [x.shape[1] - 1] if categorical else "auto"
    dtrain = lgb.Dataset(x, label=y, categorical_feature=cat, free_raw_data=False)
    booster = lgb.train(params, dtrain, num_boost_round=trees)
    path = out / f"{name}.txt"
    booster.save_model(str(path))
    def predict(rows):
        p = booster.predict(rows)
        return np.column_stack([1 - p, p]) if task == "binary" else p
    return path, n_classes, predict, booster


if __name__ == "__main__":
    main()
