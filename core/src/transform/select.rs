//! Univariate feature selection: the ANOVA F score and "keep the k best".
//!
//! [`f_classif`] reproduces `sklearn.feature_selection.f_classif` operation for
//! operation (sums of squares over all data, per-class sums, `sstot`, `ssbn`,
//! `sswn`, then `msb / msw`), because the F scores of near-tied features decide
//! which columns a model sees, and a different summation order could flip a choice.
//! [`SelectKBest`] then chooses columns exactly as scikit-learn does: NaN scores
//! count as the smallest float, a stable ascending sort, the last `k` win (so among
//! equal scores the later column wins), and the kept columns stay in input order.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;
use serde::{Deserialize, Serialize};

use super::{Matrix, check_finite};
use crate::artifact::wire::decode_struct;
use crate::{Error, Result};

/// ANOVA F score of each column of `x` against the class labels `y` (any integer
/// ids; the distinct values present are the classes, in ascending order).
///
/// A constant column gets NaN (0/0), and a column constant within every class but
/// differing between them gets infinity, as in scikit-learn.
///
/// # Examples
///
/// ```
/// use verge_core::transform::{Matrix, f_classif};
/// let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![2.0, 1.0], vec![8.0, 4.0], vec![9.0, 2.0]]).unwrap();
/// let f = f_classif(&x, &[0, 0, 1, 1]).unwrap();
/// assert!(f[0] > 90.0 && f[1] < 1.0);
/// ```
///
/// # Errors
///
/// [`Error::Fit`] when `x` is empty, `y` has a different length, there are fewer
/// than two classes, or a cell is NaN or infinite.
pub fn f_classif(x: &Matrix, y: &[usize]) -> Result<Vec<f64>> {
    f_classif_named(x, y, &[])
}

pub(crate) fn f_classif_named(x: &Matrix, y: &[usize], names: &[String]) -> Result<Vec<f64>> {
    let fit_error = |message: String| Error::Fit {
        stage: "f_classif",
        message,
    };
    if x.n_rows() == 0 {
        return Err(fit_error("the training set is empty".into()));
    }
    if y.len() != x.n_rows() {
        return Err(fit_error(format!(
            "{} rows but {} labels; give one label per row",
            x.n_rows(),
            y.len()
        )));
    }
    check_finite(x, names, "f_classif", false)?;
    let classes: Vec<usize> = y
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.len() < 2 {
        return Err(fit_error(
            "the label has a single class; an F test needs at least two".into(),
        ));
    }
    let p = x.n_cols();
    let n_classes = classes.len();
    // Per class, in ascending class order: count, Σx and Σx², each summed row by row
    // in input order like numpy's `axis=0` reduction of `X[y == k]`.
    let mut counts = vec![0usize; n_classes];
    let mut sums = vec![0.0f64; n_classes * p];
    let mut squares = vec![0.0f64; n_classes * p];
    for (row, label) in x.rows().zip(y) {
        let k = classes.binary_search(label).unwrap_or(0);
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
        let start = k * p;
        if let (Some(s), Some(q)) = (
            sums.get_mut(start..start + p),
            squares.get_mut(start..start + p),
        ) {
            for ((s, q), &v) in s.iter_mut().zip(q.iter_mut()).zip(row) {
                *s += v;
                *q += v * v;
            }
        }
    }
    let n = x.n_rows() as f64;
    let dfbn = (n_classes - 1) as f64;
    let dfwn = (x.n_rows() - n_classes) as f64;
    let mut scores = Vec::with_capacity(p);
    for j in 0..p {
        let column = |values: &[f64], k: usize| values.get(k * p + j).copied().unwrap_or(0.0);
        // Python's `sum(...)` over per-class arrays adds them in class order.
        let ss_alldata = (0..n_classes).fold(0.0, |acc, k| acc + column(&squares, k));
        let sum_all = (0..n_classes).fold(0.0, |acc, k| acc + column(&sums, k));
        let square_of_sums_alldata = sum_all * sum_all;
        let sstot = ss_alldata - square_of_sums_alldata / n;
        let mut ssbn = 0.0;
        for (k, &count) in counts.iter().enumerate() {
            let s = column(&sums, k);
            ssbn += s * s / count as f64;
        }
        ssbn -= square_of_sums_alldata / n;
        let sswn = sstot - ssbn;
        let msb = ssbn / dfbn;
        let msw = sswn / dfwn;
        scores.push(msb / msw);
    }
    Ok(scores)
}

/// Keeps the `k` columns with the highest scores.
///
/// # Examples
///
/// ```
/// use verge_core::transform::SelectKBest;
/// // NaN ranks lowest; equal scores prefer the later column.
/// let s = SelectKBest::from_scores(vec![3.0, f64::NAN, 5.0, 3.0], 2).unwrap();
/// assert_eq!(s.support(), &[2, 3]);
/// let mut out = [0.0; 2];
/// s.transform_into(&[10.0, 11.0, 12.0, 13.0], &mut out).unwrap();
/// assert_eq!(out, [12.0, 13.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectKBest {
    scores: Vec<f64>,
    support: Vec<usize>,
}

