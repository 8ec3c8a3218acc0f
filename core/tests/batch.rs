//! The binary batch path ([`FittedPipeline::predict_batch_into`]) against the
//! row path it must equal: for random batches (missing values, infinities,
//! extremes that overflow a scaler or a model, wrong widths and partial rows)
//! and every kind of estimator and transform stage, the batch gives the row
//! path's bits for every row, or the row path's first error with its index.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use verge_core::definition::{EstimatorSpec, Imputation, Scaling};
use verge_core::model::tree::Semantics;
use verge_core::model::{Estimator, LogisticRegression, LogisticRegressionParts};
use verge_core::pipeline::{
    BatchScratch, ColumnMeta, FittedPipeline, PipelineParams, PredictionView, Scratch,
    fit_pipeline, fit_transforms,
};
use verge_core::transform::Matrix;
use verge_core::{DType, Value};

const COLS: usize = 4;

/// Training rows: small numbers, some missing (when `nulls`), two classes.
fn training(nulls: bool) -> (Vec<ColumnMeta>, Vec<Vec<Value>>, Vec<Value>) {
    let columns = (0..COLS)
        .map(|j| ColumnMeta::new(format!("f{j}"), DType::Float64))
        .collect();
    let rows = (0..24usize)
        .map(|i| {
            (0..COLS)
                .map(|j| {
                    if nulls && (i + j) % 7 == 3 {
                        Value::Null
                    } else {
                        Value::Float64(((i * (j + 2)) % 11) as f64 * 0.5 - 1.0)
                    }
                })
                .collect()
        })
        .collect();
    let y = (0..24)
        .map(|i| Value::Int64(i64::from(i % 3 == 0)))
        .collect();
    (columns, rows, y)
}

/// One pipeline of each shape the batch path covers, by number.
fn pipeline(which: usize) -> FittedPipeline {
    let (columns, rows, y) = training(true);
    let (_, clean_rows, _) = training(false);
    let nb = EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    };
    let params = |imputer, scale, k| {
        PipelineParams::new(nb.clone())
            .impute(imputer)
            .scale(scale)
            .select_k_best(k)
    };
    // Without an imputer the training rows must be whole.
    let train = |p: &PipelineParams| {
        if p.impute.is_some() {
            &rows
        } else {
            &clean_rows
        }
    };
    let fitted = |p: PipelineParams| fit_pipeline(&p, &columns, train(&p), &y).unwrap();
    // The transforms of `p` with another estimator after them.
    let with = |p: PipelineParams, make: &dyn Fn(usize) -> Estimator| {
        let t = fit_transforms(&p, &columns, train(&p), &y)
            .unwrap()
            .transforms;
        let width = t.n_outputs();
        t.with_estimator(make(width)).unwrap()
    };
    let logistic = |classes: usize| {
        move |p: usize| {
            let rows = if classes == 2 { 1 } else { classes };
            let coef = (0..rows * p)
                .map(|i| (i as f64 * 0.37).sin() * 3.0)
                .collect();
            Estimator::LogisticRegression(
                LogisticRegression::from_parts(LogisticRegressionParts {
                    classes: (0..classes as i64).map(Value::Int64).collect(),
                    coef: Matrix::from_flat(rows, p, coef).unwrap(),
                    intercept: (0..rows).map(|i| i as f64 * 0.1 - 0.2).collect(),
                })
                .unwrap(),
            )
        }
    };
    match which {
        0 => fitted(params(Some(Imputation::Mean), Scaling::None, Some(3))),
        1 => fitted(params(Some(Imputation::Median), Scaling::Standard, None)),
        2 => fitted(params(Some(Imputation::Mean), Scaling::MinMax, Some(2))),
        3 => fitted(params(None, Scaling::None, None)),
        4 => with(
            params(Some(Imputation::Mean), Scaling::Standard, None),
            &logistic(2),
        ),
        5 => with(
            params(Some(Imputation::MostFrequent), Scaling::None, None),
            &logistic(3),
        ),
        6 => with(
            params(Some(Imputation::Mean), Scaling::MinMax, None),
            &|p| {
                let coef = (0..p).map(|i| i as f64 - 1.5).collect();
                Estimator::LinearRegression(
                    verge_core::model::LinearRegression::new(coef, 0.25).unwrap(),
                )
            },
        ),
        7 => with(params(None, Scaling::None, None), &|p| {
            let semantics = [Semantics::XgBoost, Semantics::LightGbm][p % 2];
            Estimator::TreeEnsemble(verge_test_kit::trees::binary_model(
                semantics, p as u32, 20, 4,
            ))
        }),
        _ => with(
            params(Some(Imputation::Mean), Scaling::Standard, Some(3)),
            &|p| {
                Estimator::TreeEnsemble(verge_test_kit::trees::binary_model(
                    Semantics::LightGbm,
                    p as u32,
                    30,
                    5,
                ))
            },
        ),
    }
}

