//! Gaussian naive Bayes, with scikit-learn's exact arithmetic.
//!
//! Split the linfa way: [`GaussianNbParams`] holds hyper-parameters and fits, and
//! [`GaussianNb`] is the fitted model, which can only be built through a validating
//! constructor (or a deserializer that runs it), so a model in a bundle always has
//! positive variances and matching shapes.
//!
//! Fitting matches `sklearn.naive_bayes.GaussianNB.fit`: per-class means and
//! population variances, `epsilon = var_smoothing * max_j var(X[:, j])` added to
//! every variance, priors = class counts / n. Prediction matches
//! `_joint_log_likelihood` and `predict_log_proba` term by term, including numpy's
//! pairwise summation over features and sklearn's `_logsumexp` (max shift,
//! `log1p`), so probabilities agree with sklearn's to about an ulp.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::encode_labels;
use crate::artifact::wire::decode_struct;
use crate::transform::Matrix;
use crate::value::Value;
use crate::{Error, Result};

/// Hyper-parameters of Gaussian naive Bayes.
///
/// | name | default | meaning | range |
/// |---|---|---|---|
/// | `var_smoothing` | `1e-9` | portion of the largest feature variance added to all variances | finite, ≥ 0 |
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::model::GaussianNbParams;
/// use verge_core::transform::Matrix;
///
/// let x = Matrix::from_rows(&[vec![1.0], vec![1.2], vec![3.0], vec![3.3]]).unwrap();
/// let y = [Value::Int64(0), Value::Int64(0), Value::Int64(1), Value::Int64(1)];
/// let model = GaussianNbParams::new().var_smoothing(1e-9).fit(&x, &y).unwrap();
/// let p = model.predict_proba(&[1.1]).unwrap();
/// assert!(p[0] > 0.99 && (p[0] + p[1] - 1.0).abs() < 1e-15);
/// assert_eq!(model.predict(&[3.1]).unwrap(), &Value::Int64(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[must_use]
pub struct GaussianNbParams {
    var_smoothing: f64,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        GaussianNbParams {
            var_smoothing: 1e-9,
        }
    }
}

impl GaussianNbParams {
    /// The defaults (scikit-learn's).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the portion of the largest feature variance added to every variance.
    pub fn var_smoothing(mut self, var_smoothing: f64) -> Self {
        self.var_smoothing = var_smoothing;
        self
    }

    /// The configured `var_smoothing`.
    #[must_use]
    pub fn get_var_smoothing(&self) -> f64 {
        self.var_smoothing
    }

    /// Fits on the rows of `x` with labels `y`.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when the parameters are invalid, `x` is empty or holds NaN or
    /// infinity, the shapes differ, the label has fewer than two classes or a null,
    /// or a variance stays zero after smoothing.
    pub fn fit(&self, x: &Matrix, y: &[Value]) -> Result<GaussianNb> {
        if y.len() != x.n_rows() {
            return Err(fit_error(format!(
                "{} rows but {} labels; give one label per row",
                x.n_rows(),
                y.len()
            )));
        }
        let (classes, index) = encode_labels(y)?;
        self.fit_encoded(x, classes, &index)
    }

