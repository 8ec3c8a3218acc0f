//! Registry versions: the whole set of definitions as one immutable,
//! content-addressed object, and the diff between two of them.
//!
//! `verge apply` never edits anything in place. It encodes the definitions into a
//! new [`RegistryVersion`] whose `parent` is the previous head and names it by the
//! BLAKE3 hash of its bytes ([`RegistryVersion::id`]), like a git commit. Because
//! the definitions are canonicalized before encoding, equal declarations always
//! give equal bytes, so "nothing changed" is just "same id".
//!
//! # Byte format (version 1)
//!
//! Not the 48-byte artifact header of bundles and snapshots: a registry version
//! is named by the hash of all its bytes (its file name under `.verge/objects/`),
//! so it carries neither a length nor a hash, only magic and version.
//!
//! | bytes | meaning |
//! |---|---|
//! | 4 | magic `VRGR` |
//! | 2 | format version, little-endian `u16` (currently 1) |
//! | rest | the version, serde + bincode 2 `config::standard()` (varint integers, little-endian) |
//!
//! The payload must be consumed exactly; trailing bytes are an error. Decoding never
//! panics and never allocates more than a bound derived from the input's length (see
//! [`RegistryVersion::from_bytes`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactKind;
use crate::definition::{Definitions, ObjectKind};
use crate::{ContentId, Error, Result, Timestamp};

/// The four bytes every encoded registry version starts with (the same as
/// [`ArtifactKind::Registry`]'s, so a file is recognised by one table of magics).
pub const MAGIC: [u8; 4] = ArtifactKind::Registry.magic();

/// The byte-format version this build writes (and reads, with version 1).
///
/// 2: `Definitions` end with `push_sources`. Version 1 objects (written before
/// it) still read, with no push sources: see the `v1` module.
pub const FORMAT_VERSION: u16 = 2;

/// The largest payload [`RegistryVersion::from_bytes`] accepts: 64 MiB, far more
/// than any feature repository declares, small enough that a corrupt file cannot
/// make the decoder reserve gigabytes.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// The artifact name used in errors.
const KIND: &str = "registry version";

/// What a definitions id hashes before the definitions, so it never equals
/// the id of any other kind of bytes.
const DEFINITIONS_TAG: &[u8] = b"verge definitions\0";

/// The definitions id of `definitions` (canonicalized first); see
/// [`RegistryVersion::definitions_id`].
///
/// # Errors
///
/// [`Error::Malformed`] if serde refuses a value (not expected for these types).
pub fn definitions_id(definitions: &Definitions) -> Result<ContentId> {
    let mut canonical = definitions.clone();
    canonical.canonicalize();
    let payload = bincode::serde::encode_to_vec(&canonical, bincode::config::standard())
        .map_err(|e| malformed(format!("cannot encode: {e}")))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(DEFINITIONS_TAG);
    hasher.update(&payload);
    Ok(ContentId(*hasher.finalize().as_bytes()))
}

/// One immutable version of the registry: the definitions, where they came from and when.
///
/// # Examples
///
/// ```
/// use verge_core::Timestamp;
/// use verge_core::definition::Definitions;
/// use verge_core::registry::RegistryVersion;
///
/// let defs = Definitions { project: "demo".into(), ..Definitions::default() };
/// let v1 = RegistryVersion::new(None, Timestamp::from_secs(1), "first", defs.clone());
/// let bytes = v1.to_bytes().unwrap();
/// assert_eq!(&bytes[..4], b"VRGR");
/// assert_eq!(RegistryVersion::from_bytes(&bytes).unwrap(), v1);
///
/// // A child names its parent by id; same content always gives the same id.
/// let v2 = RegistryVersion::new(Some(v1.id().unwrap()), Timestamp::from_secs(2), "second", defs);
/// assert_ne!(v2.id().unwrap(), v1.id().unwrap());
/// assert_eq!(v1.id().unwrap(), RegistryVersion::from_bytes(&bytes).unwrap().id().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryVersion {
    /// The version this one was applied on top of; `None` for the first.
    pub parent: Option<ContentId>,
    /// When `apply` wrote it (the host's clock; the core has none).
    pub applied_at: Timestamp,
    /// The `apply -m` message; may be empty.
    pub message: String,
    /// Everything the feature repository declared, canonicalized.
    pub definitions: Definitions,
}

