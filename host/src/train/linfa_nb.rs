//! Gaussian naive Bayes trained by linfa-bayes and exported into the core's
//! [`GaussianNb`].
//!
//! # Same model as scikit-learn
//!
//! linfa-bayes 0.8's `GaussianNb` fits what `sklearn.naive_bayes.GaussianNB`
//! fits, and the exported parameters are the ones the core serves:
//!
//! | | scikit-learn | linfa-bayes 0.8 |
//! |---|---|---|
//! | means `theta_` | per-class column means | `mean_axis` per class |
//! | variances `var_` | per-class population variance (ddof 0) + `epsilon` | `var_axis(ddof 0)` per class + `epsilon` |
//! | `epsilon_` | `var_smoothing * max(np.var(X, axis=0))` | `var_smoothing * max(var_axis(X, ddof 0))` |
//! | priors | class counts / n | class counts / n |
//!
//! The one difference is rounding: ndarray's `var_axis` is Welford's streaming
//! update, numpy's `var` is two-pass, so variances can differ in the last bits
//! (relative 1e-15 on well-scaled data). The tests compare the exported
//! parameters with the core's own sklearn-exact fit to 1e-12 relative.
//!
//! Prediction is not taken from linfa: linfa-bayes's `predict_log_proba`
//! normalises with a plain `ln(Σ exp(jll))`, which underflows to NaN once every
//! class's log-likelihood is below about -745 (a row far from all classes),
//! where sklearn and the core shift by the maximum first. On ordinary rows the
//! two agree to ~1e-15; the bundle serves the core's arithmetic everywhere.
//!
//! linfa-bayes 0.8 has no accessors for the fitted means and variances, so they
//! are read through its serde form (the `serde` feature), into a mirror of its
//! documented field names. A change in that layout fails the export loudly.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail, ensure};
use linfa::DatasetBase;
use linfa::traits::Fit as _;
use ndarray::{Array1, Array2, Axis};
use serde::Deserialize;
use verge_core::Value;
use verge_core::model::{GaussianNb, GaussianNbParts};
use verge_core::transform::Matrix;

/// The library and version that fits this estimator, recorded in the bundle.
pub const TRAINED_WITH: &str = "linfa-bayes 0.8.1";

/// The training matrix as an ndarray, for linfa.
///
/// # Errors
///
/// Never in practice: a [`Matrix`] is always rectangular.
pub fn to_ndarray(x: &Matrix) -> Result<Array2<f64>> {
    Array2::from_shape_vec((x.n_rows(), x.n_cols()), x.as_slice().to_vec())
        .context("internal: the training matrix is not rectangular")
}

/// Fits linfa-bayes's Gaussian naive Bayes on `x` with class indices `y`.
///
/// # Errors
///
/// When linfa refuses the data (an empty matrix, a negative `var_smoothing`).
pub fn fit_linfa(
    x: &Matrix,
    y: &[usize],
    var_smoothing: f64,
) -> Result<linfa_bayes::GaussianNb<f64, usize>> {
    let records = to_ndarray(x)?;
    let targets = Array1::from(y.to_vec());
    let dataset = DatasetBase::new(records, targets);
    linfa_bayes::GaussianNb::params()
        .var_smoothing(var_smoothing)
        .fit(&dataset)
        .map_err(|e| anyhow::anyhow!("linfa-bayes could not fit Gaussian naive Bayes: {e}"))
}

/// Trains Gaussian naive Bayes with linfa-bayes and converts it into the core's
/// model. `classes` are the sorted label values and `y[i]` indexes them.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::transform::Matrix;
/// use verge_host::train::linfa_nb;
///
/// let x = Matrix::from_rows(&[vec![1.0], vec![1.2], vec![3.0], vec![3.3]])?;
/// let classes = vec![Value::Int64(0), Value::Int64(1)];
/// let model = linfa_nb::fit(&x, classes, &[0, 0, 1, 1], 1e-9)?;
/// assert_eq!(model.predict(&[3.1])?, &Value::Int64(1));
/// assert_eq!(model.class_prior(), &[0.5, 0.5]);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// When linfa cannot fit, or its parameters do not make a valid core model (a
/// zero variance because every feature is constant, a class with no rows).
pub fn fit(x: &Matrix, classes: Vec<Value>, y: &[usize], var_smoothing: f64) -> Result<GaussianNb> {
    let model = fit_linfa(x, y, var_smoothing)?;
    export(&model, classes, x, var_smoothing)
}

