//! An imported XGBoost model end to end: `verge init`'s repository with its model
//! swapped for `estimator = "xgboost"` and a JSON model file, through `verge run`
//! (apply → historical → train → materialize → build → verify, where verify
//! proves the native core and the Wasm module under wasmtime answer the same),
//! then the memoization: a new model file reruns train, nothing before it.
use std::fs;
use std::path::Path;

use verge_core::artifact::Bundle;
use verge_core::model::Estimator;
use verge_core::pipeline::Prediction;
use verge_core::{ContentId, Value};
use verge_host::artifacts::ArtifactStore;
use verge_host::pipeline::{self, Outcome, RunOptions};

use crate::support::{run_expect, wasm_path};

/// Two trees on the service's own names: `pulse < 60` and `fever < 0.5`.
fn model_json(leaf: &str) -> String {
    let tree = |feature: u32, threshold: &str, left: &str, right: &str| {
        format!(
            r#"{{"left_children": [1, -1, -1], "right_children": [2, -1, -1],
  "split_indices": [{feature}, 0, 0], "split_conditions": [{threshold}, {left}, {right}],
  "default_left": [0, 0, 0], "split_type": [0, 0, 0]}}"#
        )
    };
    format!(
        r#"{{"learner": {{
  "feature_names": ["rectal_temperature", "pulse", "total_protein", "pain", "fever"],
  "learner_model_param": {{"base_score": "5E-1", "num_class": "0", "num_feature": "5"}},
  "objective": {{"name": "binary:logistic"}},
  "gradient_booster": {{"name": "gbtree", "model": {{"tree_info": [0, 0], "trees": [{}, {}]}}}}}},
 "version": [2, 1, 4]}}"#,
        tree(1, "60", "-5E-1", leaf),
        tree(4, "5E-1", "2.5E-1", "-1.25E-1")
    )
}

fn run(dir: &Path) -> Outcome {
    let options = RunOptions {
        wasm: Some(wasm_path()),
        ..RunOptions::default()
    };
    let outcome =
        pipeline::run(dir, &dir.join("verge.toml"), &options, &mut |_| {}).expect("verge run");
    assert_eq!(outcome.verify_failed, None, "native and Wasm agree");
    outcome
}

#[test]
fn an_imported_xgboost_model_runs_verifies_and_memoizes_on_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    run_expect(tmp.path(), &["init", "repo"], 0);
    let dir = tmp.path().join("repo");
    let config = dir.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    let old = "impute = \"mean\"\nscale = \"standard\"\nestimator = \"gaussian_nb\"";
    assert!(text.contains(old), "verge init's model changed:\n{text}");
    fs::write(
        &config,
        text.replace(
            old,
            "estimator = \"xgboost\"\nmodel_file = \"models/gbt.json\"",
        ),
    )
    .unwrap();
    fs::create_dir_all(dir.join("models")).unwrap();
    fs::write(dir.join("models/gbt.json"), model_json("7.5E-1")).unwrap();

    let first = run(&dir);
    let bundle_id = first
        .steps
        .iter()
        .find(|s| s.step.name() == "train")
        .unwrap()
        .output;
    let store = ArtifactStore::open(&dir);
    let bundle =
        Bundle::load(&fs::read(store.locate(&bundle_id.to_string()).unwrap()).unwrap()).unwrap();
    let model = bundle.contents().model.as_ref().unwrap();
    let file_hash = ContentId::of(model_json("7.5E-1").as_bytes());
    assert!(
        model.training.trained_with == format!("xgboost 2.1.4 (imported, blake3 {file_hash})"),
        "{}",
        model.training.trained_with
    );
    let Estimator::TreeEnsemble(trees) = model.pipeline.estimator() else {
        panic!("a tree model");
    };
    assert_eq!(trees.n_trees(), 2);
    // No imputer: a null pulse takes the default (right) child, leaf 0.75; fever 0 → 0.25.
    let row = [
        Value::Float64(38.0),
        Value::Null,
        Value::Float64(7.0),
        Value::String("mild".into()),
        Value::Float64(0.0),
    ];
    let Prediction::Classes {
        classes,
        probabilities,
        ..
    } = model.pipeline.predict(&row).unwrap()
    else {
        panic!("a classifier");
    };
    assert_eq!(
        classes,
        [Value::String("no".into()), Value::String("yes".into())]
    );
    let p = 1.0 / (1.0 + (-1.0f32).exp());
    assert!(
        (probabilities[1] - f64::from(p)).abs() < 1e-6,
        "{probabilities:?}"
    );

    let again = run(&dir);
    assert!(again.steps.iter().all(|s| s.cached), "nothing changed");
    fs::write(dir.join("models/gbt.json"), model_json("1E0")).unwrap();
    let edited = run(&dir);
    let cached: Vec<(&str, bool)> = edited
        .steps
        .iter()
        .map(|s| (s.step.name(), s.cached))
        .collect();
    assert!(cached.contains(&("historical", true)), "{cached:?}");
    assert!(
        cached.contains(&("train", false)),
        "a new model file retrains: {cached:?}"
    );
}
