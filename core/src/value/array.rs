//! Arrays: Feast's `Array(T)` types, how embeddings and lists are served.
//!
//! An array holds values of one scalar [`ElemType`] and no nulls (Feast's
//! arrays cannot hold one either); the array itself may be null. The element
//! type is part of the column's [`DType`], so an empty array still has a type.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use super::{DType, Value};
use crate::artifact::wire::{Decode, Decoded, Fault, Reader, decode_enum};
use crate::time::Timestamp;

/// The type of an array's elements: one of the scalar [`DType`]s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ElemType {
    /// `true` or `false`.
    Bool,
    /// A signed 32-bit integer.
    Int32,
    /// A signed 64-bit integer.
    Int64,
    /// A single-precision float.
    Float32,
    /// A double-precision float.
    Float64,
    /// UTF-8 text.
    String,
    /// Raw bytes.
    Bytes,
    /// A point in time, µs since the epoch.
    UnixTimestamp,
}

impl From<ElemType> for DType {
    fn from(e: ElemType) -> DType {
        DType::from_elem(e)
    }
}

impl ElemType {
    /// The element type of a scalar [`DType`]; `None` for arrays and JSON.
    #[must_use]
    pub const fn of(dtype: DType) -> Option<ElemType> {
        Some(match dtype {
            DType::Bool => ElemType::Bool,
            DType::Int32 => ElemType::Int32,
            DType::Int64 => ElemType::Int64,
            DType::Float32 => ElemType::Float32,
            DType::Float64 => ElemType::Float64,
            DType::String => ElemType::String,
            DType::Bytes => ElemType::Bytes,
            DType::UnixTimestamp => ElemType::UnixTimestamp,
            DType::Json | DType::Array(_) => return None,
        })
    }

    /// Bytes per element in the snapshot, for fixed-width elements.
    #[must_use]
    pub const fn width(self) -> Option<usize> {
        match self {
            ElemType::Bool => Some(1),
            ElemType::Int32 | ElemType::Float32 => Some(4),
            ElemType::Int64 | ElemType::Float64 | ElemType::UnixTimestamp => Some(8),
            ElemType::String | ElemType::Bytes => None,
        }
    }

    /// True for elements a model or an expression reads as numbers.
    #[must_use]
    pub const fn is_numeric(self) -> bool {
        DType::from_elem(self).is_numeric()
    }
}

impl DType {
    /// [`From<ElemType>`] usable in `const` contexts.
    #[must_use]
    pub const fn from_elem(e: ElemType) -> DType {
        match e {
            ElemType::Bool => DType::Bool,
            ElemType::Int32 => DType::Int32,
            ElemType::Int64 => DType::Int64,
            ElemType::Float32 => DType::Float32,
            ElemType::Float64 => DType::Float64,
            ElemType::String => DType::String,
            ElemType::Bytes => DType::Bytes,
            ElemType::UnixTimestamp => DType::UnixTimestamp,
        }
    }
}

impl fmt::Debug for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// A list of values of one scalar type, none null.
///
/// Stored (serde) as its element type and its snapshot cell bytes
/// (`crate::artifact::cell`), not as a sequence per element type: one encoding
/// for eight element types keeps the stored form documented once and the
/// decoders the Wasm module carries small.
#[derive(Clone, PartialEq)]
pub enum Array {
    /// Booleans.
    Bool(Vec<bool>),
    /// 32-bit integers.
    Int32(Vec<i32>),
    /// 64-bit integers.
    Int64(Vec<i64>),
    /// 32-bit floats.
    Float32(Vec<f32>),
    /// 64-bit floats.
    Float64(Vec<f64>),
    /// Texts.
    String(Vec<String>),
    /// Byte strings.
    Bytes(Vec<Vec<u8>>),
    /// Points in time.
    Timestamp(Vec<Timestamp>),
}

impl Array {
    /// The element type.
    #[must_use]
    pub fn elem(&self) -> ElemType {
        match self {
            Array::Bool(_) => ElemType::Bool,
            Array::Int32(_) => ElemType::Int32,
            Array::Int64(_) => ElemType::Int64,
            Array::Float32(_) => ElemType::Float32,
            Array::Float64(_) => ElemType::Float64,
            Array::String(_) => ElemType::String,
            Array::Bytes(_) => ElemType::Bytes,
            Array::Timestamp(_) => ElemType::UnixTimestamp,
        }
    }

    /// An empty array of `elem`.
    #[must_use]
    pub fn empty(elem: ElemType) -> Array {
        match elem {
            ElemType::Bool => Array::Bool(Vec::new()),
            ElemType::Int32 => Array::Int32(Vec::new()),
            ElemType::Int64 => Array::Int64(Vec::new()),
            ElemType::Float32 => Array::Float32(Vec::new()),
            ElemType::Float64 => Array::Float64(Vec::new()),
            ElemType::String => Array::String(Vec::new()),
            ElemType::Bytes => Array::Bytes(Vec::new()),
            ElemType::UnixTimestamp => Array::Timestamp(Vec::new()),
        }
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Array::Bool(v) => v.len(),
            Array::Int32(v) => v.len(),
            Array::Int64(v) => v.len(),
            Array::Float32(v) => v.len(),
            Array::Float64(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Bytes(v) => v.len(),
            Array::Timestamp(v) => v.len(),
        }
    }

    /// True when there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a number (bools 0/1); `None` past the end or for text.
    #[must_use]
    pub fn f64_at(&self, i: usize) -> Option<f64> {
        match self {
            Array::Bool(v) => v.get(i).map(|&b| if b { 1.0 } else { 0.0 }),
            Array::Int32(v) => v.get(i).map(|&x| f64::from(x)),
            Array::Int64(v) => v.get(i).map(|&x| x as f64),
            Array::Float32(v) => v.get(i).map(|&x| f64::from(x)),
            Array::Float64(v) => v.get(i).copied(),
            Array::String(_) | Array::Bytes(_) | Array::Timestamp(_) => None,
        }
    }

