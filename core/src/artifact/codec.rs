//! The structured parts of artifacts and registry versions, in bincode 2's
//! `standard()` encoding, kept behind one module so the byte format in
//! `docs/format.md` is ours and not an accident of a library.
//!
//! Configuration: little-endian, variable-length integers (LEB128-like "varint"
//! as bincode defines it), no trailing-bytes tolerance.
//!
//! Encoding goes through serde. Decoding takes two roads:
//! - bundles and snapshot metadata, which every edge face reads, through the
//!   hand-written [`wire`](super::wire) decoder ([`decode_payload`]), which is a
//!   fraction of serde's size in a Wasm module;
//! - registry versions, which only the host reads, through serde and bincode
//!   ([`decode_budgeted`]), which is also the reference `wire`'s tests hold
//!   it to.
//!
//! The serde road is bounded by [`Frugal`], an adapter every decode goes through:
//! - sequences and maps preallocate at most [`PREALLOC`] elements (serde would
//!   reserve up to 1 MiB per sequence on a claimed length alone);
//! - strings and byte buffers are read by borrowing from the input, so one is
//!   allocated only once its bytes are known to be there (bincode's owned path
//!   allocates the claimed length first);
//! - every element, map entry and string charges its size against a budget that
//!   grows with the input ([`budget_for`]), and decoding stops with an error when
//!   the budget runs out.
//!
//! The budget is a runtime value, not bincode's own limit: that limit is a const
//! generic, so sizing it to the input meant one copy of every decoder per size
//! class, which was a quarter of the browser module. `core/tests/alloc_bounds.rs`
//! holds the decoders to 16× the input plus 64 KiB.

use alloc::format;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;

use bincode::config;
use bincode::error::DecodeError;
use serde::Serialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::wire::{Decode, Reader};
use crate::{Error, Result};

fn base() -> config::Configuration {
    config::standard()
}

/// Encodes `value` with verge's bincode configuration.
///
/// # Errors
///
/// [`Error::Malformed`] if serde refuses the value (it cannot for verge's own types).
pub fn encode_payload<T: Serialize>(value: &T, kind: &'static str) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, base()).map_err(|e| Error::Malformed {
        kind,
        message: format!("cannot encode: {e}"),
    })
}

/// Decodes a whole `bytes` slice as a `T`, within the budget `budget_for` gives it,
/// with the hand-written decoder of [`wire`](super::wire).
///
/// # Errors
///
/// [`Error::Malformed`] saying what is wrong (the bytes end early, invalid UTF-8,
/// an unknown variant), an exhausted budget, or trailing bytes.
pub fn decode_payload<T: Decode>(bytes: &[u8], kind: &'static str) -> Result<T> {
    decode_within(bytes, budget_for(bytes.len()), kind)
}

/// [`decode_payload`] with `budget` bytes to allocate.
pub(crate) fn decode_within<T: Decode>(
    bytes: &[u8],
    budget: usize,
    kind: &'static str,
) -> Result<T> {
    let mut reader = Reader::new(bytes, budget);
    let value = T::decode(&mut reader).map_err(|fault| fault.into_error(kind))?;
    if reader.remaining() != 0 {
        return Err(Error::Malformed {
            kind,
            message: format!("{} trailing bytes after the structure", reader.remaining()),
        });
    }
    Ok(value)
}

/// The bytes a decode of `input_len` bytes may allocate: 6× the input plus 16 KiB.
///
/// Chosen so that the peak stays within `alloc_bounds`' 16× + 64 KiB even when
/// every vector doubles past what it holds. verge's own artifacts need well under
/// it: a tree node, the densest, decodes to about 5× its encoded size.
pub(crate) fn budget_for(input_len: usize) -> usize {
    input_len.saturating_mul(6).saturating_add(16 << 10)
}

