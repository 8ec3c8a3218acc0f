//! Typed values with an explicit null, and entity keys.
//!
//! A feature value is one of five types ([`DType`]). Null is a value of its own
//! ([`Value::Null`]) rather than a NaN or a sentinel, so "the row said nothing"
//! and "the row said NaN" stay different all the way to the model.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

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
}

impl DType {
    /// The name used in `verge.toml` and in error messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::String => "string",
        }
    }

    /// Every type, in the order messages list them.
    pub const ALL: [DType; 5] = [
        DType::Bool,
        DType::Int64,
        DType::Float32,
        DType::Float64,
        DType::String,
    ];

    /// Parses a name as written in `verge.toml`, case-insensitively, so
    /// Feast's spellings (`Float32`, `Int64`, `String`, `Bool` from
    /// `feast.types`) read as verge's (`float32`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::DType;
    /// assert_eq!(DType::parse("float32"), Some(DType::Float32));
    /// assert_eq!(DType::parse("Float64"), Some(DType::Float64));
    /// assert_eq!(DType::parse("double"), None);
    /// ```
    #[must_use]
    pub fn parse(name: &str) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(name))
    }

    /// True for the types a model can read as a number without an encoder.
    #[must_use]
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            DType::Bool | DType::Int64 | DType::Float32 | DType::Float64
        )
    }
}

impl fmt::Debug for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
            Value::Int64(i) => Some(i as f64),
            Value::Float32(x) => Some(f64::from(x)),
            Value::Float64(x) => Some(x),
            Value::Null | Value::String(_) => None,
        }
    }

    /// Casts a value to `dtype` the way sources are read: numbers widen or narrow
    /// between the numeric types, text stays text. Returns `None` when the value
    /// cannot be represented (text to a number, a fractional float to an integer).
    #[must_use]
    pub fn cast(&self, dtype: DType) -> Option<Value> {
        Some(match (self, dtype) {
            (Value::Null, _) => Value::Null,
            (Value::String(s), DType::String) => Value::String(s.clone()),
            (Value::String(_), _) | (_, DType::String) => return None,
            (v, DType::Float64) => Value::Float64(v.as_f64()?),
            (v, DType::Float32) => Value::Float32(v.as_f64()? as f32),
            (Value::Int64(i), DType::Int64) => Value::Int64(*i),
            (Value::Bool(b), DType::Int64) => Value::Int64(i64::from(*b)),
            (v, DType::Int64) => {
                let x = v.as_f64()?;
                // Only whole numbers inside i64's range convert without loss.
                if libm::trunc(x) != x
                    || !(-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&x)
                {
                    return None;
                }
                Value::Int64(x as i64)
            }
            (Value::Bool(b), DType::Bool) => Value::Bool(*b),
            (Value::Int64(i), DType::Bool) if *i == 0 || *i == 1 => Value::Bool(*i == 1),
            (_, DType::Bool) => return None,
        })
    }
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