impl RegistryVersion {
    /// A version with these fields; `definitions` are canonicalized so equal
    /// declarations encode (and hash) equally.
    #[must_use]
    pub fn new(
        parent: Option<ContentId>,
        applied_at: Timestamp,
        message: impl Into<String>,
        mut definitions: Definitions,
    ) -> Self {
        definitions.canonicalize();
        RegistryVersion {
            parent,
            applied_at,
            message: message.into(),
            definitions,
        }
    }

    /// The canonical bytes: magic, format version, bincode payload.
    ///
    /// The definitions are canonicalized on the way out even if a caller edited
    /// the public fields after [`RegistryVersion::new`], so the bytes never
    /// depend on declaration order.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if serde refuses a value (not expected for these types).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut canonical = self.definitions.clone();
        canonical.canonicalize();
        let view = VersionRef {
            parent: &self.parent,
            applied_at: self.applied_at,
            message: &self.message,
            definitions: &canonical,
        };
        let payload = bincode::serde::encode_to_vec(&view, bincode::config::standard())
            .map_err(|e| malformed(format!("cannot encode: {e}")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 2 + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// The content id: BLAKE3 of [`RegistryVersion::to_bytes`].
    ///
    /// # Errors
    ///
    /// As [`RegistryVersion::to_bytes`].
    pub fn id(&self) -> Result<ContentId> {
        Ok(ContentId::of(&self.to_bytes()?))
    }

    /// The definitions id: what the version declares, without when, by whom or
    /// after what. BLAKE3 of `verge definitions\0` followed by the bincode of
    /// the canonical definitions, so equal `verge.toml`s give equal ids on every
    /// machine, at every time, with any history behind them.
    ///
    /// Artifacts name this id as their `registry_id`, and pipeline steps key
    /// on it: a version's own [`RegistryVersion::id`] covers its parent, time
    /// and message too, like a git commit, so it differs between two clones
    /// that applied the same file.
    ///
    /// # Errors
    ///
    /// As [`RegistryVersion::to_bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::Timestamp;
    /// use verge_core::definition::Definitions;
    /// use verge_core::registry::RegistryVersion;
    ///
    /// let defs = Definitions { project: "p".into(), ..Definitions::default() };
    /// let here = RegistryVersion::new(None, Timestamp::from_secs(1), "first", defs.clone());
    /// let there = RegistryVersion::new(None, Timestamp::from_secs(2), "again", defs);
    /// assert_ne!(here.id().unwrap(), there.id().unwrap());
    /// assert_eq!(here.definitions_id().unwrap(), there.definitions_id().unwrap());
    /// ```
    pub fn definitions_id(&self) -> Result<ContentId> {
        definitions_id(&self.definitions)
    }

    /// Decodes bytes written by [`RegistryVersion::to_bytes`].
    ///
    /// Never panics. Every length inside the payload is checked against a limit
    /// no larger than the next power-of-four tier above the input's own length
    /// (and never above [`MAX_PAYLOAD`]), so garbage cannot ask for a huge allocation.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] when the header is cut short, [`Error::BadMagic`],
    /// [`Error::UnsupportedVersion`], or [`Error::Malformed`] when the payload
    /// does not decode, is too large, or has trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let header = MAGIC.len() + 2;
        let (Some(magic), Some(version)) = (bytes.get(..4), bytes.get(4..header)) else {
            return Err(Error::Truncated {
                kind: KIND,
                needed: header as u64,
                available: bytes.len() as u64,
            });
        };
        if magic != MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(magic);
            return Err(Error::BadMagic {
                expected: KIND,
                found,
            });
        }
        let version = u16::from_le_bytes(version.try_into().unwrap_or_default());
        if version != FORMAT_VERSION && version != 1 {
            return Err(Error::UnsupportedVersion {
                kind: KIND,
                found: version,
                oldest: ArtifactKind::Registry.oldest_readable(),
                supported: FORMAT_VERSION,
                hint: ArtifactKind::Registry.rebuild_hint(),
            });
        }
        let payload = bytes.get(header..).unwrap_or_default();
        if payload.len() > MAX_PAYLOAD {
            return Err(malformed(format!(
                "payload is {} bytes; the limit is {MAX_PAYLOAD}",
                payload.len()
            )));
        }
        let (decoded, used) = if version == 1 {
            let (old, used) = decode_limited::<v1::VersionV1>(payload)?;
            (RegistryVersion::from(old), used)
        } else {
            decode_limited::<RegistryVersion>(payload)?
        };
        if used != payload.len() {
            return Err(malformed(format!(
                "{} trailing bytes after the payload",
                payload.len() - used
            )));
        }
        Ok(decoded)
    }
}

