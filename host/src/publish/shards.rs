//! Publishing a sharded snapshot: every shard of the latest `verge
//! materialize --shards` set, named in order by the manifest's `shards`.
//!
//! Shards are content-addressed files under `snapshots/`, like any snapshot,
//! so publishing a new version writes only the shards whose content changed:
//! a shard whose keys saw no new row since the last materialization has the
//! same bytes, hence the same id and file, and is not written again (nor, on
//! Cloudflare, uploaded again to KV). Edge readers fetch shards as requests
//! need them ([`verge_core::online::Layers::sharded`]).
//!
//! A shard set takes no deltas: rows pushed since the last materialization
//! are folded by running `verge materialize` before publishing, and a publish
//! with pushed rows pending is refused rather than leaving them out.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use verge_core::artifact::Snapshot;
use verge_core::artifact::manifest::PublishedSnapshot;

use crate::materialize::{State, shard_ref};
use crate::resolve::Repository;

/// The latest materialization's shards in shard order, or `None` when it
/// was not sharded.
///
/// # Errors
///
/// An unreadable state file, or a shard ref that does not load.
pub fn latest_shards(repo: &Repository) -> anyhow::Result<Option<Vec<Arc<Snapshot>>>> {
    let state = State::load(repo.root())?;
    if state.latest.len() <= 1 {
        return Ok(None);
    }
    let mut shards = Vec::with_capacity(state.latest.len());
    for i in 0..state.latest.len() {
        shards.push(Arc::new(repo.load_snapshot(&shard_ref(i as u32))?));
    }
    Ok(Some(shards))
}

/// Refuses to publish `shards` while rows pushed since their materialization
/// are waiting to be folded.
///
/// # Errors
///
/// When rows are pending, or the push log cannot be read.
pub fn refuse_pending_pushes(repo_root: &Path, shards: &[Arc<Snapshot>]) -> anyhow::Result<()> {
    let Some(first) = shards.first() else {
        return Ok(());
    };
    if !repo_root.join(crate::push::LOG_FILE).exists() {
        return Ok(());
    }
    let state = State::load(repo_root)?;
    let id = first.id().to_string();
    let folded = state
        .push_folded
        .as_ref()
        .filter(|_| state.latest.contains(&id));
    let (rows, _) = crate::push::pending(repo_root, folded).context("reading the push log")?;
    let count: usize = rows.iter().map(|(_, batch)| batch.num_rows()).sum();
    if count > 0 {
        bail!(
            "{count} pushed row(s) are not in the shards yet, and a shard set takes no deltas; run `verge materialize` to fold them, then publish"
        );
    }
    Ok(())
}

/// The manifest's `shards` entries for `shards` (unsigned).
#[must_use]
pub fn entries(shards: &[Arc<Snapshot>]) -> Vec<PublishedSnapshot> {
    shards
        .iter()
        .map(|s| PublishedSnapshot {
            id: s.id(),
            signature: None,
        })
        .collect()
}

/// How many of `shards` `dir` does not hold yet: the files a publish writes.
#[must_use]
pub fn new_in(dir: &Path, shards: &[Arc<Snapshot>]) -> usize {
    shards
        .iter()
        .filter(|s| !dir.join(format!("snapshots/{}.bin", s.id())).exists())
        .count()
}
