//! The checks a receiver runs on a published pair before serving it: every
//! file's header and hash, each id against the manifest's, signatures when a
//! key is trusted, and the bundles and snapshot (its deltas, or its shards)
//! paired into a deployment.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{PublishedBundle, PublishedPair, PublishedSnapshot, malformed};
use crate::artifact::signature::{PublicKey, Signature};
use crate::artifact::{ArtifactKind, Bundle, Header, Snapshot, SnapshotBytes};
use crate::online::Deployment;
use crate::{ContentId, Result};

impl PublishedPair {
    /// Checks `bundles`, `snapshot` and `more` (the bytes of the files this
    /// pair names: bundles in [`PublishedPair::bundles`] order, then
    /// [`PublishedPair::more_snapshots`]: the deltas oldest first, or shards
    /// 1 to N - 1) and pairs them into a [`Deployment`].
    ///
    /// In order: each header (magic, format version, length, BLAKE3 hash); each
    /// hash against the id this pair names; with `key`, each signature of this
    /// pair against that key (an unsigned artifact is refused); and
    /// [`Deployment::new`] on them together, the deltas layered over the
    /// snapshot ([`Deployment::with_deltas`]), or the shards read as one set.
    ///
    /// # Errors
    ///
    /// The loaders' errors, [`Error::Malformed`](crate::Error::Malformed) for a file holding another
    /// artifact than its name says or a count of bundles other than the pair
    /// names, [`Error::Signature`](crate::Error::Signature), and [`Error::Incompatible`](crate::Error::Incompatible) for bundles
    /// that do not fit the snapshot or each other.
    pub fn check<B: AsRef<[u8]>, S: Into<SnapshotBytes>>(
        &self,
        bundles: &[B],
        snapshot: impl Into<SnapshotBytes>,
        more: Vec<S>,
        key: Option<&PublicKey>,
    ) -> Result<Deployment> {
        let named: Vec<&PublishedSnapshot> = self.more_snapshots().collect();
        if named.len() != more.len() {
            return Err(malformed(format!(
                "the pair names {} snapshot(s) beyond its first but {} were given",
                named.len(),
                more.len()
            )));
        }
        let loaded = self.check_bundles(bundles, key)?;
        let first = PublishedSnapshot {
            id: self.snapshot,
            signature: self.snapshot_signature,
        };
        let snapshot = check_snapshot(&first, snapshot, key)?;
        let mut layered = Vec::with_capacity(more.len());
        for (bytes, want) in more.into_iter().zip(named) {
            layered.push(Arc::new(check_snapshot(want, bytes, key)?));
        }
        if !self.shards.is_empty() {
            #[cfg(feature = "shard-sets")]
            {
                layered.insert(0, Arc::new(snapshot));
                return self.sharded_deployment(loaded, layered);
            }
            #[cfg(not(feature = "shard-sets"))]
            return Err(malformed(alloc::string::String::from(
                "the pair is a set of shards, which this build of verge does not read (verge-core's `shard-sets` feature)",
            )));
        }
        let deployment = Deployment::new(snapshot, loaded)?;
        if layered.is_empty() {
            return Ok(deployment);
        }
        deployment.with_deltas(layered)
    }

    /// Checks the bundles' bytes (in [`PublishedPair::bundles`] order): each
    /// header, each id, and with `key` each signature.
    ///
    /// # Errors
    ///
    /// As [`PublishedPair::check`].
    pub fn check_bundles<B: AsRef<[u8]>>(
        &self,
        bundles: &[B],
        key: Option<&PublicKey>,
    ) -> Result<Vec<Bundle>> {
        let named: Vec<PublishedBundle> = self.bundles().collect();
        if named.len() != bundles.len() {
            return Err(malformed(format!(
                "the pair names {} bundle(s) but {} were given",
                named.len(),
                bundles.len()
            )));
        }
        let mut loaded = Vec::with_capacity(bundles.len());
        for (bytes, want) in bundles.iter().zip(&named) {
            let bundle = Bundle::load(bytes.as_ref())?;
            mislabelled(ArtifactKind::Bundle, want.id, bundle.id())?;
            if let Some(key) = key {
                key.verify(ArtifactKind::Bundle, want.id, want.signature.as_ref())?;
            }
            loaded.push(bundle);
        }
        Ok(loaded)
    }

    #[cfg(feature = "shard-sets")]
    /// Checks shard `index` of this pair's set from its bytes, for a reader
    /// that fetches shards as requests need them: its header and hash, its id
    /// against the one named for `index`, its signature with `key`, and that
    /// it is the shard it is filed as.
    ///
    /// # Errors
    ///
    /// As [`PublishedPair::check`], and [`Error::Malformed`](crate::Error::Malformed) for an index
    /// past the set, or a pair with no shards.
    pub fn check_shard(
        &self,
        index: u32,
        bytes: impl Into<SnapshotBytes>,
        key: Option<&PublicKey>,
    ) -> Result<Arc<Snapshot>> {
        let want = self.shards.get(index as usize).ok_or_else(|| {
            malformed(format!(
                "shard {index} is not one of the {} this pair names",
                self.shards.len()
            ))
        })?;
        let shard = check_snapshot(want, bytes, key)?;
        let meta = shard.meta();
        if (meta.shard_index, meta.shard_count as usize) != (index, self.shards.len()) {
            return Err(malformed(format!(
                "snapshot {} is shard {} of {}, but the manifest files it as shard {index} of {}",
                shard.id().short(),
                meta.shard_index,
                meta.shard_count,
                self.shards.len()
            )));
        }
        Ok(Arc::new(shard))
    }

    #[cfg(feature = "shard-sets")]
    /// This pair's checked `bundles` over the shards of its set a reader
    /// holds (`loaded`, each checked by [`PublishedPair::check_shard`]).
    ///
    /// # Errors
    ///
    /// As [`crate::online::Layers::sharded`] and [`Deployment::layered`].
    pub fn sharded_deployment(
        &self,
        bundles: Vec<Bundle>,
        loaded: Vec<Arc<Snapshot>>,
    ) -> Result<Deployment> {
        let ids = self.shards.iter().map(|s| s.id).collect();
        let layers = crate::online::Layers::sharded(ids, loaded)?;
        Deployment::layered(Arc::new(layers), bundles)
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
            shards: Vec::new(),
        };
        let deployment = pair.check(&[bundle], snapshot, Vec::<Vec<u8>>::new(), key)?;
        Ok((pair, deployment))
    }
}

/// Loads a snapshot the manifest names and checks it is that one (its id,
/// and with `key` its signature).
fn check_snapshot(
    want: &PublishedSnapshot,
    bytes: impl Into<SnapshotBytes>,
    key: Option<&PublicKey>,
) -> Result<Snapshot> {
    let snapshot = Snapshot::load(bytes)?;
    mislabelled(ArtifactKind::Snapshot, want.id, snapshot.id())?;
    if let Some(key) = key {
        key.verify(ArtifactKind::Snapshot, want.id, want.signature.as_ref())?;
    }
    Ok(snapshot)
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
