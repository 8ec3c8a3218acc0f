//! Fitted transforms: imputers, scalers, encoders and univariate selection.
//!
//! Each transform comes as a pair: a `fit` that learns parameters from a training
//! [`Matrix`] (used by the host when it trains, and by the tests as the reference),
//! and a fitted value whose `transform_*` methods run on one row at serving time,
//! in place and without allocating. The semantics follow scikit-learn's closely
//! enough that the fixtures in `core/tests/fixtures/sklearn` hold them to 1e-12.
//!
//! | module | fitted type | scikit-learn counterpart |
//! |---|---|---|
//! | [`matrix`] | [`Matrix`], the row-major training data | a C-ordered `ndarray` |
//! | [`imputer`] | [`SimpleImputer`] | `SimpleImputer` |
//! | [`scaler`] | [`StandardScaler`], [`MinMaxScaler`], [`Scaler`] | same names |
//! | [`encoder`] | [`OrdinalEncoder`], [`OneHotEncoder`] | same names (unknown → NaN / all zeros) |
//! | [`select`] | [`SelectKBest`], [`f_classif`] | same names |

use alloc::format;
use alloc::string::String;

pub mod encoder;
pub mod imputer;
pub mod matrix;
pub mod scaler;
pub mod select;

pub use encoder::{OneHotEncoder, OrdinalEncoder};
pub use imputer::SimpleImputer;
pub use matrix::Matrix;
pub use scaler::{MinMaxScaler, Scaler, StandardScaler};
pub use select::{SelectKBest, f_classif};

/// How a column is named in a message: its name when known, else its position.
pub(crate) fn column_label(names: &[String], j: usize) -> String {
    match names.get(j) {
        Some(name) => format!("column `{name}`"),
        None => format!("column {j}"),
    }
}

/// Rejects infinities (and, unless `allow_nan`, NaN) in a training matrix, naming
/// the first offending cell: scikit-learn refuses them too, and one infinity would
/// silently turn every statistic of its column into NaN.
pub(crate) fn check_finite(
    x: &Matrix,
    names: &[String],
    stage: &'static str,
    allow_nan: bool,
) -> crate::Result<()> {
    for (i, row) in x.rows().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v.is_infinite() || (!allow_nan && v.is_nan()) {
                let what = if v.is_nan() {
                    "missing (NaN)"
                } else {
                    "infinite"
                };
                return Err(crate::Error::Fit {
                    stage,
                    message: format!(
                        "{} is {what} in training row {i}; clean the data{}",
                        column_label(names, j),
                        if v.is_nan() {
                            " or configure an imputer"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
    }
    Ok(())
}
