//! Arrow columns that are not one value per cell: lists read as arrays,
//! nested columns (structs, maps, lists) read as JSON, and binary columns read
//! as bytes.
//!
//! - `array<T>` from a `List`, `LargeList` or `FixedSizeList` column: the
//!   elements convert to `T` by the ordinary rules, and a null element is
//!   refused (arrays hold no nulls; Feast's cannot either), naming its row.
//! - `json` from a `Struct`, `Map` or list column (how pandas writes dicts and
//!   lists to Parquet): each cell becomes its JSON value in canonical form. A
//!   struct is an object of its fields; a map with text keys an object, any
//!   other map a list of `{"key": ..., "value": ...}`; a list an array; bytes
//!   base64; timestamps RFC 3339; non-finite floats `null`. Text columns
//!   declared `json` are parsed instead (see [`super::builder`]).
//! - `bytes` from `Binary`, `LargeBinary`, `BinaryView` or `FixedSizeBinary`.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ListArray};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};
use serde_json::Value as Json;
use verge_core::{DType, ElemType};

use super::builder::canonical_json;
use super::convert::{Origin, Target, convert_array};
use crate::arrow_values::item_field;
use verge_core::time::rfc3339::{format_date, format_micros};

/// Converts `array` to `target` when it is one of this module's cases;
/// `None` hands it back to the cell-by-cell path.
pub(super) fn convert(
    array: &ArrayRef,
    target: Target,
    origin: Origin<'_>,
    first_row: usize,
) -> Option<Result<ArrayRef>> {
    let is_list = matches!(
        array.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    );
    let is_nested =
        is_list || matches!(array.data_type(), DataType::Struct(_) | DataType::Map(_, _));
    let is_binary = matches!(
        array.data_type(),
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    );
    match target {
        Target::Value(DType::Array(elem)) if is_list => {
            Some(convert_list(array, elem, origin, first_row))
        }
        Target::Value(DType::Json) if is_nested => Some(json_column(array, origin, first_row)),
        Target::Value(DType::Bytes) if is_binary => Some(Ok(binary_column(array))),
        _ => None,
    }
}

/// The offsets of a list column as i32, and its element values.
fn list_parts(array: &dyn Array) -> Option<(Vec<i32>, ArrayRef)> {
    if let Some(list) = array.as_list_opt::<i32>() {
        return Some((list.offsets().to_vec(), Arc::clone(list.values())));
    }
    if let Some(list) = array.as_list_opt::<i64>() {
        let offsets = list
            .offsets()
            .iter()
            .map(|&o| i32::try_from(o).ok())
            .collect::<Option<Vec<_>>>()?;
        return Some((offsets, Arc::clone(list.values())));
    }
    let list = array.as_fixed_size_list_opt()?;
    let size = list.value_length();
    let offsets = (0..=list.len())
        .map(|i| i32::try_from(i).ok().and_then(|i| i.checked_mul(size)))
        .collect::<Option<Vec<_>>>()?;
    Some((offsets, Arc::clone(list.values())))
}

fn convert_list(
    array: &ArrayRef,
    elem: ElemType,
    origin: Origin<'_>,
    first_row: usize,
) -> Result<ArrayRef> {
    let (offsets, values) = list_parts(array.as_ref()).ok_or_else(|| {
        anyhow!(
            "{}: column `{}` holds more than 2^31 list elements; split the file",
            origin.place,
            origin.column
        )
    })?;
    let elem_target = Target::Value(DType::from(elem));
    let converted = match convert_array(&values, elem_target, origin, 0) {
        Ok(c) => c,
        // Find the row whose elements fail, so the message names it.
        Err(_) => {
            return Err(first_bad_row(
                array,
                &offsets,
                &values,
                elem_target,
                origin,
                first_row,
            ));
        }
    };
    for row in 0..array.len() {
        if array.is_null(row) {
            continue;
        }
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        if let Some(k) = (start..end).find(|&i| converted.is_null(i)) {
            return Err(origin.at(
                first_row + row,
                &format!(
                    "element {} is null (or NaN); arrays hold no nulls",
                    k - start
                ),
            ));
        }
    }
    Ok(Arc::new(ListArray::try_new(
        Arc::new(item_field(elem)),
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        converted,
        array.nulls().cloned(),
    )?))
}

