//! The publish layout's `manifest.json`, and the checks a receiver runs on a
//! pair before serving it.
//!
//! One format for every face (`docs/publish.md` is its description): `verge
//! publish` writes it, the Cloudflare Worker and `verge serve --from` read it,
//! and the admin routes rewrite it.
//!
//! ```text
//! manifest.json                {"bundle": id, "snapshot": id,
//!                               "bundle_signature": sig?, "snapshot_signature": sig?,
//!                               "more_bundles": [{"bundle": id, "bundle_signature": sig?}]?,
//!                               "deltas": [{"snapshot": id, "snapshot_signature": sig?}]?,
//!                               "shards": [{"snapshot": id, "snapshot_signature": sig?}]?,
//!                               "previous": {the same fields}?}
//! bundles/<bundle id>.bin      a bundle, named by its content id
//! bundles/<bundle id>.sig      its signature (128 hex digits), when signed
//! snapshots/<snapshot id>.bin  a snapshot, named by its content id
//! snapshots/<snapshot id>.sig
//! ```
//!
//! Artifact files never change once written; a publisher writes them first and
//! replaces the manifest last, atomically, so a reader following the manifest
//! always finds a complete pair. `more_bundles` makes the pair a deployment:
//! further bundles served over the same snapshot (left out when there are
//! none, so a one-bundle manifest keeps its first shape). `deltas` are delta
//! snapshots layered over `snapshot`, oldest first
//! ([`crate::online::Layers`]: a key's newest row wins), so a publish can ship
//! only the keys that changed ([`crate::online::delta_between`]). `shards`
//! lists every shard of a sharded snapshot in shard order, the first being
//! `snapshot` itself; a reader routes each key to its shard
//! ([`crate::online::Layers::sharded`]) and may fetch shards as requests need
//! them ([`PublishedPair::check_shard`]). `previous` is what
//! was served before, kept for rollback (which swaps the two).
//!
//! A pair is served only after [`PublishedPair::check`]: both headers pass
//! (magic, version, length, BLAKE3 hash), each hash is the id the manifest named
//! (a mislabelled file is refused), when a public key is trusted both
//! signatures verify, and [`Deployment::new`](crate::online::Deployment::new) accepts them together.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value as Json};

use super::signature::Signature;
use crate::{ContentId, Error, Result};

/// The pointer to the current pair, relative to the layout's root.
pub const MANIFEST_PATH: &str = "manifest.json";

/// The largest manifest a reader accepts: two pairs of ids and signatures fit
/// in well under 1 KiB, so anything near this is not a manifest.
/// A shard entry is about 220 bytes signed, so this holds two versions of a
/// set of about 2,000 shards (50 GB of 25 MiB shards).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;

fn malformed(message: String) -> Error {
    Error::Malformed {
        kind: "manifest",
        message,
    }
}

/// One more bundle of a published deployment, with its signature if signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedBundle {
    /// The bundle's content id.
    pub id: ContentId,
    /// Its signature, when the publisher signed it.
    pub signature: Option<Signature>,
}

impl PublishedBundle {
    /// Where the bundle lives in the layout.
    #[must_use]
    pub fn path(&self) -> String {
        format!("bundles/{}.bin", self.id)
    }

    /// Where its detached signature lives in the layout.
    #[must_use]
    pub fn signature_path(&self) -> String {
        format!("bundles/{}.sig", self.id)
    }
}

/// A snapshot a published pair names beyond its first (a delta layered
/// over it, or a shard of its set), with its signature if signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedSnapshot {
    /// The snapshot's content id.
    pub id: ContentId,
    /// Its signature, when the publisher signed it.
    pub signature: Option<Signature>,
}

/// A delta snapshot over a published pair's snapshot.
pub type PublishedDelta = PublishedSnapshot;

impl PublishedSnapshot {
    /// Where it lives in the layout (deltas and shards are snapshots too).
    #[must_use]
    pub fn path(&self) -> String {
        format!("snapshots/{}.bin", self.id)
    }

    /// Where its detached signature lives in the layout.
    #[must_use]
    pub fn signature_path(&self) -> String {
        format!("snapshots/{}.sig", self.id)
    }
}

