//! Random forests and decision trees trained with smartcore, held to smartcore's
//! own `predict` row by row: verge's label must be smartcore's label on every
//! row, and a regressor's value must be smartcore's bit for bit (both are f64
//! means summed in the same order, so no bound is needed).
//!
//! The data: the horse-colic files of `examples/horse-colic` (outcome, 3
//! classes; packed cell volume as a regression label; missing values imputed
//! by verge's mean imputer), and a seeded generated set of small integers, so
//! that many rows tie and many splits fall between neighbours. Each check also
//! predicts rows placed exactly on every threshold of the fitted model and one
//! ulp either side, where `x <= t` and `x < t` would part. Then the CLI: `verge
//! run` on a repository whose model is a random forest (verify: native = Wasm
//! under wasmtime), and the clear refusals of bad hyper-parameters and of a
//! forest without an imputer.
use std::fs;

use verge_core::definition::{
    Encoding, EstimatorSpec, Imputation, ModelSpec, Scaling, SplitCriterion, TreeParams, TreeTask,
};
use verge_core::model::tree::{Node, TreeEnsemble};
use verge_core::model::{Estimator, Prediction};
use verge_core::pipeline::ColumnMeta;
use verge_core::transform::Matrix;
use verge_core::{DType, Value};
use verge_host::train::dataset::{LabelSource, TrainingSet};
use verge_host::train::smartcore_trees::SmartcoreModel;
use verge_test_kit::rng::Rng;

use crate::support::run_expect;

const FEATURES: [usize; 20] = [
    0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21,
];
const OUTCOME: usize = 22;
const PACKED_CELL_VOLUME: usize = 18;

/// The UCI horse-colic rows (training and test files), `?` as null.
fn horse_colic_rows() -> Vec<Vec<Value>> {
    let dir = verge_test_kit::workspace().join("examples/horse-colic/data");
    let mut rows = Vec::new();
    for file in ["horse-colic.data", "horse-colic.test"] {
        let text = fs::read_to_string(dir.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: Vec<Value> = line
                .split_whitespace()
                .map(|cell| match cell {
                    "?" => Value::Null,
                    _ => Value::Float64(cell.parse().unwrap()),
                })
                .collect();
            assert_eq!(row.len(), 28, "{file}: {line}");
            rows.push(row);
        }
    }
    rows
}

/// A training set of `FEATURES` with the label in column `label` (rows whose label is missing dropped).
fn horse_colic(label: usize, classify: bool) -> TrainingSet {
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for row in horse_colic_rows() {
        match &row[label] {
            Value::Null => continue,
            Value::Float64(y) if classify => labels.push(Value::Int64(*y as i64)),
            y => labels.push(y.clone()),
        }
        rows.push(FEATURES.iter().map(|&i| row[i].clone()).collect());
    }
    set(FEATURES.len(), rows, labels)
}

fn set(width: usize, rows: Vec<Vec<Value>>, labels: Vec<Value>) -> TrainingSet {
    TrainingSet {
        columns: (0..width)
            .map(|i| ColumnMeta::new(format!("v:f{i}"), DType::Float64))
            .collect(),
        rows,
        labels,
        label: "y".into(),
        label_source: LabelSource::EntityColumn,
        dropped_null_labels: 0,
    }
}

/// Seeded rows of small integers (ties everywhere) and a label from a noisy rule.
fn generated(seed: u64, n: usize, width: usize, classes: u64, classify: bool) -> TrainingSet {
    let mut rng = Rng::new(seed);
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let x: Vec<f64> = (0..width).map(|_| rng.below(6) as f64).collect();
        let noise = rng.below(3) as f64;
        let score = x[0] + 2.0 * x[1] - x[2] + noise;
        labels.push(if classify {
            Value::Int64((score.max(0.0) as u64 % classes) as i64)
        } else {
            Value::Float64(score * 0.37 + x[3] / 3.0)
        });
        rows.push(x.into_iter().map(Value::Float64).collect());
    }
    set(width, rows, labels)
}

fn tree(max_depth: Option<u16>, seed: u64) -> TreeParams {
    TreeParams {
        max_depth,
        min_samples_split: 2,
        min_samples_leaf: 1,
        seed,
    }
}

fn spec(estimator: EstimatorSpec) -> ModelSpec {
    ModelSpec {
        name: "m".into(),
        feature_service: "s".into(),
        label: "y".into(),
        impute: Imputation::Mean,
        scale: Scaling::None,
        encode: Encoding::Ordinal,
        select_k_best: None,
        estimator,
    }
}

fn forest(task: TreeTask, n_trees: u32, max_features: Option<u32>, t: TreeParams) -> ModelSpec {
    spec(EstimatorSpec::RandomForest {
        task,
        n_trees,
        max_features,
        tree: t,
    })
}

const GINI: TreeTask = TreeTask::Classification {
    criterion: SplitCriterion::Gini,
};

