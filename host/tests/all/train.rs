//! `verge train`: the binary on `verge init`'s sample repository, and the library
//! against the training libraries it wraps.
//!
//! The central property: a bundle predicts what the library that trained it
//! predicts. For Gaussian naive Bayes the exported parameters also match the
//! core's own scikit-learn-exact fit on the same matrix.

use linfa::DatasetBase;
use linfa::traits::{Fit as _, Predict as _};
use linfa_bayes::NaiveBayes as _;
use ndarray::{Array1, Array2};
use serde_json::Value as Json;
use verge_core::artifact::Bundle;
use verge_core::definition::{Encoding, EstimatorSpec, Imputation, ModelSpec, Scaling};
use verge_core::model::{Estimator, GaussianNbParams, encode_labels};
use verge_core::pipeline::{ColumnMeta, FittedPipeline, Prediction};
use verge_core::transform::Matrix;
use verge_core::{ContentId, DType, Timestamp, Value};
use verge_host::artifacts::ArtifactStore;
use verge_host::historical::HistoricalOptions;
use verge_host::table_io::read_entity_table;
use verge_host::train::dataset::{self, LabelSource, TrainingSet};
use verge_host::train::{self, EntityInput, TrainRequest};
use verge_test_kit::rng::Rng;

use crate::support::run_expect as expect;

// ---------------------------------------------------------------- helpers

/// `verge init`'s sample repository (the shared one), applied unless `apply` is false.
struct Repo(crate::support::Repo);

impl std::ops::Deref for Repo {
    type Target = crate::support::Repo;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Repo {
    fn new(apply: bool) -> Repo {
        let repo = Repo(crate::support::Repo::init());
        if apply {
            repo.apply();
        }
        repo
    }

    fn apply(&self) {
        expect(&self.path, &["apply", "-m", "test"], 0);
    }

    /// Edits `verge.toml` with `f` and applies it.
    fn reconfigure(&self, f: impl FnOnce(String) -> String) {
        let text = f(self.read("verge.toml"));
        self.write("verge.toml", &text);
        self.apply();
    }

    fn bundle(&self, id: &str) -> Bundle {
        let store = ArtifactStore::open(&self.path);
        let path = store.locate(id).unwrap();
        Bundle::load(&std::fs::read(path).unwrap()).unwrap()
    }

    /// The training set the library builds for `model` from `entities`.
    fn training_set(&self, model: &str, entities: &str) -> TrainingSet {
        let defs = verge_host::repo::load(&self.path.join("verge.toml")).unwrap();
        let spec = defs.model(model).unwrap().clone();
        let batch = read_entity_table(
            &self.path.join(entities),
            "event_timestamp",
            &mut verge_host::warnings::Warnings::default(),
        )
        .unwrap();
        dataset::build(
            &defs,
            &self.path,
            &spec,
            &batch,
            entities,
            &HistoricalOptions::default(),
            &mut verge_host::warnings::Warnings::default(),
        )
        .unwrap()
    }
}

/// The estimator's input for every training row, through the bundle's transforms.
fn transformed(pipeline: &FittedPipeline, rows: &[Vec<Value>]) -> Matrix {
    let selected: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| pipeline.transform_row(r).unwrap().selected)
        .collect();
    Matrix::from_rows(&selected).unwrap()
}

fn to_array(x: &Matrix) -> Array2<f64> {
    Array2::from_shape_vec((x.n_rows(), x.n_cols()), x.as_slice().to_vec()).unwrap()
}

fn probabilities(p: &Prediction) -> &[f64] {
    match p {
        Prediction::Classes { probabilities, .. } => probabilities,
        Prediction::Value(_) => panic!("a classifier"),
    }
}

