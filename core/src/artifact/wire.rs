//! The decoder of bundle and snapshot metadata bytes: bincode 2's `standard()`
//! encoding of verge's types (as `encode_payload` writes it through serde), read
//! by hand.
//!
//! Why not serde: decoding through serde's visitors costs one visitor per type
//! and per container, and those were about 90 KB of the 530 KB ABI module. Here
//! each type reads its fields straight from a [`Reader`], in declaration order,
//! which is all bincode's layout is. The serde path stays the reference: the
//! tests decode every fuzz corpus input and every mutation of the golden files
//! both ways and require the same verdict and the same value.
//!
//! The layout, as bincode writes it with `standard()`:
//! - `u8` is one byte; `bool` one byte, 0 or 1; `f32` and `f64` little-endian;
//! - wider unsigned integers are varints: below 251 one byte, else a marker
//!   byte 251, 252 or 253 followed by 2, 4 or 8 little-endian bytes; signed
//!   ones are zig-zag mapped first;
//! - a sequence, a string or a byte buffer is a `u64` length, then the items;
//! - `Option` is a tag byte 0 or 1, then the value;
//! - a struct is its fields in order; an enum is a `u32` variant index, then
//!   the variant's fields; a newtype is its inner value; an array or a tuple is
//!   its items with no length.
//!
//! Allocation is bounded as `codec`'s serde adapter bounds it: a vector reserves
//! at most `PREALLOC` (16) elements before they decode, every element and string
//! charges its size against a budget that grows with the input, and a string is
//! copied only once its bytes were found in the input.

use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;

/// Most elements a vector reserves room for before its elements are read.
const PREALLOC: usize = 16;

/// Why bytes did not decode.
#[derive(Debug)]
pub enum Fault {
    /// The bytes are not an encoding of the type; the text says how.
    Wire(&'static str),
    /// An enum's variant index is not one of the type's.
    UnknownVariant {
        /// The enum.
        of: &'static str,
        /// The index read.
        index: u32,
    },
    /// The parts decoded but do not make a valid value (a model's shapes disagree).
    Refused(Error),
}

impl Fault {
    /// The fault as the artifact error loaders return.
    pub(crate) fn into_error(self, kind: &'static str) -> Error {
        let message = match self {
            Fault::Wire(text) => String::from(text),
            Fault::UnknownVariant { of, index } => {
                alloc::format!("variant index {index} is not a variant of `{of}`")
            }
            Fault::Refused(Error::Malformed { message, .. }) => message,
            Fault::Refused(other) => alloc::format!("{other}"),
        };
        Error::Malformed { kind, message }
    }
}

impl From<Error> for Fault {
    fn from(error: Error) -> Self {
        Fault::Refused(error)
    }
}

/// What [`Decode::decode`] returns.
pub type Decoded<T> = Result<T, Fault>;

/// A cursor over encoded bytes, with what is left of the allocation budget.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    budget: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes` that may allocate `budget` bytes.
    pub(crate) fn new(bytes: &'a [u8], budget: usize) -> Self {
        Reader { bytes, budget }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Takes `n` bytes from the budget, or says it ran out.
    fn charge(&mut self, n: usize) -> Decoded<()> {
        self.budget = self.budget.checked_sub(n).ok_or(Fault::Wire(
            "the structure claims more memory than its size allows (a corrupt or hostile length)",
        ))?;
        Ok(())
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(Fault::Wire("the bytes end inside the structure"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One raw byte.
    pub(crate) fn byte(&mut self) -> Decoded<u8> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned varint of at most `max_marker`'s width (251: u16, 252: u32, 253: u64).
    fn varint(&mut self, max_marker: u8) -> Decoded<u64> {
        let first = self.byte()?;
        let value = match first {
            0..=250 => return Ok(u64::from(first)),
            251 => u64::from(u16::from_le_bytes(self.array()?)),
            252 if max_marker >= 252 => u64::from(u32::from_le_bytes(self.array()?)),
            253 if max_marker >= 253 => u64::from_le_bytes(self.array()?),
            _ => return Err(Fault::Wire("an integer is wider than its field")),
        };
        Ok(value)
    }

    /// A varint `u32`: variant indexes and `u32` fields.
    pub(crate) fn u32(&mut self) -> Decoded<u32> {
        // The marker bound makes anything wider an error, so the cast is exact.
        self.varint(252).map(|v| v as u32)
    }

    /// A varint `u64`.
    pub(crate) fn u64(&mut self) -> Decoded<u64> {
        self.varint(253)
    }

    /// A `u64` length or index that must fit this machine's `usize`.
    pub(crate) fn usize(&mut self) -> Decoded<usize> {
        usize::try_from(self.u64()?).map_err(|_| Fault::Wire("a length does not fit in memory"))
    }

    /// A zig-zag varint `i64`.
    pub(crate) fn i64(&mut self) -> Decoded<i64> {
        self.u64().map(unzigzag)
    }

    /// A zig-zag varint `i32`: at most 32 bits on the wire, so the cast is exact.
    pub(crate) fn i32(&mut self) -> Decoded<i32> {
        self.varint(252).map(|n| unzigzag(n) as i32)
    }

    /// A length-prefixed byte string, borrowed from the input; its length is charged.
    pub(crate) fn bytes(&mut self) -> Decoded<&'a [u8]> {
        let len = self.usize()?;
        let bytes = self.take(len)?;
        self.charge(len)?;
        Ok(bytes)
    }

    /// A byte that must be 0 or 1 (a `bool`, an `Option`'s tag); `refusal` otherwise.
    fn flag(&mut self, refusal: &'static str) -> Decoded<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Fault::Wire(refusal)),
        }
    }

    /// An `Option`'s tag: whether a value follows.
    pub(crate) fn is_some(&mut self) -> Decoded<bool> {
        self.flag("an option's tag is neither 0 nor 1")
    }

    /// An enum's variant index.
    pub(crate) fn variant(&mut self) -> Decoded<u32> {
        self.u32()
    }
}

/// bincode's zig-zag mapping undone: even `n` is `n / 2`, odd `n` is `!(n / 2)`.
fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// A type read from its bincode bytes by [`Reader`].
///
/// Implemented for the types of bundles and snapshot metadata; decode one with
/// [`decode_payload`](crate::artifact::decode_payload).
pub trait Decode: Sized {
    /// Reads one value.
    ///
    /// # Errors
    ///
    /// A [`Fault`] when the bytes are not an encoding of `Self`.
    fn decode(r: &mut Reader<'_>) -> Decoded<Self>;
}

impl Decode for u8 {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        r.byte()
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        r.flag("a boolean is neither 0 nor 1")
    }
}

/// `impl Decode` for primitives, each read by one `Reader` call.
macro_rules! decode_primitives {
    ($($ty:ty => |$r:ident| $read:expr;)*) => {$(
        impl Decode for $ty {
            fn decode($r: &mut Reader<'_>) -> Decoded<Self> {
                $read
            }
        }
    )*};
}

decode_primitives! {
    // The marker bound makes anything wider than 16 bits an error, so the cast is exact.
    u16 => |r| r.varint(251).map(|v| v as u16);
    u32 => |r| r.u32();
    u64 => |r| r.u64();
    usize => |r| r.usize();
    i32 => |r| r.i32();
    i64 => |r| r.i64();
    f32 => |r| Ok(f32::from_le_bytes(r.array()?));
    f64 => |r| Ok(f64::from_le_bytes(r.array()?));
}

impl<const N: usize> Decode for [u8; N] {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        r.array()
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        let bytes = r.bytes()?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| Fault::Wire("a string is not UTF-8"))
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        if r.is_some()? {
            T::decode(r).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        let len = r.usize()?;
        let mut items = Vec::with_capacity(len.min(PREALLOC));
        for _ in 0..len {
            r.charge(size_of::<T>())?;
            items.push(T::decode(r)?);
        }
        Ok(items)
    }
}

impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(r: &mut Reader<'_>) -> Decoded<Self> {
        let a = A::decode(r)?;
        Ok((a, B::decode(r)?))
    }
}

