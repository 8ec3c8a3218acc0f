//! The horse-colic example end to end through the real `verge` binary.
//!
//! Each test copies `examples/horse-colic` (its verge.toml and the UCI files) into
//! a temporary directory, builds the SQLite source with the example's converter
//! `horse-colic-prepare`, applies, and checks what the point-in-time join returns
//! against the UCI files read directly here (a separate, plain parser, so the
//! converter is not checked against itself):
//!
//! - the training entity table gives back all 300 training visits, in order, each
//!   with its own values, even for the 16 hospital numbers seen twice;
//! - the holdout entity table gives back the 68 test visits and never a training
//!   one (hospital number 5291329 is in both files with different values);
//! - `verge train --holdout` reproduces scikit-learn's fixture
//!   (`examples/horse-colic/fixtures/sklearn_k5.json`, from
//!   `examples/horse-colic/sklearn/reference.py`): same selected features, same
//!   accuracy, probabilities within 1e-9;
//! - the example's tree models (`examples/horse-colic/trees/`) are what
//!   `trees/train.py` trains on that same training set, byte for byte, and the
//!   imported XGBoost model scores the holdout as XGBoost does, bit for bit
//!   (needs `VERGE_TREES_PYTHON`; skipped, loudly, without it unless
//!   `VERGE_TREES_REQUIRED` is set). Their edge faces are in `typed_edge`.
//!
//! The `verge` binary belongs to another package, so `CARGO_BIN_EXE_verge` is not
//! available here; the tests build it with cargo into the same target directory
//! as this test binary and run it from there.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use verge_core::Value;
use verge_core::artifact::Bundle;
use verge_core::model::Prediction;
use verge_test_kit::cli::{Run, Verge, built_bin};
use verge_test_kit::process::run_bounded;

/// UCI columns (1-based) of the view's fields, the service's 8 then the label.
const FIELDS: [(usize, &str); 9] = [
    (4, "rectal_temperature"),
    (20, "total_protein"),
    (8, "peripheral_pulse"),
    (13, "abdominal_distension"),
    (14, "nasogastric_tube"),
    (23, "outcome"),
    (19, "packed_cell_volume"),
    (16, "nasogastric_reflux_ph"),
    (24, "surgical_lesion"),
];
const HOSPITAL_NUMBER: usize = 3;
const VIEW: &str = "horse_colic_stats";
const SERVICE: &str = "surgical_lesion_v1";

fn example_dir() -> PathBuf {
    verge_test_kit::workspace().join("examples/horse-colic")
}

/// Builds the example's converter `horse-colic-prepare` (package
/// `verge-example-horse-colic`) next to this test binary, as the kit builds `verge`.
fn prepare_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_bin("horse-colic-prepare"))
}

