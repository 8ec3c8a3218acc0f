//! Typed values with an explicit null, and entity keys.
//!
//! A feature value has one of Feast's types ([`DType`]): the scalars bool,
//! int32, int64, float32, float64, string, bytes and unix_timestamp, an array
//! of any scalar ([`Array`]), or JSON text (Feast's `Json`, `Map` and `Struct`).
//! Null is a value of its own ([`Value::Null`]) rather than a NaN or a
//! sentinel, so "the row said nothing" and "the row said NaN" stay different
//! all the way to the model.
//!
//! The serialised form (registry versions, bundles) encodes variants by
//! position, so variants are only ever appended: the five first types keep
//! the bytes, and so the content ids, they always had.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::{Decode, Decoded, Reader, decode_enum, unknown_variant};
use crate::time::Timestamp;

mod array;
mod names;

pub use array::{Array, ElemType};

/// The type of a feature, a request field or a join key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DType {
    /// `true` or `false`.
    Bool,
    /// A signed 64-bit integer.
    Int64,
    /// An IEEE 754 single-precision float.
    Float32,
    /// An IEEE 754 double-precision float.
    Float64,
    /// UTF-8 text.
    String,
    /// A signed 32-bit integer.
    Int32,
    /// Raw bytes (base64 in JSON).
    Bytes,
    /// A point in time, microseconds since the Unix epoch, UTC (RFC 3339 in JSON).
    UnixTimestamp,
    /// JSON text: Feast's `Json`, `Map` and `Struct` (written as JSON, not as a string).
    Json,
    /// A list of values of one scalar type, none of them null: Feast's `Array(...)`.
    Array(ElemType),
}

impl DType {
    /// True for the types a model can read as a number without an encoder.
    #[must_use]
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            DType::Bool | DType::Int32 | DType::Int64 | DType::Float32 | DType::Float64
        )
    }

    /// True for the types a join key may have: integers and text.
    #[must_use]
    pub const fn is_key(self) -> bool {
        matches!(self, DType::Int32 | DType::Int64 | DType::String)
    }

    /// The element type, for an array.
    #[must_use]
    pub const fn elem(self) -> Option<ElemType> {
        match self {
            DType::Array(e) => Some(e),
            _ => None,
        }
    }
}

/// One value of some [`DType`], or null.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int64(i64),
    /// A 32-bit float.
    Float32(f32),
    /// A 64-bit float.
    Float64(f64),
    /// Text.
    String(String),
    /// A 32-bit integer.
    Int32(i32),
    /// Raw bytes.
    Bytes(#[serde(with = "array::byte_buf")] Vec<u8>),
    /// A point in time.
    Timestamp(Timestamp),
    /// JSON text, checked to be one JSON value when it was read.
    Json(String),
    /// A list of values of one scalar type.
    Array(Array),
}