/// Asserts that the pipeline's probabilities on `rows` equal linfa-bayes's own
/// `predict_proba` on the same transformed rows, within 1e-9.
#[track_caller]
fn assert_nb_parity(
    pipeline: &FittedPipeline,
    rows: &[Vec<Value>],
    labels: &[Value],
    var_smoothing: f64,
) {
    let x = transformed(pipeline, rows);
    let (_, y) = encode_labels(labels).unwrap();
    let Estimator::GaussianNb(core) = pipeline.estimator() else {
        panic!("gaussian naive bayes")
    };
    let model = train::linfa_nb::fit_linfa(&x, &y, var_smoothing).unwrap();
    let (linfa, classes) = model.predict_proba(to_array(&x).view());
    let classes: Vec<usize> = classes.into_iter().copied().collect();
    assert_eq!(classes, (0..core.classes().len()).collect::<Vec<_>>());
    let mut worst = 0.0f64;
    for (i, row) in rows.iter().enumerate() {
        let p = pipeline.predict(row).unwrap();
        for (k, &ours) in probabilities(&p).iter().enumerate() {
            let theirs = linfa[(i, k)];
            assert!(theirs.is_finite(), "linfa underflowed on row {i}");
            worst = worst.max((ours - theirs).abs());
        }
    }
    assert!(worst <= 1e-9, "largest difference {worst}");
}

/// `n` rows of three numeric features and one text feature, with labels from
/// `classes` that the features separate imperfectly.
fn synthetic(n: usize, classes: &[&str], seed: u64) -> TrainingSet {
    // Seeded: the same rows on every run.
    let mut rng = Rng::new(seed);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let k = i % classes.len();
        let shift = k as f64;
        let a = shift * 1.5 + rng.unit() * 3.0;
        let b = if rng.unit() < 0.1 {
            Value::Null
        } else {
            Value::Int64((shift * 10.0 + rng.unit() * 25.0) as i64)
        };
        let c = 100.0 * (rng.unit() - 0.5) - shift * 20.0;
        let colour = ["red", "green", "blue"][(i / 3 + k) % 3];
        rows.push(vec![
            Value::Float64(a),
            b,
            Value::Float64(c),
            Value::String(colour.into()),
        ]);
        labels.push(Value::String(classes[k].into()));
    }
    TrainingSet {
        columns: vec![
            ColumnMeta::new("v:a", DType::Float64),
            ColumnMeta::new("v:b", DType::Int64),
            ColumnMeta::new("v:c", DType::Float64),
            ColumnMeta::new("v:colour", DType::String),
        ],
        rows,
        labels,
        label: "y".into(),
        label_source: LabelSource::EntityColumn,
        dropped_null_labels: 0,
    }
}

fn spec(estimator: EstimatorSpec) -> ModelSpec {
    ModelSpec {
        name: "m".into(),
        feature_service: "s".into(),
        label: "y".into(),
        impute: Imputation::Median,
        scale: Scaling::Standard,
        encode: Encoding::OneHot,
        select_k_best: Some(4),
        estimator,
    }
}

const NB: EstimatorSpec = EstimatorSpec::GaussianNb {
    var_smoothing: 1e-9,
};

// ---------------------------------------------------------------- the binary