    /// Fits with labels already encoded: `y[i]` indexes `classes` (sorted, distinct).
    ///
    /// # Errors
    ///
    /// As [`GaussianNbParams::fit`], and when an index is out of range or a class
    /// has no rows.
    pub fn fit_encoded(&self, x: &Matrix, classes: Vec<Value>, y: &[usize]) -> Result<GaussianNb> {
        if !(self.var_smoothing.is_finite() && self.var_smoothing >= 0.0) {
            return Err(fit_error(format!(
                "var_smoothing = {} but it must be a finite number ≥ 0",
                self.var_smoothing
            )));
        }
        if x.n_rows() == 0 {
            return Err(fit_error("the training set is empty".into()));
        }
        if y.len() != x.n_rows() {
            return Err(fit_error(format!(
                "{} rows but {} labels",
                x.n_rows(),
                y.len()
            )));
        }
        if classes.len() < 2 {
            return Err(fit_error(format!(
                "the label has a single class ({:?}); a classifier needs at least two",
                classes.first().unwrap_or(&Value::Null)
            )));
        }
        crate::transform::check_finite(x, &[], "gaussian naive bayes", false)?;
        let p = x.n_cols();
        let n_classes = classes.len();
        let mut counts = vec![0usize; n_classes];
        for &k in y {
            let c = counts.get_mut(k).ok_or_else(|| {
                fit_error(format!("label index {k} but only {n_classes} classes"))
            })?;
            *c += 1;
        }
        if let Some(k) = counts.iter().position(|&c| c == 0) {
            return Err(fit_error(format!(
                "class {:?} has no training rows",
                classes.get(k).unwrap_or(&Value::Null)
            )));
        }
        let max_var = (0..p)
            .map(|j| mean_and_var(x.column(j), x.n_rows()).1)
            .fold(f64::NEG_INFINITY, f64::max);
        let epsilon = if p == 0 {
            0.0
        } else {
            self.var_smoothing * max_var
        };
        let mut theta = Vec::with_capacity(n_classes * p);
        let mut var = Vec::with_capacity(n_classes * p);
        for (k, &count) in counts.iter().enumerate() {
            let rows = x.filter_rows(|i| y.get(i) == Some(&k));
            for j in 0..p {
                let (m, v) = mean_and_var(rows.column(j), count);
                theta.push(m);
                var.push(v + epsilon);
            }
        }
        let n = x.n_rows() as f64;
        let class_prior = counts.iter().map(|&c| c as f64 / n).collect();
        GaussianNb::from_parts(GaussianNbParts {
            classes,
            class_prior,
            theta: Matrix::from_flat(n_classes, p, theta)?,
            var: Matrix::from_flat(n_classes, p, var)?,
            epsilon,
        })
        .map_err(|e| match e {
            Error::Fit { message, .. } => fit_error(format!(
                "{message}; every feature may be constant — raise var_smoothing or drop constant features"
            )),
            other => other,
        })
    }
}

/// `np.mean` then `np.var` of one column: sum in order, divide; then the mean of
/// squared deviations (population variance).
fn mean_and_var(values: impl Iterator<Item = f64> + Clone, n: usize) -> (f64, f64) {
    let n = n as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var)
}

fn fit_error(message: alloc::string::String) -> Error {
    Error::Fit {
        stage: "gaussian naive bayes",
        message,
    }
}

/// The stored parameters of a [`GaussianNb`] (scikit-learn's attribute names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNbParts {
    /// The label values, sorted (`classes_`).
    pub classes: Vec<Value>,
    /// Prior probability of each class (`class_prior_`).
    pub class_prior: Vec<f64>,
    /// Per-class feature means, `n_classes × n_features` (`theta_`).
    pub theta: Matrix,
    /// Per-class feature variances with `epsilon` already added (`var_`).
    pub var: Matrix,
    /// The smoothing added to every variance (`epsilon_`), kept for the record.
    pub epsilon: f64,
}

/// A fitted Gaussian naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GaussianNbParts", into = "GaussianNbParts")]
pub struct GaussianNb {
    parts: GaussianNbParts,
    /// `log(class_prior)`, computed once.
    log_prior: Vec<f64>,
    /// `-0.5 * Σ_j log(2π var_cj)`, computed once per class as sklearn does per call.
    log_norm: Vec<f64>,
}

decode_struct!(GaussianNb as GaussianNbParts { classes, class_prior, theta, var, epsilon });

impl TryFrom<GaussianNbParts> for GaussianNb {
    type Error = Error;
    fn try_from(parts: GaussianNbParts) -> Result<Self> {
        GaussianNb::from_parts(parts)
    }
}

impl From<GaussianNb> for GaussianNbParts {
    fn from(model: GaussianNb) -> Self {
        model.parts
    }
}

