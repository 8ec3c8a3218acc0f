//! [`Builder`]: a growing column of one [`Target`] type, filled cell by cell
//! (CSV and SQLite sources, on-demand outputs, anything not already Arrow).
//!
//! The text forms it reads, for the types text has no native form of:
//! - `int32`: as `int64`, then refused outside int32's range;
//! - `bytes`: base64 (standard alphabet; padding optional);
//! - `unix_timestamp`: the timestamp forms (RFC 3339, `YYYY-MM-DD HH:MM:SS`,
//!   `YYYY-MM-DD`, UTC);
//! - `json`: any JSON text, stored in canonical form (see [`canonical_json`]);
//!   a number or bool cell is that JSON value;
//! - `array<T>`: a JSON array whose elements are in `T`'s JSON form (numbers,
//!   `true`/`false`, strings; base64 strings for bytes, RFC 3339 strings for
//!   timestamps). A `null` element is refused: arrays hold no nulls.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use verge_core::{DType, ElemType};

use super::convert::{Cell, Target, finite, is_null_marker, number, whole_to_i64};
use super::timestamp::parse_timestamp;
use crate::arrow_values::item_field;

/// A growing column of one [`Target`] type.
#[derive(Debug)]
pub(crate) enum Builder {
    Bool(BooleanBuilder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
    Micros(TimestampMicrosecondBuilder),
    Int32(Int32Builder),
    Binary(BinaryBuilder),
    Json(StringBuilder),
    List(Box<ListBuilder>),
}

/// An array column: its elements in one child builder, and a length and a
/// validity per row.
#[derive(Debug)]
pub(crate) struct ListBuilder {
    elem: ElemType,
    child: Builder,
    lengths: Vec<usize>,
    valid: Vec<bool>,
}

impl Builder {
    pub(crate) fn new(target: Target, capacity: usize) -> Builder {
        let dtype = match target {
            Target::Timestamp => DType::UnixTimestamp,
            Target::Value(d) => d,
        };
        match dtype {
            DType::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            DType::Int32 => Builder::Int32(Int32Builder::with_capacity(capacity)),
            DType::Int64 => Builder::Int64(Int64Builder::with_capacity(capacity)),
            DType::Float32 => Builder::Float32(Float32Builder::with_capacity(capacity)),
            DType::Float64 => Builder::Float64(Float64Builder::with_capacity(capacity)),
            DType::String => Builder::Utf8(StringBuilder::with_capacity(capacity, capacity * 8)),
            DType::Json => Builder::Json(StringBuilder::with_capacity(capacity, capacity * 16)),
            DType::Bytes => Builder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 8)),
            DType::UnixTimestamp => Builder::Micros(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            DType::Array(elem) => Builder::List(Box::new(ListBuilder {
                elem,
                child: Builder::new(Target::Value(DType::from(elem)), capacity * 4),
                lengths: Vec::with_capacity(capacity),
                valid: Vec::with_capacity(capacity),
            })),
        }
    }

    fn target(&self) -> Target {
        Target::Value(match self {
            Builder::Bool(_) => DType::Bool,
            Builder::Int32(_) => DType::Int32,
            Builder::Int64(_) => DType::Int64,
            Builder::Float32(_) => DType::Float32,
            Builder::Float64(_) => DType::Float64,
            Builder::Utf8(_) => DType::String,
            Builder::Json(_) => DType::Json,
            Builder::Binary(_) => DType::Bytes,
            Builder::Micros(_) => return Target::Timestamp,
            Builder::List(l) => DType::Array(l.elem),
        })
    }

