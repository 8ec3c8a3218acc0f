//! Parity with scikit-learn on the UCI horse-colic data.
//!
//! `fixtures/sklearn/horse_colic.json` was written by `gen_fixtures.py` (run by
//! hand with scikit-learn; see its header). These tests fit the same data with the
//! core's own code and demand the same statistics, F scores, selected columns,
//! naive Bayes parameters and probabilities to 1e-12 relative, and the same
//! accuracy. If a fixture is regenerated with a new scikit-learn and a test fails,
//! look at the numbers before touching the tolerance.

// Test and benchmark code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use serde_json::Value as Json;
use verge_core::definition::{EstimatorSpec, Imputation};
use verge_core::model::{Estimator, LinearRegression, LogisticRegression, LogisticRegressionParts};
use verge_core::pipeline::{ColumnMeta, PipelineParams, Prediction, fit_pipeline};
use verge_core::transform::{Matrix, MinMaxScaler, SimpleImputer, StandardScaler};
use verge_core::{DType, Value};

const FIXTURE: &str = include_str!("fixtures/sklearn/horse_colic.json");
const TRAIN: &str = include_str!("fixtures/horse-colic/horse-colic.data");
const TEST: &str = include_str!("fixtures/horse-colic/horse-colic.test");

struct Data {
    rows: Vec<Vec<Value>>,
    labels: Vec<Value>,
}

impl Data {
    fn matrix(&self) -> Matrix {
        let rows: Vec<Vec<f64>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
            .collect();
        Matrix::from_rows(&rows).unwrap()
    }
}

fn fixture() -> Json {
    serde_json::from_str(FIXTURE).unwrap()
}

/// Parses the whitespace-separated UCI file: `?` is null; rows without a label are dropped.
fn parse(text: &str, columns: &[usize], label: usize) -> Data {
    let mut data = Data {
        rows: Vec::new(),
        labels: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 28, "{line}");
        let cell = |c: usize| match fields[c - 1] {
            "?" => Value::Null,
            s => Value::Float64(s.parse().unwrap()),
        };
        let Value::Float64(y) = cell(label) else {
            continue;
        };
        data.rows.push(columns.iter().map(|&c| cell(c)).collect());
        data.labels.push(Value::Int64(y as i64));
    }
    data
}

fn load() -> (Json, Vec<ColumnMeta>, Data, Data) {
    let fx = fixture();
    let uci: Vec<usize> = floats(&fx["uci_columns"])
        .iter()
        .map(|&c| c as usize)
        .collect();
    let label = fx["label_column"].as_u64().unwrap() as usize;
    let columns = fx["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| ColumnMeta::new(n.as_str().unwrap(), DType::Float64))
        .collect();
    let train = parse(TRAIN, &uci, label);
    let test = parse(TEST, &uci, label);
    assert_eq!(train.rows.len() as u64, fx["n_train"].as_u64().unwrap());
    assert_eq!(test.rows.len() as u64, fx["n_test"].as_u64().unwrap());
    (fx, columns, train, test)
}

fn floats(v: &Json) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Json) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

/// `|a - b| <= max(rel * max(|a|, |b|), abs)`, with a message naming `what`.
#[track_caller]
fn assert_close(what: &str, ours: &[f64], theirs: &[f64], rel: f64, abs: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let tol = (rel * a.abs().max(b.abs())).max(abs);
        assert!(
            (a - b).abs() <= tol,
            "{what}[{i}]: ours {a:e}, sklearn {b:e}, diff {:e} > {tol:e}",
            (a - b).abs()
        );
    }
}

fn strategy(name: &str) -> Imputation {
    match name {
        "mean" => Imputation::Mean,
        "median" => Imputation::Median,
        "most_frequent" => Imputation::MostFrequent,
        other => panic!("unknown strategy {other}"),
    }
}

#[test]
fn imputer_statistics_match() {
    let (fx, _, train, _) = load();
    for (name, expected) in fx["imputers"].as_object().unwrap() {
        let imputer = SimpleImputer::fit(&train.matrix(), strategy(name), &[]).unwrap();
        assert_close(name, imputer.statistics(), &floats(expected), 1e-12, 0.0);
    }
}

