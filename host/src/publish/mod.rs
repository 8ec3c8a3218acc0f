//! Publishing: the directory layout edge runtimes read, signing keys, and the
//! admin-endpoint client (`verge publish`, `verge keygen`, `verge serve --from`).
//!
//! The layout and `manifest.json` are the ones the Cloudflare Worker reads
//! (`docs/publish.md`; the format is [`verge_core::artifact::manifest`]):
//!
//! ```text
//! DIR/manifest.json                 the current pair or deployment (+ signatures) and `previous`
//! DIR/bundles/<id>.bin, <id>.sig    content-addressed bundles and their signatures
//! DIR/snapshots/<id>.bin, <id>.sig
//! DIR/.publish.lock                 kernel lock serialising publishers
//! ```
//!
//! **Crash safety.** Every file is written with [`crate::store::atomic`] (temp
//! file, fsync, rename, fsync the directory), artifact files first and the
//! manifest last. A publisher killed at any instant leaves the old manifest
//! (naming complete, verified files) or the new one (likewise), plus at most a
//! stray temporary file; rerunning completes the publish.
//!
//! **Concurrency.** The manifest is read, updated and replaced under an
//! exclusive kernel lock ([`crate::store::lock::RefLock`]), so two publishers
//! never lose each other's `previous`, and a killed one never wedges the
//! directory (the kernel drops its lock).

pub mod delta;
pub mod keys;
pub mod push;
pub mod shards;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use verge_core::artifact::manifest::{MANIFEST_PATH, PublishManifest, PublishedPair};
use verge_core::artifact::signature::{PublicKey, Signature, SigningKey};
use verge_core::artifact::{ArtifactKind, Snapshot, SnapshotBytes};
use verge_core::online::Deployment;

use crate::store::atomic;
use crate::store::lock::RefLock;

/// The lock file serialising publishers of one directory.
pub const LOCK_FILE: &str = ".publish.lock";

/// Signs every artifact of a pair (each bundle, and the snapshot) with `key`.
#[must_use]
pub fn sign_pair(mut pair: PublishedPair, key: &SigningKey) -> PublishedPair {
    pair.bundle_signature = Some(key.sign(ArtifactKind::Bundle, pair.bundle));
    pair.snapshot_signature = Some(key.sign(ArtifactKind::Snapshot, pair.snapshot));
    for more in &mut pair.more_bundles {
        more.signature = Some(key.sign(ArtifactKind::Bundle, more.id));
    }
    for more in pair.more_snapshots_mut() {
        more.signature = Some(key.sign(ArtifactKind::Snapshot, more.id));
    }
    // The first shard is the snapshot, signed above.
    let first = pair.snapshot_signature;
    if let Some(shard) = pair.shards.first_mut() {
        shard.signature = first;
    }
    pair
}

/// A `.sig` file's text: the signature in hex and a newline.
#[must_use]
pub fn signature_file_text(signature: &Signature) -> String {
    format!("{signature}\n")
}

/// A pair read from a publish directory and checked: its deployment and each
/// bundle's bytes, in order (which Wasm instances load).
pub type CheckedPair = (Deployment, Vec<Vec<u8>>);

/// The bytes of the files a published pair names, the snapshots memory-mapped.
#[derive(Debug, Clone)]
pub struct PairFiles {
    /// Every bundle, in the pair's order.
    pub bundles: Vec<Vec<u8>>,
    /// The base snapshot (of a shard set: shard 0).
    pub snapshot: SnapshotBytes,
    /// The deltas over it ([`PublishedPair::more_snapshots`]), oldest first.
    /// Empty for a shard set, whose other shards are mapped as requests need
    /// them ([`PublishDir::load_shard`]).
    pub deltas: Vec<SnapshotBytes>,
}

/// Every `.sig` file a pair's manifest entry implies, with the signature it
/// records (`None`: unsigned).
fn signature_files(pair: &PublishedPair) -> Vec<(String, Option<Signature>)> {
    pair.bundles()
        .map(|b| (b.signature_path(), b.signature))
        .chain([(pair.snapshot_signature_path(), pair.snapshot_signature)])
        .chain(
            pair.more_snapshots()
                .map(|d| (d.signature_path(), d.signature)),
        )
        .collect()
}

/// A publish directory (see the module docs for its layout).
#[derive(Debug, Clone)]
pub struct PublishDir {
    root: PathBuf,
}

