//! Logistic regression, prediction only (the host trains it).
//!
//! Stored in scikit-learn's layout: `coef` is `(1, n_features)` for two classes
//! (the row scores the second class) and `(n_classes, n_features)` for three or
//! more (multinomial). Probabilities are the sigmoid of the one score, or the
//! softmax of the row scores shifted by their maximum, so no input overflows.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_struct;
use crate::transform::Matrix;
use crate::value::Value;
use crate::{Error, Result};

/// The stored parameters of a [`LogisticRegression`] (scikit-learn's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionParts {
    /// The label values, sorted (`classes_`).
    pub classes: Vec<Value>,
    /// Coefficients: one row for two classes, one row per class otherwise (`coef_`).
    pub coef: Matrix,
    /// One intercept per row of `coef` (`intercept_`).
    pub intercept: Vec<f64>,
}

/// A fitted logistic regression classifier.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::model::{LogisticRegression, LogisticRegressionParts};
/// use verge_core::transform::Matrix;
///
/// let model = LogisticRegression::from_parts(LogisticRegressionParts {
///     classes: vec![Value::Bool(false), Value::Bool(true)],
///     coef: Matrix::from_rows(&[vec![2.0, -1.0]]).unwrap(),
///     intercept: vec![0.5],
/// })
/// .unwrap();
/// let p = model.predict_proba(&[1.0, 3.0]).unwrap(); // score -0.5
/// assert!((p[1] - 1.0 / (1.0 + 0.5f64.exp())).abs() < 1e-15);
/// assert_eq!(model.predict(&[1.0, 3.0]).unwrap(), &Value::Bool(false));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LogisticRegressionParts", into = "LogisticRegressionParts")]
pub struct LogisticRegression {
    parts: LogisticRegressionParts,
}

impl TryFrom<LogisticRegressionParts> for LogisticRegression {
    type Error = Error;
    fn try_from(parts: LogisticRegressionParts) -> Result<Self> {
        LogisticRegression::from_parts(parts)
    }
}

impl From<LogisticRegression> for LogisticRegressionParts {
    fn from(model: LogisticRegression) -> Self {
        model.parts
    }
}

impl LogisticRegression {
    /// A model from its parameters (converted from linfa or smartcore on the host).
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when there are fewer than two classes, the row count does not
    /// fit the class count (1 row for 2 classes, `n` rows for `n ≥ 3`), intercepts
    /// do not match rows, or a parameter is not finite.
    pub fn from_parts(parts: LogisticRegressionParts) -> Result<Self> {
        let n_classes = parts.classes.len();
        let rows_needed = if n_classes == 2 { 1 } else { n_classes };
        let fit_error = |message| Error::Fit {
            stage: "logistic regression",
            message,
        };
        if n_classes < 2 {
            return Err(fit_error(format!(
                "{n_classes} class(es); a classifier needs at least two"
            )));
        }
        if parts.coef.n_rows() != rows_needed || parts.intercept.len() != rows_needed {
            return Err(fit_error(format!(
                "{n_classes} classes need {rows_needed} coefficient row(s) and intercept(s), got {} and {}",
                parts.coef.n_rows(),
                parts.intercept.len()
            )));
        }
        if parts
            .coef
            .as_slice()
            .iter()
            .chain(&parts.intercept)
            .any(|v| !v.is_finite())
        {
            return Err(fit_error("a coefficient or intercept is not finite".into()));
        }
        Ok(LogisticRegression { parts })
    }

    /// The label values; probabilities follow this order.
    #[must_use]
    pub fn classes(&self) -> &[Value] {
        &self.parts.classes
    }

    /// Coefficients (`coef_`).
    #[must_use]
    pub fn coef(&self) -> &Matrix {
        &self.parts.coef
    }

    /// Intercepts (`intercept_`).
    #[must_use]
    pub fn intercept(&self) -> &[f64] {
        &self.parts.intercept
    }

