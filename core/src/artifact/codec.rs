//! serde + bincode for the structured parts of artifacts, kept behind one module so
//! the byte format in `docs/format.md` is ours and not an accident of a library.
//!
//! Configuration: bincode 2 `standard()` — little-endian, variable-length integers
//! (LEB128-like "varint" as bincode defines it), no trailing-bytes tolerance.
//! Decoding is bounded: bincode refuses any claimed length that would take the
//! running total of allocated bytes past a limit that grows with the input size,
//! so a hostile length cannot make the decoder allocate more than a small multiple
//! of what it was given.

use alloc::format;
use alloc::vec::Vec;
use bincode::config;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// Decodes a whole `bytes` slice as a `T`, with an allocation limit of about 8× the input.
///
/// # Errors
///
/// [`Error::Malformed`] naming bincode's complaint (unexpected end, a length over
/// the limit, invalid UTF-8, an unknown variant) or trailing bytes.
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8], kind: &'static str) -> Result<T> {
    // bincode's limit is a const generic; pick the smallest class that fits 8× the input.
    macro_rules! with_limit {
        ($($limit:expr),*) => {{
            let need = bytes.len().saturating_mul(8).max(4096);
            $( if need <= $limit {
                return finish(bincode::serde::decode_from_slice(bytes, base().with_limit::<{ $limit }>()), bytes.len(), kind);
            } )*
            finish(bincode::serde::decode_from_slice(bytes, base().with_limit::<{ usize::MAX }>()), bytes.len(), kind)
        }};
    }
    with_limit!(1 << 12, 1 << 16, 1 << 20, 1 << 24, 1 << 28, 1 << 31)
}

fn finish<T>(
    result: core::result::Result<(T, usize), bincode::error::DecodeError>,
    len: usize,
    kind: &'static str,
) -> Result<T> {
    let (value, used) = result.map_err(|e| Error::Malformed {
        kind,
        message: format!("{e}"),
    })?;
    if used != len {
        return Err(Error::Malformed {
            kind,
            message: format!("{} trailing bytes after the structure", len - used),
        });
    }
    Ok(value)
}