impl GaussianNb {
    /// A model from its parameters, e.g. converted from linfa-bayes on the host.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when there are fewer than two classes, shapes disagree, a
    /// prior is not in `(0, 1]`, a mean is not finite or a variance is not positive.
    pub fn from_parts(parts: GaussianNbParts) -> Result<Self> {
        let n_classes = parts.classes.len();
        if n_classes < 2 {
            return Err(fit_error(format!(
                "{n_classes} class(es); a classifier needs at least two"
            )));
        }
        if parts.class_prior.len() != n_classes
            || parts.theta.n_rows() != n_classes
            || parts.var.n_rows() != n_classes
            || parts.var.n_cols() != parts.theta.n_cols()
        {
            return Err(fit_error(format!(
                "{n_classes} classes but {} priors, theta {}×{} and var {}×{}",
                parts.class_prior.len(),
                parts.theta.n_rows(),
                parts.theta.n_cols(),
                parts.var.n_rows(),
                parts.var.n_cols()
            )));
        }
        if parts.class_prior.iter().any(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(fit_error("class priors must be in (0, 1]".into()));
        }
        if parts.theta.as_slice().iter().any(|t| !t.is_finite()) {
            return Err(fit_error("a class mean is not finite".into()));
        }
        if let Some(i) = parts
            .var
            .as_slice()
            .iter()
            .position(|v| !(v.is_finite() && *v > 0.0))
        {
            let p = parts.var.n_cols().max(1);
            return Err(fit_error(format!(
                "the variance of feature {} in class {:?} is not positive",
                i % p,
                parts.classes.get(i / p).unwrap_or(&Value::Null)
            )));
        }
        let log_prior = parts.class_prior.iter().map(|&p| libm::log(p)).collect();
        let log_norm = parts
            .var
            .rows()
            .map(|var| -0.5 * numpy_sum(var.len(), |j| log_two_pi_var(at(var, j))))
            .collect();
        Ok(GaussianNb {
            parts,
            log_prior,
            log_norm,
        })
    }

    /// The label values, sorted; probabilities follow this order.
    #[must_use]
    pub fn classes(&self) -> &[Value] {
        &self.parts.classes
    }

    /// Prior probability of each class.
    #[must_use]
    pub fn class_prior(&self) -> &[f64] {
        &self.parts.class_prior
    }

    /// Per-class means (`n_classes × n_features`).
    #[must_use]
    pub fn theta(&self) -> &Matrix {
        &self.parts.theta
    }

    /// Per-class variances including the smoothing (`n_classes × n_features`).
    #[must_use]
    pub fn var(&self) -> &Matrix {
        &self.parts.var
    }

    /// The smoothing that was added to every variance.
    #[must_use]
    pub fn epsilon(&self) -> f64 {
        self.parts.epsilon
    }