/// A bundle and a snapshot served together, with their signatures if signed,
/// any further bundles served over the same snapshot (a deployment), and any
/// delta snapshots layered over it.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::artifact::manifest::PublishedPair;
///
/// let pair = PublishedPair::unsigned(ContentId([1; 32]), ContentId([2; 32]));
/// assert_eq!(pair.bundle_path(), format!("bundles/{}.bin", "01".repeat(32)));
/// assert_eq!(pair.snapshot_signature_path(), format!("snapshots/{}.sig", "02".repeat(32)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPair {
    /// The bundle's content id.
    pub bundle: ContentId,
    /// The snapshot's content id.
    pub snapshot: ContentId,
    /// The bundle's signature, when the publisher signed it.
    pub bundle_signature: Option<Signature>,
    /// The snapshot's signature, when the publisher signed it.
    pub snapshot_signature: Option<Signature>,
    /// Further bundles over the same snapshot, in order (empty for a pair).
    pub more_bundles: Vec<PublishedBundle>,
    /// Delta snapshots over `snapshot`, oldest first (empty: the snapshot alone).
    pub deltas: Vec<PublishedDelta>,
    /// Every shard of a sharded snapshot, in shard order, the first one
    /// `snapshot` (empty: the snapshot is whole).
    pub shards: Vec<PublishedSnapshot>,
}

impl PublishedPair {
    /// A pair without signatures.
    #[must_use]
    pub fn unsigned(bundle: ContentId, snapshot: ContentId) -> PublishedPair {
        PublishedPair {
            bundle,
            snapshot,
            bundle_signature: None,
            snapshot_signature: None,
            more_bundles: Vec::new(),
            deltas: Vec::new(),
            shards: Vec::new(),
        }
    }

    /// The snapshots named beyond `snapshot`, in the order
    /// [`PublishedPair::check`] takes their bytes: the deltas, oldest first,
    /// or shards 1 to N - 1.
    pub fn more_snapshots(&self) -> impl Iterator<Item = &PublishedSnapshot> {
        self.deltas.iter().chain(self.shards.iter().skip(1))
    }

    /// [`PublishedPair::more_snapshots`], to sign them.
    pub fn more_snapshots_mut(&mut self) -> impl Iterator<Item = &mut PublishedSnapshot> {
        self.deltas.iter_mut().chain(self.shards.iter_mut().skip(1))
    }

    /// Whether `other` names the same artifacts, in the same order (signatures aside).
    #[must_use]
    pub fn same_artifacts(&self, other: &PublishedPair) -> bool {
        self.snapshot == other.snapshot
            && self
                .deltas
                .iter()
                .map(|d| d.id)
                .eq(other.deltas.iter().map(|d| d.id))
            && self
                .shards
                .iter()
                .map(|d| d.id)
                .eq(other.shards.iter().map(|d| d.id))
            && self
                .bundles()
                .map(|b| b.id)
                .eq(other.bundles().map(|b| b.id))
    }

