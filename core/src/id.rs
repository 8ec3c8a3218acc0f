//! Content ids: the BLAKE3 hash of an artifact's canonical bytes.
//!
//! Every immutable object in verge (a registry version, a bundle, a snapshot) is
//! named by the hash of what it contains, so equal content means equal id and a
//! pipeline step whose inputs did not change can be skipped.

use core::fmt;
use serde::{Deserialize, Serialize};

/// Below this, one core hashes faster than handing the work to rayon's pool
/// (BLAKE3's docs put the break-even near 128 KiB; snapshots are far above).
#[cfg(feature = "rayon")]
const PARALLEL_HASH_BYTES: usize = 1 << 20;

/// A 32-byte BLAKE3 content hash. Printed as 64 lowercase hex digits.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// let id = ContentId::of(b"abc");
/// assert_eq!(id.to_string().len(), 64);
/// assert_eq!(ContentId::parse_hex(&id.to_string()), Some(id));
/// assert_eq!(id.short().len(), 12);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentId(pub [u8; 32]);

impl ContentId {
    /// The hash of `bytes`. With the `rayon` feature, inputs of 1 MiB and
    /// more are hashed on all cores (BLAKE3's tree mode gives the same hash).
    #[must_use]
    pub fn of(bytes: &[u8]) -> Self {
        #[cfg(feature = "rayon")]
        if bytes.len() >= PARALLEL_HASH_BYTES {
            let mut hasher = blake3::Hasher::new();
            hasher.update_rayon(bytes);
            return ContentId(*hasher.finalize().as_bytes());
        }
        ContentId(*blake3::hash(bytes).as_bytes())
    }

    /// The hash of several byte slices, as if concatenated.
    #[must_use]
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(part);
        }
        ContentId(*hasher.finalize().as_bytes())
    }

    /// Parses 64 hex digits (either case).
    #[must_use]
    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(ContentId(out))
    }

    /// The first 12 hex digits: enough to tell versions apart in a log.
    #[must_use]
    pub fn short(&self) -> alloc::string::String {
        let mut s = alloc::format!("{self}");
        s.truncate(12);
        s
    }
}

impl ContentId {
    /// The 64 lowercase hex digits, without allocating.
    #[must_use]
    pub fn to_hex(&self) -> [u8; 64] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        out
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are printed on every API answer: one write instead of 32 formatted bytes.
        let hex = self.to_hex();
        f.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.short())
    }
}

impl crate::artifact::wire::Decode for ContentId {
    fn decode(r: &mut crate::artifact::wire::Reader<'_>) -> crate::artifact::wire::Decoded<Self> {
        r.array().map(ContentId)
    }
}