#[test]
fn train_stores_a_bundle_that_predicts_like_linfa() {
    let repo = Repo::new(true);
    let out = repo.path.join("out/model.bundle");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let r = expect(
        &repo.path,
        &[
            "train",
            "surgical_lesion",
            "--entities",
            "entities.csv",
            "-o",
            "out/model.bundle",
        ],
        0,
    );
    let id = r.stdout.trim();
    assert!(ContentId::parse_hex(id).is_some(), "{:?}", r.stdout);
    for needle in [
        "on 10 rows",
        "linfa-bayes 0.8.1",
        "classes: no, yes",
        "features kept",
        "training accuracy",
        "from the entity table",
    ] {
        assert!(r.stderr.contains(needle), "{needle:?} in\n{}", r.stderr);
    }

    // Stored, referenced, and copied byte for byte.
    let store = ArtifactStore::open(&repo.path);
    let stored = store.locate(id).unwrap();
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(&out).unwrap()
    );
    assert_eq!(
        store
            .get_ref("model/surgical_lesion")
            .unwrap()
            .unwrap()
            .to_string(),
        id
    );

    let bundle = repo.bundle(id);
    let c = bundle.contents();
    let m = c.model.as_ref().unwrap();
    assert_eq!(m.name, "surgical_lesion");
    assert_eq!(c.service, "surgery_v1");
    assert_eq!(c.registry_id, repo_head(&repo));
    assert_eq!(m.training.rows, 10);
    assert_eq!(m.training.label, "surgical_lesion");
    assert_eq!(m.training.trained_with, "linfa-bayes 0.8.1");
    let names: Vec<&str> = m.training.metrics.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["training_accuracy"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let age = now - m.training.trained_at.as_micros() / 1_000_000;
    assert!(
        (0..600).contains(&age),
        "trained_at is now, not {age} s ago"
    );

    // The data hash is the library's hash of the same training set.
    let set = repo.training_set("surgical_lesion", "entities.csv");
    assert_eq!(m.training.data_hash, set.data_hash());
    assert_nb_parity(&m.pipeline, &set.rows, &set.labels, 1e-9);

    // Training again on the same data gives the same model (only trained_at moves).
    let again = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        0,
    );
    let second = repo.bundle(again.stdout.trim());
    assert_eq!(
        second.contents().require_model().unwrap().pipeline,
        m.pipeline
    );
    assert_eq!(
        second
            .contents()
            .require_model()
            .unwrap()
            .training
            .data_hash,
        m.training.data_hash
    );
}

/// The head's definitions id: what a bundle names as its registry.
fn repo_head(repo: &Repo) -> ContentId {
    verge_host::store::Store::open(&repo.path)
        .head_definitions()
        .unwrap()
        .unwrap()
        .0
}

#[test]
fn holdout_accuracy_is_printed_and_stored() {
    let repo = Repo::new(true);
    let entities = repo.read("entities.csv");
    let mut lines = entities.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // The last four rows are held out; one of them has a null label.
    let train = format!("{header}\n{}\n", rows[..6].join("\n"));
    let mut held: Vec<String> = rows[6..].iter().map(|r| (*r).to_owned()).collect();
    held.push("534817,2021-06-04T13:00:00Z,".into());
    repo.write("train.csv", &train);
    repo.write("holdout.csv", &format!("{header}\n{}\n", held.join("\n")));
    let r = expect(
        &repo.path,
        &[
            "train",
            "surgical_lesion",
            "--entities",
            "train.csv",
            "--holdout",
            "holdout.csv",
            "--json",
        ],
        0,
    );
    let summary: Json = serde_json::from_str(&r.stdout).unwrap();
    let accuracy = summary["metrics"]["holdout_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert_eq!(summary["metrics"]["holdout_rows"], 4.0);
    assert_eq!(summary["rows"], 6);
    assert_eq!(summary["classes"], serde_json::json!(["no", "yes"]));
    assert!(!summary["selected_features"].as_array().unwrap().is_empty());
    assert!(r.stderr.contains("holdout accuracy"), "{}", r.stderr);
    assert!(
        r.stderr.contains("1 dropped for a null label"),
        "{}",
        r.stderr
    );

    // The stored metric is the core's accuracy on the holdout rows, recomputed here.
    let bundle = repo.bundle(summary["bundle"].as_str().unwrap());
    let m = &bundle.contents().require_model().unwrap().training.metrics;
    let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["holdout_accuracy", "holdout_rows", "training_accuracy"]
    );
    let set = repo.training_set("surgical_lesion", "holdout.csv");
    let hits = set
        .rows
        .iter()
        .zip(&set.labels)
        .filter(|(row, y)| {
            bundle
                .contents()
                .require_model()
                .unwrap()
                .pipeline
                .predict(row)
                .unwrap()
                .label_value()
                == Some(*y)
        })
        .count();
    assert_eq!(m[0].1, hits as f64 / 4.0);
    assert_eq!(accuracy, m[0].1);
}

