"""Trains the horse-colic example's tree models on verge's own training set.

The input is the CSV `verge historical` writes for the 300 training visits: the
feature service's 8 inputs, in service order, plus the label `surgical_lesion`
(see README.md, "The tree models", for the command). Empty cells are missing
values, and stay missing: both libraries route NaN down each split's default
branch, exactly as verge's import does, so no imputer is fitted.

Writes, into OUT_DIR (default: this script's directory):
  surgical_lesion.xgb.json   XGBoost 2.1.4, binary:logistic   (verge.toml: estimator = "xgboost")
  surgical_lesion.lgb.txt    LightGBM 4.6.0, binary           (the tests' LightGBM path)

Deterministic: one thread and a fixed seed, so the same CSV gives the same bytes
on every run (tests/tests/horse_colic.rs retrains and compares with the committed
files). The labels 1 (surgical) and 2 (not) become 0 and 1, the sorted order in
which verge numbers an imported model's classes.

    python trees/train.py train.labelled.csv [OUT_DIR]
"""
import pathlib
import sys

import lightgbm
import pandas as pd
import xgboost

LABEL = "surgical_lesion"
KEYS = ["hospital_number", "event_timestamp"]
SEED = 0
TREES = 40
DEPTH = 3
LEARNING_RATE = 0.1


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[2] if len(sys.argv) == 3 else pathlib.Path(__file__).parent)
    frame = pd.read_csv(sys.argv[1])
    if LABEL not in frame.columns:
        sys.exit(f"{sys.argv[1]}: no `{LABEL}` column; join it with --features (see README.md)")
    features = [c for c in frame.columns if c not in KEYS + [LABEL]]
    x = frame[features].astype("float64")
    classes = sorted(frame[LABEL].unique())
    if len(classes) != 2:
        sys.exit(f"{sys.argv[1]}: `{LABEL}` takes {classes}, expected two classes")
    y = frame[LABEL].map({c: i for i, c in enumerate(classes)})

    booster = xgboost.train(
        {
            "objective": "binary:logistic",
            "max_depth": DEPTH,
            "eta": LEARNING_RATE,
            "tree_method": "exact",
            "nthread": 1,
            "seed": SEED,
        },
        xgboost.DMatrix(x, label=y, feature_names=features),
        num_boost_round=TREES,
    )
    booster.save_model(out / "surgical_lesion.xgb.json")

    model = lightgbm.train(
        {
            "objective": "binary",
            "num_leaves": 2**DEPTH,
            "max_depth": DEPTH,
            "learning_rate": LEARNING_RATE,
            "min_data_in_leaf": 10,
            "num_threads": 1,
            "seed": SEED,
            "deterministic": True,
            "verbose": -1,
        },
        lightgbm.Dataset(x, label=y, feature_name=features),
        num_boost_round=TREES,
    )
    model.save_model(out / "surgical_lesion.lgb.txt")
    print(f"trained on {len(frame)} rows x {len(features)} features: {out}/surgical_lesion.xgb.json, .lgb.txt")


if __name__ == "__main__":
    main()
