"""scikit-learn's answer for the horse-colic example's model: the fixture verge is held to.

Run by hand (not in CI) when the recipe in ../verge.toml changes:

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn pandas
    /tmp/skl/bin/python examples/horse-colic/sklearn/reference.py

It applies the recipe of the `surgical_lesion` model in ../verge.toml to the
same UCI files verge's converter reads:

- X: the 8 fields of the feature service `surgical_lesion_v1`, in its order
  (`?` is missing); y: "surgical lesion" (1 = surgical, 2 = not).
- Rows whose label is `?` are dropped (the script reports how many: 0 in the
  published files, in both splits).
- SimpleImputer(strategy="mean") fitted on the training rows only, applied to
  both splits (every one of the 8 features, `outcome` and `nasogastric tube`
  included, as verge imputes every input of the service).
- SelectKBest(f_classif, k=5) fitted on the imputed training rows.
- GaussianNB() with default settings on the selected columns.

and writes ../fixtures/sklearn_k5.json: the selected features, the imputer's
means, the F scores, per-row predictions and class probabilities for the test
rows (and the training rows), and the test accuracy. Arrays are C-contiguous
float64 so numpy reduces in the order verge does; floats are written with
`repr`, which round-trips exactly.
"""

import json
import pathlib
import platform

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.naive_bayes import GaussianNB

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLE = HERE.parent
DATA = EXAMPLE / "data"
OUT = EXAMPLE / "fixtures" / "sklearn_k5.json"

K = 5
HOSPITAL_NUMBER = 3  # 1-based UCI column
LABEL = 24  # "surgical lesion"
# (1-based UCI column, feature name): the service's order in ../verge.toml.
FEATURES = [
    (4, "rectal_temperature"),
    (20, "total_protein"),
    (8, "peripheral_pulse"),
    (13, "abdominal_distension"),
    (14, "nasogastric_tube"),
    (23, "outcome"),
    (19, "packed_cell_volume"),
    (16, "nasogastric_reflux_ph"),
]


def load(path):
    """The labelled rows of one UCI file: (hospital numbers, 1-based lines, X, y, dropped)."""
    frame = pd.read_csv(path, sep=r"\s+", header=None, na_values="?", dtype=str)
    assert frame.shape[1] == 28, f"{path}: {frame.shape[1]} columns, expected 28"
    # pandas skips blank lines; the files have none, so row i is line i + 1.
    frame["line"] = np.arange(1, len(frame) + 1)
    labelled = frame[frame[LABEL - 1].notna()]
    dropped = len(frame) - len(labelled)
    x = np.ascontiguousarray(
        labelled[[c - 1 for c, _ in FEATURES]].astype(np.float64).to_numpy()
    )
    y = labelled[LABEL - 1].astype(np.int64).to_numpy()
    hospital = labelled[HOSPITAL_NUMBER - 1].astype(np.int64).to_numpy()
    return hospital, labelled["line"].to_numpy(), x, y, dropped


def rows(model, selected, hospital, lines, y):
    proba = model.predict_proba(selected)
    predicted = model.predict(selected)
    return [
        {
            "line": int(line),
            "hospital_number": int(h),
            "label": int(truth),
            "predicted": int(p),
            "probabilities": [float(v) for v in pr],
        }
        for line, h, truth, p, pr in zip(lines, hospital, y, predicted, proba)
    ]


def main():
    h_train, l_train, x_train, y_train, dropped_train = load(DATA / "horse-colic.data")
    h_test, l_test, x_test, y_test, dropped_test = load(DATA / "horse-colic.test")

    imputer = SimpleImputer(strategy="mean").fit(x_train)
    xi_train = np.ascontiguousarray(imputer.transform(x_train))
    xi_test = np.ascontiguousarray(imputer.transform(x_test))
    selector = SelectKBest(f_classif, k=K).fit(xi_train, y_train)
    support = [int(i) for i in selector.get_support(indices=True)]
    xs_train = np.ascontiguousarray(xi_train[:, support])
    xs_test = np.ascontiguousarray(xi_test[:, support])
    model = GaussianNB().fit(xs_train, y_train)

    test_rows = rows(model, xs_test, h_test, l_test, y_test)
    train_rows = rows(model, xs_train, h_train, l_train, y_train)
    correct = sum(r["predicted"] == r["label"] for r in test_rows)
    names = [name for _, name in FEATURES]
    out = {
        "generator": {
            "script": "examples/horse-colic/sklearn/reference.py",
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "recipe": {
            "impute": "mean",
            "select_k_best": K,
            "score_func": "f_classif",
            "estimator": "GaussianNB()",
        },
        "features": names,
        "label": "surgical_lesion",
        "dropped_unlabelled": {"train": dropped_train, "test": dropped_test},
        "n_train": len(y_train),
        "n_test": len(y_test),
        "imputer_means": [float(v) for v in imputer.statistics_],
        "f_scores": [float(v) for v in selector.scores_],
        "support": support,
        "selected_features": [names[i] for i in support],
        "classes": [int(c) for c in model.classes_],
        "correct": int(correct),
        "accuracy": correct / len(test_rows),
        "test": test_rows,
        "train": train_rows,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"dropped unlabelled rows: {dropped_train} training, {dropped_test} test")
    print(f"selected (k={K}): {out['selected_features']}")
    print(f"test accuracy: {out['accuracy']:.4f} ({correct}/{len(test_rows)})")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