    /// Every bundle, the first one included, in order.
    pub fn bundles(&self) -> impl Iterator<Item = PublishedBundle> + '_ {
        core::iter::once(PublishedBundle {
            id: self.bundle,
            signature: self.bundle_signature,
        })
        .chain(self.more_bundles.iter().copied())
    }

    /// Where the bundle lives in the layout.
    #[must_use]
    pub fn bundle_path(&self) -> String {
        format!("bundles/{}.bin", self.bundle)
    }

    /// Where the snapshot lives in the layout.
    #[must_use]
    pub fn snapshot_path(&self) -> String {
        format!("snapshots/{}.bin", self.snapshot)
    }

    /// Where the bundle's detached signature lives in the layout.
    #[must_use]
    pub fn bundle_signature_path(&self) -> String {
        format!("bundles/{}.sig", self.bundle)
    }

    /// Where the snapshot's detached signature lives in the layout.
    #[must_use]
    pub fn snapshot_signature_path(&self) -> String {
        format!("snapshots/{}.sig", self.snapshot)
    }

    /// The pair as a JSON object (the shape [`PublishManifest::parse`] reads).
    #[must_use]
    pub fn to_json(&self) -> Map<String, Json> {
        let mut map = Map::new();
        map.insert("bundle".into(), Json::String(self.bundle.to_string()));
        map.insert("snapshot".into(), Json::String(self.snapshot.to_string()));
        for (field, sig) in [
            ("bundle_signature", self.bundle_signature),
            ("snapshot_signature", self.snapshot_signature),
        ] {
            if let Some(sig) = sig {
                map.insert(field.into(), Json::String(sig.to_string()));
            }
        }
        let entries = |id_field: &str, list: Vec<(ContentId, Option<Signature>)>| {
            let entries = list.into_iter().map(|(id, sig)| {
                let mut entry = Map::new();
                entry.insert(id_field.into(), Json::String(id.to_string()));
                if let Some(sig) = sig {
                    entry.insert(
                        format!("{id_field}_signature"),
                        Json::String(sig.to_string()),
                    );
                }
                Json::Object(entry)
            });
            Json::Array(entries.collect())
        };
        if !self.more_bundles.is_empty() {
            let more = self
                .more_bundles
                .iter()
                .map(|b| (b.id, b.signature))
                .collect();
            map.insert("more_bundles".into(), entries("bundle", more));
        }
        if !self.deltas.is_empty() {
            let deltas = self.deltas.iter().map(|d| (d.id, d.signature)).collect();
            map.insert("deltas".into(), entries("snapshot", deltas));
        }
        if !self.shards.is_empty() {
            let shards = self.shards.iter().map(|d| (d.id, d.signature)).collect();
            map.insert("shards".into(), entries("snapshot", shards));
        }
        map
    }

    /// Reads `fields` (each an id `F` with an optional signature
    /// `F_signature`) of the object `value`, named `what` in errors.
    fn from_json_fields<const N: usize>(
        value: &Json,
        what: &str,
        fields: [&str; N],
    ) -> Result<([ContentId; N], [Option<Signature>; N])> {
        if !value.is_object() {
            return Err(malformed(format!("{what} must be a JSON object")));
        }
        let text = |field: &str| value.get(field).and_then(Json::as_str);
        let id = |field: &str| {
            let found = text(field);
            found.and_then(ContentId::parse_hex).ok_or_else(|| {
                malformed(format!(
                    "{what}.{field} must be a content id (64 hex digits); found {found:?}"
                ))
            })
        };
        let signature = |field: &str| match value.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(Signature::parse_hex)
                .map(Some)
                .ok_or_else(|| {
                    malformed(format!(
                        "{what}.{field} must be a signature (128 hex digits); found {v}"
                    ))
                }),
        };
        let mut ids = [ContentId([0; 32]); N];
        let mut signatures = [None; N];
        for ((field, id_slot), sig_slot) in fields.iter().zip(&mut ids).zip(&mut signatures) {
            *id_slot = id(field)?;
            *sig_slot = signature(&format!("{field}_signature"))?;
        }
        Ok((ids, signatures))
    }

    /// The optional array `field` of the object `value`: entries of an id
    /// `id_field` and its optional `{id_field}_signature`.
    fn id_list(
        value: &Json,
        what: &str,
        field: &str,
        id_field: &str,
    ) -> Result<Vec<(ContentId, Option<Signature>)>> {
        match value.get(field) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let ([id], [signature]) = PublishedPair::from_json_fields(
                        entry,
                        &format!("{what}.{field}[{i}]"),
                        [id_field],
                    )?;
                    Ok((id, signature))
                })
                .collect(),
            Some(_) => Err(malformed(format!(
                "{what}.{field} must be an array of {{\"{id_field}\": id, \"{id_field}_signature\": sig?}}"
            ))),
        }
    }

    fn from_json(value: &Json, what: &str) -> Result<PublishedPair> {
        let more_bundles = PublishedPair::id_list(value, what, "more_bundles", "bundle")?
            .into_iter()
            .map(|(id, signature)| PublishedBundle { id, signature })
            .collect();
        let snapshots = |field: &str| -> Result<Vec<PublishedSnapshot>> {
            Ok(PublishedPair::id_list(value, what, field, "snapshot")?
                .into_iter()
                .map(|(id, signature)| PublishedSnapshot { id, signature })
                .collect())
        };
        let (deltas, shards) = (snapshots("deltas")?, snapshots("shards")?);
        let ([bundle, snapshot], [bundle_signature, snapshot_signature]) =
            PublishedPair::from_json_fields(value, what, ["bundle", "snapshot"])?;
        if let Some(first) = shards.first() {
            if first.id != snapshot || first.signature != snapshot_signature {
                return Err(malformed(format!(
                    "{what}.shards[0] must be {what}.snapshot (with its signature): the first shard is the snapshot"
                )));
            }
            if !deltas.is_empty() {
                return Err(malformed(format!(
                    "{what} names both deltas and shards; a sharded snapshot is published shard by shard, without deltas"
                )));
            }
        }
        Ok(PublishedPair {
            bundle,
            snapshot,
            bundle_signature,
            snapshot_signature,
            more_bundles,
            deltas,
            shards,
        })
    }
}

