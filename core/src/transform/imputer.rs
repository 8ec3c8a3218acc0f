//! Filling missing values (NaN) with a per-column statistic of the training set.
//!
//! This is scikit-learn's `SimpleImputer` with `missing_values=np.nan`: the mean,
//! the median (the mean of the two middle values for an even count), the most
//! frequent value (the smallest one on ties) or a constant. Unlike scikit-learn,
//! which silently drops a column that has no values at all, fitting fails and names
//! the column: a model whose input width depends on the data would break serving.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{Matrix, check_finite, column_label};
use crate::artifact::wire::decode_struct;
use crate::definition::Imputation;
use crate::{Error, Result};

/// A fitted imputer: one fill value per column.
///
/// # Examples
///
/// ```
/// use verge_core::definition::Imputation;
/// use verge_core::transform::{Matrix, SimpleImputer};
///
/// let x = Matrix::from_rows(&[vec![1.0, f64::NAN], vec![3.0, 4.0], vec![f64::NAN, 4.0]]).unwrap();
/// let imputer = SimpleImputer::fit(&x, Imputation::Mean, &[]).unwrap();
/// assert_eq!(imputer.statistics(), &[2.0, 4.0]);
/// let mut row = [f64::NAN, 7.0];
/// imputer.transform_row(&mut row).unwrap();
/// assert_eq!(row, [2.0, 7.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleImputer {
    strategy: Imputation,
    statistics: Vec<f64>,
}

impl SimpleImputer {
    /// Learns one fill value per column of `x`, ignoring NaN cells. `names` (may be
    /// empty) names the columns in error messages.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when `x` has no rows, when a column has no non-missing value
    /// (mean, median, most frequent), when a cell is infinite, or when a constant
    /// fill value is not finite.
    pub fn fit(x: &Matrix, strategy: Imputation, names: &[String]) -> Result<Self> {
        if x.n_rows() == 0 {
            return Err(fit_error(
                "the training set is empty; there is nothing to learn fill values from",
            ));
        }
        check_finite(x, names, "imputer", true)?;
        if let Imputation::Constant(fill) = strategy
            && !fill.is_finite()
        {
            return Err(fit_error(format!(
                "the constant fill value {fill} is not finite; use a finite number"
            )));
        }
        let mut statistics = Vec::with_capacity(x.n_cols());
        let mut present = Vec::with_capacity(x.n_rows());
        for j in 0..x.n_cols() {
            present.clear();
            present.extend(x.column(j).filter(|v| !v.is_nan()));
            let stat = match strategy {
                Imputation::Constant(fill) => fill,
                _ if present.is_empty() => {
                    return Err(fit_error(format!(
                        "{} has no values to impute from (every training row is missing); \
                         drop the feature or use a constant fill value",
                        column_label(names, j)
                    )));
                }
                Imputation::Mean => mean(&present),
                Imputation::Median => median(&mut present),
                Imputation::MostFrequent => most_frequent(&mut present),
                Imputation::None => {
                    return Err(fit_error(
                        "impute = \"none\" fits no imputer; leave the imputer out instead",
                    ));
                }
            };
            statistics.push(stat);
        }
        Ok(SimpleImputer {
            strategy,
            statistics,
        })
    }

    /// An imputer from known fill values (e.g. converted from another library).
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when a fill value is not finite.
    pub fn from_statistics(strategy: Imputation, statistics: Vec<f64>) -> Result<Self> {
        if let Some(bad) = statistics.iter().find(|v| !v.is_finite()) {
            return Err(fit_error(format!("fill value {bad} is not finite")));
        }
        Ok(SimpleImputer {
            strategy,
            statistics,
        })
    }

    /// The strategy the imputer was fitted with.
    #[must_use]
    pub fn strategy(&self) -> Imputation {
        self.strategy
    }

    /// The fill value of each column (scikit-learn's `statistics_`).
    #[must_use]
    pub fn statistics(&self) -> &[f64] {
        &self.statistics
    }

    /// Number of columns the imputer was fitted on.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.statistics.len()
    }

    /// Replaces every NaN in `row` by its column's fill value, in place.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` is not as wide as the training data.
    pub fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        if row.len() != self.statistics.len() {
            return Err(Error::Shape {
                stage: "imputer",
                expected: self.statistics.len(),
                actual: row.len(),
            });
        }
        for (v, &fill) in row.iter_mut().zip(&self.statistics) {
            if v.is_nan() {
                *v = fill;
            }
        }
        Ok(())
    }

    /// Imputes every row of `x` in place.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` is not as wide as the training data.
    pub fn transform(&self, x: &mut Matrix) -> Result<()> {
        if x.n_cols() != self.statistics.len() {
            return Err(Error::Shape {
                stage: "imputer",
                expected: self.statistics.len(),
                actual: x.n_cols(),
            });
        }
        for row in x.rows_mut() {
            self.transform_row(row)?;
        }
        Ok(())
    }
}