/// Mirror of linfa-bayes 0.8's serialized `GaussianNb`.
#[derive(Deserialize)]
struct LinfaGaussianNb {
    class_info: BTreeMap<usize, LinfaClassInfo>,
}

/// Mirror of linfa-bayes 0.8's serialized per-class parameters.
#[derive(Deserialize)]
struct LinfaClassInfo {
    #[allow(dead_code)]
    class_count: usize,
    prior: f64,
    theta: Array1<f64>,
    sigma: Array1<f64>,
}

/// Converts a fitted linfa-bayes model (trained on `x` with class indices into
/// `classes`) into the core's [`GaussianNb`].
///
/// # Errors
///
/// When the model's classes are not exactly `0..classes.len()`, widths disagree,
/// or the parameters are not a valid model (see [`GaussianNb::from_parts`]).
pub fn export(
    model: &linfa_bayes::GaussianNb<f64, usize>,
    classes: Vec<Value>,
    x: &Matrix,
    var_smoothing: f64,
) -> Result<GaussianNb> {
    let json = serde_json::to_value(model).context("reading linfa-bayes's fitted parameters")?;
    let mirror: LinfaGaussianNb = serde_json::from_value(json).context(
        "linfa-bayes's serialized GaussianNb no longer has the layout of 0.8 (class_info: prior, theta, sigma); update host/src/train/linfa_nb.rs",
    )?;
    let n_classes = classes.len();
    let p = x.n_cols();
    ensure!(
        mirror.class_info.len() == n_classes && mirror.class_info.keys().copied().eq(0..n_classes),
        "linfa-bayes fitted classes {:?}, expected 0..{n_classes}",
        mirror.class_info.keys().collect::<Vec<_>>()
    );
    let mut theta = Vec::with_capacity(n_classes * p);
    let mut var = Vec::with_capacity(n_classes * p);
    let mut class_prior = Vec::with_capacity(n_classes);
    for (k, info) in &mirror.class_info {
        if info.theta.len() != p || info.sigma.len() != p {
            bail!(
                "linfa-bayes gave class {k} {} means and {} variances for {p} features",
                info.theta.len(),
                info.sigma.len()
            );
        }
        theta.extend(info.theta.iter().copied());
        var.extend(info.sigma.iter().copied());
        class_prior.push(info.prior);
    }
    // linfa does not keep epsilon; recompute it exactly as linfa-bayes did
    // (`var_smoothing * max(var_axis(X, ddof 0))`), for the record.
    let records = to_ndarray(x)?;
    let max_var = records
        .var_axis(Axis(0), 0.0)
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let epsilon = if p == 0 { 0.0 } else { var_smoothing * max_var };
    let parts = GaussianNbParts {
        classes,
        class_prior,
        theta: Matrix::from_flat(n_classes, p, theta)?,
        var: Matrix::from_flat(n_classes, p, var)?,
        epsilon,
    };
    GaussianNb::from_parts(parts).map_err(|e| {
        anyhow::anyhow!(
            "{e}; every selected feature may be constant within a class — raise var_smoothing or drop constant features"
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn constant_features_are_refused() {
        let x = Matrix::from_rows(&[vec![1.0], vec![1.0], vec![1.0]]).unwrap();
        let classes = vec![Value::Int64(0), Value::Int64(1)];
        let err = fit(&x, classes, &[0, 1, 1], 1e-9).unwrap_err();
        assert!(format!("{err}").contains("var_smoothing"), "{err}");
    }
}
