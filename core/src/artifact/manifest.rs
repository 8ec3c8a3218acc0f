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
//!                               "previous": {the same four fields}?}
//! bundles/<bundle id>.bin      a bundle, named by its content id
//! bundles/<bundle id>.sig      its signature (128 hex digits), when signed
//! snapshots/<snapshot id>.bin  a snapshot, named by its content id
//! snapshots/<snapshot id>.sig
//! ```
//!
//! Artifact files never change once written; a publisher writes them first and
//! replaces the manifest last, atomically, so a reader following the manifest
//! always finds a complete pair. `previous` is the pair served before, kept for
//! rollback (which swaps the two).
//!
//! A pair is served only after [`PublishedPair::check`]: both headers pass
//! (magic, version, length, BLAKE3 hash), each hash is the id the manifest named
//! (a mislabelled file is refused), when a public key is trusted both
//! signatures verify, and `Predictor::new` accepts the two together.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value as Json};

use super::signature::{PublicKey, Signature};
use super::{ArtifactKind, Bundle, HEADER_LEN, Header, Snapshot};
use crate::online::Predictor;
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

/// A bundle and a snapshot served together, with their signatures if signed.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPair {
    /// The bundle's content id.
    pub bundle: ContentId,
    /// The snapshot's content id.
    pub snapshot: ContentId,
    /// The bundle's signature, when the publisher signed it.
    pub bundle_signature: Option<Signature>,
    /// The snapshot's signature, when the publisher signed it.
    pub snapshot_signature: Option<Signature>,
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
        }
    }

    /// Whether `other` names the same two artifacts (signatures aside).
    #[must_use]
    pub fn same_artifacts(&self, other: &PublishedPair) -> bool {
        self.bundle == other.bundle && self.snapshot == other.snapshot
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
        map
    }

    fn from_json(value: &Json, what: &str) -> Result<PublishedPair> {
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
        if !value.is_object() {
            return Err(malformed(format!("{what} must be a JSON object")));
        }
        Ok(PublishedPair {
            bundle: id("bundle")?,
            snapshot: id("snapshot")?,
            bundle_signature: signature("bundle_signature")?,
            snapshot_signature: signature("snapshot_signature")?,
        })
    }

    /// Checks `bundle` and `snapshot` (the bytes of the files this pair names)
    /// and pairs them into a [`Predictor`].
    ///
    /// In order: each header (magic, format version, length, BLAKE3 hash); each
    /// hash against the id this pair names; with `key`, each signature of this
    /// pair against that key (an unsigned pair is refused); and
    /// `Predictor::new` on the two together.
    ///
    /// # Errors
    ///
    /// The loaders' errors, [`Error::Malformed`] for a file holding another
    /// artifact than its name says, [`Error::Signature`], and
    /// [`Error::Incompatible`] for a pair that does not fit together.
    pub fn check(
        &self,
        bundle: &[u8],
        snapshot: Vec<u8>,
        key: Option<&PublicKey>,
    ) -> Result<Predictor> {
        let bundle = Bundle::load(bundle)?;
        let snapshot = Snapshot::load(snapshot)?;
        for (kind, want, got) in [
            (ArtifactKind::Bundle, self.bundle, bundle.id()),
            (ArtifactKind::Snapshot, self.snapshot, snapshot.id()),
        ] {
            if want != got {
                return Err(malformed(format!(
                    "the {} named {want} holds {got}; the artifact store is corrupt or mislabelled",
                    kind.name()
                )));
            }
        }
        if let Some(key) = key {
            key.verify(
                ArtifactKind::Bundle,
                self.bundle,
                self.bundle_signature.as_ref(),
            )?;
            key.verify(
                ArtifactKind::Snapshot,
                self.snapshot,
                self.snapshot_signature.as_ref(),
            )?;
        }
        Predictor::new(bundle, snapshot)
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
    ) -> Result<(PublishedPair, Predictor)> {
        let bundle_id = Header::open(bundle, ArtifactKind::Bundle)?.0.id;
        let snapshot_id = Header::open(&snapshot, ArtifactKind::Snapshot)?.0.id;
        let pair = PublishedPair {
            bundle: bundle_id,
            snapshot: snapshot_id,
            bundle_signature,
            snapshot_signature,
        };
        let predictor = pair.check(bundle, snapshot, key)?;
        Ok((pair, predictor))
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
/// let first = PublishManifest::next(None, a);
/// let second = PublishManifest::next(Some(&first), b);
/// assert_eq!(second.previous, Some(a));
/// assert_eq!(PublishManifest::parse(&second.to_json()).unwrap(), second);
/// let back = second.rolled_back().unwrap();
/// assert_eq!((back.current, back.previous), (a, Some(b)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            Some(m) if m.current.same_artifacts(&pair) => m.previous,
            Some(m) => Some(m.current),
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
        self.previous.map(|previous| PublishManifest {
            current: previous,
            previous: Some(self.current),
        })
    }
}

