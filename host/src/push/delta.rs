//! Pushed rows as a delta snapshot: what online reads layer over the snapshot
//! instead of rebuilding it.
//!
//! A delta is built by the snapshot builder from the pushed rows alone (plus,
//! in `verge serve`, the delta already served), so its cost is proportional
//! to the overlay, not to the snapshot; reads then go through
//! [`verge_core::online::Layers`], which per key keeps the newest
//! `(event_ts, created_ts)` of base and delta, the delta on a complete tie.
//! That is the same answer [`super::layer`] gives by rebuilding: among pushed
//! rows the builder keeps the newest (the later on a tie), and the base's row
//! and that winner then compare exactly as a materialization merge would.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use verge_core::artifact::Snapshot;
use verge_core::definition::Definitions;
use verge_core::online::Layers;

use super::{LOG_FILE, ViewRows, overlay_shards, pending};

/// The delta over `base` holding `rows` newer-wins over `previous` (an
/// earlier delta over the same base): only the keys those rows touch, cut
/// to `base`'s shard. `None` when no row applies to a view of `defs` (then
/// `previous`, if any, stays the delta).
///
/// # Errors
///
/// As [`crate::materialize::build_snapshots`].
pub fn delta(
    defs: &Definitions,
    base: &Snapshot,
    previous: Option<&Snapshot>,
    rows: &ViewRows,
) -> Result<Option<Snapshot>> {
    let meta = base.meta();
    let previous = previous.map(std::slice::from_ref).unwrap_or_default();
    let Some(shards) = overlay_shards(defs, meta, previous, rows)? else {
        return Ok(None);
    };
    let index = meta.shard_index as usize;
    let Some(bytes) = shards.into_iter().nth(index) else {
        return Ok(None);
    };
    Ok(Some(Snapshot::load(bytes)?))
}

/// The pushed rows of the repository at `repo_root` that `base` does not
/// hold, as one delta over it (see [`super::layered_over`] for which rows
/// those are); `None` when there are none.
///
/// # Errors
///
/// An unreadable log, state file or registry version, or [`delta`] failing.
pub fn pending_delta(repo_root: &Path, base: &Snapshot) -> Result<Option<Snapshot>> {
    if !repo_root.join(LOG_FILE).exists() {
        return Ok(None);
    }
    let state = crate::materialize::State::load(repo_root)?;
    let id = base.id().to_string();
    let folded = state
        .push_folded
        .as_ref()
        .filter(|_| state.latest.contains(&id));
    let (rows, _) = pending(repo_root, folded)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let defs = super::definitions_of(repo_root, base.meta().registry_id)?;
    delta(&defs, base, None, &rows)
}

/// `base` with the pending pushed rows over it as a delta layer: what
/// `get-online-features`, `predict` and `verge serve` read.
///
/// # Errors
///
/// As [`pending_delta`].
pub fn layers(repo_root: &Path, base: Snapshot) -> Result<Layers> {
    let delta = pending_delta(repo_root, &base)?;
    Ok(Layers::new(
        Arc::new(base),
        delta.map(Arc::new).into_iter().collect(),
    )?)
}