    /// Appends one cell, converted; on failure says why (without the place, which
    /// the caller knows).
    pub(crate) fn push(&mut self, cell: Cell<'_>) -> Result<(), String> {
        let target = self.target();
        let fail = |hint: &str| {
            let mut msg = format!("cannot read `{cell}` as {}", target.name());
            if !hint.is_empty() {
                let _ = write!(msg, "; {hint}");
            }
            msg
        };
        match self {
            Builder::Bool(b) => b.append_option(bool_of(cell).map_err(&fail)?),
            Builder::Int64(b) => b.append_option(int_of(cell).map_err(&fail)?),
            Builder::Int32(b) => {
                let v = int_of(cell).map_err(&fail)?;
                let v = v
                    .map(i32::try_from)
                    .transpose()
                    .map_err(|_| fail("out of range for int32; declare the field int64"))?;
                b.append_option(v);
            }
            Builder::Float32(b) => {
                let v = finite(number(cell).map_err(|()| fail(""))?).map_err(&fail)?;
                let v = v.map(|x| x as f32);
                if v.is_some_and(f32::is_infinite) {
                    return Err(fail("out of range for float32; declare the field float64"));
                }
                b.append_option(v);
            }
            Builder::Float64(b) => {
                let v = finite(number(cell).map_err(|()| fail(""))?).map_err(&fail)?;
                b.append_option(v);
            }
            Builder::Utf8(b) => match cell {
                Cell::Null => b.append_null(),
                Cell::Text(t) => b.append_value(t),
                Cell::Bytes(_) => return Err(fail("a BLOB is not text; declare the field bytes")),
                other => b.append_value(other.to_string()),
            },
            Builder::Micros(b) => b.append_option(micros_of(cell).map_err(&fail)?),
            Builder::Binary(b) => match cell {
                Cell::Null => b.append_null(),
                Cell::Bytes(bytes) => b.append_value(bytes),
                Cell::Text(t) => {
                    b.append_value(verge_core::api::bytes_from_base64(t.trim()).ok_or_else(
                        || fail("bytes are written as base64 text (standard alphabet)"),
                    )?)
                }
                _ => return Err(fail("bytes are written as base64 text")),
            },
            Builder::Json(b) => match json_of(cell).map_err(|h| fail(&h))? {
                None => b.append_null(),
                Some(json) => b.append_value(canonical_json(&json)),
            },
            Builder::List(list) => list.push(cell).map_err(|h| fail(&h))?,
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Utf8(b) | Builder::Json(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Micros(b) => Arc::new(b.finish()),
            Builder::List(list) => list.finish(),
        }
    }
}

impl ListBuilder {
    fn push(&mut self, cell: Cell<'_>) -> Result<(), String> {
        let items = match cell {
            Cell::Null => None,
            Cell::Text(t) if is_null_marker(t.trim()) => None,
            Cell::Text(t) => match serde_json::from_str::<serde_json::Value>(t) {
                Ok(serde_json::Value::Array(items)) => Some(items),
                Ok(serde_json::Value::Null) => None,
                _ => {
                    return Err(format!(
                        "write a JSON array such as `[1, 2]` ({})",
                        self.elem
                    ));
                }
            },
            _ => return Err(String::from("write a JSON array such as `[1, 2]`")),
        };
        let Some(items) = items else {
            self.lengths.push(0);
            self.valid.push(false);
            return Ok(());
        };
        // A bad element fails the whole read, so elements already in the
        // child are never seen.
        for (i, item) in items.iter().enumerate() {
            let cell = match item {
                serde_json::Value::Null => {
                    return Err(format!("element {i} is null; arrays hold no nulls"));
                }
                serde_json::Value::Bool(b) => Cell::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(v) => Cell::Int(v),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => Cell::Text(s),
                other => return Err(format!("element {i} is {other}, not a {}", self.elem)),
            };
            // Text that reads as null in a column ("", "?") is no element.
            if matches!(cell, Cell::Text(t) if is_null_marker(t.trim()))
                && !matches!(self.elem, ElemType::String | ElemType::Bytes)
            {
                return Err(format!("element {i} is empty; arrays hold no nulls"));
            }
            self.child
                .push(cell)
                .map_err(|m| format!("element {i}: {m}"))?;
        }
        self.lengths.push(items.len());
        self.valid.push(true);
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        let child = self.child.finish();
        let lengths = std::mem::take(&mut self.lengths);
        let valid = std::mem::take(&mut self.valid);
        let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
        Arc::new(arrow_array::ListArray::new(
            Arc::new(item_field(self.elem)),
            OffsetBuffer::from_lengths(lengths),
            child,
            nulls,
        ))
    }
}

fn bool_of(cell: Cell<'_>) -> Result<Option<bool>, &'static str> {
    Ok(match cell {
        Cell::Null => None,
        Cell::Bool(v) => Some(v),
        Cell::Int(0) => Some(false),
        Cell::Int(1) => Some(true),
        Cell::Float(0.0) => Some(false),
        Cell::Float(1.0) => Some(true),
        Cell::Text(t) => {
            let t = t.trim();
            if is_null_marker(t) {
                None
            } else {
                Some(match t.to_ascii_lowercase().as_str() {
                    "true" | "t" | "yes" | "1" => true,
                    "false" | "f" | "no" | "0" => false,
                    _ => return Err("use true/false or 1/0"),
                })
            }
        }
        _ => return Err(""),
    })
}

fn int_of(cell: Cell<'_>) -> Result<Option<i64>, &'static str> {
    Ok(match cell {
        Cell::Null => None,
        Cell::Bool(v) => Some(i64::from(v)),
        Cell::Int(i) => Some(i),
        Cell::Float(x) => Some(whole_to_i64(x).ok_or("not a whole number")?),
        Cell::Text(t) => {
            let t = t.trim();
            if is_null_marker(t) {
                None
            } else if let Ok(i) = t.parse::<i64>() {
                Some(i)
            } else {
                let x = t.parse::<f64>().map_err(|_| "")?;
                Some(whole_to_i64(x).ok_or("not a whole number")?)
            }
        }
        Cell::BigUInt(_) => return Err("out of range for int64"),
        Cell::Micros(_) | Cell::Bytes(_) => return Err(""),
    })
}

fn micros_of(cell: Cell<'_>) -> Result<Option<i64>, &'static str> {
    Ok(match cell {
        Cell::Null => None,
        Cell::Micros(m) => Some(m),
        Cell::Text(t) if t.trim().is_empty() => None,
        Cell::Text(t) => Some(parse_timestamp(t).ok_or(
            "write RFC 3339 (`2021-06-25T16:36:27Z`), `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (UTC)",
        )?),
        Cell::Int(_) | Cell::BigUInt(_) | Cell::Float(_) => {
            return Err(
                "numbers are not read as times (epoch seconds or milliseconds?); store RFC 3339 text or a Parquet timestamp column",
            );
        }
        Cell::Bool(_) | Cell::Bytes(_) => return Err(""),
    })
}

/// A cell as a JSON value: text is parsed, numbers and bools are themselves.
fn json_of(cell: Cell<'_>) -> Result<Option<serde_json::Value>, String> {
    Ok(Some(match cell {
        Cell::Null => return Ok(None),
        Cell::Text(t) if t.trim().is_empty() => return Ok(None),
        Cell::Text(t) => serde_json::from_str(t).map_err(|e| format!("not JSON text ({e})"))?,
        Cell::Bool(b) => serde_json::Value::Bool(b),
        Cell::Int(i) => serde_json::Value::from(i),
        Cell::BigUInt(u) => serde_json::Value::from(u),
        Cell::Float(x) => serde_json::Number::from_f64(x)
            .map(serde_json::Value::Number)
            .ok_or("not a finite number")?,
        Cell::Micros(_) | Cell::Bytes(_) => return Err(String::from("not JSON")),
    }))
}

/// The one stored form of a JSON value: serde_json's compact output, object
/// keys sorted. Printing a parsed stored value gives the same bytes, which is
/// what lets the edge copy stored JSON into an answer as it is.
#[must_use]
pub fn canonical_json(value: &serde_json::Value) -> String {
    // serde_json's map is a BTreeMap (the `preserve_order` feature is off), so
    // keys come out sorted; printing a tree of plain values cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}