/// The rows of `x`, and rows on every threshold of `model` (and one ulp either side).
fn probes(x: &Matrix, model: &TreeEnsemble) -> Matrix {
    let mut out = x.clone();
    let base: Vec<f64> = x.row(0).unwrap().to_vec();
    let mut on = 0;
    for t in &model.parts().trees {
        for node in &t.nodes {
            if let Node::Numeric {
                feature, threshold, ..
            } = node
            {
                for v in [threshold.next_down(), *threshold, threshold.next_up()] {
                    let mut row = base.clone();
                    row[*feature as usize] = v;
                    out.push_row(&row).unwrap();
                }
                on += 1;
            }
        }
    }
    assert!(on > 0, "the model has no split to probe");
    out
}

/// Trains `spec` on `set` through verge (transforms, smartcore, export), trains
/// smartcore again on the same matrix, and compares every probe row. Returns
/// the number of rows whose class votes tied.
fn parity(spec: &ModelSpec, set: &TrainingSet) -> usize {
    let fitted = verge_host::train::fit(spec, set).unwrap();
    let Estimator::TreeEnsemble(model) = fitted.pipeline.estimator() else {
        panic!("not a tree model")
    };
    assert_eq!(fitted.trained_with, "smartcore 0.7.0");
    // The same seed gives the same trees: the model in the bundle is the one checked.
    let smartcore = SmartcoreModel::train(&fitted.x, &set.labels, &spec.estimator).unwrap();
    let again = smartcore
        .export(fitted.x.n_cols(), model.classes().to_vec())
        .unwrap();
    assert_eq!(&again, model, "training is deterministic");

    let x = probes(&fitted.x, model);
    let expected = smartcore.predict(&x).unwrap();
    let mut ties = 0;
    for (i, (row, want)) in x.rows().zip(&expected).enumerate() {
        if model.is_classifier() {
            let mut p = vec![0.0; model.classes().len()];
            let label = model.predict_proba_into(row, &mut p).unwrap();
            assert_eq!(label as f64, *want, "row {i}: {row:?}, votes {p:?}");
            let n = model.n_trees() as f64;
            let votes: Vec<f64> = p.iter().map(|v| v * n).collect();
            assert!(votes.iter().all(|v| (v - v.round()).abs() < 1e-9), "{p:?}");
            assert_eq!(votes.iter().sum::<f64>().round(), n, "{p:?}");
            let best = p.iter().copied().fold(0.0, f64::max);
            if p.iter().filter(|&&v| v == best).count() > 1 {
                ties += 1;
            }
        } else {
            let v = model.predict_value(row).unwrap();
            assert_eq!(v.to_bits(), want.to_bits(), "row {i}: {v} vs {want}");
        }
    }
    // The served path (raw values through the fitted imputer) gives the same.
    for (i, (raw, want)) in set.rows.iter().zip(&expected).enumerate() {
        match fitted.pipeline.predict(raw).unwrap() {
            Prediction::Classes { label, .. } => assert_eq!(label as f64, *want, "row {i}"),
            Prediction::Value(v) => assert_eq!(v.to_bits(), want.to_bits(), "row {i}"),
        }
    }
    ties
}

#[test]
fn horse_colic_forests_and_trees_answer_what_smartcore_answers() {
    let outcome = horse_colic(OUTCOME, true);
    assert!(outcome.rows.len() > 300);
    for (criterion, depth) in [
        (SplitCriterion::Gini, None),
        (SplitCriterion::Entropy, Some(6)),
        (SplitCriterion::ClassificationError, Some(3)),
    ] {
        let task = TreeTask::Classification { criterion };
        parity(&forest(task, 60, None, tree(depth, 3)), &outcome);
        parity(
            &spec(EstimatorSpec::DecisionTree {
                task,
                tree: tree(depth, 0),
            }),
            &outcome,
        );
    }
    let pcv = horse_colic(PACKED_CELL_VOLUME, false);
    parity(
        &forest(TreeTask::Regression, 40, Some(5), tree(None, 11)),
        &pcv,
    );
    parity(
        &spec(EstimatorSpec::DecisionTree {
            task: TreeTask::Regression,
            tree: tree(Some(8), 5),
        }),
        &pcv,
    );
}

#[test]
fn generated_sets_with_ties_answer_what_smartcore_answers() {
    // Two trees and two classes: many rows get one vote each, and smartcore
    // then answers the first class; so must verge.
    let binary = generated(7, 400, 6, 2, true);
    let ties = parity(&forest(GINI, 2, Some(2), tree(Some(5), 1)), &binary);
    assert!(
        ties > 0,
        "the two-tree forest never tied; the test proves nothing"
    );

    let three = generated(8, 600, 8, 3, true);
    let min_leaf = TreeParams {
        min_samples_leaf: 5,
        min_samples_split: 12,
        ..tree(None, 2)
    };
    parity(&forest(GINI, 25, None, min_leaf), &three);
    parity(
        &spec(EstimatorSpec::DecisionTree {
            task: GINI,
            tree: tree(None, 0),
        }),
        &three,
    );

    let values = generated(9, 500, 8, 0, false);
    parity(
        &forest(TreeTask::Regression, 30, Some(3), min_leaf),
        &values,
    );
    parity(
        &spec(EstimatorSpec::DecisionTree {
            task: TreeTask::Regression,
            tree: tree(None, 4),
        }),
        &values,
    );
}