fn first_bad_row(
    array: &ArrayRef,
    offsets: &[i32],
    values: &ArrayRef,
    elem_target: Target,
    origin: Origin<'_>,
    first_row: usize,
) -> anyhow::Error {
    for row in 0..array.len() {
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let slice = values.slice(start, end - start);
        if let Err(e) = convert_array(&slice, elem_target, origin, 0) {
            return origin.at(
                first_row + row,
                &format!("an element does not convert: {e:#}"),
            );
        }
    }
    anyhow!(
        "{}: column `{}`: an element does not convert to {}",
        origin.place,
        origin.column,
        elem_target.name()
    )
}

fn json_column(array: &ArrayRef, origin: Origin<'_>, first_row: usize) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 32);
    for row in 0..array.len() {
        if array.is_null(row) {
            out.append_null();
            continue;
        }
        let json = json_at(array.as_ref(), row).map_err(|m| origin.at(first_row + row, &m))?;
        out.append_value(canonical_json(&json));
    }
    Ok(Arc::new(out.finish()))
}

fn binary_column(array: &ArrayRef) -> ArrayRef {
    let mut out = BinaryBuilder::with_capacity(array.len(), array.len() * 8);
    for row in 0..array.len() {
        match binary_at(array.as_ref(), row) {
            Some(bytes) => out.append_value(bytes),
            None => out.append_null(),
        }
    }
    Arc::new(out.finish())
}

fn binary_at(array: &dyn Array, row: usize) -> Option<&[u8]> {
    if array.is_null(row) {
        return None;
    }
    if let Some(a) = array.as_binary_opt::<i32>() {
        return Some(a.value(row));
    }
    if let Some(a) = array.as_binary_opt::<i64>() {
        return Some(a.value(row));
    }
    if let Some(a) = array.as_binary_view_opt() {
        return Some(a.value(row));
    }
    array.as_fixed_size_binary_opt().map(|a| a.value(row))
}

/// One cell of any Arrow column as canonical JSON text (how CSV output
/// writes arrays, structs and maps).
pub(crate) fn json_text_at(array: &dyn Array, row: usize) -> Result<String, String> {
    json_at(array, row).map(|j| canonical_json(&j))
}

/// One cell of any Arrow column as a JSON value, by the rules in the module docs.
fn json_at(array: &dyn Array, row: usize) -> Result<Json, String> {
    if array.is_null(row) {
        return Ok(Json::Null);
    }
    macro_rules! prim {
        ($t:ty) => {
            Json::from(array.as_primitive::<$t>().value(row))
        };
    }
    let float = |x: f64| serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number);
    Ok(match array.data_type() {
        DataType::Null => Json::Null,
        DataType::Boolean => Json::Bool(array.as_boolean().value(row)),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Json::from(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Json::from(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Json::from(array.as_string_view().value(row)),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Json::from(verge_core::api::base64_of(
            binary_at(array, row).unwrap_or_default(),
        )),
        DataType::Date32 => Json::from(format_date(i64::from(
            array.as_primitive::<Date32Type>().value(row),
        ))),
        DataType::Timestamp(unit, _) => Json::from(format_micros(micros_at(array, *unit, row))),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = serde_json::Map::new();
            for (field, column) in fields.iter().zip(s.columns()) {
                object.insert(field.name().clone(), json_at(column.as_ref(), row)?);
            }
            Json::Object(object)
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let text_keys = matches!(keys.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let mut object = serde_json::Map::new();
            let mut pairs = Vec::new();
            for i in 0..entries.len() {
                let (k, v) = (json_at(keys.as_ref(), i)?, json_at(values.as_ref(), i)?);
                match (&k, text_keys) {
                    (Json::String(s), true) => {
                        object.insert(s.clone(), v);
                    }
                    _ => pairs.push(serde_json::json!({ "key": k, "value": v })),
                }
            }
            if text_keys {
                Json::Object(object)
            } else {
                Json::Array(pairs)
            }
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            let (offsets, values) =
                list_parts(array).ok_or("a list with more than 2^31 elements")?;
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            Json::Array(
                (start..end)
                    .map(|i| json_at(values.as_ref(), i))
                    .collect::<Result<_, _>>()?,
            )
        }
        other => return Err(format!("a {other} value cannot be written as JSON")),
    })
}

fn micros_at(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1_000),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .value(row)
            .div_euclid(1_000),
    }
}
