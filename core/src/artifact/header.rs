//! The 48-byte header bundles and snapshots start with.
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..4 | magic | `VRGB` bundle, `VRGS` snapshot |
//! | 4..6 | version | format version, u16 little-endian |
//! | 6..8 | flags | reserved, zero |
//! | 8..16 | length | payload length in bytes, u64 little-endian |
//! | 16..48 | hash | BLAKE3 of the payload: the artifact's id |
//!
//! [`ArtifactKind`] names every binary object by its magic, so a tool can tell
//! what a file is from its first four bytes. That includes the registry version
//! (`VRGR`), which has only magic and version before its payload, not this
//! header: it is read by [`crate::registry::RegistryVersion::from_bytes`], never
//! by [`Header::open`]. `docs/format.md` has the table of which file carries which.

use crate::{ContentId, Error, Result};

use super::{FORMAT_VERSION, OLDEST_READABLE, OLDEST_READABLE_SNAPSHOT};

/// Bytes in a header.
pub const HEADER_LEN: usize = 48;

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// A model bundle.
    Bundle,
    /// An online-feature snapshot (or one shard of one).
    Snapshot,
    /// A registry version (magic and version only; see the module docs).
    Registry,
}

impl ArtifactKind {
    /// The four magic bytes.
    #[must_use]
    pub const fn magic(self) -> [u8; 4] {
        match self {
            ArtifactKind::Bundle => *b"VRGB",
            ArtifactKind::Snapshot => *b"VRGS",
            ArtifactKind::Registry => *b"VRGR",
        }
    }

    /// The oldest format version this build reads for the kind.
    #[must_use]
    pub const fn oldest_readable(self) -> u16 {
        match self {
            ArtifactKind::Snapshot => OLDEST_READABLE_SNAPSHOT,
            ArtifactKind::Bundle => OLDEST_READABLE,
            // Registry versions count on their own (`registry::FORMAT_VERSION`).
            ArtifactKind::Registry => 1,
        }
    }

    /// What to do with an artifact of the kind this build cannot read.
    #[must_use]
    pub const fn rebuild_hint(self) -> &'static str {
        match self {
            ArtifactKind::Bundle => "rebuild it with `verge build`",
            ArtifactKind::Snapshot => "rebuild it with `verge materialize`",
            ArtifactKind::Registry => "re-apply the definitions with `verge apply`",
        }
    }

    /// The kind's name in messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ArtifactKind::Bundle => "bundle",
            ArtifactKind::Snapshot => "snapshot",
            ArtifactKind::Registry => "registry version",
        }
    }

    /// The kind whose magic is `magic`, if any.
    #[must_use]
    pub fn from_magic(magic: [u8; 4]) -> Option<Self> {
        [
            ArtifactKind::Bundle,
            ArtifactKind::Snapshot,
            ArtifactKind::Registry,
        ]
        .into_iter()
        .find(|k| k.magic() == magic)
    }
}

/// A decoded, checked header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The artifact kind.
    pub kind: ArtifactKind,
    /// The format version.
    pub version: u16,
    /// Payload length.
    pub payload_len: u64,
    /// BLAKE3 of the payload.
    pub id: ContentId,
}

impl Header {
    /// Frames `payload` as an artifact of `kind`: header then payload.
    #[must_use]
    pub fn frame(kind: ArtifactKind, payload: &[u8]) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::with_capacity(HEADER_LEN + payload.len());
        out.resize(HEADER_LEN, 0);
        out.extend_from_slice(payload);
        Header::frame_in_place(kind, &mut out);
        out
    }

    /// Fills in the header of `out`, whose first [`HEADER_LEN`] bytes are reserved
    /// for it and whose rest is the payload: framing without copying the payload
    /// (snapshots can be hundreds of megabytes). Does nothing to a buffer shorter
    /// than a header.
    pub fn frame_in_place(kind: ArtifactKind, out: &mut [u8]) {
        let Some((head, payload)) = out.split_at_mut_checked(HEADER_LEN) else {
            return;
        };
        head[0..4].copy_from_slice(&kind.magic());
        head[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        head[6..8].copy_from_slice(&0u16.to_le_bytes());
        head[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        head[16..48].copy_from_slice(&ContentId::of(payload).0);
    }

    /// Reads the header of an artifact expected to be `kind` without hashing the
    /// payload (cheap: for `inspect` and for routing).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`].
    pub fn peek(bytes: &[u8], kind: ArtifactKind) -> Result<Header> {
        let name = kind.name();
        let head = bytes.get(..HEADER_LEN).ok_or(Error::Truncated {
            kind: name,
            needed: HEADER_LEN as u64,
            available: bytes.len() as u64,
        })?;
        let magic = [head[0], head[1], head[2], head[3]];
        if magic != kind.magic() {
            return Err(Error::BadMagic {
                expected: name,
                found: magic,
            });
        }
        let version = u16::from_le_bytes([head[4], head[5]]);
        // A bundle of version 2 or 3 is a subset of 4 (later versions added
        // types and changed only snapshots), so it reads as it is.
        let oldest = kind.oldest_readable();
        if !(oldest..=FORMAT_VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                kind: name,
                found: version,
                oldest,
                supported: FORMAT_VERSION,
                hint: kind.rebuild_hint(),
            });
        }
        let flags = u16::from_le_bytes([head[6], head[7]]);
        if flags != 0 {
            return Err(Error::Malformed {
                kind: name,
                message: alloc::format!("reserved header flags are {flags:#06x}, expected 0"),
            });
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&head[8..16]);
        let mut id = [0u8; 32];
        id.copy_from_slice(&head[16..48]);
        Ok(Header {
            kind,
            version,
            payload_len: u64::from_le_bytes(len),
            id: ContentId(id),
        })
    }

    /// Checks the header, the length and the hash, and returns the header and the payload.
    ///
    /// # Errors
    ///
    /// Everything [`Header::peek`] reports, plus [`Error::Truncated`] when the payload is
    /// shorter than promised, [`Error::Malformed`] when bytes trail it, and
    /// [`Error::HashMismatch`] when it does not hash to the id.
    pub fn open(bytes: &[u8], kind: ArtifactKind) -> Result<(Header, &[u8])> {
        let header = Header::peek(bytes, kind)?;
        let body = &bytes[HEADER_LEN..];
        let available = body.len() as u64;
        if available < header.payload_len {
            return Err(Error::Truncated {
                kind: kind.name(),
                // A hostile length may be near u64::MAX: saturate, never overflow.
                needed: (HEADER_LEN as u64).saturating_add(header.payload_len),
                available: bytes.len() as u64,
            });
        }
        if available > header.payload_len {
            return Err(Error::Malformed {
                kind: kind.name(),
                message: alloc::format!(
                    "{} unexpected bytes after the payload",
                    available - header.payload_len
                ),
            });
        }
        let actual = ContentId::of(body);
        if actual != header.id {
            return Err(Error::HashMismatch {
                kind: kind.name(),
                expected: header.id,
                actual,
            });
        }
        Ok((header, body))
    }
}
