//! The horse-colic example's models at the edge (issue 15): the naive Bayes,
//! the committed XGBoost model it imports (`trees/surgical_lesion.xgb.json`),
//! the LightGBM model the same script trained (`trees/surgical_lesion.lgb.txt`,
//! declared here as a third `[[model]]`) and a random forest smartcore fits
//! (a fourth), each trained with the real `verge` on a copy of
//! `examples/horse-colic`, checked by `verge verify` (native = wasmtime, every
//! snapshot key) for the three tree bundles, and published as one deployment
//! over one snapshot (`verge publish A B C D --to DIR`).
//!
//! The reference is the native core: `Api::handle` over the published files,
//! in this process. The tests hold the Worker and the browser to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as Json, json};
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::PublishManifest;
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Deployment;
use verge_test_kit::cli::built_bin;
use verge_test_kit::process::run_bounded;

use crate::fixture::verge_bounded;

/// The example's models, as every face is asked for them.
pub const MODELS: [&str; 4] = [
    "surgical_lesion",
    "surgical_lesion_xgb",
    "surgical_lesion_lgb",
    "surgical_lesion_forest",
];
/// The example's pinned clock (`[run] now`): every visit is within the 1-day ttl.
pub const NOW: &str = "2021-06-25T12:00:00Z";
/// A hospital number no visit has: every input missing, which trees route
/// down their default branches (the naive Bayes imputes the means).
const UNKNOWN: i64 = 1;

/// The LightGBM model, imported like the XGBoost one (impute none, by name),
/// and a random forest smartcore fits on the same service (it needs an imputer).
const EXTRA_MODELS: &str = r#"
[[model]]
name = "surgical_lesion_lgb"
feature_service = "surgical_lesion_v1"
label = "surgical_lesion"
estimator = "lightgbm"
model_file = "trees/surgical_lesion.lgb.txt"

[[model]]
name = "surgical_lesion_forest"
feature_service = "surgical_lesion_v1"
label = "surgical_lesion"
impute = "mean"
estimator = "random_forest"
task = "classification"
n_trees = 25
max_depth = 6
seed = 7
"#;

/// The example, trained, verified and published, in a temporary directory.
pub struct Example {
    _tmp: tempfile::TempDir,
    /// The publish directory (the layout the Worker reads).
    pub published: PathBuf,
    /// Every hospital number of the entity tables, once each, then [`UNKNOWN`].
    pub horses: Vec<i64>,
}

impl Example {
    /// Builds it with the real binaries.
    ///
    /// # Panics
    ///
    /// When a step fails or runs past its limit, or `verge verify` finds a
    /// difference.
    pub fn build() -> Example {
        let src = verge_test_kit::workspace().join("examples/horse-colic");
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("horse-colic");
        for dir in ["data", "trees"] {
            std::fs::create_dir_all(repo.join(dir)).unwrap();
        }
        for file in [
            "train_entities.csv",
            "holdout_entities.csv",
            "data/horse-colic.data",
            "data/horse-colic.test",
            "trees/surgical_lesion.xgb.json",
            "trees/surgical_lesion.lgb.txt",
        ] {
            std::fs::copy(src.join(file), repo.join(file)).unwrap();
        }
        let toml = std::fs::read_to_string(src.join("verge.toml")).unwrap();
        std::fs::write(repo.join("verge.toml"), toml + EXTRA_MODELS).unwrap();
        let mut prepare = std::process::Command::new(built_bin("horse-colic-prepare"));
        prepare.current_dir(&repo).args([
            "--data",
            "data/horse-colic.data",
            "--test",
            "data/horse-colic.test",
            "-o",
            "data/horse_colic.db",
        ]);
        run_bounded(prepare, &repo, "prepare", Duration::from_secs(120));
        verge_bounded(&repo, &["apply", "-m", "horse colic, four models"]);
        for model in MODELS {
            verge_bounded(
                &repo,
                &[
                    "train",
                    model,
                    "--entities",
                    "train_entities.csv",
                    "--holdout",
                    "holdout_entities.csv",
                    "--now",
                    NOW,
                ],
            );
        }
        verge_bounded(&repo, &["materialize", "2021-06-24T12:00:00Z", NOW]);
        for model in &MODELS[1..] {
            // Exit 1 on any difference between the native core and the Wasm module.
            let bundle = format!("model/{model}");
            verge_bounded(&repo, &["verify", "--bundle", &bundle, "--now", NOW]);
        }
        let published = tmp.path().join("published");
        let to = published.display().to_string();
        let mut publish = vec!["publish"];
        publish.extend(MODELS);
        publish.extend(["--to", &to]);
        verge_bounded(&repo, &publish);
        Example {
            horses: horses(&repo),
            _tmp: tmp,
            published,
        }
    }

