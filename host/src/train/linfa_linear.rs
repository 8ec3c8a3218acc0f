//! Ordinary least squares trained by linfa-linear and exported into the core's
//! [`LinearRegression`].
//!
//! linfa-linear (pure Rust, no BLAS) appends a column of ones and solves the
//! least-squares problem by QR, as scikit-learn's `LinearRegression` solves it
//! by LAPACK's `gelsd`; the two agree to rounding on a well-conditioned problem.
//! A problem with fewer rows than coefficients is refused before linfa sees it;
//! exactly collinear features (scikit-learn would return its minimum-norm
//! solution) are an error, since such coefficients are not determined by the data.

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
        .map_err(|e| {
            anyhow!(
                "linfa-linear could not fit linear regression: {e}; the features may be collinear \
                 (a one-hot column per category sums to 1, like the intercept): use encode = \"ordinal\" \
                 or drop duplicated or constant features"
            )
        })?;
    LinearRegression::new(model.params().to_vec(), model.intercept()).map_err(|e| {
        anyhow!("{e}; the features may be collinear — drop duplicated or constant features")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn collinear_features() {
        // b = 2a: the coefficients are not determined by the data.
        let x = Matrix::from_rows(&[
            vec![0.0, 0.0],
            vec![1.0, 2.0],
            vec![2.0, 4.0],
            vec![3.0, 6.0],
        ])
        .unwrap();
        let err = fit(&x, &[1.0, 2.0, 3.0, 4.5]).unwrap_err();
        assert!(format!("{err}").contains("collinear"), "{err}");
    }

    #[test]
    fn too_few_rows() {
        let x = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
        let err = fit(&x, &[1.0, 2.0]).unwrap_err();
        assert!(
            format!("{err}").contains("2 rows cannot determine 2"),
            "{err}"
        );
    }
}