#[test]
fn max_features_above_the_column_count_is_refused() {
    let set = generated(1, 50, 3, 2, true);
    let err = verge_host::train::fit(&forest(GINI, 3, Some(4), tree(None, 0)), &set).unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("model `m`") && err.contains("max_features = 4"),
        "{err}"
    );
}

/// `verge init`'s repository with its model swapped for `estimator`.
fn repo_with(estimator: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    run_expect(tmp.path(), &["init", "repo"], 0);
    let dir = tmp.path().join("repo");
    let config = dir.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    let old = "impute = \"mean\"\nscale = \"standard\"\nestimator = \"gaussian_nb\"";
    assert!(text.contains(old), "verge init's model changed:\n{text}");
    fs::write(&config, text.replace(old, estimator)).unwrap();
    (tmp, dir)
}

#[test]
fn verge_run_trains_a_random_forest_and_verify_agrees_under_wasmtime() {
    let (_tmp, dir) = repo_with(
        "impute = \"median\"\nestimator = \"random_forest\"\nn_trees = 15\nmax_depth = 5\nseed = 3",
    );
    let run = run_expect(&dir, &["run", "--json"], 0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["step"] == "verify"),
        "{}",
        run.stdout
    );
    assert!(report["verify_failed"].is_null(), "{}", run.stdout);
    let probabilities = &report["prediction"]["response"];
    assert!(!probabilities.is_null(), "{}", run.stdout);

    // A regression tree of a text label is refused, naming the estimator and the fix.
    let (_tmp2, dir) = repo_with("estimator = \"decision_tree\"\ntask = \"regression\"");
    let run = run_expect(&dir, &["run"], 2);
    assert!(
        run.stderr.contains("decision tree") && run.stderr.contains("task = \"classification\""),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_hyper_parameters_and_a_missing_imputer_are_clear_errors() {
    for (estimator, key, says) in [
        (
            "estimator = \"random_forest\"\nn_trees = 0",
            "n_trees",
            "1 to 65535, not 0",
        ),
        (
            "estimator = \"random_forest\"\nmax_depth = 0",
            "max_depth",
            "1 to 256, not 0",
        ),
        (
            "estimator = \"decision_tree\"\nmin_samples_leaf = -1",
            "min_samples_leaf",
            "at least 1",
        ),
        (
            "estimator = \"decision_tree\"\nn_trees = 5",
            "n_trees",
            "random_forest",
        ),
        (
            "estimator = \"random_forest\"\ncriterion = \"purity\"",
            "criterion",
            "gini",
        ),
        (
            "estimator = \"gaussian_nb\"\nseed = 1",
            "seed",
            "does not take",
        ),
    ] {
        let (_tmp, dir) = repo_with(estimator);
        let run = run_expect(&dir, &["apply"], 2);
        assert!(
            run.stderr.contains(&format!("key \"{key}\"")) && run.stderr.contains(says),
            "{estimator}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("[[model]]"), "{}", run.stderr);
    }
    let (_tmp, dir) = repo_with("impute = \"none\"\nestimator = \"random_forest\"");
    let run = run_expect(&dir, &["apply"], 2);
    assert!(
        run.stderr.contains("cannot take a missing value")
            && run.stderr.contains("impute = \"mean\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_forest_that_cannot_split_is_one_leaf_per_tree_and_still_agrees() {
    // Constant features: no split exists, so every tree is its root leaf.
    let rows = vec![vec![Value::Float64(1.0), Value::Float64(2.0)]; 9];
    let labels = [0, 1, 1, 0, 1, 1, 1, 0, 1].map(Value::Int64).to_vec();
    let set = set(2, rows, labels);
    let fitted = verge_host::train::fit(&forest(GINI, 4, None, tree(None, 0)), &set).unwrap();
    let Estimator::TreeEnsemble(model) = fitted.pipeline.estimator() else {
        panic!("not a tree model")
    };
    assert!(model.parts().trees.iter().all(|t| t.nodes.len() == 1));
    let smartcore = SmartcoreModel::train(
        &fitted.x,
        &set.labels,
        &forest(GINI, 4, None, tree(None, 0)).estimator,
    )
    .unwrap();
    let want = smartcore.predict(&fitted.x).unwrap();
    for (row, want) in fitted.x.rows().zip(want) {
        let mut p = [0.0; 2];
        assert_eq!(model.predict_proba_into(row, &mut p).unwrap() as f64, want);
    }
}