    /// The native core over the published deployment, as every face loads it.
    pub fn native(&self) -> Api {
        let read = |rel: String| std::fs::read(self.published.join(rel)).unwrap();
        let manifest = PublishManifest::parse(&read("manifest.json".into())).unwrap();
        let pair = &manifest.current;
        let bundles = pair
            .bundles()
            .map(|b| Bundle::load(&read(format!("bundles/{}.bin", b.id))).unwrap())
            .collect();
        let snapshot = Snapshot::load(read(format!("snapshots/{}.bin", pair.snapshot))).unwrap();
        Api::serving(
            Deployment::new(snapshot, bundles).unwrap(),
            Limits::default(),
        )
    }

    /// `POST /predict` for every horse at [`NOW`], answered by `model`.
    pub fn body(&self, model: &str) -> Vec<u8> {
        json!({"model": model, "entities": {"hospital_number": self.horses}, "now": NOW})
            .to_string()
            .into_bytes()
    }

    /// The native answer to [`Example::body`], checked to be a real one.
    pub fn native_answer(&self, api: &Api, model: &str) -> (u16, Vec<u8>) {
        let now = Timestamp::parse_rfc3339(NOW).unwrap();
        let answer = api.handle("POST", "/predict", &self.body(model), now);
        assert_eq!(answer.status, 200, "{model}: {answer:?}");
        check_answer(
            model,
            &serde_json::from_slice(&answer.body).unwrap(),
            self.horses.len(),
        );
        (answer.status, answer.body)
    }
}

/// Hospital numbers of both entity tables, each once, in first-seen order,
/// then the unknown one.
fn horses(repo: &Path) -> Vec<i64> {
    let mut out = Vec::new();
    for file in ["train_entities.csv", "holdout_entities.csv"] {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        for line in text.lines().skip(1) {
            let key: i64 = line.split(',').next().unwrap().parse().unwrap();
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out.push(UNKNOWN);
    out
}

/// The native answer is a real one, so that two faces agreeing cannot mean
/// two equal empty answers: the model named, one prediction per horse, two
/// probabilities summing to 1 for classes 1 and 2, and the models' many
/// distinct probabilities (trees of depth 3 give dozens of leaf sums).
fn check_answer(model: &str, answer: &Json, horses: usize) {
    assert_eq!(answer["model"], json!(model), "{answer}");
    let predictions = answer["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), horses);
    let mut distinct: Vec<u64> = Vec::new();
    for p in predictions {
        assert_eq!(p["classes"], json!([1, 2]), "{model}: {p}");
        let probs: Vec<f64> = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(probs.len(), 2, "{model}: {p}");
        assert!((probs[0] + probs[1] - 1.0).abs() < 1e-6, "{model}: {p}");
        let label = if probs[1] > probs[0] { 2 } else { 1 };
        assert_eq!(p["label"], json!(label), "{model}: {p}");
        distinct.push(probs[1].to_bits());
    }
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() >= 20,
        "{model}: only {} distinct probabilities",
        distinct.len()
    );
}