    /// Element `i` as a [`Value`]; `None` past the end.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Value> {
        Some(match self {
            Array::Bool(v) => Value::Bool(*v.get(i)?),
            Array::Int32(v) => Value::Int32(*v.get(i)?),
            Array::Int64(v) => Value::Int64(*v.get(i)?),
            Array::Float32(v) => Value::Float32(*v.get(i)?),
            Array::Float64(v) => Value::Float64(*v.get(i)?),
            Array::String(v) => Value::String(v.get(i)?.clone()),
            Array::Bytes(v) => Value::Bytes(v.get(i)?.clone()),
            Array::Timestamp(v) => Value::Timestamp(*v.get(i)?),
        })
    }

    /// Builds an array of `elem` from values, each of which must be non-null
    /// and castable to `elem` ([`Value::cast`]); `Err(i)` names the first that
    /// is not.
    ///
    /// # Errors
    ///
    /// The index of the first element that is null or of another type.
    pub fn from_values(elem: ElemType, values: &[Value]) -> Result<Array, usize> {
        let mut out = Array::empty(elem);
        for (i, v) in values.iter().enumerate() {
            match (&mut out, v.cast(DType::from(elem))) {
                (Array::Bool(a), Some(Value::Bool(x))) => a.push(x),
                (Array::Int32(a), Some(Value::Int32(x))) => a.push(x),
                (Array::Int64(a), Some(Value::Int64(x))) => a.push(x),
                (Array::Float32(a), Some(Value::Float32(x))) => a.push(x),
                (Array::Float64(a), Some(Value::Float64(x))) => a.push(x),
                (Array::String(a), Some(Value::String(x))) => a.push(x),
                (Array::Bytes(a), Some(Value::Bytes(x))) => a.push(x),
                (Array::Timestamp(a), Some(Value::Timestamp(x))) => a.push(x),
                _ => return Err(i),
            }
        }
        Ok(out)
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for i in 0..self.len() {
            if let Some(v) = self.get(i) {
                list.entry(&v);
            }
        }
        list.finish()
    }
}

impl Serialize for Array {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        crate::artifact::cell::encode(self, &mut bytes);
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&self.elem())?;
        t.serialize_element(&byte_buf::Ref(&bytes))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Array {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Array, D::Error> {
        struct ArrayVisitor;
        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = Array;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an element type and the array's cell bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Array, A::Error> {
                let elem: ElemType = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let bytes: byte_buf::Buf = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                crate::artifact::cell::check(elem, &bytes.0).map_err(de::Error::custom)?;
                crate::artifact::cell::decode(elem, &bytes.0)
                    .ok_or_else(|| de::Error::custom("the array's bytes do not decode"))
            }
        }
        deserializer.deserialize_tuple(2, ArrayVisitor)
    }
}

/// Bytes through serde as one byte string (`serialize_bytes`), not a
/// sequence of numbers: bincode then writes a length and the bytes, and
/// reads them without a per-element decoder.
pub(crate) mod byte_buf {
    use alloc::vec::Vec;
    use core::fmt;

    use serde::de::{Deserializer, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    /// Borrowed bytes to serialize.
    pub(crate) struct Ref<'a>(pub(crate) &'a [u8]);

    impl Serialize for Ref<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    /// Owned bytes, deserialized.
    pub(crate) struct Buf(pub(crate) Vec<u8>);

    impl<'de> Deserialize<'de> for Buf {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Buf, D::Error> {
            struct BufVisitor;
            impl Visitor<'_> for BufVisitor {
                type Value = Buf;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                    Ok(Buf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                    Ok(Buf(v))
                }
            }
            deserializer.deserialize_byte_buf(BufVisitor)
        }
    }

    /// `#[serde(with = "byte_buf")]` for a `Vec<u8>` field.
    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    /// `#[serde(with = "byte_buf")]` for a `Vec<u8>` field.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        Buf::deserialize(deserializer).map(|b| b.0)
    }
}

decode_enum!(ElemType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    UnixTimestamp
});

impl Decode for Array {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        let elem = ElemType::decode(r)?;
        let bytes = r.bytes()?;
        crate::artifact::cell::check(elem, bytes).map_err(Fault::Wire)?;
        crate::artifact::cell::decode(elem, bytes)
            .ok_or(Fault::Wire("the array's bytes do not decode"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{decode_payload, encode_payload};
    use alloc::vec;

    #[test]
    fn arrays_and_bytes_round_trip_through_the_stored_form() {
        let values = vec![
            Value::Array(Array::Float32(vec![0.5, -1.0])),
            Value::Array(Array::String(vec!["a".into(), String::new()])),
            Value::Array(Array::Bytes(vec![vec![0, 255], vec![]])),
            Value::Array(Array::Timestamp(vec![Timestamp(-3)])),
            Value::Array(Array::empty(ElemType::Bool)),
            Value::Bytes(vec![1, 2, 3]),
        ];
        let bytes = encode_payload(&values, "test").unwrap_or_default();
        let back: Vec<Value> = decode_payload(&bytes, "test").unwrap_or_default();
        assert_eq!(back, values);
        // An f32 array whose byte count is not a whole number of elements.
        let mut bad = encode_payload(&Array::Float32(vec![1.0]), "test").unwrap_or_default();
        let last = bad.len() - 1;
        bad[last - 4] = 3; // the byte string's length: 4 -> 3
        bad.truncate(last);
        assert!(decode_payload::<Array>(&bad, "test").is_err());
    }
}
