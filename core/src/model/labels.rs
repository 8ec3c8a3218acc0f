//! Class labels: from the label column's values to dense class indices.
//!
//! A classifier predicts one of the label values seen in training, so the fitted
//! model stores them ([`Value`]s, as the label column had them: integers, text,
//! booleans or floats) and works internally with indices into that list. The list is
//! sorted, like scikit-learn's `classes_ = np.unique(y)`, so the class order (and
//! the order of probabilities) does not depend on row order.

use alloc::format;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::value::Value;
use crate::{Error, Result};

/// Orders two label values of the same type. Float labels compare by value with
/// `-0 == 0`; NaN never reaches here ([`encode_labels`] rejects it).
fn cmp_label(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int64(x), Value::Int64(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Float32(x), Value::Float32(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Float64(x), Value::Float64(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        // Mixed types are rejected before sorting; any fixed order will do here.
        _ => a.dtype().cmp(&b.dtype()),
    }
}

/// The sorted distinct labels of `y` and, for each row, the index of its label.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::model::encode_labels;
/// let y = [Value::Int64(2), Value::Int64(1), Value::Int64(2)];
/// let (classes, index) = encode_labels(&y).unwrap();
/// assert_eq!(classes, vec![Value::Int64(1), Value::Int64(2)]);
/// assert_eq!(index, vec![1, 0, 1]);
/// ```
///
/// # Errors
///
/// [`Error::Fit`] when `y` is empty, a label is null or NaN, or labels mix types.
pub fn encode_labels(y: &[Value]) -> Result<(Vec<Value>, Vec<usize>)> {
    let fit_error = |message| Error::Fit {
        stage: "labels",
        message,
    };
    let first = y
        .first()
        .ok_or_else(|| fit_error("the training set is empty".into()))?;
    let dtype = first.dtype();
    for (i, v) in y.iter().enumerate() {
        let bad_float = match v {
            Value::Float64(x) => x.is_nan(),
            Value::Float32(x) => x.is_nan(),
            _ => false,
        };
        if v.is_null() || bad_float {
            return Err(fit_error(format!(
                "training row {i} has no label; drop unlabelled rows before training"
            )));
        }
        if v.dtype() != dtype {
            return Err(fit_error(format!(
                "training row {i} has a {} label but row 0 has a {}; labels must share one type",
                v.dtype().map_or("null", |d| d.name()),
                dtype.map_or("null", |d| d.name()),
            )));
        }
    }
    let mut classes: Vec<Value> = y.to_vec();
    classes.sort_by(cmp_label);
    classes.dedup_by(|a, b| cmp_label(a, b) == Ordering::Equal);
    let index = y
        .iter()
        .map(|v| {
            classes
                .binary_search_by(|c| cmp_label(c, v))
                .map_err(|_| fit_error("a label was lost while sorting".into()))
        })
        .collect::<Result<Vec<usize>>>()?;
    Ok((classes, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    #[test]
    fn strings_sort_and_bad_labels_fail() {
        let y = [
            Value::String("no".into()),
            Value::String("yes".into()),
            Value::String("no".into()),
        ];
        let (classes, index) = encode_labels(&y).unwrap();
        assert_eq!(
            classes,
            vec![Value::String("no".into()), Value::String("yes".into())]
        );
        assert_eq!(index, vec![0, 1, 0]);
        assert!(encode_labels(&[]).is_err());
        assert!(encode_labels(&[Value::Int64(1), Value::Null]).is_err());
        assert!(encode_labels(&[Value::Float64(f64::NAN)]).is_err());
        let mixed = encode_labels(&[Value::Int64(1), Value::String(String::from("1"))]);
        assert!(format!("{}", mixed.unwrap_err()).contains("one type"));
        let (c, i) = encode_labels(&[Value::Float64(0.0), Value::Float64(-0.0)]).unwrap();
        assert_eq!((c.len(), i), (1, vec![0, 0]));
    }
}