/// Splits a publish body, `bundle ‖ snapshot` (each a whole framed artifact),
/// by the payload length in each header. Nothing is hashed here;
/// [`PublishedPair::receive`] does that.
///
/// # Errors
///
/// [`Error::Malformed`] when either part is missing, truncated, not the right
/// kind, or when bytes follow the snapshot.
pub fn split_publish_body(body: &[u8]) -> Result<(&[u8], &[u8])> {
    let bad = |message: String| Error::Malformed {
        kind: "publish body",
        message: format!("{message}; send a bundle followed by a snapshot"),
    };
    let framed_len = |bytes: &[u8], kind: ArtifactKind| {
        let header = Header::peek(bytes, kind)
            .map_err(|e| bad(format!("the {} header is refused: {e}", kind.name())))?;
        usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(HEADER_LEN))
            .filter(|&len| len <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "the {} claims {} payload bytes but the body holds only {}",
                    kind.name(),
                    header.payload_len,
                    bytes.len().saturating_sub(HEADER_LEN)
                ))
            })
    };
    let claimed = Header::peek(body, ArtifactKind::Bundle)
        .map_err(|e| bad(format!("the bundle header is refused: {e}")))?
        .payload_len;
    // A bundle whose length field is wrong puts the split in the wrong place,
    // and the snapshot would then be blamed; find where the snapshot really
    // starts and name the bundle's lengths instead.
    let misframed = |at: usize| {
        bad(format!(
            "the bundle's header claims {claimed} payload bytes, but the snapshot starts at byte {at}, so the bundle holds {} payload bytes: the bundle's length field is wrong (rebuild it with `verge build` and send the files unmodified)",
            at - HEADER_LEN
        ))
    };
    let bundle_len = framed_len(body, ArtifactKind::Bundle)
        .map_err(|e| snapshot_start(body).map_or(e, misframed))?;
    let (bundle, rest) = body.split_at(bundle_len);
    let snapshot_len = framed_len(rest, ArtifactKind::Snapshot).map_err(|e| {
        snapshot_start(body)
            .filter(|&at| at != bundle_len)
            .map_or(e, misframed)
    })?;
    if snapshot_len != rest.len() {
        return Err(bad(format!(
            "{} bytes follow the snapshot",
            rest.len() - snapshot_len
        )));
    }
    Ok((bundle, rest))
}

/// Where a whole snapshot starts in a publish body: the first offset after a
/// bundle header holding a snapshot header whose framed length ends exactly at
/// the end of the body. `None` when there is none.
fn snapshot_start(body: &[u8]) -> Option<usize> {
    let magic = ArtifactKind::Snapshot.magic();
    let tail = body.get(HEADER_LEN..)?;
    tail.windows(magic.len())
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i + HEADER_LEN)
        .find(|&at| {
            body.get(at..).is_some_and(|rest| {
                Header::peek(rest, ArtifactKind::Snapshot).is_ok_and(|h| {
                    usize::try_from(h.payload_len)
                        .ok()
                        .and_then(|len| len.checked_add(HEADER_LEN))
                        == Some(rest.len())
                })
            })
        })
}

#[cfg(test)]
mod tests;
