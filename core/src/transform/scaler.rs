//! Rescaling columns: standardisation and min-max scaling.
//!
//! Both follow scikit-learn to the operation: `StandardScaler` uses the population
//! variance from the corrected two-pass algorithm and treats a column as constant
//! (scale 1) when its variance is within rounding error of zero; `MinMaxScaler` maps
//! the training range onto `[0, 1]` and uses scale 1 for a range below `10 ε`. The
//! same order of operations keeps the fitted values within an ulp or two of sklearn's.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{Matrix, check_finite};
use crate::artifact::wire::{decode_enum, decode_struct};
use crate::definition::Scaling;
use crate::{Error, Result};

/// Zero mean and unit (population) variance per column.
///
/// # Examples
///
/// ```
/// use verge_core::transform::{Matrix, StandardScaler};
/// let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0]]).unwrap();
/// let s = StandardScaler::fit(&x, &[]).unwrap();
/// assert_eq!(s.mean(), &[2.0, 5.0]);
/// assert_eq!(s.scale(), &[1.0, 1.0]); // std 1 and a constant column
/// let mut row = [3.0, 6.0];
/// s.transform_row(&mut row).unwrap();
/// assert_eq!(row, [1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Vec<f64>,
    var: Vec<f64>,
    scale: Vec<f64>,
}

impl StandardScaler {
    /// Learns each column's mean and population standard deviation.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when `x` has no rows or holds a NaN or an infinity.
    pub fn fit(x: &Matrix, names: &[String]) -> Result<Self> {
        non_empty(x, "standard scaler")?;
        check_finite(x, names, "standard scaler", false)?;
        let n = x.n_rows() as f64;
        let (mut mean, mut var, mut scale) = (Vec::new(), Vec::new(), Vec::new());
        for j in 0..x.n_cols() {
            let m = x.column(j).sum::<f64>() / n;
            // Corrected two-pass variance (Chan, Golub & LeVeque), as sklearn computes it.
            let correction: f64 = x.column(j).map(|v| v - m).sum();
            let squares: f64 = x.column(j).map(|v| (v - m) * (v - m)).sum();
            let v = (squares - correction * correction / n) / n;
            // sklearn's `_is_constant_feature`: the variance is indistinguishable from
            // zero given the rounding error bound of the two-pass algorithm.
            let eps = f64::EPSILON;
            let bound = n * eps * v + (n * m * eps) * (n * m * eps);
            scale.push(if v <= bound { 1.0 } else { libm::sqrt(v) });
            mean.push(m);
            var.push(v);
        }
        Ok(StandardScaler { mean, var, scale })
    }

    /// A scaler from known parameters (e.g. converted from another library).
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when the lengths differ or a scale is not finite and positive.
    pub fn from_parts(mean: Vec<f64>, scale: Vec<f64>) -> Result<Self> {
        check_parts("standard scaler", &mean, &scale)?;
        let var = scale.iter().map(|s| s * s).collect();
        Ok(StandardScaler { mean, var, scale })
    }

    /// Column means (`mean_`).
    #[must_use]
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Column population variances (`var_`).
    #[must_use]
    pub fn var(&self) -> &[f64] {
        &self.var
    }

    /// Column divisors (`scale_`): the standard deviation, or 1 for a constant column.
    #[must_use]
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Standardises `row` in place: `(x - mean) / scale`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` is not as wide as the training data.
    pub fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        check_width("standard scaler", self.mean.len(), row.len())?;
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
            *v = (*v - m) / s;
        }
        Ok(())
    }
}

/// Each column's training range mapped onto `[0, 1]`.
///
/// # Examples
///
/// ```
/// use verge_core::transform::{Matrix, MinMaxScaler};
/// let x = Matrix::from_rows(&[vec![2.0], vec![6.0]]).unwrap();
/// let s = MinMaxScaler::fit(&x, &[]).unwrap();
/// let mut row = [4.0];
/// s.transform_row(&mut row).unwrap();
/// assert_eq!(row, [0.5]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    data_min: Vec<f64>,
    data_max: Vec<f64>,
    scale: Vec<f64>,
    min: Vec<f64>,
}

impl MinMaxScaler {
    /// Learns each column's minimum and maximum.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] when `x` has no rows or holds a NaN or an infinity.
    pub fn fit(x: &Matrix, names: &[String]) -> Result<Self> {
        non_empty(x, "min-max scaler")?;
        check_finite(x, names, "min-max scaler", false)?;
        let (mut data_min, mut data_max, mut scale, mut min) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for j in 0..x.n_cols() {
            let lo = x.column(j).fold(f64::INFINITY, f64::min);
            let hi = x.column(j).fold(f64::NEG_INFINITY, f64::max);
            let range = hi - lo;
            // sklearn's `_handle_zeros_in_scale`: a near-zero range divides by 1.
            let s = 1.0
                / if range < 10.0 * f64::EPSILON {
                    1.0
                } else {
                    range
                };
            data_min.push(lo);
            data_max.push(hi);
            scale.push(s);
            min.push(0.0 - lo * s);
        }
        Ok(MinMaxScaler {
            data_min,
            data_max,
            scale,
            min,
        })
    }

    /// Column minima seen in training (`data_min_`).
    #[must_use]
    pub fn data_min(&self) -> &[f64] {
        &self.data_min
    }

