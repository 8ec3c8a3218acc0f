//! Logistic regression trained by linfa-logistic and exported into the core's
//! [`LogisticRegression`].
//!
//! linfa-logistic minimises `Σ logloss + alpha/2 · ‖w‖²` (intercept not
//! penalised) with L-BFGS; scikit-learn minimises `C · Σ logloss + ½ ‖w‖²`,
//! the same objective scaled by `C`, so `alpha = 1 / C` fits the same model.
//! Two classes use linfa's binary model, three or more its multinomial one
//! (softmax over one score per class), as sklearn's default `lbfgs` solver does.
//!
//! Layouts differ and are converted here: linfa's binary model scores its
//! "positive" class, which is the *more frequent* label, not the larger one,
//! while the core (like sklearn) scores the second of the sorted classes, so the
//! coefficients are negated when linfa's positive class is the first. linfa's
//! multinomial parameters are `n_features × n_classes`; the core stores
//! `n_classes × n_features`.
//!
//! The solver stops at linfa's gradient tolerance (1e-4 on the summed loss) or
//! after `max_iter` iterations, whichever comes first, so coefficients agree
//! with sklearn's to the solvers' tolerance, not to the last bit; the bundle's
//! predictions equal linfa's own for the coefficients it found (tested).

use anyhow::{Result, anyhow, bail};
use linfa::DatasetBase;
use linfa::traits::Fit as _;
use ndarray::Array1;
use verge_core::Value;
use verge_core::model::{LogisticRegression, LogisticRegressionParts};
use verge_core::transform::Matrix;

use super::linfa_nb::to_ndarray;

/// The library and version that fits this estimator, recorded in the bundle.
pub const TRAINED_WITH: &str = "linfa-logistic 0.8.1";

/// Trains logistic regression (inverse regularisation `c`, at most `max_iter`
/// solver iterations) and converts it into the core's model. `classes` are the
/// sorted label values and `y[i]` indexes them.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::transform::Matrix;
/// use verge_host::train::linfa_logistic;
///
/// let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![3.0], vec![4.0]])?;
/// let classes = vec![Value::Bool(false), Value::Bool(true)];
/// let model = linfa_logistic::fit(&x, classes, &[0, 0, 1, 1], 1.0, 100)?;
/// assert_eq!(model.predict(&[3.5])?, &Value::Bool(true));
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// When `c` is not positive, the solver fails, or the coefficients are not finite.
pub fn fit(
    x: &Matrix,
    classes: Vec<Value>,
    y: &[usize],
    c: f64,
    max_iter: u32,
) -> Result<LogisticRegression> {
    if !(c.is_finite() && c > 0.0) {
        bail!("logistic regression: c = {c} but it must be a positive number");
    }
    let records = to_ndarray(x)?;
    let targets = Array1::from(y.to_vec());
    let dataset = DatasetBase::new(records, targets);
    let alpha = 1.0 / c;
    let n_classes = classes.len();
    let p = x.n_cols();
    let fail = |e: linfa_logistic::error::Error| {
        anyhow!("linfa-logistic could not fit logistic regression: {e}")
    };
    let (coef, intercept) = if n_classes == 2 {
        let model = linfa_logistic::LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(u64::from(max_iter))
            .fit(&dataset)
            .map_err(fail)?;
        // linfa scores its positive class; the core scores class 1.
        let sign = if model.labels().pos.class == 1 {
            1.0
        } else {
            -1.0
        };
        let coef: Vec<f64> = model.params().iter().map(|w| sign * w).collect();
        (
            Matrix::from_flat(1, p, coef)?,
            vec![sign * model.intercept()],
        )
    } else {
        let model = linfa_logistic::MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(u64::from(max_iter))
            .fit(&dataset)
            .map_err(fail)?;
        let params = model.params();
        let mut coef = vec![0.0; n_classes * p];
        let mut intercept = vec![0.0; n_classes];
        if params.dim() != (p, model.classes().len()) {
            bail!(
                "linfa-logistic gave {:?} parameters for {p} features and {n_classes} classes",
                params.dim()
            );
        }
        for (col, &class) in model.classes().iter().enumerate() {
            let Some(slot) = intercept.get_mut(class) else {
                bail!("linfa-logistic fitted class {class} of {n_classes}");
            };
            *slot = model.intercept().get(col).copied().unwrap_or(f64::NAN);
            for j in 0..p {
                if let (Some(out), Some(w)) = (coef.get_mut(class * p + j), params.get((j, col))) {
                    *out = *w;
                }
            }
        }
        (Matrix::from_flat(n_classes, p, coef)?, intercept)
    };
    LogisticRegression::from_parts(LogisticRegressionParts {
        classes,
        coef,
        intercept,
    })
    .map_err(|e| anyhow!("{e}; scale the features (scale = \"standard\") or lower c"))
}