/// Runs `horse-colic-prepare ARGS` in `dir` and insists on exit code `code`.
#[track_caller]
fn prepare(dir: &Path, args: &[&str], code: i32) -> Run {
    let run: Run = Command::new(prepare_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
        .into();
    assert_eq!(
        run.code, code,
        "horse-colic-prepare {args:?}\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

/// Runs `verge -C dir ARGS` (the binary built by the kit) and insists on exit code `code`.
#[track_caller]
fn verge(dir: &Path, args: &[&str], code: i32) -> Run {
    Verge::find().run_expect(dir, args, code)
}

/// The example copied into a temporary directory, converted and applied.
struct Example {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    convert_note: String,
}

impl Example {
    fn prepare() -> Example {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("horse-colic");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let src = example_dir();
        std::fs::copy(src.join("verge.toml"), dir.join("verge.toml")).unwrap();
        for f in ["horse-colic.data", "horse-colic.test"] {
            std::fs::copy(src.join("data").join(f), dir.join("data").join(f)).unwrap();
        }
        let run = prepare(
            &dir,
            &[
                "--data",
                "data/horse-colic.data",
                "--test",
                "data/horse-colic.test",
                "-o",
                "data/horse_colic.db",
                "--entities-out",
                ".",
            ],
            0,
        );
        verge(&dir, &["-q", "apply"], 0);
        Example {
            _tmp: tmp,
            dir,
            convert_note: run.stderr,
        }
    }

    /// `verge historical` of the view's 9 fields on `entities`, as parsed CSV records.
    fn historical(&self, entities: &str) -> Vec<BTreeMap<String, String>> {
        let features: Vec<String> = FIELDS.iter().map(|(_, f)| format!("{VIEW}:{f}")).collect();
        verge(
            &self.dir,
            &[
                "-q",
                "historical",
                "--entities",
                entities,
                "--features",
                &features.join(","),
                "-o",
                "out.csv",
            ],
            0,
        );
        read_csv(&self.dir.join("out.csv"))
    }
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// A UCI file's rows as text fields, `?` as `None`: the plain reading.
fn uci(name: &str) -> Vec<Vec<Option<String>>> {
    std::fs::read_to_string(example_dir().join("data").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<Option<String>> = l
                .split_whitespace()
                .map(|f| (f != "?").then(|| f.to_owned()))
                .collect();
            assert_eq!(fields.len(), 28);
            fields
        })
        .collect()
}

fn hospital(row: &[Option<String>]) -> i64 {
    row[HOSPITAL_NUMBER - 1]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts that each output row holds exactly its UCI row's values, in order.
#[track_caller]
fn assert_rows_match(
    out: &[BTreeMap<String, String>],
    expected: &[Vec<Option<String>>],
    file: &str,
) {
    assert_eq!(out.len(), expected.len(), "{file}: row count");
    for (i, (got, want)) in out.iter().zip(expected).enumerate() {
        let line = i + 1;
        assert_eq!(
            got["hospital_number"],
            hospital(want).to_string(),
            "{file}:{line}: order"
        );
        for (column, field) in FIELDS {
            let cell = got[field].as_str();
            match want[column - 1].as_deref() {
                None => assert_eq!(cell, "", "{file}:{line}: {field} should be null"),
                Some(text) => assert_eq!(
                    cell.parse::<f64>().ok(),
                    Some(text.parse::<f64>().unwrap()),
                    "{file}:{line}: {field}: got {cell:?}, the file has {text:?}"
                ),
            }
        }
    }
}

fn timestamps(out: &[BTreeMap<String, String>]) -> Vec<String> {
    out.iter().map(|r| r["event_timestamp"].clone()).collect()
}

#[test]
fn converter_reproduces_the_committed_entity_files() {
    let ex = Example::prepare();
    assert!(
        ex.convert_note
            .contains("300 training + 68 test rows, 2021-06-25T00:00:00Z .. 2021-06-25T06:07:00Z"),
        "{}",
        ex.convert_note
    );
    // 1605 `?` in the training file and 322 in the test file, all in columns 1-24.
    assert!(
        ex.convert_note.contains("1927 missing values as NULL"),
        "{}",
        ex.convert_note
    );
    for name in ["train_entities.csv", "holdout_entities.csv"] {
        let generated = std::fs::read_to_string(ex.dir.join(name)).unwrap();
        let committed = std::fs::read_to_string(example_dir().join(name)).unwrap();
        assert_eq!(
            generated, committed,
            "examples/horse-colic/{name} is out of date; regenerate it with the command in the example's README"
        );
    }
}

#[test]
fn training_set_returns_every_visit_in_order_with_its_own_values() {
    let ex = Example::prepare();
    let train = uci("horse-colic.data");
    let out = ex.historical("train_entities.csv");
    assert_rows_match(&out, &train, "horse-colic.data");

    // The entity rows asked for the visits' own times, strictly increasing.
    let times = timestamps(&out);
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "times not increasing"
    );

    // 16 hospital numbers repeat. The join must return each visit, not the
    // latest one, which the comparison above checks row by row; make sure that
    // check has teeth. In 5 of the 16 the visits differ in the joined fields (in
    // 7 the two rows agree on all of attributes 1-24 and differ only in the
    // lesion codes, 25-27: the same case listed twice, not a return visit).
    let mut by_number: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, row) in train.iter().enumerate() {
        by_number.entry(hospital(row)).or_default().push(i);
    }
    let repeated: Vec<&Vec<usize>> = by_number.values().filter(|v| v.len() > 1).collect();
    assert_eq!(repeated.len(), 16);
    let distinguishable = repeated
        .iter()
        .filter(|rows| {
            let first = &out[rows[0]];
            rows[1..]
                .iter()
                .any(|&r| FIELDS.iter().any(|(_, f)| out[r][*f] != first[*f]))
        })
        .count();
    assert_eq!(distinguishable, 5);
}

#[test]
fn holdout_set_returns_the_test_visits_and_never_a_training_one() {
    let ex = Example::prepare();
    let test = uci("horse-colic.test");
    let out = ex.historical("holdout_entities.csv");
    assert_rows_match(&out, &test, "horse-colic.test");

    // Every test row is later than every training row, so a training set that
    // asks at training rows' times cannot reach a test row.
    let train_times = timestamps(&read_csv(&ex.dir.join("train_entities.csv")));
    let test_times = timestamps(&out);
    assert!(train_times.iter().max() < test_times.iter().min());

    // 5291329 is in both files with different values; the holdout gets the test visit.
    let train = uci("horse-colic.data");
    let in_train = train.iter().find(|r| hospital(r) == 5_291_329).unwrap();
    let (i, in_test) = test
        .iter()
        .enumerate()
        .find(|(_, r)| hospital(r) == 5_291_329)
        .unwrap();
    assert_ne!(in_train[..24], in_test[..24]);
    assert_eq!(out[i]["hospital_number"], "5291329");
}

#[test]
fn converter_errors_name_the_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let good = uci("horse-colic.data");
    let line = |row: &Vec<Option<String>>| {
        row.iter()
            .map(|f| f.as_deref().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let short = line(&good[2]).rsplit_once(' ').unwrap().0.to_owned();
    std::fs::write(
        tmp.path().join("bad.data"),
        format!("{}\n{}\n{short}\n", line(&good[0]), line(&good[1])),
    )
    .unwrap();
    let run = prepare(tmp.path(), &["--data", "bad.data", "-o", "colic.db"], 2);
    assert!(
        run.stderr.contains("bad.data:3: 27 fields, expected 28"),
        "{}",
        run.stderr
    );
    assert!(
        !tmp.path().join("colic.db").exists(),
        "a failed run left a database"
    );

    let mut row = good[0].clone();
    row[7] = Some("x".into());
    std::fs::write(tmp.path().join("bad.data"), line(&row)).unwrap();
    let run = prepare(tmp.path(), &["--data", "bad.data", "-o", "colic.db"], 2);
    assert!(
        run.stderr
            .contains("bad.data:1: field 8 (`peripheral pulse`): cannot read `x`"),
        "{}",
        run.stderr
    );
}

/// The scikit-learn fixture.
fn fixture() -> serde_json::Value {
    let path = example_dir().join("fixtures/sklearn_k5.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn fixture_rows_line_up_with_the_entity_files() {
    let fx = fixture();
    assert_eq!(fx["dropped_unlabelled"]["train"], 0);
    assert_eq!(fx["dropped_unlabelled"]["test"], 0);
    for (split, file) in [
        ("train", "train_entities.csv"),
        ("test", "holdout_entities.csv"),
    ] {
        let numbers: Vec<i64> = fx[split]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["hospital_number"].as_i64().unwrap())
            .collect();
        let entities: Vec<i64> = read_csv(&example_dir().join(file))
            .iter()
            .map(|r| r["hospital_number"].parse().unwrap())
            .collect();
        assert_eq!(numbers, entities, "{split} rows of the fixture vs {file}");
    }
    let tests = fx["test"].as_array().unwrap();
    let correct = tests
        .iter()
        .filter(|r| r["label"] == r["predicted"])
        .count();
    assert_eq!(fx["correct"].as_u64(), Some(correct as u64));
    // The README's baseline: 8 view features, mean imputation, k = 5.
    assert_eq!(correct, 47);
}

/// Probabilities the bundle gives each row of a training set, in service order.
fn bundle_probabilities(
    bundle: &Bundle,
    rows: &[BTreeMap<String, String>],
) -> Vec<(i64, Vec<f64>)> {
    let pipeline = &bundle.contents().require_model().unwrap().pipeline;
    rows.iter()
        .map(|r| {
            let features: Vec<Value> = FIELDS[..8]
                .iter()
                .map(|(_, f)| match r[*f].as_str() {
                    "" => Value::Null,
                    text => Value::Float64(text.parse().unwrap()),
                })
                .collect();
            match pipeline.predict(&features).unwrap() {
                Prediction::Classes {
                    classes,
                    probabilities,
                    label,
                } => {
                    assert_eq!(classes, [Value::Int64(1), Value::Int64(2)]);
                    let Value::Int64(predicted) = classes[label] else {
                        panic!("label {:?}", classes[label])
                    };
                    (predicted, probabilities)
                }
                other => panic!("a classifier should give classes, got {other:?}"),
            }
        })
        .collect()
}

/// Training through the CLI reproduces scikit-learn's selection, accuracy and
/// probabilities (the fixture `sklearn_k5.json` from `sklearn/reference.py`).
#[test]
fn verge_train_matches_scikit_learn() {
    let ex = Example::prepare();
    let run = verge(
        &ex.dir,
        &[
            "train",
            "surgical_lesion",
            "--entities",
            "train_entities.csv",
            "--holdout",
            "holdout_entities.csv",
            "-o",
            "model.bundle",
            "--json",
        ],
        0,
    );
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let fx = fixture();
    assert_eq!(summary["rows"], 300);
    assert_eq!(summary["feature_service"], SERVICE);
    assert_eq!(summary["selected_features"].as_array().unwrap().len(), 5);

    let bundle = Bundle::load(&std::fs::read(ex.dir.join("model.bundle")).unwrap()).unwrap();
    let contents = bundle.contents().require_model().unwrap();
    let selected: Vec<String> = contents
        .pipeline
        .selected_names()
        .iter()
        .map(|n| n.rsplit(':').next().unwrap().to_owned())
        .collect();
    let expected: Vec<&str> = fx["selected_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(selected, expected);
    let accuracy = contents
        .training
        .metrics
        .iter()
        .find(|(k, _)| k == "holdout_accuracy")
        .map(|(_, v)| *v);
    assert_eq!(
        accuracy,
        fx["accuracy"].as_f64(),
        "metrics: {:?}",
        contents.training.metrics
    );

    // The bundle scores each holdout and training row as scikit-learn did.
    for (split, entities) in [
        ("test", "holdout_entities.csv"),
        ("train", "train_entities.csv"),
    ] {
        let rows = ex.historical(entities);
        let got = bundle_probabilities(&bundle, &rows);
        let want = fx[split].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (i, ((predicted, probs), w)) in got.iter().zip(want).enumerate() {
            let line = w["line"].as_u64().unwrap();
            assert_eq!(
                Some(*predicted),
                w["predicted"].as_i64(),
                "{split} line {line}"
            );
            let expected: Vec<f64> = w["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect();
            for (g, e) in probs.iter().zip(&expected) {
                assert!(
                    (g - e).abs() <= 1e-9,
                    "{split} row {i} (line {line}): verge {probs:?}, scikit-learn {expected:?}"
                );
            }
        }
    }
}

/// The example's tree models, as `trees/train.py` writes them.
const TREE_FILES: [&str; 2] = ["surgical_lesion.xgb.json", "surgical_lesion.lgb.txt"];
/// Each Python run is killed after this (the script takes seconds).
const PYTHON_LIMIT: Duration = Duration::from_secs(300);

/// The Python of `scripts/trees-venv` (`VERGE_TREES_PYTHON`), or `None`, said
/// loudly, when it is not set up; required under `VERGE_TREES_REQUIRED`, as in
/// the trees parity step of `scripts/test`.
fn trees_python() -> Option<PathBuf> {
    match std::env::var_os("VERGE_TREES_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("VERGE_TREES_REQUIRED").is_some() => {
            panic!("VERGE_TREES_REQUIRED is set but VERGE_TREES_PYTHON is not; run scripts/setup")
        }
        None => {
            eprintln!(
                "\n\n*** SKIPPED the horse-colic tree retraining: VERGE_TREES_PYTHON is not set \
                 (eval \"$(scripts/setup --print-env)\") ***\n\n"
            );
            None
        }
    }
}

/// XGBoost's own probabilities (`1 - p`, `p`, in f32 as `predict_proba`
/// gives them) for the rows of a `verge historical` CSV, from the committed model.
const XGBOOST_PREDICT: &str = r#"
import sys, numpy as np, pandas as pd, xgboost
model, rows = sys.argv[1:]
booster = xgboost.Booster(model_file=model)
frame = pd.read_csv(rows)
x = frame[booster.feature_names].astype("float64")
p = booster.predict(xgboost.DMatrix(x, feature_names=booster.feature_names))
for v in p:
    print(repr(float(np.float32(1) - v)), repr(float(v)))
"#;

/// `trees/train.py`, rerun on the training set `verge historical` joins (the
/// one the naive Bayes trains on), writes exactly the committed model files;
/// and the imported XGBoost model scores the holdout as XGBoost itself does,
/// bit for bit, so `verge train`'s holdout accuracy is XGBoost's.
#[test]
fn the_committed_tree_models_are_what_train_py_trains() {
    let Some(python) = trees_python() else {
        return;
    };
    let ex = Example::prepare();
    let train = ex.historical("train_entities.csv");
    assert_eq!(train.len(), 300);
    std::fs::rename(ex.dir.join("out.csv"), ex.dir.join("train.labelled.csv")).unwrap();
    let out = ex.dir.join("retrained");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = Command::new(&python);
    cmd.arg(example_dir().join("trees/train.py"))
        .arg(ex.dir.join("train.labelled.csv"))
        .arg(&out);
    run_bounded(cmd, &ex.dir, "train.py", PYTHON_LIMIT);
    for file in TREE_FILES {
        let committed = std::fs::read(example_dir().join("trees").join(file)).unwrap();
        assert!(
            std::fs::read(out.join(file)).unwrap() == committed,
            "examples/horse-colic/trees/{file} is not what trees/train.py trains; retrain it with \
             the commands in the example's README and commit the result"
        );
    }

    std::fs::create_dir_all(ex.dir.join("trees")).unwrap();
    std::fs::copy(
        example_dir().join("trees").join(TREE_FILES[0]),
        ex.dir.join("trees").join(TREE_FILES[0]),
    )
    .unwrap();
    let run = verge(
        &ex.dir,
        &[
            "train",
            "surgical_lesion_xgb",
            "--entities",
            "train_entities.csv",
            "--holdout",
            "holdout_entities.csv",
            "-o",
            "xgb.bundle",
            "--json",
        ],
        0,
    );
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let bundle = Bundle::load(&std::fs::read(ex.dir.join("xgb.bundle")).unwrap()).unwrap();
    let holdout = ex.historical("holdout_entities.csv");
    let got = bundle_probabilities(&bundle, &holdout);
    let mut cmd = Command::new(&python);
    cmd.arg("-c")
        .arg(XGBOOST_PREDICT)
        .arg(example_dir().join("trees").join(TREE_FILES[0]))
        .arg(ex.dir.join("out.csv"));
    let printed = run_bounded(cmd, &ex.dir, "xgboost-predict", PYTHON_LIMIT);
    let want: Vec<Vec<f64>> = printed
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(got.len(), 68);
    assert_eq!(want.len(), 68, "{printed}");
    let mut correct = 0;
    for (i, ((predicted, probs), (w, row))) in got.iter().zip(want.iter().zip(&holdout)).enumerate()
    {
        let bits = |p: &[f64]| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(probs),
            bits(w),
            "holdout row {i}: verge {probs:?}, XGBoost {w:?}"
        );
        correct += usize::from(predicted.to_string() == row["surgical_lesion"]);
    }
    assert_eq!(
        summary["metrics"]["holdout_accuracy"].as_f64(),
        Some(correct as f64 / 68.0),
        "{summary}"
    );
}