/// Borrowing twin of [`RegistryVersion`] so encoding a canonical copy does not
/// clone the message. Field order and types must match exactly: bincode is not
/// self-describing, so this *is* the byte layout.
#[derive(Serialize)]
struct VersionRef<'a> {
    parent: &'a Option<ContentId>,
    applied_at: Timestamp,
    message: &'a str,
    definitions: &'a Definitions,
}

/// Decodes through the artifact codec's frugal serde adapter, with the same
/// allocation budget (sized to the input) as every other artifact.
fn decode_limited<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<(T, usize)> {
    crate::artifact::decode_budgeted(payload, crate::artifact::budget_for(payload.len()))
        .map_err(|e| malformed(format!("{e}")))
}

fn malformed(message: String) -> Error {
    Error::Malformed {
        kind: KIND,
        message,
    }
}

/// What happened to one named object between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChangeOp {
    /// Only in the new definitions.
    Created,
    /// In both, with different content.
    Updated,
    /// Only in the old definitions.
    Deleted,
}

impl ChangeOp {
    /// A lower-case word for output (`created`, `updated`, `deleted`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ChangeOp::Created => "created",
            ChangeOp::Updated => "updated",
            ChangeOp::Deleted => "deleted",
        }
    }

    /// The one-character marker used in plans: `+`, `~`, `-`.
    #[must_use]
    pub const fn sign(self) -> char {
        match self {
            ChangeOp::Created => '+',
            ChangeOp::Updated => '~',
            ChangeOp::Deleted => '-',
        }
    }
}

impl fmt::Display for ChangeOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One created, updated or deleted object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Change {
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: String,
    /// What happened to it.
    pub op: ChangeOp,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [[{}]] {}", self.op.sign(), self.kind, self.name)
    }
}

/// The objects created, updated and deleted going from `old` to `new`, sorted by
/// (kind, name). The project name is not an object; compare it separately.
///
/// # Examples
///
/// ```
/// use verge_core::definition::{Definitions, Entity, Field, ObjectKind};
/// use verge_core::registry::{diff, ChangeOp};
/// use verge_core::DType;
///
/// let horse = Entity {
///     name: "horse".into(),
///     join_keys: vec![Field::new("hospital_number", DType::Int64)],
///     description: String::new(),
/// };
/// let old = Definitions::default();
/// let new = Definitions { entities: vec![horse], ..Definitions::default() };
/// let changes = diff(&old, &new);
/// assert_eq!(changes.len(), 1);
/// assert_eq!((changes[0].kind, changes[0].name.as_str(), changes[0].op),
///            (ObjectKind::Entity, "horse", ChangeOp::Created));
/// assert!(diff(&new, &new).is_empty());
/// ```
#[must_use]
pub fn diff(old: &Definitions, new: &Definitions) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_list(
        &mut changes,
        ObjectKind::Entity,
        &old.entities,
        &new.entities,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::Source,
        &old.sources,
        &new.sources,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::PushSource,
        &old.push_sources,
        &new.push_sources,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::FeatureView,
        &old.feature_views,
        &new.feature_views,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::OnDemandFeatureView,
        &old.on_demand_views,
        &new.on_demand_views,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::FeatureService,
        &old.feature_services,
        &new.feature_services,
        |o| o.name.clone(),
    );
    diff_list(
        &mut changes,
        ObjectKind::Model,
        &old.models,
        &new.models,
        |o| o.name.clone(),
    );
    changes.sort();
    changes
}

/// Compares two lists of one kind by name. Order inside a list does not matter;
/// a name declared twice (invalid, but diff must not care) compares its last declaration.
fn diff_list<T: PartialEq>(
    out: &mut Vec<Change>,
    kind: ObjectKind,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> String,
) {
    let old: BTreeMap<String, &T> = old.iter().map(|o| (name(o), o)).collect();
    let new: BTreeMap<String, &T> = new.iter().map(|o| (name(o), o)).collect();
    for (n, before) in &old {
        let op = match new.get(n) {
            None => ChangeOp::Deleted,
            Some(after) if after != before => ChangeOp::Updated,
            Some(_) => continue,
        };
        out.push(Change {
            kind,
            name: n.clone(),
            op,
        });
    }
    for n in new.keys().filter(|n| !old.contains_key(*n)) {
        out.push(Change {
            kind,
            name: n.clone(),
            op: ChangeOp::Created,
        });
    }
}

mod v1;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
