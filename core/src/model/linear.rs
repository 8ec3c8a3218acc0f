//! Linear regression: `coef · x + intercept`, and an ordinary least-squares fit.
//!
//! The fit centres `X` and `y` (so the intercept is `ȳ - coef · x̄`, as in
//! scikit-learn) and solves the centred problem with Householder QR rather than
//! the normal equations, which would square the condition number and lose half
//! the digits on features of very different scales. Collinear features are an
//! error instead of scikit-learn's minimum-norm solution: a model whose
//! coefficients are not determined by the data is better caught at training time.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_struct;
use crate::transform::{Matrix, check_finite};
use crate::{Error, Result};

/// A fitted linear regression.
///
/// # Examples
///
/// ```
/// use verge_core::model::LinearRegression;
/// use verge_core::transform::Matrix;
///
/// // y = 2a - b + 1, exactly.
/// let x = Matrix::from_rows(&[vec![0.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0], vec![2.0, 3.0]]).unwrap();
/// let model = LinearRegression::fit(&x, &[1.0, 3.0, 0.0, 2.0]).unwrap();
/// assert!((model.predict(&[10.0, 1.0]).unwrap() - 20.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearRegression {
    coef: Vec<f64>,
    intercept: f64,
}

impl LinearRegression {
    /// A model from known coefficients (e.g. converted from linfa on the host).
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when a parameter is not finite.
    pub fn new(coef: Vec<f64>, intercept: f64) -> Result<Self> {
        if !intercept.is_finite() || coef.iter().any(|c| !c.is_finite()) {
            return Err(fit_error(
                "a coefficient or the intercept is not finite".into(),
            ));
        }
        Ok(LinearRegression { coef, intercept })
    }

    /// Least squares with an intercept.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when `x` is empty, shapes differ, data is NaN or infinite,
    /// there are fewer rows than coefficients, or the features are collinear.
    pub fn fit(x: &Matrix, y: &[f64]) -> Result<Self> {
        let (n, p) = (x.n_rows(), x.n_cols());
        if n == 0 {
            return Err(fit_error("the training set is empty".into()));
        }
        if y.len() != n {
            return Err(fit_error(format!("{n} rows but {} targets", y.len())));
        }
        check_finite(x, &[], "linear regression", false)?;
        if y.iter().any(|v| !v.is_finite()) {
            return Err(fit_error("a target is NaN or infinite".into()));
        }
        if n < p + 1 {
            return Err(fit_error(format!(
                "{n} rows cannot determine {p} coefficients and an intercept"
            )));
        }
        let x_mean: Vec<f64> = (0..p)
            .map(|j| x.column(j).sum::<f64>() / n as f64)
            .collect();
        let y_mean = y.iter().sum::<f64>() / n as f64;
        // Column-major centred copy: Householder works column by column.
        let mut a: Vec<f64> = Vec::with_capacity(n * p);
        for (j, m) in x_mean.iter().enumerate() {
            a.extend(x.column(j).map(|v| v - m));
        }
        let mut b: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let coef = solve_least_squares(&mut a, &mut b, n, p)?;
        let intercept = y_mean - coef.iter().zip(&x_mean).map(|(c, m)| c * m).sum::<f64>();
        LinearRegression::new(coef, intercept)
    }

    /// The coefficients (`coef_`).
    #[must_use]
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    /// The intercept (`intercept_`).
    #[must_use]
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Number of input features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.coef.len()
    }

    /// `coef · x + intercept`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width; [`Error::Eval`] for a NaN or infinite
    /// input or result.
    pub fn predict(&self, x: &[f64]) -> Result<f64> {
        if x.len() != self.coef.len() {
            return Err(Error::Shape {
                stage: "linear regression",
                expected: self.coef.len(),
                actual: x.len(),
            });
        }
        let y = self.coef.iter().zip(x).map(|(c, v)| c * v).sum::<f64>() + self.intercept;
        if !y.is_finite() {
            return Err(Error::Eval(
                "linear regression: the input is missing or too large for a finite prediction"
                    .into(),
            ));
        }
        Ok(y)
    }
}

fn fit_error(message: alloc::string::String) -> Error {
    Error::Fit {
        stage: "linear regression",
        message,
    }
}