impl PublishDir {
    /// The layout rooted at `root` (nothing is touched until a write).
    #[must_use]
    pub fn new(root: &Path) -> PublishDir {
        PublishDir {
            root: root.to_path_buf(),
        }
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The manifest, or `None` when nothing was published yet.
    ///
    /// # Errors
    ///
    /// When the manifest exists but cannot be read or parsed.
    pub fn read_manifest(&self) -> anyhow::Result<Option<PublishManifest>> {
        let path = self.root.join(MANIFEST_PATH);
        match fs::read(&path) {
            Ok(bytes) => PublishManifest::parse(&bytes)
                .map(Some)
                .with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Reads the files `pair` names: every bundle's bytes, in order, and
    /// maps the snapshot and each delta, oldest first. Of a shard set only
    /// shard 0 is mapped; the other shards' files must exist.
    ///
    /// # Errors
    ///
    /// When a file is missing or unreadable.
    pub fn read_pair(&self, pair: &PublishedPair) -> anyhow::Result<PairFiles> {
        let read = |rel: String| {
            let path = self.root.join(&rel);
            fs::read(&path).with_context(|| {
                format!("cannot read {} (named by {MANIFEST_PATH})", path.display())
            })
        };
        let bundles = pair
            .bundles()
            .map(|b| read(b.path()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut deltas = Vec::new();
        for more in pair.more_snapshots() {
            let path = self.root.join(more.path());
            if !pair.shards.is_empty() {
                if !path.is_file() {
                    bail!(
                        "shard {} is named by {MANIFEST_PATH} but {} is missing; publish again",
                        more.id.short(),
                        path.display()
                    );
                }
                continue;
            }
            deltas.push(self.map(&more.path())?);
        }
        Ok(PairFiles {
            bundles,
            snapshot: self.map(&pair.snapshot_path())?,
            deltas,
        })
    }

    /// Shard `index` of `pair`'s set, mapped and checked
    /// ([`PublishedPair::check_shard`]; with `key`, its signature too).
    ///
    /// # Errors
    ///
    /// A missing or unreadable file, or a shard that fails its check; the
    /// message names the file.
    pub fn load_shard(
        &self,
        pair: &PublishedPair,
        index: u32,
        key: Option<&PublicKey>,
    ) -> anyhow::Result<Arc<Snapshot>> {
        let entry = pair.shards.get(index as usize).with_context(|| {
            format!(
                "shard {index} is not one of the {} the pair names",
                pair.shards.len()
            )
        })?;
        let rel = entry.path();
        let bytes = self.map(&rel)?;
        pair.check_shard(index, bytes, key).with_context(|| {
            format!(
                "shard {index} of {} ({}) is refused",
                pair.shards.len(),
                self.root.join(&rel).display()
            )
        })
    }

    fn map(&self, rel: &str) -> anyhow::Result<SnapshotBytes> {
        let path = self.root.join(rel);
        crate::mmap::map_file(&path)
            .with_context(|| format!("reading a file {MANIFEST_PATH} names"))
    }

    /// Reads and checks the pair `pair` names (see
    /// [`PublishedPair::check`]); with `key`, its signatures must verify. Also
    /// checks that any `.sig` file beside an artifact holds the signature the
    /// manifest records. Returns the predictor and the bundle's bytes (which
    /// Wasm instances load).
    ///
    /// Of a shard set, shard 0 is checked and the deployment holds it alone:
    /// the others are checked when first loaded ([`PublishDir::load_shard`]),
    /// so checking a set costs one shard whatever its size (their files must
    /// exist, and `.sig` files beside them must agree with the manifest).
    ///
    /// # Errors
    ///
    /// A missing file, a failed check, or a `.sig` file that disagrees.
    pub fn check_pair(
        &self,
        pair: &PublishedPair,
        key: Option<&PublicKey>,
    ) -> anyhow::Result<CheckedPair> {
        let PairFiles {
            bundles,
            snapshot,
            deltas,
        } = self.read_pair(pair)?;
        let signatures = signature_files(pair);
        for (rel, want) in signatures {
            let Some(want) = want else { continue };
            let path = self.root.join(rel);
            let text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read signature {}", path.display()))?;
            if Signature::parse_hex(&text) != Some(want) {
                bail!(
                    "{} does not hold the signature {MANIFEST_PATH} records; publish again",
                    path.display()
                );
            }
        }
        let checked = if pair.shards.is_empty() {
            pair.check(&bundles, snapshot, deltas, key)
        } else {
            pair.check_bundles(&bundles, key).and_then(|loaded| {
                let first = pair.check_shard(0, snapshot, key)?;
                pair.sharded_deployment(loaded, vec![first])
            })
        };
        let deployment = checked
            .with_context(|| format!("checking the pair published in {}", self.root.display()))?;
        Ok((deployment, bundles))
    }

    /// Publishes a pair: writes its artifacts (every bundle, in `pair`'s
    /// order, the snapshot, and the deltas `new_deltas` holds: those of
    /// `pair.deltas` not already in the directory) and their signatures (if
    /// `pair` carries them), then the manifest, keeping the pair it replaces
    /// as `previous`. The caller has checked the pair
    /// ([`PublishedPair::check`]); `pair`'s ids must be those of the bytes.
    ///
    /// Returns the manifest written.
    ///
    /// # Errors
    ///
    /// I/O errors, an unreadable existing manifest, or a delta `pair` names
    /// that is neither given nor already in the directory.
    pub fn publish<B: AsRef<[u8]>, D: AsRef<[u8]>>(
        &self,
        bundles: &[B],
        snapshot: &[u8],
        new_deltas: &[D],
        pair: PublishedPair,
    ) -> anyhow::Result<PublishManifest> {
        let named: Vec<_> = pair.bundles().collect();
        if named.len() != bundles.len() {
            bail!(
                "the pair names {} bundle(s) but {} were given to publish",
                named.len(),
                bundles.len()
            );
        }
        for dir in ["bundles", "snapshots"] {
            let dir = self.root.join(dir);
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _lock = self.lock()?;
        for (b, bytes) in named.iter().zip(bundles) {
            self.write_artifact(&b.path(), bytes.as_ref())?;
        }
        self.write_artifact(&pair.snapshot_path(), snapshot)?;
        for bytes in new_deltas {
            let bytes = bytes.as_ref();
            let id = verge_core::artifact::Header::open(bytes, ArtifactKind::Snapshot)
                .context("a delta to publish is not a whole snapshot")?
                .0
                .id;
            self.write_artifact(&format!("snapshots/{id}.bin"), bytes)?;
        }
        for delta in pair.more_snapshots() {
            let path = self.root.join(delta.path());
            if !path.exists() {
                bail!(
                    "snapshot {} (a delta or a shard) is named but neither given nor in {}; publish again",
                    delta.id.short(),
                    self.root.display()
                );
            }
        }
        for (rel, sig) in signature_files(&pair) {
            if let Some(sig) = sig {
                let path = self.root.join(rel);
                atomic::replace(&path, signature_file_text(&sig).as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        // Files first, manifest last: a reader following the manifest always
        // finds both files (and their signatures).
        let manifest = PublishManifest::next(self.read_manifest()?.as_ref(), pair);
        self.write_manifest(&manifest)?;
        Ok(manifest)
    }

    /// Swaps the current pair with `previous`, after checking the previous
    /// pair's files (and, with `key`, its signatures).
    ///
    /// Returns the manifest written.
    ///
    /// # Errors
    ///
    /// Nothing published, no previous pair, or a previous pair that fails its
    /// checks (the manifest is then left as it was).
    pub fn rollback(&self, key: Option<&PublicKey>) -> anyhow::Result<PublishManifest> {
        match self.try_rollback(key)? {
            Some((manifest, _)) => Ok(manifest),
            None => match self.read_manifest()? {
                None => bail!(
                    "nothing is published in {}: there is nothing to roll back",
                    self.root.display()
                ),
                Some(_) => bail!(
                    "{} records no previous pair to roll back to",
                    self.root.join(MANIFEST_PATH).display()
                ),
            },
        }
    }

    /// [`PublishDir::rollback`], deciding from the manifest as it is on disk
    /// under the directory's lock (whoever wrote it last); `None` when there is
    /// nothing to roll back to. Also returns the restored pair's predictor and
    /// bundle bytes, as checked, so a server can swap to them without reading
    /// them again.
    ///
    /// # Errors
    ///
    /// An unreadable manifest, or a previous pair that fails its checks (the
    /// manifest is then left as it was).
    pub fn try_rollback(
        &self,
        key: Option<&PublicKey>,
    ) -> anyhow::Result<Option<(PublishManifest, CheckedPair)>> {
        let _lock = self.lock()?;
        let Some(back) = self
            .read_manifest()?
            .and_then(|manifest| manifest.rolled_back())
        else {
            return Ok(None);
        };
        let checked = self
            .check_pair(&back.current, key)
            .context("the previous pair cannot be served; the manifest is unchanged")?;
        self.write_manifest(&back)?;
        Ok(Some((back, checked)))
    }

    fn lock(&self) -> anyhow::Result<RefLock> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        let path = self.root.join(LOCK_FILE);
        RefLock::acquire(&path).with_context(|| format!("cannot lock {}", path.display()))
    }

    /// Writes a content-addressed file once; an existing file with other bytes
    /// (damaged on disk) is replaced.
    fn write_artifact(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        let created = atomic::create_once(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !created && fs::read(&path).map(|b| b != bytes).unwrap_or(true) {
            atomic::replace(&path, bytes)
                .with_context(|| format!("cannot repair {}", path.display()))?;
        }
        Ok(())
    }

    fn write_manifest(&self, manifest: &PublishManifest) -> anyhow::Result<()> {
        let path = self.root.join(MANIFEST_PATH);
        atomic::replace(&path, &manifest.to_json())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}
