//! What `verge publish --to DIR` ships: a new base snapshot, or only a delta.
//!
//! The state to serve is the repository's snapshot with its pending pushed
//! rows over it ([`crate::push::delta::layers`]), what `get-online-features`
//! reads. When the directory already serves the same bundles, the publisher
//! compares that state with the one published (the base and its deltas,
//! [`verge_core::online::delta_between`]) and ships only the keys whose row
//! changed, as one more delta snapshot in the manifest's `deltas` chain. The
//! edge layers the chain over the base, newest row wins, and reads the new
//! state on every key.
//!
//! A new base is shipped instead — the snapshot, plus the pending pushes as
//! its one delta — when nothing the bundles can use is published, when the
//! change cannot be a delta (a key left, a row got older, a view changed
//! shape), and when the chain would grow past `[publish] max_deltas`
//! (compaction: reads stay at a bounded number of probes, and old deltas stop
//! being fetched). With `max_deltas = 0` no delta is ever shipped: the
//! snapshot given is published whole (unless it is the one served), the
//! pending pushes folded into it ([`verge_core::online::compact`]).
//!
//! A publish whose state reads exactly as the published one on every key
//! ships nothing and keeps the manifest, even when the snapshot's metadata
//! (its window) moved: the edge's answers would not change.
//!
//! ```toml
//! [publish]
//! max_deltas = 8    # the longest chain of deltas over one base (default 8; 0: never ship deltas)
//! ```

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;
use verge_core::ContentId;
use verge_core::artifact::manifest::{PublishedDelta, PublishedPair};
use verge_core::artifact::{ArtifactKind, Header, Snapshot};
use verge_core::online::{DeltaPlan, Layers, compact, delta_between};

use super::PublishDir;

/// The chain length `[publish] max_deltas` defaults to.
pub const DEFAULT_MAX_DELTAS: usize = 8;

/// The `[publish]` table of `verge.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// The longest chain of deltas over one base; a publish that would make
    /// it longer ships a new base.
    #[serde(default = "default_max_deltas")]
    pub max_deltas: usize,
}

fn default_max_deltas() -> usize {
    DEFAULT_MAX_DELTAS
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            max_deltas: DEFAULT_MAX_DELTAS,
        }
    }
}

impl PublishConfig {
    /// The `[publish]` table of the `verge.toml` text `text` (named `file` in
    /// errors); the defaults when there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_host::publish::delta::PublishConfig;
    /// let config = PublishConfig::parse("project = \"p\"\n[publish]\nmax_deltas = 2\n", "verge.toml")?;
    /// assert_eq!(config.max_deltas, 2);
    /// assert_eq!(PublishConfig::parse("project = \"p\"\n", "verge.toml")?.max_deltas, 8);
    /// assert!(PublishConfig::parse("project = \"p\"\n[publish]\nmax_delta = 2\n", "verge.toml").is_err());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid TOML, an unknown key or a value of the wrong kind.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<PublishConfig> {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("{file} is not valid TOML"))?;
        match table.get("publish") {
            None => Ok(PublishConfig::default()),
            Some(publish) => publish
                .clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("{file}: [publish]: {}", e.to_string().trim_end())),
        }
    }

    /// As [`PublishConfig::parse`] for the file at `path`.
    ///
    /// # Errors
    ///
    /// An unreadable file, or as [`PublishConfig::parse`].
    pub fn load(path: &Path) -> anyhow::Result<PublishConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        PublishConfig::parse(&text, &path.display().to_string())
    }
}

/// What a publish ships, in words for its note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shipped {
    /// The published state already reads as the new one; the manifest is kept.
    Unchanged,
    /// One more delta over the published base, holding `rows` rows.
    Delta {
        /// Rows in the new delta.
        rows: usize,
    },
    /// A new base (and the pending pushes as its delta, if any), and why.
    Base {
        /// Why no delta was shipped.
        reason: String,
    },
}

/// The snapshot and deltas a publish names, and the files it must write.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The base snapshot's bytes.
    pub snapshot: Vec<u8>,
    /// Its id.
    pub snapshot_id: ContentId,
    /// The chain over it, oldest first, unsigned.
    pub deltas: Vec<PublishedDelta>,
    /// The bytes of deltas not yet in the directory (the last of `deltas`,
    /// or the pending pushes of a new base).
    pub new_deltas: Vec<Vec<u8>>,
    /// What it amounts to.
    pub shipped: Shipped,
}

impl Planned {
    /// `pair` naming this plan's snapshot and deltas.
    #[must_use]
    pub fn apply(&self, mut pair: PublishedPair) -> PublishedPair {
        pair.snapshot = self.snapshot_id;
        pair.deltas.clone_from(&self.deltas);
        pair
    }

