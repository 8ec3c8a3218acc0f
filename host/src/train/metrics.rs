//! How well a model does: accuracy for classifiers, RMSE for regressors.
//!
//! Both are computed from the core's own predictions ([`FittedPipeline::predict`]),
//! the code the edge runs, so the numbers in a bundle describe the model as it is
//! served rather than as the training library would have scored it.

use anyhow::{Context as _, Result, bail};
use verge_core::Value;
use verge_core::pipeline::{FittedPipeline, Prediction};

/// Whether a predicted label equals a true one. Numbers compare by value, so a
/// holdout file whose labels read as `1.0` still matches a class `1`.
#[must_use]
pub fn same_label(predicted: &Value, truth: &Value) -> bool {
    match (predicted, truth) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::String(_), _) | (_, Value::String(_)) => false,
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// The fraction of rows whose predicted label equals the true label.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_host::train::metrics::accuracy;
/// let y = [Value::Int64(1), Value::Int64(0)];
/// assert_eq!(accuracy(&[Value::Int64(1), Value::Int64(1)], &y), 0.5);
/// ```
#[must_use]
pub fn accuracy(predicted: &[Value], truth: &[Value]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return f64::NAN;
    }
    let hits = predicted
        .iter()
        .zip(truth)
        .filter(|(p, t)| same_label(p, t))
        .count();
    hits as f64 / n as f64
}

/// Root mean squared error.
///
/// # Examples
///
/// ```
/// use verge_host::train::metrics::rmse;
/// assert_eq!(rmse(&[1.0, 3.0], &[1.0, 1.0]), 2.0f64.sqrt());
/// ```
#[must_use]
pub fn rmse(predicted: &[f64], truth: &[f64]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return f64::NAN;
    }
    let sum: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum();
    (sum / n as f64).sqrt()
}

/// Scores `pipeline` on `rows` with true labels `labels`, returning the metric's
/// name (`accuracy` for a classifier, `rmse` for a regressor) and its value.
///
/// # Errors
///
/// When a row cannot be predicted (the message names the row, counted from 1, and
/// `what` names the set), or a regressor's label is not a number.
pub fn score(
    pipeline: &FittedPipeline,
    rows: &[Vec<Value>],
    labels: &[Value],
    what: &str,
) -> Result<(&'static str, f64)> {
    let mut predicted_labels = Vec::with_capacity(rows.len());
    let mut predicted_values = Vec::new();
    let mut truth_values = Vec::new();
    for (i, (row, label)) in rows.iter().zip(labels).enumerate() {
        let p = pipeline
            .predict(row)
            .with_context(|| format!("predicting {what} row {}", i + 1))?;
        match p {
            Prediction::Classes { .. } => {
                predicted_labels.push(p.label_value().cloned().unwrap_or(Value::Null));
            }
            Prediction::Value(v) => {
                let Some(t) = label.as_f64() else {
                    bail!("{what} row {}: the label is not a number", i + 1);
                };
                predicted_values.push(v);
                truth_values.push(t);
            }
        }
    }
    if pipeline.estimator().classes().is_some() {
        Ok(("accuracy", accuracy(&predicted_labels, labels)))
    } else {
        Ok(("rmse", rmse(&predicted_values, &truth_values)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_compare_by_value() {
        assert!(same_label(&Value::Int64(1), &Value::Float64(1.0)));
        assert!(!same_label(&Value::Int64(1), &Value::String("1".into())));
        assert!(same_label(&Value::Bool(true), &Value::Bool(true)));
        assert!(accuracy(&[], &[]).is_nan());
        assert_eq!(rmse(&[2.0], &[2.0]), 0.0);
    }
}
