//! Estimators: the last stage of a fitted pipeline.
//!
//! Gaussian naive Bayes is fitted here in the core (it is the reference the
//! scikit-learn parity tests hold to 1e-12); logistic and linear regression are
//! trained on the host with linfa or smartcore, and tree ensembles ([`tree`]) are
//! imported from XGBoost or LightGBM or trained with smartcore, and converted into these types, so
//! the core never depends on another library's layout. [`Estimator`] wraps them
//! for storage in a bundle and gives a [`Prediction`].
//!
//! Every model offers an allocation-free `*_into` method that writes into a
//! caller's buffer; the edge path uses those, and the allocating forms are
//! conveniences around them.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_enum;
use crate::value::Value;
use crate::{Error, Result};

pub mod gaussian_nb;
pub mod labels;
pub mod linear;
pub mod logistic;
pub mod tree;

pub use gaussian_nb::{GaussianNb, GaussianNbParams, GaussianNbParts};
pub use labels::encode_labels;
pub use linear::LinearRegression;
pub use logistic::{LogisticRegression, LogisticRegressionParts};
pub use tree::{TreeEnsemble, TreeEnsembleParts};

/// What a model says about one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Prediction {
    /// A classifier's answer.
    Classes {
        /// The label values seen in training, in the model's order.
        classes: Vec<Value>,
        /// One probability per class, summing to 1.
        probabilities: Vec<f64>,
        /// Index into `classes` of the predicted label.
        label: usize,
    },
    /// A regressor's answer.
    Value(f64),
}

impl Prediction {
    /// The predicted label value (classifiers only).
    #[must_use]
    pub fn label_value(&self) -> Option<&Value> {
        match self {
            Prediction::Classes { classes, label, .. } => classes.get(*label),
            Prediction::Value(_) => None,
        }
    }
}

/// A [`Prediction`] that borrows its classes from the model and its probabilities
/// from a caller's buffer: what the allocation-free path returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PredictionView<'a> {
    /// A classifier's answer.
    Classes {
        /// The label values, in the model's order.
        classes: &'a [Value],
        /// One probability per class.
        probabilities: &'a [f64],
        /// Index into `classes` of the predicted label.
        label: usize,
    },
    /// A regressor's answer.
    Value(f64),
}

impl PredictionView<'_> {
    /// The predicted label value (classifiers only).
    #[must_use]
    pub fn label_value(&self) -> Option<&Value> {
        match self {
            PredictionView::Classes { classes, label, .. } => classes.get(*label),
            PredictionView::Value(_) => None,
        }
    }

    /// An owned copy.
    #[must_use]
    pub fn to_prediction(&self) -> Prediction {
        match *self {
            PredictionView::Classes {
                classes,
                probabilities,
                label,
            } => Prediction::Classes {
                classes: classes.to_vec(),
                probabilities: probabilities.to_vec(),
                label,
            },
            PredictionView::Value(v) => Prediction::Value(v),
        }
    }
}

/// A fitted estimator of any supported kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Estimator {
    /// Gaussian naive Bayes.
    GaussianNb(GaussianNb),
    /// Logistic regression (binary or multinomial).
    LogisticRegression(LogisticRegression),
    /// Ordinary least squares.
    LinearRegression(LinearRegression),
    /// Gradient-boosted trees, a random forest or a decision tree.
    TreeEnsemble(TreeEnsemble),
}