    /// Every delta's bytes, oldest first: those already in `dir` and the new ones.
    ///
    /// # Errors
    ///
    /// A delta file of the published chain that cannot be read.
    pub fn delta_bytes(&self, dir: &PublishDir) -> anyhow::Result<Vec<Vec<u8>>> {
        let kept = self.deltas.len() - self.new_deltas.len();
        let mut all = Vec::with_capacity(self.deltas.len());
        for delta in &self.deltas[..kept] {
            let path = dir.root().join(delta.path());
            all.push(
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
            );
        }
        all.extend(self.new_deltas.iter().cloned());
        Ok(all)
    }
}

/// `id` as an unsigned chain entry (signing, if any, comes after planning).
fn unsigned(id: ContentId) -> PublishedDelta {
    PublishedDelta {
        id,
        signature: None,
    }
}

/// A new base for `target`: its base snapshot with its deltas as the chain,
/// or (with `max_deltas` 0, or more deltas than it allows) the whole of it
/// folded into one snapshot.
fn new_base(target: &Layers, max_deltas: usize, reason: String) -> anyhow::Result<Planned> {
    let deltas: Vec<&Arc<Snapshot>> = target.deltas().collect();
    if deltas.len() > max_deltas {
        let folded = Snapshot::load(compact(target)?)?;
        return Ok(Planned {
            snapshot_id: folded.id(),
            snapshot: folded.as_bytes().to_vec(),
            deltas: Vec::new(),
            new_deltas: Vec::new(),
            shipped: Shipped::Base { reason },
        });
    }
    Ok(Planned {
        snapshot_id: target.base().id(),
        snapshot: target.base().as_bytes().to_vec(),
        deltas: deltas.iter().map(|d| unsigned(d.id())).collect(),
        new_deltas: deltas.iter().map(|d| d.as_bytes().to_vec()).collect(),
        shipped: Shipped::Base { reason },
    })
}

/// What to publish into `dir` so that it serves `target` with the bundles
/// `bundles` (ids, in order): see the module docs.
///
/// # Errors
///
/// A published chain whose files cannot be read, or a delta that cannot be built.
pub fn plan(
    dir: &PublishDir,
    bundles: &[ContentId],
    target: &Layers,
    max_deltas: usize,
) -> anyhow::Result<Planned> {
    let Some(manifest) = dir.read_manifest()? else {
        return new_base(
            target,
            max_deltas,
            "nothing was published here before".into(),
        );
    };
    let current = manifest.current;
    if !current.bundles().map(|b| b.id).eq(bundles.iter().copied()) {
        return new_base(
            target,
            max_deltas,
            "the published bundles are others".into(),
        );
    }
    if max_deltas == 0 {
        // Whole snapshots only: the one given is published unless it is
        // exactly what is served (no comparison of contents is needed).
        let same = current.deltas.is_empty()
            && target.delta_count() == 0
            && current.snapshot == target.base().id();
        if !same {
            return new_base(target, 0, "max_deltas = 0: whole snapshots only".into());
        }
    }
    let published = match dir.check_pair(&current, None) {
        Ok((deployment, _)) => Arc::clone(deployment.layers()),
        Err(e) => {
            return new_base(
                target,
                max_deltas,
                format!("the published pair cannot be read back ({e:#})"),
            );
        }
    };
    // The published chain as checked: its base's bytes are already loaded.
    let chain = || current.deltas.iter().map(|d| unsigned(d.id));
    let kept = |deltas: Vec<PublishedDelta>, new_deltas, shipped| Planned {
        snapshot_id: current.snapshot,
        snapshot: published.base().as_bytes().to_vec(),
        deltas,
        new_deltas,
        shipped,
    };
    match delta_between(&published, target)? {
        DeltaPlan::Unchanged => Ok(kept(chain().collect(), Vec::new(), Shipped::Unchanged)),
        DeltaPlan::Delta { bytes, rows } if current.deltas.len() < max_deltas => {
            let id = Header::open(&bytes, ArtifactKind::Snapshot)?.0.id;
            let deltas = chain().chain([unsigned(id)]).collect();
            Ok(kept(deltas, vec![bytes], Shipped::Delta { rows }))
        }
        DeltaPlan::Delta { .. } => new_base(
            target,
            max_deltas,
            format!(
                "the chain of {} delta(s) is at max_deltas = {max_deltas}, so it is compacted",
                current.deltas.len()
            ),
        ),
        DeltaPlan::Rebuild(reason) => new_base(target, max_deltas, reason),
    }
}
