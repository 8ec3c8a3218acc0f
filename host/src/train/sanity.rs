//! Signs that a model trained into nonsense: it fitted without error, but what
//! it learned cannot be useful, and a team migrating a pipeline would rather
//! hear it at `verge train` than from wrong predictions in production.
//!
//! Each sign is a [`Warning`](crate::warnings::Warning) (a "doubt"), kept apart
//! from the data warnings so a caller can refuse the model on them alone
//! ([`crate::train::Trained::refuse_doubts`], `verge train --strict`):
//!
//! - a regressor whose label is constant: it can only ever predict that value
//!   (a classifier with one class is already an error in [`super::check`]);
//! - a one-hot encoder over a text feature with more than
//!   [`MAX_ONE_HOT_LEVELS`] distinct training values: one column per value,
//!   most seen once or twice, so the model learns rows by heart;
//! - a regressor whose training or holdout RMSE is worse than predicting the
//!   training mean for every row: it is worse than knowing nothing.

use verge_core::definition::{Encoding, ModelSpec};
use verge_core::{DType, Value};

use super::HoldoutReport;
use super::dataset::TrainingSet;
use crate::warnings::Warnings;

/// More distinct values than this in a one-hot encoded text feature is a doubt.
pub const MAX_ONE_HOT_LEVELS: usize = 50;

/// The doubts about a model of `spec` fitted on `set`, whose training RMSE is
/// `training_rmse` (`None` for a classifier) and whose holdout scoring (if any)
/// is `holdout`.
#[must_use]
pub fn doubts(
    spec: &ModelSpec,
    set: &TrainingSet,
    training_rmse: Option<f64>,
    holdout: Option<&HoldoutReport>,
) -> Warnings {
    let mut doubts = Warnings::default();
    let constant = !spec.estimator.is_classifier() && constant_label(spec, set, &mut doubts);
    wide_one_hot(spec, set, &mut doubts);
    // A constant label has a baseline of 0 that rounding alone can "beat" or
    // miss; it has been said already.
    if !constant {
        if let (Some(rmse), Some(baseline)) =
            (training_rmse, baseline_rmse(&set.labels, &set.labels))
        {
            worse_than_mean(
                spec,
                "training",
                set.labels.len(),
                rmse,
                baseline,
                &mut doubts,
            );
        }
        if let Some(h) = holdout
            && let Some(baseline) = h.baseline_rmse
        {
            worse_than_mean(spec, "holdout", h.rows, h.value, baseline, &mut doubts);
        }
    }
    doubts
}

/// The RMSE of predicting the mean of `trained` for every label in `truth`:
/// the bar a regressor must beat. `None` when a label is not a number or there
/// are none.
#[must_use]
pub fn baseline_rmse(trained: &[Value], truth: &[Value]) -> Option<f64> {
    let trained: Vec<f64> = trained.iter().map(Value::as_f64).collect::<Option<_>>()?;
    let truth: Vec<f64> = truth.iter().map(Value::as_f64).collect::<Option<_>>()?;
    if trained.is_empty() || truth.is_empty() {
        return None;
    }
    let mean = trained.iter().sum::<f64>() / trained.len() as f64;
    Some(super::metrics::rmse(&vec![mean; truth.len()], &truth))
}

/// Warns when every label of a regressor's training set is the same number;
/// returns whether it did.
fn constant_label(spec: &ModelSpec, set: &TrainingSet, doubts: &mut Warnings) -> bool {
    let Some(first) = set.labels.first().and_then(Value::as_f64) else {
        return false;
    };
    if set.labels.iter().any(|v| v.as_f64() != Some(first)) {
        return false;
    }
    let rows = set.labels.len();
    doubts.add(rows, || {
        format!(
            "model `{}`: label `{}` is constant: all {rows} training rows have {first}, so the {} can only ever predict {first}; train on rows whose labels differ",
            spec.name,
            spec.label,
            super::estimator_name(&spec.estimator),
        )
    });
    true
}