/// `impl Decode` for a struct from its field names, which must be listed in
/// declaration order (bincode's layout is that order). `Type { a, b }` builds
/// the struct itself; `Type as Parts { a, b }` builds `Parts` and converts it
/// with `TryFrom`, for types serialized through `#[serde(into, try_from)]`.
macro_rules! decode_struct {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $crate::artifact::wire::Decode for $ty {
            fn decode(
                r: &mut $crate::artifact::wire::Reader<'_>,
            ) -> $crate::artifact::wire::Decoded<Self> {
                Ok($ty { $($field: $crate::artifact::wire::Decode::decode(r)?),* })
            }
        }
    };
    ($ty:ident as $parts:ident { $($field:ident),* $(,)? }) => {
        decode_struct!($parts { $($field),* });
        impl $crate::artifact::wire::Decode for $ty {
            fn decode(
                r: &mut $crate::artifact::wire::Reader<'_>,
            ) -> $crate::artifact::wire::Decoded<Self> {
                let parts = <$parts as $crate::artifact::wire::Decode>::decode(r)?;
                Ok($ty::try_from(parts)?)
            }
        }
    };
}

/// `impl Decode` for an enum from its variants, listed in declaration order
/// (bincode's variant index is the position): `Unit`, `Tuple(a, b)` (one name
/// per field, any names) or `Struct { field, other }` (the field names, in
/// order).
macro_rules! decode_enum {
    ($ty:ident {
        $($variant:ident $({ $($field:ident),* $(,)? })? $(( $($pos:ident),* $(,)? ))?),* $(,)?
    }) => {
        impl $crate::artifact::wire::Decode for $ty {
            fn decode(
                r: &mut $crate::artifact::wire::Reader<'_>,
            ) -> $crate::artifact::wire::Decoded<Self> {
                let index = r.variant()?;
                let mut position = 0u32;
                $(
                    if index == position {
                        return Ok($ty::$variant
                            $({ $($field: $crate::artifact::wire::Decode::decode(r)?),* })?
                            $(( $($crate::artifact::wire::decode_enum!(@field r $pos)),* ))?);
                    }
                    position += 1;
                )*
                let _ = position;
                $crate::artifact::wire::unknown_variant(stringify!($ty), index)
            }
        }
    };
    (@field $r:ident $pos:ident) => {
        $crate::artifact::wire::Decode::decode($r)?
    };
}

pub(crate) use {decode_enum, decode_struct};

/// The fault for a variant index `index` that `of` does not have.
pub(crate) fn unknown_variant<T>(of: &'static str, index: u32) -> Decoded<T> {
    Err(Fault::UnknownVariant { of, index })
}

#[cfg(test)]
mod tests;