impl SelectKBest {
    /// Scores every column of `x` with [`f_classif`] and keeps the best `k`.
    /// `names` (may be empty) names columns in error messages.
    ///
    /// # Errors
    ///
    /// As [`f_classif`], and [`Error::Fit`] when `k` is 0 or exceeds the column count.
    pub fn fit(x: &Matrix, y: &[usize], k: usize, names: &[String]) -> Result<Self> {
        check_k(k, x.n_cols())?;
        let scores = f_classif_named(x, y, names)?;
        Self::from_scores(scores, k)
    }

    /// Keeps the best `k` of already computed scores.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when `k` is 0 or exceeds the number of scores.
    pub fn from_scores(scores: Vec<f64>, k: usize) -> Result<Self> {
        check_k(k, scores.len())?;
        // sklearn's `_clean_nans`: NaN becomes the most negative finite float.
        let cleaned: Vec<f64> = scores
            .iter()
            .map(|&s| if s.is_nan() { f64::MIN } else { s })
            .collect();
        let mut order: Vec<usize> = (0..cleaned.len()).collect();
        // Stable, like `np.argsort(kind="mergesort")`; `partial_cmp` keeps -0 == 0.
        order.sort_by(|&a, &b| {
            let (a, b) = (cleaned.get(a), cleaned.get(b));
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        });
        let mut support: Vec<usize> = order.split_off(order.len() - k);
        support.sort_unstable();
        Ok(SelectKBest { scores, support })
    }

    /// The score of every input column.
    #[must_use]
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// The kept column indices, ascending (sklearn's `get_support(indices=True)`).
    #[must_use]
    pub fn support(&self) -> &[usize] {
        &self.support
    }

    /// Number of input columns.
    #[must_use]
    pub fn n_features_in(&self) -> usize {
        self.scores.len()
    }

    /// Number of kept columns.
    #[must_use]
    pub fn k(&self) -> usize {
        self.support.len()
    }

    /// Copies the kept columns of `row` into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` or `out` has the wrong width.
    pub fn transform_into(&self, row: &[f64], out: &mut [f64]) -> Result<()> {
        if row.len() != self.scores.len() {
            return Err(Error::Shape {
                stage: "feature selection",
                expected: self.scores.len(),
                actual: row.len(),
            });
        }
        if out.len() != self.support.len() {
            return Err(Error::Shape {
                stage: "feature selection output",
                expected: self.support.len(),
                actual: out.len(),
            });
        }
        for (o, &j) in out.iter_mut().zip(&self.support) {
            *o = row.get(j).copied().ok_or(Error::Shape {
                stage: "feature selection",
                expected: j + 1,
                actual: row.len(),
            })?;
        }
        Ok(())
    }
}

fn check_k(k: usize, n_features: usize) -> Result<()> {
    if k == 0 || k > n_features {
        return Err(Error::Fit {
            stage: "select k best",
            message: format!(
                "k = {k} but there are {n_features} features; choose k in 1..={n_features}"
            ),
        });
    }
    Ok(())
}

decode_struct!(SelectKBest { scores, support });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_column_scores_nan_and_loses() {
        let x = Matrix::from_rows(&[
            vec![1.0, 7.0, 0.0],
            vec![2.0, 7.0, 0.0],
            vec![3.0, 7.0, 1.0],
            vec![5.0, 7.0, 1.0],
        ])
        .unwrap();
        let f = f_classif(&x, &[4, 4, 9, 9]).unwrap();
        assert!(f[1].is_nan(), "0/0 for a constant column: {f:?}");
        assert!(f[2].is_infinite(), "constant within classes: {f:?}");
        let s = SelectKBest::fit(&x, &[4, 4, 9, 9], 2, &[]).unwrap();
        assert_eq!(s.support(), &[0, 2]);
    }

    #[test]
    fn ties_prefer_later_columns_and_output_is_ascending() {
        let s = SelectKBest::from_scores(vec![1.0, 1.0, 1.0, 0.5], 2).unwrap();
        assert_eq!(s.support(), &[1, 2]);
        let s = SelectKBest::from_scores(vec![-0.0, 0.0, f64::NAN], 1).unwrap();
        assert_eq!(s.support(), &[1], "-0 and 0 tie, so the later wins");
    }

    #[test]
    fn bad_k_and_single_class_are_errors() {
        let x = Matrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap();
        assert!(SelectKBest::fit(&x, &[0, 1], 2, &[]).is_err());
        assert!(SelectKBest::fit(&x, &[0, 1], 0, &[]).is_err());
        assert!(f_classif(&x, &[1, 1]).is_err());
        assert!(f_classif(&x, &[1]).is_err());
        let nan = Matrix::from_rows(&[vec![f64::NAN], vec![2.0]]).unwrap();
        assert!(f_classif(&nan, &[0, 1]).is_err());
    }

    #[test]
    fn matches_a_hand_computed_anova() {
        // Two groups {1,2,3} and {6,7,8}: between SS 37.5 on 1 df, within SS 4 on 4 df.
        let x = Matrix::from_flat(6, 1, vec![1.0, 2.0, 3.0, 6.0, 7.0, 8.0]).unwrap();
        let f = f_classif(&x, &[0, 0, 0, 1, 1, 1]).unwrap();
        assert!((f[0] - 37.5).abs() < 1e-12, "{f:?}");
    }
}