#[test]
fn label_from_a_feature_view() {
    // The horse-colic layout: the label is recorded with the vital signs and
    // the entity table only has keys and times.
    let repo = Repo::new(false);
    let vitals = repo.read("data/vitals.csv");
    let mut out = String::new();
    for (i, line) in vitals.lines().enumerate() {
        let lesion = match i {
            0 => "surgical_lesion",
            _ if line.contains("39.") || line.contains("38.8") => "yes",
            _ => "no",
        };
        out.push_str(&format!("{line},{lesion}\n"));
    }
    repo.write("data/vitals.csv", &out);
    repo.reconfigure(|t| {
        t.replace(
            "  { name = \"pain\", dtype = \"string\" },\n",
            "  { name = \"pain\", dtype = \"string\" },\n  { name = \"surgical_lesion\", dtype = \"string\" },\n",
        )
    });
    let entities: String = repo
        .read("entities.csv")
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
        .collect();
    repo.write("keys.csv", &entities);
    let r = expect(
        &repo.path,
        &[
            "train",
            "surgical_lesion",
            "--entities",
            "keys.csv",
            "--json",
        ],
        0,
    );
    assert!(
        r.stderr.contains("from feature view `horse_vitals`"),
        "{}",
        r.stderr
    );
    // Three entity rows have no vitals in the ttl window, so no label.
    assert!(
        r.stderr
            .contains("dropped 3 entity rows whose label `surgical_lesion` is null"),
        "{}",
        r.stderr
    );
    let summary: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["rows"], 7);
    assert_eq!(summary["label_source"], "feature view `horse_vitals`");
    let set = repo.training_set("surgical_lesion", "keys.csv");
    assert_eq!(set.rows.len(), 7);
    assert_eq!(set.dropped_null_labels, 3);
    let bundle = repo.bundle(summary["bundle"].as_str().unwrap());
    assert_nb_parity(
        &bundle.contents().require_model().unwrap().pipeline,
        &set.rows,
        &set.labels,
        1e-9,
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let repo = Repo::new(false);
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        2,
    );
    assert!(r.stderr.contains("run `verge apply` first"), "{}", r.stderr);
    repo.apply();

    let r = expect(
        &repo.path,
        &["train", "nope", "--entities", "entities.csv"],
        2,
    );
    assert!(
        r.stderr.contains("model `nope`") && r.stderr.contains("surgical_lesion"),
        "{}",
        r.stderr
    );

    // Constant label.
    let all_no = repo.read("entities.csv").replace(",yes", ",no");
    repo.write("all_no.csv", &all_no);
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "all_no.csv"],
        2,
    );
    assert!(
        r.stderr.contains("label `surgical_lesion` is constant") && r.stderr.contains("`no`"),
        "{}",
        r.stderr
    );

    // No rows; every label null.
    repo.write(
        "empty.csv",
        "hospital_number,event_timestamp,surgical_lesion\n",
    );
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "empty.csv"],
        2,
    );
    assert!(r.stderr.contains("has no rows"), "{}", r.stderr);
    repo.write(
        "nulls.csv",
        "hospital_number,event_timestamp,surgical_lesion\n530101,2021-06-01T12:00:00Z,\n",
    );
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "nulls.csv"],
        2,
    );
    assert!(
        r.stderr.contains("all 1 rows") && r.stderr.contains("null label"),
        "{}",
        r.stderr
    );

    // Label nowhere: the message says where it looked.
    let keys: String = repo
        .read("entities.csv")
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned() + "\n")
        .collect();
    repo.write("keys.csv", &keys);
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "keys.csv"],
        2,
    );
    for needle in [
        "label `surgical_lesion` not found",
        "entity table keys.csv",
        "hospital_number, event_timestamp",
        "horse_vitals",
    ] {
        assert!(r.stderr.contains(needle), "{needle:?} in\n{}", r.stderr);
    }

    // A text label for a numeric estimator.
    repo.reconfigure(|t| {
        t.replace(
            "estimator = \"gaussian_nb\"",
            "estimator = \"linear_regression\"",
        )
    });
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        2,
    );
    assert!(
        r.stderr
            .contains("linear regression is a numeric estimator")
            && r.stderr.contains("`no`"),
        "{}",
        r.stderr
    );

    // A text value in a numeric feature's source is refused by name.
    repo.reconfigure(|t| {
        t.replace(
            "estimator = \"linear_regression\"",
            "estimator = \"gaussian_nb\"",
        )
    });
    let vitals = repo.read("data/vitals.csv").replace(",66,", ",fast,");
    repo.write("data/vitals.csv", &vitals);
    let r = expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        2,
    );
    assert!(
        r.stderr.contains("pulse") && r.stderr.contains("fast"),
        "{}",
        r.stderr
    );
    assert!(
        ArtifactStore::open(&repo.path)
            .get_ref("model/surgical_lesion")
            .unwrap()
            .is_none(),
        "no bundle after failures"
    );
}