/// bincode's `decode_from_slice` through [`Frugal`] with `budget` bytes to
/// allocate: returns the value and the bytes used.
///
/// # Errors
///
/// bincode's complaint, or an exhausted budget.
pub(crate) fn decode_budgeted<T: DeserializeOwned>(
    bytes: &[u8],
    budget: usize,
) -> core::result::Result<(T, usize), DecodeError> {
    let budget = Budget(Cell::new(budget));
    bincode::serde::seed_decode_from_slice(Frugal(PhantomData::<T>, &budget), bytes, base())
}

/// What is left of a decode's allocation budget, shared by every [`Frugal`] of one decode.
struct Budget(Cell<usize>);

impl Budget {
    /// Takes `bytes` from the budget, or says it ran out.
    fn charge<E: de::Error>(&self, bytes: usize) -> core::result::Result<(), E> {
        match self.0.get().checked_sub(bytes) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => Err(E::custom(
                "the structure claims more memory than its size allows (a corrupt or hostile length)",
            )),
        }
    }
}

/// Most elements a sequence or map reserves room for before its elements are read.
///
/// Beyond it a collection grows as elements actually decode, each backed by input bytes.
const PREALLOC: usize = 16;

/// A serde adapter around a deserializer (and, as a seed, around a type) that
/// caps every size hint at [`PREALLOC`] and reads owned strings and byte buffers
/// through their borrowed forms. Everything else is forwarded unchanged, so the
/// bytes accepted and the values produced are exactly bincode's.
struct Frugal<'b, T>(T, &'b Budget);

impl<'de, 'b, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Frugal<'b, T> {
    type Value = T::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> core::result::Result<T::Value, D::Error> {
        self.0.deserialize(Frugal(d, self.1))
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> core::result::Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Frugal(visitor, self.1))
        }
    )*};
}

impl<'de, 'b, D: Deserializer<'de>> Deserializer<'de> for Frugal<'b, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16()
        deserialize_i32() deserialize_i64() deserialize_i128() deserialize_u8()
        deserialize_u16() deserialize_u32() deserialize_u64() deserialize_u128()
        deserialize_f32() deserialize_f64() deserialize_char() deserialize_str()
        deserialize_bytes() deserialize_option() deserialize_unit()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str) deserialize_seq()
        deserialize_tuple(len: usize) deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier() deserialize_ignored_any()
    }

    // Borrowed first: the string is copied only after its bytes were found.
    fn deserialize_string<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> core::result::Result<V::Value, D::Error> {
        self.0.deserialize_str(Frugal(visitor, self.1))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> core::result::Result<V::Value, D::Error> {
        self.0.deserialize_bytes(Frugal(visitor, self.1))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> core::result::Result<Self::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, 'b, V: Visitor<'de>> Visitor<'de> for Frugal<'b, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_string(alloc::string::String) visit_byte_buf(Vec<u8>)
    }

    // A visitor may copy what it is shown, so a string's or a buffer's length is
    // charged; it is in the input already, so this never refuses a short one.
    fn visit_str<E: de::Error>(self, v: &str) -> core::result::Result<Self::Value, E> {
        self.1.charge(v.len())?;
        self.0.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> core::result::Result<Self::Value, E> {
        self.1.charge(v.len())?;
        self.0.visit_borrowed_str(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> core::result::Result<Self::Value, E> {
        self.1.charge(v.len())?;
        self.0.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(
        self,
        v: &'de [u8],
    ) -> core::result::Result<Self::Value, E> {
        self.1.charge(v.len())?;
        self.0.visit_borrowed_bytes(v)
    }

    fn visit_none<E: de::Error>(self) -> core::result::Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> core::result::Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> core::result::Result<Self::Value, D::Error> {
        self.0.visit_some(Frugal(d, self.1))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> core::result::Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Frugal(d, self.1))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> core::result::Result<Self::Value, A::Error> {
        self.0.visit_seq(Frugal(seq, self.1))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> core::result::Result<Self::Value, A::Error> {
        self.0.visit_map(Frugal(map, self.1))
    }

    fn visit_enum<A: EnumAccess<'de>>(
        self,
        data: A,
    ) -> core::result::Result<Self::Value, A::Error> {
        self.0.visit_enum(Frugal(data, self.1))
    }
}

impl<'de, 'b, A: SeqAccess<'de>> SeqAccess<'de> for Frugal<'b, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> core::result::Result<Option<T::Value>, A::Error> {
        self.1.charge(size_of::<T::Value>())?;
        self.0.next_element_seed(Frugal(seed, self.1))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint().map(|n| n.min(PREALLOC))
    }
}

impl<'de, 'b, A: MapAccess<'de>> MapAccess<'de> for Frugal<'b, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> core::result::Result<Option<K::Value>, A::Error> {
        self.1.charge(size_of::<K::Value>())?;
        self.0.next_key_seed(Frugal(seed, self.1))
    }

    fn next_value_seed<W: DeserializeSeed<'de>>(
        &mut self,
        seed: W,
    ) -> core::result::Result<W::Value, A::Error> {
        self.1.charge(size_of::<W::Value>())?;
        self.0.next_value_seed(Frugal(seed, self.1))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint().map(|n| n.min(PREALLOC))
    }
}

