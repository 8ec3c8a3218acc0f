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
//! only the keys that changed ([`crate::online::delta_between`]). `previous` is what
//! was served before, kept for rollback (which swaps the two).
//!
//! A pair is served only after [`PublishedPair::check`]: both headers pass
//! (magic, version, length, BLAKE3 hash), each hash is the id the manifest named
//! (a mislabelled file is refused), when a public key is trusted both
//! signatures verify, and [`Deployment::new`] accepts them together.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde_json::{Map, Value as Json};

use super::signature::{PublicKey, Signature};
use super::{ArtifactKind, Bundle, Header, Snapshot};
use crate::online::Deployment;
use crate::{ContentId, Error, Result};

/// The pointer to the current pair, relative to the layout's root.
pub const MANIFEST_PATH: &str = "manifest.json";

/// The largest manifest a reader accepts: two pairs of ids and signatures fit
/// in well under 1 KiB, so anything near this is not a manifest.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024;

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

/// A delta snapshot layered over a published pair's snapshot, with its
/// signature if signed (signed as a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedDelta {
    /// The delta's content id.
    pub id: ContentId,
    /// Its signature, when the publisher signed it.
    pub signature: Option<Signature>,
}

impl PublishedDelta {
    /// Where the delta lives in the layout (beside the snapshots: it is one).
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
        }
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
        let deltas = PublishedPair::id_list(value, what, "deltas", "snapshot")?
            .into_iter()
            .map(|(id, signature)| PublishedDelta { id, signature })
            .collect();
        let ([bundle, snapshot], [bundle_signature, snapshot_signature]) =
            PublishedPair::from_json_fields(value, what, ["bundle", "snapshot"])?;
        Ok(PublishedPair {
            bundle,
            snapshot,
            bundle_signature,
            snapshot_signature,
            more_bundles,
            deltas,
        })
    }

    /// Checks `bundles`, `snapshot` and `deltas` (the bytes of the files this
    /// pair names, bundles in [`PublishedPair::bundles`] order, deltas oldest
    /// first) and pairs them into a [`Deployment`].
    ///
    /// In order: each header (magic, format version, length, BLAKE3 hash); each
    /// hash against the id this pair names; with `key`, each signature of this
    /// pair against that key (an unsigned artifact is refused); and
    /// [`Deployment::new`] on them together, the deltas layered over the
    /// snapshot ([`Deployment::with_deltas`]).
    ///
    /// # Errors
    ///
    /// The loaders' errors, [`Error::Malformed`] for a file holding another
    /// artifact than its name says or a count of bundles other than the pair
    /// names, [`Error::Signature`], and [`Error::Incompatible`] for bundles
    /// that do not fit the snapshot or each other.
    pub fn check<B: AsRef<[u8]>>(
        &self,
        bundles: &[B],
        snapshot: Vec<u8>,
        deltas: Vec<Vec<u8>>,
        key: Option<&PublicKey>,
    ) -> Result<Deployment> {
        let named: Vec<PublishedBundle> = self.bundles().collect();
        if named.len() != bundles.len() || self.deltas.len() != deltas.len() {
            return Err(malformed(format!(
                "the pair names {} bundle(s) and {} delta(s) but {} and {} were given",
                named.len(),
                self.deltas.len(),
                bundles.len(),
                deltas.len()
            )));
        }
        let snapshot = Snapshot::load(snapshot)?;
        mislabelled(ArtifactKind::Snapshot, self.snapshot, snapshot.id())?;
        let mut loaded = Vec::with_capacity(bundles.len());
        for (bytes, want) in bundles.iter().zip(&named) {
            let bundle = Bundle::load(bytes.as_ref())?;
            mislabelled(ArtifactKind::Bundle, want.id, bundle.id())?;
            loaded.push(bundle);
        }
        if let Some(key) = key {
            for b in &named {
                key.verify(ArtifactKind::Bundle, b.id, b.signature.as_ref())?;
            }
            key.verify(
                ArtifactKind::Snapshot,
                self.snapshot,
                self.snapshot_signature.as_ref(),
            )?;
        }
        let mut layered = Vec::with_capacity(deltas.len());
        for (bytes, want) in deltas.into_iter().zip(&self.deltas) {
            let delta = Snapshot::load(bytes)?;
            mislabelled(ArtifactKind::Snapshot, want.id, delta.id())?;
            if let Some(key) = key {
                key.verify(ArtifactKind::Snapshot, want.id, want.signature.as_ref())?;
            }
            layered.push(Arc::new(delta));
        }
        let deployment = Deployment::new(snapshot, loaded)?;
        if layered.is_empty() {
            return Ok(deployment);
        }
        deployment.with_deltas(layered)
    }

    /// Checks a pair received whole (an upload to an admin route): the ids are
    /// the artifacts' own, the signatures those sent with them; then as
    /// [`PublishedPair::check`].
    ///
    /// # Errors
    ///
    /// As [`PublishedPair::check`].
    pub fn receive(
        bundle: &[u8],
        snapshot: Vec<u8>,
        bundle_signature: Option<Signature>,
        snapshot_signature: Option<Signature>,
        key: Option<&PublicKey>,
    ) -> Result<(PublishedPair, Deployment)> {
        let bundle_id = Header::open(bundle, ArtifactKind::Bundle)?.0.id;
        let snapshot_id = Header::open(&snapshot, ArtifactKind::Snapshot)?.0.id;
        let pair = PublishedPair {
            bundle: bundle_id,
            snapshot: snapshot_id,
            bundle_signature,
            snapshot_signature,
            more_bundles: Vec::new(),
            deltas: Vec::new(),
        };
        let deployment = pair.check(&[bundle], snapshot, Vec::new(), key)?;
        Ok((pair, deployment))
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

/// Refuses an artifact whose hash is not the id it was filed under.
fn mislabelled(kind: ArtifactKind, want: ContentId, got: ContentId) -> Result<()> {
    if want == got {
        return Ok(());
    }
    Err(malformed(format!(
        "the {} named {want} holds {got}; the artifact store is corrupt or mislabelled",
        kind.name()
    )))
}

mod body;
#[cfg(test)]
mod tests;

pub use body::split_publish_body;