// ---------------------------------------------------------------- the library

#[test]
fn select_k_best_larger_than_the_service_is_refused() {
    // `apply` refuses this too; the trainer must not rely on it (old registry
    // versions, definitions built in code).
    let repo = Repo::new(true);
    let mut defs = verge_host::repo::load(&repo.path.join("verge.toml")).unwrap();
    defs.models[0].select_k_best = Some(6);
    let batch = read_entity_table(
        &repo.path.join("entities.csv"),
        "event_timestamp",
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    let err = train::train(&TrainRequest {
        defs: &defs,
        registry_id: ContentId::of(b"test"),
        repo_root: &repo.path,
        model: "surgical_lesion",
        entities: EntityInput {
            batch: &batch,
            place: "entity table entities.csv",
        },
        holdout: None,
        options: HistoricalOptions::default(),
        now: Timestamp::from_secs(0),
    })
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("select_k_best = 6") && message.contains("has 5 features"),
        "{message}"
    );

    // With k in range the same request trains, and one-hot columns compete too.
    defs.models[0].select_k_best = Some(3);
    let trained = train::train(&TrainRequest {
        defs: &defs,
        registry_id: ContentId::of(b"test"),
        repo_root: &repo.path,
        model: "surgical_lesion",
        entities: EntityInput {
            batch: &batch,
            place: "entity table entities.csv",
        },
        holdout: None,
        options: HistoricalOptions::default(),
        now: Timestamp::from_secs(0),
    })
    .unwrap();
    assert_eq!(
        trained
            .contents
            .require_model()
            .unwrap()
            .pipeline
            .selected_names()
            .len(),
        3
    );
    assert_eq!(
        trained
            .contents
            .require_model()
            .unwrap()
            .training
            .trained_at,
        Timestamp::from_secs(0)
    );
}

#[test]
fn text_in_a_numeric_column_names_the_row_and_feature() {
    let mut set = synthetic(30, &["a", "b"], 7);
    set.rows[4][0] = Value::String("hot".into());
    let err = train::fit(&spec(NB), &set).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("training row 4") && message.contains("`v:a`"),
        "{message}"
    );
}