    /// Number of input features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.parts.theta.n_cols()
    }

    /// Writes the log-probability of each class for `x` into `out` and returns the
    /// index of the predicted class (the first maximum of the joint log-likelihood,
    /// as `np.argmax`). Does not allocate.
    ///
    /// Every finite `x` gets a distribution. Where scikit-learn's arithmetic stays
    /// finite the answer is its answer; where some `(x_j - θ_cj)² / σ²_cj` overflows,
    /// the sums are rescaled by a common power of two instead (see
    /// `GaussianNb::far_log_proba_into`), so a class whose scaled distance decides
    /// the comparison gets probability 1 rather than every class getting `-inf`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` or `out` has the wrong width; [`Error::Eval`] when
    /// `x` holds a NaN or infinity.
    pub fn predict_log_proba_into(&self, x: &[f64], out: &mut [f64]) -> Result<usize> {
        let p = self.n_features();
        if x.len() != p {
            return Err(Error::Shape {
                stage: "gaussian naive bayes",
                expected: p,
                actual: x.len(),
            });
        }
        if out.len() != self.parts.classes.len() {
            return Err(Error::Shape {
                stage: "gaussian naive bayes output",
                expected: self.parts.classes.len(),
                actual: out.len(),
            });
        }
        if let Some(j) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Eval(format!(
                "gaussian naive bayes input {j} is {}; impute missing values before the model",
                at(x, j)
            )));
        }
        let rows = self.parts.theta.rows().zip(self.parts.var.rows());
        let consts = self.log_prior.iter().zip(&self.log_norm);
        let mut label = 0;
        let mut best = f64::NEG_INFINITY;
        let mut overflow = false;
        for (c, ((o, (theta, var)), (log_prior, log_norm))) in
            out.iter_mut().zip(rows).zip(consts).enumerate()
        {
            let quad = numpy_sum(p, |j| {
                let d = at(x, j) - at(theta, j);
                (d * d) / at(var, j)
            });
            overflow |= !quad.is_finite();
            // Same grouping as sklearn: log(prior) + (n_ij - 0.5 * Σ ...).
            *o = log_prior + (log_norm - 0.5 * quad);
            if *o > best {
                best = *o;
                label = c;
            }
        }
        if overflow {
            // An infinite sum says nothing about how far the class really is (its
            // d² may have overflowed while d²/σ² would not), so no class is ruled
            // out on it: every class is compared in scaled form instead.
            return Ok(self.far_log_proba_into(x, out));
        }
        normalise(out);
        Ok(label)
    }

    /// The log-probabilities for an `x` where some `(x_j - θ_cj)² / σ²_cj` overflows.
    ///
    /// Each term is split as `r · 2^g` with `r = (2m_d)² / m_σ` from the mantissas of
    /// `(x_j - θ_cj) / 2` and `σ²_cj` (halving first keeps `x_j - θ_cj` finite), and
    /// every class's sum is taken relative to the largest exponent `G`:
    /// `quad_c = q_c · 2^G`. Classes are then compared against the class `b` with the
    /// smallest `q`: `jll_c - jll_b = (a_c - a_b) - ½ (q_c - q_b) · 2^G`, where `a` is
    /// the log prior plus the normaliser. That difference is finite or `-inf`
    /// (probability 0), and `jll_b - jll_b = 0`, so the softmax over the differences
    /// is always a distribution. Returns the first class with the greatest difference.
    fn far_log_proba_into(&self, x: &[f64], out: &mut [f64]) -> usize {
        let p = self.n_features();
        // The mantissa-and-exponent form of one term (None for an exact zero).
        let term = |theta: &[f64], var: &[f64], j: usize| -> Option<(f64, i32)> {
            let half = 0.5 * at(x, j) - 0.5 * at(theta, j);
            if half == 0.0 {
                return None;
            }
            let (md, ed) = libm::frexp(half);
            let (mv, ev) = libm::frexp(at(var, j));
            Some((4.0 * md * md / mv, 2 * ed - ev))
        };
        let rows = || self.parts.theta.rows().zip(self.parts.var.rows());
        let big = rows()
            .flat_map(|(theta, var)| (0..p).filter_map(move |j| term(theta, var, j)))
            .map(|(_, g)| g)
            .max()
            .unwrap_or(0);
        for (o, (theta, var)) in out.iter_mut().zip(rows()) {
            *o = (0..p)
                .filter_map(|j| term(theta, var, j))
                .map(|(r, g)| libm::scalbn(r, g - big))
                .sum();
        }
        let consts = |c: usize| at(&self.log_prior, c) + at(&self.log_norm, c);
        let (mut b, mut q_b) = (0, f64::INFINITY);
        for (c, &q) in out.iter().enumerate() {
            if q < q_b {
                (b, q_b) = (c, q);
            }
        }
        let a_b = consts(b);
        let mut label = 0;
        let mut best = f64::NEG_INFINITY;
        for (c, o) in out.iter_mut().enumerate() {
            *o = (consts(c) - a_b) - 0.5 * libm::scalbn(*o - q_b, big);
            if *o > best {
                best = *o;
                label = c;
            }
        }
        normalise(out);
        label
    }

    /// Writes the probability of each class for `x` into `out` and returns the
    /// index of the predicted class. Does not allocate.
    ///
    /// # Errors
    ///
    /// As [`GaussianNb::predict_log_proba_into`].
    pub fn predict_proba_into(&self, x: &[f64], out: &mut [f64]) -> Result<usize> {
        let label = self.predict_log_proba_into(x, out)?;
        for o in out.iter_mut() {
            *o = libm::exp(*o);
        }
        Ok(label)
    }

    /// The log-probability of each class for `x`.
    ///
    /// # Errors
    ///
    /// As [`GaussianNb::predict_log_proba_into`].
    pub fn predict_log_proba(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.parts.classes.len()];
        self.predict_log_proba_into(x, &mut out)?;
        Ok(out)
    }

    /// The probability of each class for `x`.
    ///
    /// # Errors
    ///
    /// As [`GaussianNb::predict_log_proba_into`].
    pub fn predict_proba(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.parts.classes.len()];
        self.predict_proba_into(x, &mut out)?;
        Ok(out)
    }

    /// The predicted label for `x`.
    ///
    /// # Errors
    ///
    /// As [`GaussianNb::predict_log_proba_into`].
    pub fn predict(&self, x: &[f64]) -> Result<&Value> {
        let label = self.predict_log_proba_into(x, &mut vec![0.0; self.parts.classes.len()])?;
        self.parts
            .classes
            .get(label)
            .ok_or_else(|| Error::Eval("predicted class out of range".into()))
    }
}