impl<'de, 'b, A: EnumAccess<'de>> EnumAccess<'de> for Frugal<'b, A> {
    type Error = A::Error;
    type Variant = Frugal<'b, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> core::result::Result<(S::Value, Self::Variant), A::Error> {
        let budget = self.1;
        let (value, variant) = self.0.variant_seed(Frugal(seed, budget))?;
        Ok((value, Frugal(variant, budget)))
    }
}

impl<'de, 'b, A: VariantAccess<'de>> VariantAccess<'de> for Frugal<'b, A> {
    type Error = A::Error;

    fn unit_variant(self) -> core::result::Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> core::result::Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(Frugal(seed, self.1))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> core::result::Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Frugal(visitor, self.1))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> core::result::Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Frugal(visitor, self.1))
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;

    use super::*;

    #[test]
    fn frugal_decoding_gives_what_plain_bincode_gives() {
        #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
        enum Shape {
            Unit,
            New(u32),
            Tuple(i64, String),
            Struct {
                x: Option<f64>,
                tags: Vec<(String, Vec<u8>)>,
            },
        }
        let value = vec![
            Shape::Unit,
            Shape::New(7),
            Shape::Tuple(-3, String::from("é☃")),
            Shape::Struct {
                x: Some(1.5),
                tags: vec![(String::from("a"), vec![1, 2, 3])],
            },
            Shape::Struct {
                x: None,
                tags: vec![],
            },
        ];
        let bytes = encode_payload(&value, "test").unwrap();
        let plain: (Vec<Shape>, usize) = bincode::serde::decode_from_slice(&bytes, base()).unwrap();
        assert_eq!(plain.0, value);
        let frugal: (Vec<Shape>, usize) = decode_budgeted(&bytes, budget_for(bytes.len())).unwrap();
        assert_eq!(frugal, (value, bytes.len()));
        // A string whose claimed length runs past the input is refused.
        let short = [0xfc, 0, 0, 0, 1, b'a'];
        assert!(decode_budgeted::<String>(&short, budget_for(short.len())).is_err());
    }

    #[test]
    fn elements_charge_their_decoded_size_against_the_budget() {
        // Each `None` is one byte on the wire and 40 in memory: 4,000 of them
        // would allocate 160 KB from 4 KB, more than the budget allows.
        let many: Vec<Option<[u64; 4]>> = vec![None; 4000];
        let bytes = encode_payload(&many, "test").unwrap();
        let err =
            decode_budgeted::<Vec<Option<[u64; 4]>>>(&bytes, budget_for(bytes.len())).unwrap_err();
        assert!(
            alloc::format!("{err}").contains("claims more memory"),
            "{err}"
        );
        // The same count of one-byte values is well within it.
        let small: Vec<u8> = vec![7; 4000];
        let bytes = encode_payload(&small, "test").unwrap();
        let back: (Vec<u8>, usize) = decode_budgeted(&bytes, budget_for(bytes.len())).unwrap();
        assert_eq!(back.0, small);
    }
}
