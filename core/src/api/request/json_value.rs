//! One JSON value of a request as a typed core [`Value`]: the JSON form of
//! every type, the same forms answers print (`docs/types.md`).

use alloc::string::ToString;
use alloc::vec::Vec;

use super::decode::Cell;
use crate::Timestamp;
use crate::value::{DType, Value};

/// Converts one JSON value to a value of `dtype` (JSON has one number type, so
/// numbers convert between the numeric types when no precision is lost).
///
/// The JSON forms of the other types are the ones answers print: bytes as
/// base64 text, timestamps as RFC 3339 text, arrays as JSON arrays of their
/// elements' forms (no `null` element), and a JSON feature as any JSON value
/// (stored in canonical form; `null` is a missing value).
pub(crate) fn cell_to_value(cell: &Cell<'_>, dtype: DType) -> Option<Value> {
    Some(match (cell, dtype) {
        (Cell::Null, _) => Value::Null,
        (Cell::Bool(b), DType::Bool) => Value::Bool(*b),
        (Cell::Number(n), DType::Int64) => Value::Int64(n.as_i64()?),
        (Cell::Number(n), DType::Int32) => Value::Int32(i32::try_from(n.as_i64()?).ok()?),
        (Cell::Number(n), DType::Float64) => Value::Float64(n.as_f64()?),
        (Cell::Number(n), DType::Float32) => Value::Float32(n.as_f64()? as f32),
        (Cell::Str(s), DType::String) => Value::String(s.to_string()),
        (Cell::Str(s), DType::Bytes) => Value::Bytes(crate::api::bytes_from_base64(s)?),
        (Cell::Str(s), DType::UnixTimestamp) => Value::Timestamp(Timestamp::parse_rfc3339(s)?),
        // Canonical form: compact, keys sorted (serde_json's own printing).
        (cell, DType::Json) => Value::Json(cell.to_text()),
        (Cell::Array(items), DType::Array(elem)) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                match cell_to_value(item, DType::from(elem))? {
                    Value::Null => return None,
                    v => values.push(v),
                }
            }
            Value::Array(crate::value::Array::from_values(elem, &values).ok()?)
        }
        _ => return None,
    })
}