#[test]
fn linfa_nb_parameters_match_the_cores_sklearn_fit() {
    for (n, classes, seed) in [
        (60, &["no", "yes"][..], 1),
        (301, &["a", "b", "c"][..], 2),
        (7, &["x", "y"][..], 3),
    ] {
        let set = synthetic(n, classes, seed);
        let fitted = train::fit(&spec(NB), &set).unwrap();
        let Estimator::GaussianNb(linfa) = fitted.pipeline.estimator() else {
            panic!()
        };
        let core = GaussianNbParams::new()
            .var_smoothing(1e-9)
            .fit(&fitted.x, &set.labels)
            .unwrap();
        assert_eq!(linfa.classes(), core.classes());
        assert_eq!(linfa.class_prior(), core.class_prior(), "count / n exactly");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
        for (a, b) in linfa
            .theta()
            .as_slice()
            .iter()
            .zip(core.theta().as_slice())
            .chain(linfa.var().as_slice().iter().zip(core.var().as_slice()))
        {
            assert!(close(*a, *b), "{a} vs {b}");
        }
        assert!(close(linfa.epsilon(), core.epsilon()));
        assert_nb_parity(&fitted.pipeline, &set.rows, &set.labels, 1e-9);
        // And the core's predictions from either parameter set agree.
        for row in fitted.x.rows() {
            let a = linfa.predict_proba(row).unwrap();
            let b = core.predict_proba(row).unwrap();
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn logistic_regression_predicts_like_linfa_logistic() {
    for classes in [&["no", "yes"][..], &["a", "b", "c"][..]] {
        let set = synthetic(90, classes, 11);
        let s = spec(EstimatorSpec::LogisticRegression {
            c: 0.5,
            max_iter: 200,
        });
        let fitted = train::fit(&s, &set).unwrap();
        assert_eq!(fitted.trained_with, "linfa-logistic 0.8.1");
        let x = to_array(&fitted.x);
        let (_, y) = encode_labels(&set.labels).unwrap();
        let dataset = DatasetBase::new(x.clone(), Array1::from(y));
        // linfa's own probability of each sorted class, per row.
        let theirs: Vec<Vec<f64>> = if classes.len() == 2 {
            let m = linfa_logistic::LogisticRegression::default()
                .alpha(2.0)
                .max_iterations(200)
                .fit(&dataset)
                .unwrap();
            let pos = m.labels().pos.class;
            m.predict_probabilities(&x)
                .iter()
                .map(|&p| {
                    if pos == 1 {
                        vec![1.0 - p, p]
                    } else {
                        vec![p, 1.0 - p]
                    }
                })
                .collect()
        } else {
            let m = linfa_logistic::MultiLogisticRegression::default()
                .alpha(2.0)
                .max_iterations(200)
                .fit(&dataset)
                .unwrap();
            assert_eq!(m.classes(), &[0, 1, 2]);
            m.predict_probabilities(&x)
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect()
        };
        let mut correct = 0;
        for ((row, want), label) in set.rows.iter().zip(&theirs).zip(&set.labels) {
            let p = fitted.pipeline.predict(row).unwrap();
            for (a, b) in probabilities(&p).iter().zip(want) {
                assert!((a - b).abs() <= 1e-9, "{a} vs {b}");
            }
            correct += usize::from(p.label_value() == Some(label));
        }
        assert!(
            correct * classes.len() > set.rows.len(),
            "better than chance: {correct}"
        );
    }
}

#[test]
fn linear_regression_predicts_like_linfa_linear() {
    let mut set = synthetic(50, &["a"], 5);
    let mut rng = Rng::new(99);
    set.labels = set
        .rows
        .iter()
        .map(|r| {
            let a = r[0].as_f64().unwrap();
            let c = r[2].as_f64().unwrap();
            Value::Float64(3.0 * a - 0.5 * c + 7.0 + rng.unit())
        })
        .collect();
    let mut s = spec(EstimatorSpec::LinearRegression);
    s.select_k_best = None;
    // One-hot columns sum to one, collinear with the intercept; ordinal is not.
    s.encode = Encoding::Ordinal;
    let fitted = train::fit(&s, &set).unwrap();
    assert_eq!(fitted.trained_with, "linfa-linear 0.8.1");
    let x = to_array(&fitted.x);
    let y: Vec<f64> = set.labels.iter().map(|v| v.as_f64().unwrap()).collect();
    let m = linfa_linear::LinearRegression::new()
        .fit(&DatasetBase::new(x.clone(), Array1::from(y)))
        .unwrap();
    let theirs = m.predict(&x);
    for (row, want) in set.rows.iter().zip(theirs.iter()) {
        let Prediction::Value(v) = fitted.pipeline.predict(row).unwrap() else {
            panic!("a regressor")
        };
        assert!(
            (v - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{v} vs {want}"
        );
    }
    // Selection ranks against classes; a regressor refuses it by name.
    s.select_k_best = Some(2);
    let err = train::fit(&s, &set).unwrap_err();
    assert!(format!("{err:#}").contains("select_k_best"), "{err:#}");
}
