//! The bytes of one variable-width cell in a snapshot column: text, bytes,
//! JSON and arrays, written by the builder and read back in place.
//!
//! A variable-width column stores `rows + 1` u32 offsets into its data; the
//! bytes of row `r` are `data[offsets[r]..offsets[r + 1]]`. What those bytes
//! mean depends on the column's type:
//!
//! | type | cell bytes |
//! |---|---|
//! | `string`, `json` | UTF-8 (`json`: one JSON value in canonical form) |
//! | `bytes` | the bytes |
//! | `array<bool>` | one byte per element, 0 or 1 |
//! | `array<int32>`, `array<float32>` | 4 bytes per element, little-endian |
//! | `array<int64>`, `array<float64>`, `array<unix_timestamp>` | 8 bytes per element, little-endian (timestamps: µs) |
//! | `array<string>`, `array<bytes>` | per element: u32 little-endian length, then the bytes |
//!
//! [`check`] runs once at load, so [`decode`] afterwards cannot fail on a
//! checked snapshot; it still returns `Option` rather than panic.

use alloc::string::String;
use alloc::vec::Vec;

use crate::time::Timestamp;
use crate::value::{Array, ElemType};

/// Appends the cell bytes of `array`.
pub(crate) fn encode(array: &Array, out: &mut Vec<u8>) {
    match array {
        Array::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        Array::Int32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::Int64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::Float32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::Float64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::Timestamp(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.0.to_le_bytes())),
        Array::String(v) => v.iter().for_each(|s| framed(s.as_bytes(), out)),
        Array::Bytes(v) => v.iter().for_each(|b| framed(b, out)),
    }
}

fn framed(bytes: &[u8], out: &mut Vec<u8>) {
    // A cell over 4 GiB cannot be addressed by the column's u32 offsets anyway;
    // the builder refuses the row when the offsets overflow.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Why a cell's bytes are not a valid array of `elem`, if they are not.
pub(crate) fn check(elem: ElemType, bytes: &[u8]) -> Result<(), &'static str> {
    match elem.width() {
        Some(1) if bytes.iter().any(|&b| b > 1) => Err("a bool element is neither 0 nor 1"),
        Some(w) if !bytes.len().is_multiple_of(w) => {
            Err("the length is not a whole number of elements")
        }
        Some(_) => Ok(()),
        None => {
            let mut rest = bytes;
            while !rest.is_empty() {
                let (item, tail) = split_framed(rest).ok_or("an element runs past the cell")?;
                if elem == ElemType::String && core::str::from_utf8(item).is_err() {
                    return Err("a string element is not UTF-8");
                }
                rest = tail;
            }
            Ok(())
        }
    }
}

fn split_framed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let end = 4usize.checked_add(len)?;
    Some((bytes.get(4..end)?, bytes.get(end..)?))
}

/// Number of elements in checked cell bytes.
pub(crate) fn len(elem: ElemType, bytes: &[u8]) -> usize {
    match elem.width() {
        Some(w) => bytes.len() / w,
        None => {
            let mut n = 0;
            let mut rest = bytes;
            while let Some((_, tail)) = split_framed(rest) {
                n += 1;
                rest = tail;
            }
            n
        }
    }
}

/// Reads checked cell bytes back as an array.
pub(crate) fn decode(elem: ElemType, bytes: &[u8]) -> Option<Array> {
    fn fixed<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .filter_map(|c| c.try_into().ok().map(&f))
            .collect()
    }
    let mut items = Vec::new();
    let mut rest = bytes;
    if elem.width().is_none() {
        while !rest.is_empty() {
            let (item, tail) = split_framed(rest)?;
            items.push(item);
            rest = tail;
        }
    }
    Some(match elem {
        ElemType::Bool => Array::Bool(bytes.iter().map(|&b| b == 1).collect()),
        ElemType::Int32 => Array::Int32(fixed(bytes, i32::from_le_bytes)),
        ElemType::Int64 => Array::Int64(fixed(bytes, i64::from_le_bytes)),
        ElemType::Float32 => Array::Float32(fixed(bytes, f32::from_le_bytes)),
        ElemType::Float64 => Array::Float64(fixed(bytes, f64::from_le_bytes)),
        ElemType::UnixTimestamp => {
            Array::Timestamp(fixed(bytes, |b| Timestamp(i64::from_le_bytes(b))))
        }
        ElemType::String => Array::String(
            items
                .into_iter()
                .map(|b| core::str::from_utf8(b).ok().map(String::from))
                .collect::<Option<_>>()?,
        ),
        ElemType::Bytes => Array::Bytes(items.into_iter().map(<[u8]>::to_vec).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn every_element_type_round_trips() {
        let arrays = [
            Array::Bool(vec![true, false, true]),
            Array::Int32(vec![-1, 0, i32::MAX]),
            Array::Int64(vec![i64::MIN, 7]),
            Array::Float32(vec![0.5, -0.0, f32::INFINITY]),
            Array::Float64(vec![1e-300, 2.5]),
            Array::Timestamp(vec![Timestamp(-5), Timestamp(1_700_000_000_000_000)]),
            Array::String(vec![String::from("é"), String::new(), String::from("x")]),
            Array::Bytes(vec![vec![0, 255], vec![]]),
            Array::Float32(vec![]),
        ];
        for array in arrays {
            let mut bytes = Vec::new();
            encode(&array, &mut bytes);
            assert_eq!(check(array.elem(), &bytes), Ok(()), "{array:?}");
            assert_eq!(len(array.elem(), &bytes), array.len());
            assert_eq!(decode(array.elem(), &bytes), Some(array));
        }
    }

    #[test]
    fn hostile_cells_are_refused_not_read() {
        assert!(check(ElemType::Bool, &[0, 2]).is_err());
        assert!(check(ElemType::Float64, &[0; 9]).is_err());
        assert!(check(ElemType::String, &[5, 0, 0, 0, b'a']).is_err());
        assert!(check(ElemType::String, &[1, 0, 0, 0, 0xff]).is_err());
        assert!(check(ElemType::Bytes, &[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(check(ElemType::Bytes, &[1, 0, 0]).is_err());
        assert_eq!(check(ElemType::Bytes, &[0, 0, 0, 0]), Ok(()));
    }
}