impl Estimator {
    /// Number of input features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        match self {
            Estimator::GaussianNb(m) => m.n_features(),
            Estimator::LogisticRegression(m) => m.n_features(),
            Estimator::LinearRegression(m) => m.n_features(),
            Estimator::TreeEnsemble(m) => m.n_features(),
        }
    }

    /// The label values of a classifier; `None` for a regressor.
    #[must_use]
    pub fn classes(&self) -> Option<&[Value]> {
        match self {
            Estimator::GaussianNb(m) => Some(m.classes()),
            Estimator::LogisticRegression(m) => Some(m.classes()),
            Estimator::LinearRegression(_) => None,
            Estimator::TreeEnsemble(m) => Some(m.classes()).filter(|c| !c.is_empty()),
        }
    }

    /// True when the estimator routes a missing value (NaN) itself, so a pipeline
    /// without an imputer hands it over instead of refusing the row.
    #[must_use]
    pub fn routes_missing(&self) -> bool {
        matches!(self, Estimator::TreeEnsemble(_))
    }

    /// Number of probabilities the estimator writes: the class count, or 0.
    #[must_use]
    pub fn n_outputs(&self) -> usize {
        self.classes().map_or(0, <[Value]>::len)
    }

    /// Predicts for `x`, writing class probabilities into `probabilities` (resized
    /// to [`Estimator::n_outputs`]; no allocation once it has the capacity).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width; [`Error::Eval`] for non-finite input.
    pub fn predict_into<'a>(
        &'a self,
        x: &[f64],
        probabilities: &'a mut Vec<f64>,
    ) -> Result<PredictionView<'a>> {
        probabilities.resize(self.n_outputs(), 0.0);
        let (classes, label) = match self {
            Estimator::GaussianNb(m) => (m.classes(), m.predict_proba_into(x, probabilities)?),
            Estimator::LogisticRegression(m) => {
                (m.classes(), m.predict_proba_into(x, probabilities)?)
            }
            Estimator::LinearRegression(m) => return Ok(PredictionView::Value(m.predict(x)?)),
            Estimator::TreeEnsemble(m) if !m.is_classifier() => {
                return Ok(PredictionView::Value(m.predict_value(x)?));
            }
            Estimator::TreeEnsemble(m) => (m.classes(), m.predict_proba_into(x, probabilities)?),
        };
        if label >= classes.len() {
            return Err(Error::Eval("predicted class out of range".into()));
        }
        Ok(PredictionView::Classes {
            classes,
            probabilities,
            label,
        })
    }

    /// Floats per row that [`Estimator::predict_batch_into`] writes: the class
    /// count, or 1 for a regressor.
    #[must_use]
    pub fn output_width(&self) -> usize {
        self.classes().map_or(1, <[Value]>::len)
    }

    /// Predicts for many rows at once: `rows` holds them one after the other
    /// ([`Estimator::n_features`] values each), `out` gets
    /// [`Estimator::output_width`] floats per row (the probabilities, or the
    /// value). Equal bit for bit to [`Estimator::predict_into`] row by row; a
    /// tree ensemble walks each tree over a block of rows. Does not allocate.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `rows` is not whole rows or `out` not
    /// [`Estimator::output_width`] floats per row, or the first error
    /// [`Estimator::predict_into`] gives for a row (without its index: a caller
    /// that must name the row runs it row by row then).
    pub fn predict_batch_into(&self, rows: &[f64], out: &mut [f64]) -> Result<()> {
        let (p, width) = (self.n_features(), self.output_width());
        let count = rows.len().checked_div(p).unwrap_or(0);
        if p == 0 || count * p != rows.len() || count * width != out.len() {
            return Err(Error::Shape {
                stage: "batch",
                expected: count * width,
                actual: out.len(),
            });
        }
        let pairs = rows.chunks_exact(p).zip(out.chunks_exact_mut(width));
        match self {
            Estimator::TreeEnsemble(m) if m.is_classifier() => {
                return m.predict_proba_batch_into(rows, out);
            }
            Estimator::TreeEnsemble(m) => return m.predict_values_into(rows, out),
            Estimator::GaussianNb(m) => {
                for (x, o) in pairs {
                    m.predict_proba_into(x, o)?;
                }
            }
            Estimator::LogisticRegression(m) => {
                for (x, o) in pairs {
                    m.predict_proba_into(x, o)?;
                }
            }
            Estimator::LinearRegression(m) => {
                for (x, o) in pairs {
                    if let Some(o) = o.first_mut() {
                        *o = m.predict(x)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Predicts for `x`.
    ///
    /// # Errors
    ///
    /// As [`Estimator::predict_into`].
    pub fn predict(&self, x: &[f64]) -> Result<Prediction> {
        let mut probabilities = vec![0.0; self.n_outputs()];
        Ok(self.predict_into(x, &mut probabilities)?.to_prediction())
    }
}

decode_enum!(Estimator {
    GaussianNb(model),
    LogisticRegression(model),
    LinearRegression(model),
    TreeEnsemble(model),
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Matrix;

    #[test]
    fn estimator_dispatch() {
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![4.0], vec![5.0]]).unwrap();
        let y = [
            Value::Bool(false),
            Value::Bool(false),
            Value::Bool(true),
            Value::Bool(true),
        ];
        let nb = Estimator::GaussianNb(GaussianNbParams::new().fit(&x, &y).unwrap());
        let p = nb.predict(&[4.5]).unwrap();
        assert_eq!(p.label_value(), Some(&Value::Bool(true)));
        let lin = Estimator::LinearRegression(LinearRegression::new(vec![2.0], 1.0).unwrap());
        assert_eq!(lin.predict(&[3.0]).unwrap(), Prediction::Value(7.0));
        assert_eq!(lin.n_outputs(), 0);
        assert!(lin.predict(&[]).is_err());
    }
}