/// The publish manifest, `manifest.json` at the root of a publish layout: the
/// pair to serve and, for rollback, the pair before it.
///
/// Not the build record `verge build` writes under the same file name into its
/// output directory; `docs/format.md` lists every file kind and its name.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::artifact::manifest::{PublishManifest, PublishedPair};
///
/// let a = PublishedPair::unsigned(ContentId([1; 32]), ContentId([2; 32]));
/// let b = PublishedPair::unsigned(ContentId([3; 32]), ContentId([4; 32]));
/// let first = PublishManifest::next(None, a.clone());
/// let second = PublishManifest::next(Some(&first), b.clone());
/// assert_eq!(second.previous, Some(a.clone()));
/// assert_eq!(PublishManifest::parse(&second.to_json()).unwrap(), second);
/// let back = second.rolled_back().unwrap();
/// assert_eq!((back.current, back.previous), (a, Some(b)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishManifest {
    /// The pair to serve.
    pub current: PublishedPair,
    /// The pair served before `current`, if any.
    pub previous: Option<PublishedPair>,
}

impl PublishManifest {
    /// Parses a manifest (see the module docs for the shape).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] naming the field that is missing or not a 64-digit
    /// id / 128-digit signature, or a manifest over [`MAX_MANIFEST_BYTES`].
    pub fn parse(bytes: &[u8]) -> Result<PublishManifest> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(malformed(format!(
                "{MANIFEST_PATH} is {} bytes; a manifest is two pairs of ids, at most {MAX_MANIFEST_BYTES} bytes",
                bytes.len()
            )));
        }
        let value: Json = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("{MANIFEST_PATH} is not JSON: {e}")))?;
        let previous = match value.get("previous") {
            None | Some(Json::Null) => None,
            Some(previous) => Some(PublishedPair::from_json(previous, "manifest.previous")?),
        };
        Ok(PublishManifest {
            current: PublishedPair::from_json(&value, "manifest")?,
            previous,
        })
    }

    /// The manifest as JSON text, the shape [`PublishManifest::parse`] reads.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut map = self.current.to_json();
        if let Some(previous) = &self.previous {
            map.insert("previous".into(), Json::Object(previous.to_json()));
        }
        let mut text = serde_json::to_vec(&Json::Object(map)).unwrap_or_default();
        text.push(b'\n');
        text
    }

    /// The manifest after publishing `pair` over `current` (the manifest in
    /// place, if any): the replaced pair becomes `previous`. Publishing the
    /// pair already served keeps its `previous`, so a retried publish does not
    /// lose the rollback target.
    #[must_use]
    pub fn next(current: Option<&PublishManifest>, pair: PublishedPair) -> PublishManifest {
        let previous = match current {
            Some(m) if m.current.same_artifacts(&pair) => m.previous.clone(),
            Some(m) => Some(m.current.clone()),
            None => None,
        };
        PublishManifest {
            current: pair,
            previous,
        }
    }

    /// The manifest after a rollback: `previous` served again, and the pair it
    /// replaces kept as `previous` (so a second rollback rolls forward).
    /// `None` when there is nothing to roll back to.
    #[must_use]
    pub fn rolled_back(&self) -> Option<PublishManifest> {
        self.previous.clone().map(|previous| PublishManifest {
            current: previous,
            previous: Some(self.current.clone()),
        })
    }
}

mod body;
mod check;
#[cfg(test)]
mod tests;

pub use body::split_publish_body;
