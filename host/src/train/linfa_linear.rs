//! Ordinary least squares trained by linfa-linear and exported into the core's
//! [`LinearRegression`].
//!
//! linfa-linear (pure Rust, no BLAS) appends a column of ones and solves the
//! least-squares problem by QR, as scikit-learn's `LinearRegression` solves it
//! by LAPACK's `gelsd`; the two agree to rounding on a well-conditioned problem.
//! A problem with fewer rows than coefficients is refused before linfa sees it.

use anyhow::{Result, anyhow, bail};
use linfa::DatasetBase;
use linfa::traits::Fit as _;
use ndarray::Array1;
use verge_core::model::LinearRegression;
use verge_core::transform::Matrix;

use super::linfa_nb::to_ndarray;

/// The library and version that fits this estimator, recorded in the bundle.
pub const TRAINED_WITH: &str = "linfa-linear 0.8.1";

/// Fits `y ≈ coef · x + intercept` and converts it into the core's model.
///
/// # Examples
///
/// ```
/// use verge_core::transform::Matrix;
/// use verge_host::train::linfa_linear;
///
/// // y = 2a - b + 1
/// let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0], vec![2.0, 3.0]])?;
/// let model = linfa_linear::fit(&x, &[1.0, 3.0, 0.0, 2.0])?;
/// assert!((model.predict(&[10.0, 1.0])? - 20.0).abs() < 1e-9);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// Fewer rows than coefficients plus an intercept, a non-finite target, a solver
/// failure (collinear features), or non-finite coefficients.
pub fn fit(x: &Matrix, y: &[f64]) -> Result<LinearRegression> {
    let (n, p) = (x.n_rows(), x.n_cols());
    if n < p + 1 {
        bail!(
            "linear regression: {n} rows cannot determine {p} coefficients and an intercept; add rows or select fewer features"
        );
    }
    if y.len() != n {
        bail!("linear regression: {n} rows but {} targets", y.len());
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        bail!("linear regression: the target of training row {i} is not a finite number");
    }
    let dataset = DatasetBase::new(to_ndarray(x)?, Array1::from(y.to_vec()));
    let model = linfa_linear::LinearRegression::new()
        .fit(&dataset)
        .map_err(|e| anyhow!("linfa-linear could not fit linear regression: {e}"))?;
    LinearRegression::new(model.params().to_vec(), model.intercept()).map_err(|e| {
        anyhow!("{e}; the features may be collinear — drop duplicated or constant features")
    })
}
