//! Turning text categories into numbers: ordinal codes or one-hot columns.
//!
//! Categories are the distinct training values in sorted (byte) order, as
//! scikit-learn's `categories='auto'` sorts them, so the codes do not depend on the
//! order rows arrived in. A category never seen in training is not an error at
//! serving time, because new values do appear in production: the ordinal encoder
//! gives NaN (which the imputer then fills, like sklearn's
//! `handle_unknown='use_encoded_value', unknown_value=np.nan`), and the one-hot
//! encoder gives all zeros (sklearn's `handle_unknown='ignore'`). A null is treated
//! as unknown.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_struct;
use crate::{Error, Result};

fn learn_categories<'a>(
    stage: &'static str,
    column: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>> {
    let set: BTreeSet<&str> = values.into_iter().collect();
    if set.is_empty() {
        return Err(Error::Fit {
            stage,
            message: format!(
                "column `{column}` has no values to learn categories from (every training row is null); \
                 drop the feature or fill it upstream"
            ),
        });
    }
    Ok(set.into_iter().map(String::from).collect())
}

fn position(categories: &[String], value: &str) -> Option<usize> {
    categories.binary_search_by(|c| c.as_str().cmp(value)).ok()
}

/// One code per category: `0.0, 1.0, ...` in sorted order; unknown or null is NaN.
///
/// # Examples
///
/// ```
/// use verge_core::transform::OrdinalEncoder;
/// let enc = OrdinalEncoder::fit("colour", ["red", "blue", "red"]).unwrap();
/// assert_eq!(enc.categories(), &["blue", "red"]);
/// assert_eq!(enc.encode(Some("red")), 1.0);
/// assert!(enc.encode(Some("green")).is_nan());
/// assert!(enc.encode(None).is_nan());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrdinalEncoder {
    categories: Vec<String>,
}

impl OrdinalEncoder {
    /// Learns the categories of column `column` from its non-null training values.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] naming the column when there are no values.
    pub fn fit<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        Ok(OrdinalEncoder {
            categories: learn_categories("ordinal encoder", column, values)?,
        })
    }

    /// An encoder from known categories; they are sorted and deduplicated.
    #[must_use]
    pub fn from_categories(mut categories: Vec<String>) -> Self {
        categories.sort();
        categories.dedup();
        OrdinalEncoder { categories }
    }

    /// The categories in code order.
    #[must_use]
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The code of `value`; NaN for null (`None`) or a category not seen in training.
    #[must_use]
    pub fn encode(&self, value: Option<&str>) -> f64 {
        value
            .and_then(|v| position(&self.categories, v))
            .map_or(f64::NAN, |i| i as f64)
    }
}

/// One 0/1 column per category in sorted order; unknown or null is all zeros.
///
/// # Examples
///
/// ```
/// use verge_core::transform::OneHotEncoder;
/// let enc = OneHotEncoder::fit("colour", ["red", "blue"]).unwrap();
/// let mut out = [9.0; 2];
/// enc.encode_into(Some("red"), &mut out).unwrap();
/// assert_eq!(out, [0.0, 1.0]);
/// enc.encode_into(Some("green"), &mut out).unwrap();
/// assert_eq!(out, [0.0, 0.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneHotEncoder {
    categories: Vec<String>,
}

impl OneHotEncoder {
    /// Learns the categories of column `column` from its non-null training values.
    ///
    /// # Errors
    ///
    /// [`Error::Fit`] naming the column when there are no values.
    pub fn fit<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        Ok(OneHotEncoder {
            categories: learn_categories("one-hot encoder", column, values)?,
        })
    }

    /// An encoder from known categories; they are sorted and deduplicated.
    #[must_use]
    pub fn from_categories(mut categories: Vec<String>) -> Self {
        categories.sort();
        categories.dedup();
        OneHotEncoder { categories }
    }

    /// The categories, one output column each, in order.
    #[must_use]
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// Number of output columns.
    #[must_use]
    pub fn n_outputs(&self) -> usize {
        self.categories.len()
    }

    /// Writes the indicator columns of `value` into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `out` does not have one slot per category.
    pub fn encode_into(&self, value: Option<&str>, out: &mut [f64]) -> Result<()> {
        if out.len() != self.categories.len() {
            return Err(Error::Shape {
                stage: "one-hot encoder",
                expected: self.categories.len(),
                actual: out.len(),
            });
        }
        out.fill(0.0);
        if let Some(slot) = value
            .and_then(|v| position(&self.categories, v))
            .and_then(|i| out.get_mut(i))
        {
            *slot = 1.0;
        }
        Ok(())
    }
}

decode_struct!(OrdinalEncoder { categories });
decode_struct!(OneHotEncoder { categories });

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn categories_are_sorted_and_unknowns_handled() {
        let enc = OrdinalEncoder::fit("c", ["b", "a", "c", "a"]).unwrap();
        assert_eq!(enc.categories(), &["a", "b", "c"]);
        assert_eq!(enc.encode(Some("c")), 2.0);
        assert!(enc.encode(Some("z")).is_nan());
        let hot = OneHotEncoder::from_categories(vec!["y".into(), "x".into(), "y".into()]);
        assert_eq!(hot.categories(), &["x", "y"]);
        let mut out = [5.0; 2];
        hot.encode_into(None, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.0]);
        hot.encode_into(Some("y"), &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0]);
        assert!(hot.encode_into(Some("y"), &mut [0.0; 3]).is_err());
    }

    #[test]
    fn a_column_without_values_is_an_error_naming_it() {
        let err = OrdinalEncoder::fit("nasogastric_tube", []).unwrap_err();
        assert!(format!("{err}").contains("`nasogastric_tube`"));
        assert!(OneHotEncoder::fit("x", []).is_err());
    }
}
