//! The one mapping between the core's types and Arrow's: which Arrow type a
//! [`DType`] is held in, a cell of such a column as a core [`Value`], and a
//! column built from values.
//!
//! | verge | Arrow |
//! |---|---|
//! | `bool`, `int32`, `int64`, `float32`, `float64` | `Boolean`, `Int32`, `Int64`, `Float32`, `Float64` |
//! | `string`, `json` | `Utf8` (`json`: canonical JSON text) |
//! | `bytes` | `Binary` |
//! | `unix_timestamp` | `Timestamp(Microsecond, "UTC")` |
//! | `array<T>` | `List<item: T>` (elements never null) |
//!
//! Every column verge produces (sources after conversion, joins, training
//! sets) has exactly these types, so the functions here can rely on them; a
//! column of another type is an internal error, not a panic.

use std::sync::Arc;

use anyhow::{Result, bail};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, ListArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, TimeUnit};
use verge_core::{Array as CoreArray, DType, ElemType, Timestamp, Value};

/// The Arrow type verge holds a [`DType`] in.
#[must_use]
pub fn dtype_to_arrow(dtype: DType) -> DataType {
    match dtype {
        DType::Bool => DataType::Boolean,
        DType::Int32 => DataType::Int32,
        DType::Int64 => DataType::Int64,
        DType::Float32 => DataType::Float32,
        DType::Float64 => DataType::Float64,
        DType::String | DType::Json => DataType::Utf8,
        DType::Bytes => DataType::Binary,
        DType::UnixTimestamp => timestamp_type(),
        DType::Array(elem) => DataType::List(Arc::new(item_field(elem))),
    }
}

/// The item field of a list column of `elem`: named `item` and nullable, as
/// Arrow, pyarrow and Feast write lists (verge never stores a null element).
#[must_use]
pub fn item_field(elem: ElemType) -> Field {
    Field::new_list_field(dtype_to_arrow(DType::from(elem)), true)
}

/// The Arrow type of every timestamp verge produces: microseconds, UTC.
#[must_use]
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The value at `row` of a column holding `dtype` (see the table above).
///
/// # Errors
///
/// The column's Arrow type is not the one `dtype` is held in.
pub fn value_at(array: &dyn Array, dtype: DType, row: usize) -> Result<Value> {
    if row >= array.len() {
        bail!("internal: row {row} of a column of {} rows", array.len());
    }
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let wrong = || {
        anyhow::anyhow!(
            "internal: a {dtype} column is held as {}",
            array.data_type()
        )
    };
    Ok(match dtype {
        DType::Bool => Value::Bool(array.as_boolean_opt().ok_or_else(wrong)?.value(row)),
        DType::Int32 => Value::Int32(
            array
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(wrong)?
                .value(row),
        ),
        DType::Int64 => Value::Int64(
            array
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(wrong)?
                .value(row),
        ),
        DType::Float32 => Value::Float32(
            array
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(wrong)?
                .value(row),
        ),
        DType::Float64 => Value::Float64(
            array
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(wrong)?
                .value(row),
        ),
        DType::String => Value::String(
            array
                .as_string_opt::<i32>()
                .ok_or_else(wrong)?
                .value(row)
                .to_owned(),
        ),
        DType::Json => Value::Json(
            array
                .as_string_opt::<i32>()
                .ok_or_else(wrong)?
                .value(row)
                .to_owned(),
        ),
        DType::Bytes => Value::Bytes(
            array
                .as_binary_opt::<i32>()
                .ok_or_else(wrong)?
                .value(row)
                .to_vec(),
        ),
        DType::UnixTimestamp => Value::Timestamp(Timestamp(
            array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(wrong)?
                .value(row),
        )),
        DType::Array(elem) => {
            let list = array.as_list_opt::<i32>().ok_or_else(wrong)?;
            let items = list.value(row);
            let values = (0..items.len())
                .map(|i| value_at(items.as_ref(), DType::from(elem), i))
                .collect::<Result<Vec<_>>>()?;
            Value::Array(CoreArray::from_values(elem, &values).map_err(|i| {
                anyhow::anyhow!("internal: element {i} of an array<{elem}> is null or mistyped")
            })?)
        }
    })
}

/// A column of `dtype` from values; a value of another type is stored as null
/// (callers pass values they read as `dtype`).
#[must_use]
pub fn array_of(dtype: DType, values: &[Value]) -> ArrayRef {
    let n = values.len();
    macro_rules! build {
        ($builder:expr, $pat:pat => $out:expr) => {{
            let mut b = $builder;
            for v in values {
                b.append_option(match v {
                    $pat => Some($out),
                    _ => None,
                });
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    match dtype {
        DType::Bool => build!(BooleanBuilder::with_capacity(n), Value::Bool(x) => *x),
        DType::Int32 => build!(Int32Builder::with_capacity(n), Value::Int32(x) => *x),
        DType::Int64 => build!(Int64Builder::with_capacity(n), Value::Int64(x) => *x),
        DType::Float32 => build!(Float32Builder::with_capacity(n), Value::Float32(x) => *x),
        DType::Float64 => build!(Float64Builder::with_capacity(n), Value::Float64(x) => *x),
        DType::String => build!(StringBuilder::with_capacity(n, n * 8), Value::String(x) => x),
        DType::Json => build!(StringBuilder::with_capacity(n, n * 8), Value::Json(x) => x),
        DType::Bytes => build!(BinaryBuilder::with_capacity(n, n * 8), Value::Bytes(x) => x),
        DType::UnixTimestamp => build!(
            TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"),
            Value::Timestamp(t) => t.0
        ),
        DType::Array(elem) => list_of(elem, values),
    }
}

fn list_of(elem: ElemType, values: &[Value]) -> ArrayRef {
    let mut lengths = Vec::with_capacity(values.len());
    let mut valid = Vec::with_capacity(values.len());
    let mut items = Vec::new();
    for v in values {
        match v {
            Value::Array(a) if a.elem() == elem => {
                lengths.push(a.len());
                valid.push(true);
                items.extend((0..a.len()).filter_map(|i| a.get(i)));
            }
            _ => {
                lengths.push(0);
                valid.push(false);
            }
        }
    }
    let child = array_of(DType::from(elem), &items);
    let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
    Arc::new(ListArray::new(
        Arc::new(item_field(elem)),
        OffsetBuffer::from_lengths(lengths),
        child,
        nulls,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_arrow() {
        let cases: Vec<(DType, Vec<Value>)> = vec![
            (DType::Int32, vec![Value::Int32(-3), Value::Null]),
            (DType::Bytes, vec![Value::Bytes(vec![0, 255]), Value::Null]),
            (
                DType::UnixTimestamp,
                vec![Value::Timestamp(Timestamp(7)), Value::Null],
            ),
            (
                DType::Json,
                vec![Value::Json("{\"a\":1}".into()), Value::Null],
            ),
            (
                DType::Array(ElemType::Float32),
                vec![
                    Value::Array(CoreArray::Float32(vec![0.5, 1.5])),
                    Value::Null,
                    Value::Array(CoreArray::Float32(vec![])),
                ],
            ),
            (
                DType::Array(ElemType::String),
                vec![Value::Array(CoreArray::String(vec![
                    "a".into(),
                    String::new(),
                ]))],
            ),
        ];
        for (dtype, values) in cases {
            let array = array_of(dtype, &values);
            assert_eq!(array.data_type(), &dtype_to_arrow(dtype));
            let back: Vec<Value> = (0..values.len())
                .map(|i| value_at(array.as_ref(), dtype, i).unwrap())
                .collect();
            assert_eq!(back, values, "{dtype}");
        }
    }
}