/// `jll - logsumexp(jll)` in place, as sklearn, but with the maximum subtracted
/// from `jll` first: equal to it within an ulp of `max`, and still a distribution
/// when the input is so extreme that the likelihoods differ by less than an ulp of
/// their size (sklearn would return 1 for every class there). The maximum is finite
/// whenever this is called: every class's sum was finite, or the rescaled
/// comparison put the reference class at 0.
fn normalise(out: &mut [f64]) {
    let (max, rest) = logsumexp_parts(out);
    for o in out.iter_mut() {
        *o = (*o - max) - rest;
    }
}

/// `log(2π σ²)`, as sklearn computes it while `2π σ²` is finite, and as
/// `log(2π) + log(σ²)` above `f64::MAX / 2π`, where the product would overflow.
fn log_two_pi_var(var: f64) -> f64 {
    let two_pi = 2.0 * core::f64::consts::PI;
    let product = two_pi * var;
    if product.is_finite() {
        libm::log(product)
    } else {
        libm::log(two_pi) + libm::log(var)
    }
}

/// `values[j]`, or NaN past the end (widths are checked before any call).
#[inline]
fn at(values: &[f64], j: usize) -> f64 {
    values.get(j).copied().unwrap_or(f64::NAN)
}

/// Σ_{j<n} term(j) added in numpy's order (`pairwise_sum` in
/// `numpy/_core/src/umath/loops_utils.h.src`): plainly below 8 terms, with eight
/// interleaved accumulators up to 128, and by halves (multiples of 8) beyond.
/// Matching it keeps sklearn's row sums bit-identical for any feature count.
pub(crate) fn numpy_sum(n: usize, term: impl Fn(usize) -> f64) -> f64 {
    fn block<F: Fn(usize) -> f64>(start: usize, n: usize, term: &F) -> f64 {
        if n < 8 {
            // numpy starts from -0.0 so that a sum of -0.0s stays -0.0.
            let mut res = -0.0;
            for i in start..start + n {
                res += term(i);
            }
            res
        } else if n <= 128 {
            let mut r = [0.0f64; 8];
            for (k, slot) in r.iter_mut().enumerate() {
                *slot = term(start + k);
            }
            let whole = n - n % 8;
            let mut i = 8;
            while i < whole {
                for (k, slot) in r.iter_mut().enumerate() {
                    *slot += term(start + i + k);
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            while i < n {
                res += term(start + i);
                i += 1;
            }
            res
        } else {
            let mut half = n / 2;
            half -= half % 8;
            block(start, half, term) + block(start + half, n - half, term)
        }
    }
    block(0, n, &term)
}

/// `log Σ exp(a)` as sklearn's `_logsumexp`: shift by the maximum, leave the
/// maximal terms out of the sum and add them back through `log1p` and `log(m)`,
/// which is exact when one class dominates.
#[cfg(test)]
pub(crate) fn logsumexp(a: &[f64]) -> f64 {
    let (max, rest) = logsumexp_parts(a);
    rest + max
}

/// `(max, log Σ exp(a - max))`, the two parts of [`logsumexp`] before they are added.
pub(crate) fn logsumexp_parts(a: &[f64]) -> (f64, f64) {
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let m = a.iter().filter(|&&v| v == max).count() as f64;
    let shift = if max.is_finite() { max } else { 0.0 };
    let mut s = 0.0;
    for &v in a {
        if v != max {
            s += libm::exp(v - shift);
        }
    }
    let s = if s == 0.0 { s } else { s / m };
    (max, libm::log1p(s) + libm::log(m))
}

#[cfg(test)]
mod tests;