/// Warns about each text feature that one-hot encoding turns into more than
/// [`MAX_ONE_HOT_LEVELS`] columns (the encoder learns exactly the distinct
/// non-null training values counted here).
fn wide_one_hot(spec: &ModelSpec, set: &TrainingSet, doubts: &mut Warnings) {
    if spec.encode != Encoding::OneHot {
        return;
    }
    for (j, column) in set.columns.iter().enumerate() {
        if column.dtype != DType::String {
            continue;
        }
        let mut levels: Vec<&str> = set
            .rows
            .iter()
            .filter_map(|r| match r.get(j) {
                Some(Value::String(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        levels.sort_unstable();
        levels.dedup();
        let n = levels.len();
        if n <= MAX_ONE_HOT_LEVELS {
            continue;
        }
        doubts.add(n, || {
            format!(
                "model `{}`: text feature `{}` has {n} distinct values in the {} training rows (more than {MAX_ONE_HOT_LEVELS}), and one-hot encoding makes a column of each, so the model mostly learns rows by heart; set encode = \"ordinal\" on the model, or drop the feature from feature service `{}`",
                spec.name,
                column.name,
                set.rows.len(),
                spec.feature_service,
            )
        });
    }
}

/// Warns when a regressor's RMSE on `what` (`training` or `holdout`) is worse
/// than the baseline of predicting the training mean.
fn worse_than_mean(
    spec: &ModelSpec,
    what: &str,
    rows: usize,
    rmse: f64,
    baseline: f64,
    doubts: &mut Warnings,
) {
    // A relative margin, so equal-up-to-rounding (a model that learned the
    // mean and nothing else) is not called worse.
    if rmse.is_nan() || rmse <= baseline + baseline.abs() * 1e-9 + f64::EPSILON {
        return;
    }
    doubts.add(rows, || {
        format!(
            "model `{}`: {what} RMSE {rmse:.4} over {rows} rows is worse than {baseline:.4}, the RMSE of predicting the training mean of `{}` for every row; the features do not explain the label (check the label, add informative features, or use fewer)",
            spec.name, spec.label,
        )
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use verge_core::definition::{EstimatorSpec, Imputation, Scaling};
    use verge_core::pipeline::ColumnMeta;

    fn regression() -> ModelSpec {
        ModelSpec {
            name: "m".into(),
            feature_service: "s".into(),
            label: "y".into(),
            impute: Imputation::Mean,
            scale: Scaling::Standard,
            encode: Encoding::OneHot,
            select_k_best: None,
            estimator: EstimatorSpec::LinearRegression,
        }
    }

    fn set(labels: &[f64]) -> TrainingSet {
        TrainingSet {
            columns: vec![ColumnMeta::new("v:a", DType::Float64)],
            rows: labels.iter().map(|_| vec![Value::Float64(1.0)]).collect(),
            labels: labels.iter().copied().map(Value::Float64).collect(),
            label: "y".into(),
            label_source: super::super::dataset::LabelSource::EntityColumn,
            dropped_null_labels: 0,
        }
    }

    #[test]
    fn the_baseline_is_the_rmse_of_the_training_mean() {
        let y = [1.0, 3.0].map(Value::Float64);
        assert_eq!(baseline_rmse(&y, &y), Some(1.0));
        assert_eq!(baseline_rmse(&y, &[Value::Int64(4)]), Some(2.0));
        assert_eq!(baseline_rmse(&y, &[Value::String("x".into())]), None);
        assert_eq!(baseline_rmse(&[], &y), None);
    }

    #[test]
    fn a_training_rmse_worse_than_the_mean_is_a_doubt() {
        // Labels 1 and 3: the mean's RMSE is 1.
        let (spec, set) = (regression(), set(&[1.0, 3.0]));
        assert!(
            doubts(&spec, &set, Some(1.0), None).is_empty(),
            "equal is not worse"
        );
        assert!(doubts(&spec, &set, Some(0.5), None).is_empty());
        let d = doubts(&spec, &set, Some(1.5), None);
        let w = d.iter().next().unwrap();
        assert!(
            w.message
                .contains("training RMSE 1.5000 over 2 rows is worse than 1.0000"),
            "{w}"
        );
        assert_eq!(w.count, 2);
    }

    #[test]
    fn a_constant_label_is_said_once() {
        let d = doubts(&regression(), &set(&[2.0, 2.0, 2.0]), Some(1e-17), None);
        assert_eq!(d.len(), 1, "{d:?}");
        let w = d.iter().next().unwrap();
        assert!(
            w.message
                .contains("label `y` is constant: all 3 training rows have 2"),
            "{w}"
        );
    }
}