#[test]
fn gaussian_nb_pipeline_matches_sklearn() {
    let (fx, columns, train, test) = load();
    let mut report = Vec::new();
    for run in fx["runs"].as_array().unwrap() {
        let impute = run["impute"].as_str().unwrap();
        let k = run["k"].as_u64().unwrap() as usize;
        let what = format!("{impute} k={k}");
        let params = PipelineParams::new(EstimatorSpec::GaussianNb {
            var_smoothing: 1e-9,
        })
        .impute(Some(strategy(impute)))
        .select_k_best(Some(k));
        let pipeline = fit_pipeline(&params, &columns, &train.rows, &train.labels).unwrap();

        let selector = pipeline.transforms().parts().selector.as_ref().unwrap();
        assert_close(
            &format!("{what} f_classif"),
            selector.scores(),
            &floats(&run["f_classif"]),
            1e-12,
            0.0,
        );
        let support: Vec<usize> = floats(&run["support"])
            .iter()
            .map(|&j| j as usize)
            .collect();
        assert_eq!(selector.support(), support.as_slice(), "{what} support");

        let Estimator::GaussianNb(nb) = pipeline.estimator() else {
            panic!("expected naive Bayes")
        };
        let classes: Vec<Value> = floats(&run["classes"])
            .iter()
            .map(|&c| Value::Int64(c as i64))
            .collect();
        assert_eq!(nb.classes(), classes.as_slice());
        let theta: Vec<f64> = matrix(&run["theta"]).concat();
        let var: Vec<f64> = matrix(&run["var"]).concat();
        assert_close(
            &format!("{what} theta"),
            nb.theta().as_slice(),
            &theta,
            1e-12,
            0.0,
        );
        assert_close(
            &format!("{what} var"),
            nb.var().as_slice(),
            &var,
            1e-12,
            0.0,
        );
        assert_close(
            &format!("{what} prior"),
            nb.class_prior(),
            &floats(&run["class_prior"]),
            1e-12,
            0.0,
        );
        assert_close(
            &format!("{what} epsilon"),
            &[nb.epsilon()],
            &[run["epsilon"].as_f64().unwrap()],
            1e-12,
            0.0,
        );

        let expected_proba = matrix(&run["predict_proba"]);
        let expected_log = matrix(&run["predict_log_proba"]);
        let expected_label = floats(&run["predict"]);
        let mut correct = 0;
        let mut worst: f64 = 0.0;
        for (i, row) in test.rows.iter().enumerate() {
            let Prediction::Classes {
                probabilities,
                label,
                ..
            } = pipeline.predict(row).unwrap()
            else {
                panic!("a classifier")
            };
            assert_close(
                &format!("{what} proba row {i}"),
                &probabilities,
                &expected_proba[i],
                1e-12,
                1e-15,
            );
            let selected = pipeline.transform_row(row).unwrap().selected;
            // A log-probability near 0 is a difference of two log-likelihoods of size
            // ~50, so an ulp of those (7e-15) bounds the agreement, not 1e-12 of the result.
            let log = nb.predict_log_proba(&selected).unwrap();
            assert_close(
                &format!("{what} log proba row {i}"),
                &log,
                &expected_log[i],
                1e-12,
                1e-13,
            );
            for (a, b) in probabilities.iter().zip(&expected_proba[i]) {
                worst = worst.max((a - b).abs() / a.abs().max(b.abs()));
            }
            let predicted = &classes[label];
            assert_eq!(
                predicted,
                &Value::Int64(expected_label[i] as i64),
                "{what} label row {i}"
            );
            if predicted == &test.labels[i] {
                correct += 1;
            }
        }
        assert_eq!(
            correct as u64,
            run["correct"].as_u64().unwrap(),
            "{what} accuracy"
        );
        report.push(format!(
            "{what}: selected {:?}, accuracy {correct}/{} = {:.4}, worst relative probability difference {worst:e}",
            pipeline.selected_names(),
            test.rows.len(),
            f64::from(correct) / test.rows.len() as f64
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// The mean-imputed training and test matrices (the imputer fitted on training).
fn imputed_pair(fx: &Json, train: &Data, test: &Data) -> (Matrix, Matrix) {
    let mut tr = train.matrix();
    let imputer = SimpleImputer::fit(&tr, Imputation::Mean, &[]).unwrap();
    assert_close(
        "mean",
        imputer.statistics(),
        &floats(&fx["imputers"]["mean"]),
        1e-12,
        0.0,
    );
    imputer.transform(&mut tr).unwrap();
    let mut te = test.matrix();
    imputer.transform(&mut te).unwrap();
    (tr, te)
}

#[test]
fn scalers_match() {
    let (fx, _, train, test) = load();
    let (tr, te) = imputed_pair(&fx, &train, &test);
    let s = StandardScaler::fit(&tr, &[]).unwrap();
    let want = &fx["standard_scaler"];
    assert_close("mean_", s.mean(), &floats(&want["mean"]), 1e-12, 0.0);
    assert_close("var_", s.var(), &floats(&want["var"]), 1e-12, 0.0);
    assert_close("scale_", s.scale(), &floats(&want["scale"]), 1e-12, 0.0);
    for (row, expected) in te.rows().zip(matrix(&want["transform_test"])) {
        let mut row = row.to_vec();
        s.transform_row(&mut row).unwrap();
        assert_close("standardised", &row, &expected, 1e-12, 1e-14);
    }
    let m = MinMaxScaler::fit(&tr, &[]).unwrap();
    let want = &fx["minmax_scaler"];
    assert_close(
        "data_min_",
        m.data_min(),
        &floats(&want["data_min"]),
        0.0,
        0.0,
    );
    assert_close(
        "data_max_",
        m.data_max(),
        &floats(&want["data_max"]),
        0.0,
        0.0,
    );
    assert_close("scale_", m.scale(), &floats(&want["scale"]), 1e-15, 0.0);
    assert_close("min_", m.min(), &floats(&want["min"]), 1e-15, 0.0);
    for (row, expected) in te.rows().zip(matrix(&want["transform_test"])) {
        let mut row = row.to_vec();
        m.transform_row(&mut row).unwrap();
        assert_close("min-max", &row, &expected, 1e-12, 1e-15);
    }
}

fn logistic(want: &Json) -> LogisticRegression {
    LogisticRegression::from_parts(LogisticRegressionParts {
        classes: floats(&want["classes"])
            .iter()
            .map(|&c| Value::Int64(c as i64))
            .collect(),
        coef: Matrix::from_rows(&matrix(&want["coef"])).unwrap(),
        intercept: floats(&want["intercept"]),
    })
    .unwrap()
}

#[test]
fn logistic_regression_predictions_match() {
    let (fx, _, train, test) = load();
    let (tr, te) = imputed_pair(&fx, &train, &test);
    let scaler = StandardScaler::fit(&tr, &[]).unwrap();
    let want = &fx["logistic_binary"];
    let model = logistic(want);
    let labels = floats(&want["predict"]);
    for ((i, row), expected) in te.rows().enumerate().zip(matrix(&want["predict_proba"])) {
        let mut row = row.to_vec();
        scaler.transform_row(&mut row).unwrap();
        let p = model.predict_proba(&row).unwrap();
        assert_close(&format!("binary row {i}"), &p, &expected, 1e-12, 1e-15);
        assert_eq!(
            model.predict(&row).unwrap(),
            &Value::Int64(labels[i] as i64)
        );
    }

    let want = &fx["logistic_multinomial"];
    let model = logistic(want);
    assert_eq!(model.classes().len(), 3);
    let labels = floats(&want["predict"]);
    for (i, (row, expected)) in matrix(&want["x_test"])
        .iter()
        .zip(matrix(&want["predict_proba"]))
        .enumerate()
    {
        let p = model.predict_proba(row).unwrap();
        assert_close(&format!("multinomial row {i}"), &p, &expected, 1e-12, 1e-15);
        assert_eq!(model.predict(row).unwrap(), &Value::Int64(labels[i] as i64));
    }
}

#[test]
fn least_squares_fit_matches() {
    let (fx, _, train, test) = load();
    let (tr, te) = imputed_pair(&fx, &train, &test);
    let want = &fx["linear"];
    let rest: Vec<usize> = floats(&want["features"])
        .iter()
        .map(|&j| j as usize)
        .collect();
    let target = want["target"].as_u64().unwrap() as usize;
    let y: Vec<f64> = tr.column(target).collect();
    let model = LinearRegression::fit(&tr.select_columns(&rest).unwrap(), &y).unwrap();
    // Different (both stable) factorisations: agreement to ~1e-10 is what to expect.
    assert_close("coef", model.coef(), &floats(&want["coef"]), 1e-9, 1e-12);
    assert_close(
        "intercept",
        &[model.intercept()],
        &[want["intercept"].as_f64().unwrap()],
        1e-9,
        0.0,
    );
    let x = te.select_columns(&rest).unwrap();
    let ours: Vec<f64> = x.rows().map(|r| model.predict(r).unwrap()).collect();
    assert_close("predict", &ours, &floats(&want["predict"]), 1e-9, 1e-9);
}