    /// Number of input features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.parts.coef.n_cols()
    }

    /// Writes class probabilities for `x` into `out` and returns the predicted
    /// class index (sklearn's rule: score > 0 for two classes, the first highest
    /// score otherwise). Does not allocate.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width; [`Error::Eval`] for a NaN or infinite input.
    pub fn predict_proba_into(&self, x: &[f64], out: &mut [f64]) -> Result<usize> {
        let p = self.n_features();
        if x.len() != p {
            return Err(Error::Shape {
                stage: "logistic regression",
                expected: p,
                actual: x.len(),
            });
        }
        if out.len() != self.parts.classes.len() {
            return Err(Error::Shape {
                stage: "logistic regression output",
                expected: self.parts.classes.len(),
                actual: out.len(),
            });
        }
        if let Some(j) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Eval(format!(
                "logistic regression input {j} is not a finite number; impute missing values before the model"
            )));
        }
        let score = |row: &[f64], b: f64| row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + b;
        if let [p0, p1] = out {
            let z = self
                .parts
                .coef
                .rows()
                .zip(&self.parts.intercept)
                .map(|(row, &b)| score(row, b))
                .next()
                .unwrap_or(0.0);
            if z.is_nan() {
                return Err(overflow());
            }
            // Each side from its own sigmoid, so a tiny probability keeps its digits.
            *p1 = sigmoid(z);
            *p0 = sigmoid(-z);
            return Ok(usize::from(z > 0.0));
        }
        let mut label = 0;
        let mut best = f64::NEG_INFINITY;
        for (c, (o, (row, &b))) in out
            .iter_mut()
            .zip(self.parts.coef.rows().zip(&self.parts.intercept))
            .enumerate()
        {
            *o = score(row, b);
            if *o > best {
                best = *o;
                label = c;
            }
        }
        if !best.is_finite() || out.iter().any(|v| v.is_nan()) {
            return Err(overflow());
        }
        let mut total = 0.0;
        for o in out.iter_mut() {
            *o = libm::exp(*o - best);
            total += *o;
        }
        for o in out.iter_mut() {
            *o /= total;
        }
        Ok(label)
    }

    /// Class probabilities for `x`.
    ///
    /// # Errors
    ///
    /// As [`LogisticRegression::predict_proba_into`].
    pub fn predict_proba(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.parts.classes.len()];
        self.predict_proba_into(x, &mut out)?;
        Ok(out)
    }

    /// The predicted label for `x`.
    ///
    /// # Errors
    ///
    /// As [`LogisticRegression::predict_proba_into`].
    pub fn predict(&self, x: &[f64]) -> Result<&Value> {
        let label = self.predict_proba_into(x, &mut vec![0.0; self.parts.classes.len()])?;
        self.parts
            .classes
            .get(label)
            .ok_or_else(|| Error::Eval("predicted class out of range".into()))
    }
}

fn overflow() -> Error {
    Error::Eval("logistic regression: the input is too large; a class score overflowed".into())
}

/// `1 / (1 + e^-z)` without overflow: for negative `z` use `e^z / (1 + e^z)`.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + libm::exp(-z))
    } else {
        let e = libm::exp(z);
        e / (1.0 + e)
    }
}

decode_struct!(LogisticRegression as LogisticRegressionParts { classes, coef, intercept });

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(n: i64) -> Vec<Value> {
        (0..n).map(Value::Int64).collect()
    }

    #[test]
    fn extreme_scores_do_not_overflow() {
        let m = LogisticRegression::from_parts(LogisticRegressionParts {
            classes: classes(2),
            coef: Matrix::from_rows(&[vec![1.0]]).unwrap(),
            intercept: vec![0.0],
        })
        .unwrap();
        assert_eq!(m.predict_proba(&[1e6]).unwrap(), vec![0.0, 1.0]);
        assert_eq!(m.predict_proba(&[-1e6]).unwrap(), vec![1.0, 0.0]);
        let p = m.predict_proba(&[-40.0]).unwrap();
        assert!(
            (p[1] / libm::exp(-40.0) - 1.0).abs() < 1e-12,
            "tiny side keeps digits"
        );
        assert_eq!(
            m.predict(&[0.0]).unwrap(),
            &Value::Int64(0),
            "z = 0 is class 0"
        );

        let multi = LogisticRegression::from_parts(LogisticRegressionParts {
            classes: classes(3),
            coef: Matrix::from_rows(&[vec![1.0], vec![0.0], vec![-1.0]]).unwrap(),
            intercept: vec![0.0, 0.0, 0.0],
        })
        .unwrap();
        let p = multi.predict_proba(&[1e300]).unwrap();
        assert_eq!(p, vec![1.0, 0.0, 0.0]);
        let p = multi.predict_proba(&[0.0]).unwrap();
        assert!(p.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-16));
    }

    #[test]
    fn shapes_are_validated() {
        let bad = LogisticRegression::from_parts(LogisticRegressionParts {
            classes: classes(3),
            coef: Matrix::from_rows(&[vec![1.0]]).unwrap(),
            intercept: vec![0.0],
        });
        assert!(bad.is_err());
        let m = LogisticRegression::from_parts(LogisticRegressionParts {
            classes: classes(2),
            coef: Matrix::from_rows(&[vec![1.0, 2.0]]).unwrap(),
            intercept: vec![0.0],
        })
        .unwrap();
        assert!(matches!(m.predict(&[1.0]), Err(Error::Shape { .. })));
        assert!(matches!(m.predict(&[1.0, f64::NAN]), Err(Error::Eval(_))));
    }
}