    /// Column maxima seen in training (`data_max_`).
    #[must_use]
    pub fn data_max(&self) -> &[f64] {
        &self.data_max
    }

    /// Per-column multiplier (`scale_`).
    #[must_use]
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Per-column offset added after scaling (`min_`).
    #[must_use]
    pub fn min(&self) -> &[f64] {
        &self.min
    }

    /// Scales `row` in place: `x * scale + min`. Values outside the training range
    /// map outside `[0, 1]`, as in scikit-learn without `clip`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` is not as wide as the training data.
    pub fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        check_width("min-max scaler", self.scale.len(), row.len())?;
        for ((v, s), m) in row.iter_mut().zip(&self.scale).zip(&self.min) {
            *v = *v * s + m;
        }
        Ok(())
    }
}

/// A fitted scaler of either kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scaler {
    /// [`StandardScaler`].
    Standard(StandardScaler),
    /// [`MinMaxScaler`].
    MinMax(MinMaxScaler),
}

impl Scaler {
    /// Fits the scaler `scaling` asks for; `None` for [`Scaling::None`].
    ///
    /// # Errors
    ///
    /// As [`StandardScaler::fit`] and [`MinMaxScaler::fit`].
    pub fn fit(x: &Matrix, scaling: Scaling, names: &[String]) -> Result<Option<Self>> {
        Ok(match scaling {
            Scaling::None => None,
            Scaling::Standard => Some(Scaler::Standard(StandardScaler::fit(x, names)?)),
            Scaling::MinMax => Some(Scaler::MinMax(MinMaxScaler::fit(x, names)?)),
        })
    }

    /// Number of columns the scaler was fitted on.
    #[must_use]
    pub fn n_features(&self) -> usize {
        match self {
            Scaler::Standard(s) => s.mean.len(),
            Scaler::MinMax(s) => s.scale.len(),
        }
    }

    /// Scales `row` in place.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` is not as wide as the training data.
    pub fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        match self {
            Scaler::Standard(s) => s.transform_row(row),
            Scaler::MinMax(s) => s.transform_row(row),
        }
    }

    /// Scales every row of `x` in place.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` is not as wide as the training data.
    pub fn transform(&self, x: &mut Matrix) -> Result<()> {
        check_width("scaler", self.n_features(), x.n_cols())?;
        for row in x.rows_mut() {
            self.transform_row(row)?;
        }
        Ok(())
    }
}

fn non_empty(x: &Matrix, stage: &'static str) -> Result<()> {
    if x.n_rows() == 0 {
        return Err(Error::Fit {
            stage,
            message: "the training set is empty".into(),
        });
    }
    Ok(())
}

fn check_width(stage: &'static str, expected: usize, actual: usize) -> Result<()> {
    if expected != actual {
        return Err(Error::Shape {
            stage,
            expected,
            actual,
        });
    }
    Ok(())
}

fn check_parts(stage: &'static str, offset: &[f64], scale: &[f64]) -> Result<()> {
    if offset.len() != scale.len() {
        return Err(Error::Fit {
            stage,
            message: alloc::format!(
                "{} means but {} scales; they must be per column",
                offset.len(),
                scale.len()
            ),
        });
    }
    if offset.iter().any(|v| !v.is_finite()) || scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::Fit {
            stage,
            message: "means must be finite and scales finite and positive".into(),
        });
    }
    Ok(())
}

decode_struct!(StandardScaler { mean, var, scale });
decode_struct!(MinMaxScaler {
    data_min,
    data_max,
    scale,
    min
});
decode_enum!(Scaler { Standard(scaler), MinMax(scaler) });

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn zero_variance_column_gets_scale_one() {
        let x = Matrix::from_rows(&[vec![0.5, 1.0], vec![0.5, 2.0], vec![0.5, 3.0]]).unwrap();
        let s = StandardScaler::fit(&x, &[]).unwrap();
        assert_eq!(s.scale()[0], 1.0);
        assert!((s.scale()[1] - libm::sqrt(2.0 / 3.0)).abs() < 1e-15);
        let mut row = [0.5, 2.0];
        s.transform_row(&mut row).unwrap();
        assert_eq!(row, [0.0, 0.0]);

        let m = MinMaxScaler::fit(&x, &[]).unwrap();
        assert_eq!(m.scale(), &[1.0, 0.5]);
        let mut row = [0.5, 4.0];
        m.transform_row(&mut row).unwrap();
        assert_eq!(row, [0.0, 1.5]);
    }

    #[test]
    fn nan_and_empty_are_errors() {
        let x = Matrix::from_rows(&[vec![f64::NAN]]).unwrap();
        assert!(StandardScaler::fit(&x, &[]).is_err());
        assert!(MinMaxScaler::fit(&x, &[]).is_err());
        assert!(StandardScaler::fit(&Matrix::with_cols(1), &[]).is_err());
        assert!(Scaler::fit(&x, Scaling::None, &[]).unwrap().is_none());
        assert!(StandardScaler::from_parts(vec![0.0], vec![0.0]).is_err());
        let s = StandardScaler::from_parts(vec![1.0], vec![2.0]).unwrap();
        assert!(matches!(s.transform_row(&mut []), Err(Error::Shape { .. })));
    }
}