impl Value {
    /// The value's type, or `None` for null.
    #[must_use]
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DType::Bool,
            Value::Int64(_) => DType::Int64,
            Value::Float32(_) => DType::Float32,
            Value::Float64(_) => DType::Float64,
            Value::String(_) => DType::String,
            Value::Int32(_) => DType::Int32,
            Value::Bytes(_) => DType::Bytes,
            Value::Timestamp(_) => DType::UnixTimestamp,
            Value::Json(_) => DType::Json,
            Value::Array(a) => DType::Array(a.elem()),
        })
    }

    /// True for [`Value::Null`].
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a number for a model: bools are 0/1, null is `None`, text is `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::Value;
    /// assert_eq!(Value::Bool(true).as_f64(), Some(1.0));
    /// assert_eq!(Value::Float32(0.5).as_f64(), Some(0.5));
    /// assert_eq!(Value::Null.as_f64(), None);
    /// ```
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Int32(i) => Some(f64::from(i)),
            Value::Int64(i) => Some(i as f64),
            Value::Float32(x) => Some(f64::from(x)),
            Value::Float64(x) => Some(x),
            Value::Null
            | Value::String(_)
            | Value::Bytes(_)
            | Value::Timestamp(_)
            | Value::Json(_)
            | Value::Array(_) => None,
        }
    }

    /// Casts a value to `dtype` the way sources are read: numbers widen or narrow
    /// between the numeric types, every other type only to itself. Returns `None`
    /// when the value cannot be represented (text to a number, a fractional float
    /// to an integer, an integer outside int32 to int32).
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::{DType, Value};
    /// assert_eq!(Value::Int64(7).cast(DType::Int32), Some(Value::Int32(7)));
    /// assert_eq!(Value::Int64(1 << 40).cast(DType::Int32), None);
    /// assert_eq!(Value::Float64(2.5).cast(DType::Int64), None);
    /// ```
    #[must_use]
    pub fn cast(&self, dtype: DType) -> Option<Value> {
        if self.is_null() {
            return Some(Value::Null);
        }
        if self.dtype() == Some(dtype) {
            return Some(self.clone());
        }
        if !(dtype.is_numeric() && self.dtype().is_some_and(DType::is_numeric)) {
            return None;
        }
        let x = self.as_f64()?;
        Some(match dtype {
            DType::Float64 => Value::Float64(x),
            DType::Float32 => Value::Float32(x as f32),
            DType::Int64 => Value::Int64(match *self {
                Value::Int32(i) => i64::from(i),
                Value::Bool(b) => i64::from(b),
                _ => whole(x, -9.223_372_036_854_775e18..9.223_372_036_854_775e18)? as i64,
            }),
            DType::Int32 => Value::Int32(match *self {
                Value::Int64(i) => i32::try_from(i).ok()?,
                Value::Bool(b) => i32::from(b),
                _ => whole(x, -2_147_483_648.0..2_147_483_648.0)? as i32,
            }),
            DType::Bool => match *self {
                Value::Int64(0) | Value::Int32(0) => Value::Bool(false),
                Value::Int64(1) | Value::Int32(1) => Value::Bool(true),
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// `x` when it is a whole number inside `range`: only those convert to an
/// integer without loss.
fn whole(x: f64, range: core::ops::Range<f64>) -> Option<f64> {
    (libm::trunc(x) == x && range.contains(&x)).then_some(x)
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int64(i) => write!(f, "{i}i64"),
            Value::Float32(x) => write!(f, "{x}f32"),
            Value::Float64(x) => write!(f, "{x}f64"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Int32(i) => write!(f, "{i}i32"),
            Value::Bytes(b) => write!(f, "bytes{b:?}"),
            Value::Timestamp(t) => write!(f, "{}", crate::time::rfc3339::format_micros(t.0)),
            Value::Json(j) => write!(f, "json{j}"),
            Value::Array(a) => write!(f, "{a:?}"),
        }
    }
}

/// One part of an entity key: join keys are integers or text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KeyPart {
    /// An integer join key.
    Int64(i64),
    /// A text join key.
    String(String),
}

impl KeyPart {
    /// The join key's type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        match self {
            KeyPart::Int64(_) => DType::Int64,
            KeyPart::String(_) => DType::String,
        }
    }

    /// True when a join key of type `dtype` can hold this part: text for
    /// text, an integer in range for int64 and int32.
    #[must_use]
    pub fn fits(&self, dtype: DType) -> bool {
        match (self, dtype) {
            (KeyPart::Int64(_), DType::Int64) | (KeyPart::String(_), DType::String) => true,
            (KeyPart::Int64(v), DType::Int32) => i32::try_from(*v).is_ok(),
            _ => false,
        }
    }
}

impl fmt::Debug for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Int64(i) => write!(f, "{i}"),
            KeyPart::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Int64(i) => write!(f, "{i}"),
            KeyPart::String(s) => f.write_str(s),
        }
    }
}

/// An entity key: one part per join key, in the entity's join-key order.
///
/// # Examples
///
/// ```
/// use verge_core::{EntityKey, KeyPart};
/// let key = EntityKey::single(KeyPart::Int64(533738));
/// assert_eq!(key.parts().len(), 1);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityKey(pub Vec<KeyPart>);

impl EntityKey {
    /// A key with a single join key.
    #[must_use]
    pub fn single(part: KeyPart) -> Self {
        EntityKey(alloc::vec![part])
    }

    /// The parts, in join-key order.
    #[must_use]
    pub fn parts(&self) -> &[KeyPart] {
        &self.0
    }
}

impl fmt::Debug for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

decode_enum!(DType {
    Bool, Int64, Float32, Float64, String, Int32, Bytes, UnixTimestamp, Json, Array(elem),
});

impl Decode for Value {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        Ok(match r.variant()? {
            0 => Value::Null,
            1 => Value::Bool(Decode::decode(r)?),
            2 => Value::Int64(r.i64()?),
            3 => Value::Float32(Decode::decode(r)?),
            4 => Value::Float64(Decode::decode(r)?),
            5 => Value::String(Decode::decode(r)?),
            6 => Value::Int32(r.i32()?),
            // One byte string (`array::byte_buf`), copied whole rather than byte by byte.
            7 => Value::Bytes(r.bytes()?.to_vec()),
            8 => Value::Timestamp(Decode::decode(r)?),
            9 => Value::Json(Decode::decode(r)?),
            10 => Value::Array(Decode::decode(r)?),
            index => return unknown_variant("Value", index),
        })
    }
}
