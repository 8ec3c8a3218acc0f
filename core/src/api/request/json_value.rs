//! One JSON value of a request as a typed core [`Value`]: the JSON form of
//! every type, the same forms answers print (`docs/types.md`).

use alloc::vec::Vec;

use serde_json::Value as Json;

use crate::Timestamp;
use crate::value::{DType, Value};

/// Converts one JSON value to a value of `dtype` (JSON has one number type, so
/// numbers convert between the numeric types when no precision is lost).
///
/// The JSON forms of the other types are the ones answers print: bytes as
/// base64 text, timestamps as RFC 3339 text, arrays as JSON arrays of their
/// elements' forms (no `null` element), and a JSON feature as any JSON value
/// (stored in canonical form; `null` is a missing value).
pub(crate) fn json_to_value(json: &Json, dtype: DType) -> Option<Value> {
    Some(match (json, dtype) {
        (Json::Null, _) => Value::Null,
        (Json::Bool(b), DType::Bool) => Value::Bool(*b),
        (Json::Number(n), DType::Int64) => Value::Int64(n.as_i64()?),
        (Json::Number(n), DType::Int32) => Value::Int32(i32::try_from(n.as_i64()?).ok()?),
        (Json::Number(n), DType::Float64) => Value::Float64(n.as_f64()?),
        (Json::Number(n), DType::Float32) => Value::Float32(n.as_f64()? as f32),
        (Json::String(s), DType::String) => Value::String(s.clone()),
        (Json::String(s), DType::Bytes) => Value::Bytes(crate::api::bytes_from_base64(s)?),
        (Json::String(s), DType::UnixTimestamp) => Value::Timestamp(Timestamp::parse_rfc3339(s)?),
        (json, DType::Json) => Value::Json(serde_json::to_string(json).ok()?),
        (Json::Array(items), DType::Array(elem)) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                match json_to_value(item, DType::from(elem))? {
                    Value::Null => return None,
                    v => values.push(v),
                }
            }
            Value::Array(crate::value::Array::from_values(elem, &values).ok()?)
        }
        _ => return None,
    })
}