fn fit_error(message: impl Into<String>) -> Error {
    Error::Fit {
        stage: "imputer",
        message: message.into(),
    }
}

/// Sum in order, then divide: what `np.ma.mean` does for a column.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The middle value, or the mean of the two middle values. `values` is non-empty
/// and NaN-free, so `total_cmp` sorts it like numpy does.
fn median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let hi = values.get(n / 2).copied().unwrap_or(f64::NAN);
    if n % 2 == 1 {
        hi
    } else {
        let lo = values.get(n / 2 - 1).copied().unwrap_or(f64::NAN);
        (lo + hi) / 2.0
    }
}

/// The most frequent value; among equally frequent values, the smallest.
fn most_frequent(values: &mut [f64]) -> f64 {
    // -0.0 and 0.0 are one value to numpy; normalise so sorting groups them.
    for v in values.iter_mut() {
        if *v == 0.0 {
            *v = 0.0;
        }
    }
    values.sort_unstable_by(f64::total_cmp);
    let mut best = f64::NAN;
    let mut best_count = 0usize;
    let mut run_start = 0usize;
    for i in 1..=values.len() {
        if i == values.len() || values.get(i) != values.get(run_start) {
            let count = i - run_start;
            // Strictly greater: the first (smallest) value keeps a tie.
            if count > best_count {
                best_count = count;
                best = values.get(run_start).copied().unwrap_or(f64::NAN);
            }
            run_start = i;
        }
    }
    best
}

decode_struct!(SimpleImputer {
    strategy,
    statistics
});

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const NAN: f64 = f64::NAN;

    fn column(values: &[f64]) -> Matrix {
        Matrix::from_flat(values.len(), 1, values.to_vec()).unwrap()
    }

    #[test]
    fn strategies_on_one_column() {
        let x = column(&[3.0, NAN, 1.0, 2.0, 2.0, 10.0]);
        let stat = |s| SimpleImputer::fit(&x, s, &[]).unwrap().statistics()[0];
        assert_eq!(stat(Imputation::Mean), 18.0 / 5.0);
        assert_eq!(stat(Imputation::Median), 2.0);
        assert_eq!(stat(Imputation::MostFrequent), 2.0);
        assert_eq!(stat(Imputation::Constant(-1.0)), -1.0);
        let even = column(&[4.0, 1.0, NAN, 3.0, 2.0]);
        let m = SimpleImputer::fit(&even, Imputation::Median, &[]).unwrap();
        assert_eq!(m.statistics(), &[2.5]);
    }

    #[test]
    fn most_frequent_ties_pick_the_smallest() {
        let x = column(&[5.0, 3.0, 5.0, 3.0, 9.0, NAN, NAN, NAN]);
        let m = SimpleImputer::fit(&x, Imputation::MostFrequent, &[]).unwrap();
        assert_eq!(m.statistics(), &[3.0]);
        let x = column(&[-0.0, 0.0, 7.0, 7.0, -1.0]);
        let m = SimpleImputer::fit(&x, Imputation::MostFrequent, &[]).unwrap();
        assert_eq!(m.statistics(), &[0.0], "-0 and 0 count as one value");
    }

    #[test]
    fn all_nan_column_is_an_error_naming_it() {
        let x = Matrix::from_rows(&[vec![1.0, NAN], vec![2.0, NAN]]).unwrap();
        let names = [String::from("pulse"), String::from("ph")];
        let err = SimpleImputer::fit(&x, Imputation::Mean, &names).unwrap_err();
        let text = format!("{err}");
        assert!(matches!(err, Error::Fit { .. }));
        assert!(
            text.contains("`ph`") && text.contains("no values"),
            "{text}"
        );
        // A constant needs no data, so the column is fine.
        let c = SimpleImputer::fit(&x, Imputation::Constant(0.5), &names).unwrap();
        assert_eq!(c.statistics(), &[0.5, 0.5]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(SimpleImputer::fit(&Matrix::with_cols(2), Imputation::Mean, &[]).is_err());
        let inf = column(&[1.0, f64::INFINITY]);
        assert!(SimpleImputer::fit(&inf, Imputation::Mean, &[]).is_err());
        let ok = column(&[1.0]);
        assert!(SimpleImputer::fit(&ok, Imputation::Constant(NAN), &[]).is_err());
        let imputer = SimpleImputer::fit(&ok, Imputation::Mean, &[]).unwrap();
        assert!(matches!(
            imputer.transform_row(&mut [1.0, 2.0]),
            Err(Error::Shape {
                expected: 1,
                actual: 2,
                ..
            })
        ));
    }
}