const PIPELINES: usize = 9;

/// Mostly ordinary values, with missing ones, infinities and extremes.
fn cell() -> impl Strategy<Value = f64> {
    prop_oneof![
        12 => -3.0..3.0f64,
        3 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => any::<f64>(),
    ]
}

/// What the row path says for each row: its output bits, or its first error.
fn by_rows(
    p: &FittedPipeline,
    cells: &[f64],
    cols: usize,
) -> Result<Vec<u64>, (usize, verge_core::Error)> {
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let count = if cols == 0 {
        1
    } else {
        cells.len().div_ceil(cols)
    };
    for i in 0..count {
        let end = cells.len().min((i + 1) * cols);
        let row: Vec<Value> = cells[i * cols..end]
            .iter()
            .map(|&x| {
                if x.is_nan() {
                    Value::Null
                } else {
                    Value::Float64(x)
                }
            })
            .collect();
        match p.predict_into(&row, &mut scratch) {
            Ok(PredictionView::Classes { probabilities, .. }) => {
                out.extend(probabilities.iter().map(|x| x.to_bits()));
            }
            Ok(PredictionView::Value(v)) => out.push(v.to_bits()),
            Err(e) => return Err((i, e)),
        }
    }
    Ok(out)
}

fn batched(
    p: &FittedPipeline,
    cells: &[f64],
    cols: usize,
    scratch: &mut BatchScratch,
) -> Result<Vec<u64>, (usize, verge_core::Error)> {
    let mut out = vec![7.0; 3];
    match p.predict_batch_into(cells, cols, scratch, &mut out) {
        Ok(()) => Ok(out.iter().map(|x| x.to_bits()).collect()),
        Err(e) => {
            assert!(out.is_empty(), "a failed batch leaves no output");
            Err((e.row, e.error))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_batch_path_gives_the_row_paths_bits(
        which in 0..PIPELINES,
        rows in 0usize..150,
        seed_cells in prop::collection::vec(cell(), 0..600),
        clean in any::<bool>(),
    ) {
        let p = pipeline(which);
        // Half the batches are free of infinities and extremes, so most of those
        // take the fast path all the way.
        let cells: Vec<f64> = seed_cells
            .iter()
            .cycle()
            .take(if seed_cells.is_empty() { 0 } else { rows * COLS })
            .map(|&x| if clean && !(-3.0..=3.0).contains(&x) && !x.is_nan() { 0.5 } else { x })
            .collect();
        let mut scratch = BatchScratch::new();
        let expected = by_rows(&p, &cells, COLS);
        prop_assert_eq!(batched(&p, &cells, COLS, &mut scratch), expected.clone());
        // A warm scratch from another batch changes nothing.
        prop_assert_eq!(batched(&p, &cells, COLS, &mut scratch), expected);
        if let Ok(out) = by_rows(&p, &cells, COLS) {
            prop_assert_eq!(out.len(), cells.len() / COLS * p.output_width());
        }
    }

    #[test]
    fn wrong_widths_and_partial_rows_fail_as_the_row_path_does(
        which in 0..PIPELINES,
        cols in 0usize..7,
        cells in prop::collection::vec(-3.0..3.0f64, 0..40),
    ) {
        let p = pipeline(which);
        let mut scratch = BatchScratch::new();
        let expected = if cells.is_empty() { Ok(Vec::new()) } else { by_rows(&p, &cells, cols) };
        prop_assert_eq!(batched(&p, &cells, cols, &mut scratch), expected);
    }
}

/// Every pipeline takes a clean batch whole, with missing values imputed or
/// routed, and its answers are the row path's (a named case, so a regression
/// of the fast path shows up even if the properties above were to pass by
/// falling back).
#[test]
fn clean_batches_with_missing_values_match_row_by_row() {
    let cells: Vec<f64> = (0..200 * COLS)
        .map(|i| {
            if i % 9 == 4 {
                f64::NAN
            } else {
                ((i * 7) % 13) as f64 * 0.4 - 2.0
            }
        })
        .collect();
    for which in 0..PIPELINES {
        let p = pipeline(which);
        let mut scratch = BatchScratch::new();
        let expected = by_rows(&p, &cells, COLS);
        assert_eq!(
            batched(&p, &cells, COLS, &mut scratch),
            expected,
            "pipeline {which}"
        );
        if which != 3 {
            // Only the pipeline without an imputer before Gaussian NB refuses NaN.
            assert!(expected.is_ok(), "pipeline {which}: {expected:?}");
        }
    }
}