/// Solves `min |A β - b|` for column-major `A` (`n × p`, `n ≥ p`) by Householder QR,
/// overwriting `a` and `b`.
fn solve_least_squares(a: &mut [f64], b: &mut [f64], n: usize, p: usize) -> Result<Vec<f64>> {
    let col_norm =
        |a: &[f64], j: usize| libm::sqrt(a.iter().skip(j * n).take(n).map(|v| v * v).sum::<f64>());
    let scale = (0..p).map(|j| col_norm(a, j)).fold(0.0, f64::max);
    let mut diag = vec![0.0; p];
    for k in 0..p {
        // Householder vector for column k, rows k..n.
        let norm = libm::sqrt(
            a.iter()
                .skip(k * n + k)
                .take(n - k)
                .map(|v| v * v)
                .sum::<f64>(),
        );
        let akk = a.get(k * n + k).copied().unwrap_or(0.0);
        if norm <= 1e-12 * scale || norm == 0.0 {
            return Err(fit_error(format!(
                "feature {k} is constant or a linear combination of earlier features; drop it"
            )));
        }
        let alpha = if akk > 0.0 { -norm } else { norm };
        if let Some(v) = a.get_mut(k * n + k) {
            *v -= alpha;
        }
        let vnorm2: f64 = a.iter().skip(k * n + k).take(n - k).map(|v| v * v).sum();
        // Reflect the remaining columns and b: x -= 2 v (vᵀx) / (vᵀv).
        let v: Vec<f64> = a.iter().skip(k * n + k).take(n - k).copied().collect();
        for j in k + 1..p {
            let col = a.iter_mut().skip(j * n + k).take(n - k);
            let dot: f64 = v.iter().zip(col).map(|(vi, xi)| vi * *xi).sum();
            let f = 2.0 * dot / vnorm2;
            for (xi, vi) in a.iter_mut().skip(j * n + k).take(n - k).zip(&v) {
                *xi -= f * vi;
            }
        }
        let dot: f64 = v.iter().zip(b.iter().skip(k)).map(|(vi, bi)| vi * bi).sum();
        let f = 2.0 * dot / vnorm2;
        for (bi, vi) in b.iter_mut().skip(k).zip(&v) {
            *bi -= f * vi;
        }
        if let Some(d) = diag.get_mut(k) {
            *d = alpha;
        }
    }
    // Back substitution with R (diagonal in `diag`, above it in `a`).
    let mut beta = vec![0.0; p];
    for k in (0..p).rev() {
        let mut s = b.get(k).copied().unwrap_or(0.0);
        for j in k + 1..p {
            s -= a.get(j * n + k).copied().unwrap_or(0.0) * beta.get(j).copied().unwrap_or(0.0);
        }
        if let (Some(bk), Some(&d)) = (beta.get_mut(k), diag.get(k)) {
            *bk = s / d;
        }
    }
    Ok(beta)
}

decode_struct!(LinearRegression { coef, intercept });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_relation_and_rejects_collinear_features() {
        let rows: Vec<Vec<f64>> = (0..20)
            .map(|i| {
                let a = f64::from(i);
                vec![a, libm::sin(a) * 100.0, 1000.0 + a * a]
            })
            .collect();
        let y: Vec<f64> = rows
            .iter()
            .map(|r| 3.0 * r[0] - 0.5 * r[1] + 0.01 * r[2] - 7.0)
            .collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let m = LinearRegression::fit(&x, &y).unwrap();
        for (c, want) in m.coef().iter().zip([3.0, -0.5, 0.01]) {
            assert!((c - want).abs() < 1e-9, "{:?}", m.coef());
        }
        assert!((m.intercept() + 7.0).abs() < 1e-7, "{}", m.intercept());

        let collinear = Matrix::from_rows(
            &(0..5)
                .map(|i| vec![f64::from(i), 2.0 * f64::from(i)])
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let err = LinearRegression::fit(&collinear, &[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap_err();
        assert!(format!("{err}").contains("feature 1"), "{err}");
        assert!(LinearRegression::fit(&Matrix::with_cols(1), &[]).is_err());
        assert!(matches!(m.predict(&[1.0]), Err(Error::Shape { .. })));
        assert!(m.predict(&[f64::NAN, 0.0, 0.0]).is_err());
    }
}
