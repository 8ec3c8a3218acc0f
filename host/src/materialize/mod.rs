//! Materialization: online snapshots from sources (`verge materialize`,
//! `verge materialize-incremental`).
//!
//! For each online feature view and a window `[start, end]` (both inclusive), the
//! snapshot holds per entity key the winning source row among those with
//! `start <= event_ts <= end`: the greatest `(event_ts, created_ts)`, and on a
//! complete tie the row appearing **last** in the source (the rule of
//! [`crate::historical`]; a null created time ranks lowest). Its values are kept
//! as stored: a null stays null.
//!
//! **Merging.** A new snapshot starts from the previous one (what
//! `snapshot/latest`, or the latest shard set, holds): per key it keeps whichever
//! of the previous row and the window's winner is newer by `(event_ts,
//! created_ts)`, the window's row on a complete tie. Materializing an older
//! window therefore never overwrites newer values. A view whose definition
//! changed (a different [`view_fingerprint`]) starts fresh; views not being
//! materialized this time are carried over unchanged.
//!
//! **Determinism.** Rows are written sorted by key, so equal inputs give
//! byte-identical snapshots and equal ids.
//!
//! **State and refs**, under the repository's `.verge/`:
//!
//! | path | holds |
//! |---|---|
//! | `artifacts/<id>.snapshot` | each snapshot (or shard) |
//! | `refs/artifacts/snapshot/latest` | the latest unsharded snapshot (removed when the latest is sharded) |
//! | `refs/artifacts/snapshot/latest-shard-<i>` | shard `i` of the latest sharded snapshot |
//! | `artifacts/<manifest id>.shards.json` | a sharded snapshot's manifest: count, window, shard ids |
//! | `materialize.json` | per view: fingerprint, materialized windows, last end; the latest ids |
//! | `materialize.lock` | kernel lock held by a materialization from reading the state to writing it |
//!
//! **Sharding.** With [`Sharding::Count`] or [`Sharding::MaxBytes`] every key goes
//! to shard [`shard_of`]`(key, n)`, and each shard is a complete snapshot
//! artifact carrying its index and count. `MaxBytes` estimates each row's bytes,
//! picks `n`, and raises `n` until every shard fits.
//!
//! **Speed and memory.** Candidate rows stay in their Arrow arrays; one
//! hash-map pass picks the winners, a sort orders them by key, and
//! [`ViewBuilder::push_column`] copies their cells column by column into the
//! snapshot layout, releasing each source column once copied, so the source and
//! the snapshot are never both whole in memory. `host/examples/materialize_memory.rs`
//! measures 1M rows × 20 float64 columns (1M keys); most of its time is the
//! kernel zeroing fresh pages for the ~180 MiB snapshot.
//!

mod columns;
mod repo;
mod spill;
mod state;
mod tables;
mod time;
mod write;

use anyhow::{Result, bail};
use arrow_array::RecordBatch;
use verge_core::artifact::Snapshot;
use verge_core::definition::{Definitions, FeatureView};
use verge_core::{ContentId, Timestamp};

use tables::collect_tables;
use write::{build_shards, shard_counts};

pub use repo::{Materialized, materialize, materialize_on, materialize_within};
pub use state::{State, ViewState, incremental_windows};
pub use time::parse_time;

/// The ref of the latest unsharded snapshot.
pub const LATEST: &str = "snapshot/latest";

/// The ref of shard `i` of the latest sharded snapshot.
#[must_use]
pub fn shard_ref(i: u32) -> String {
    format!("snapshot/latest-shard-{i}")
}

/// The state file, relative to the repository root.
pub const STATE_FILE: &str = ".verge/materialize.json";

/// The lock serialising materializations, relative to the repository root.
pub const LOCK_FILE: &str = ".verge/materialize.lock";

/// A feature view and the window to materialize it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewWindow {
    /// The feature view.
    pub view: String,
    /// First event time included.
    pub start: Timestamp,
    /// Last event time included.
    pub end: Timestamp,
}

/// How to split a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharding {
    /// One snapshot.
    #[default]
    None,
    /// Exactly this many shards (1 is the same as none, but marked 0 of 1).
    Count(u32),
    /// As few shards as keep each under this many bytes.
    MaxBytes(u64),
}

/// What one view contributed to a built snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewReport {
    /// The view.
    pub view: String,
    /// Rows (keys) in the snapshot, over all shards.
    pub rows: usize,
    /// The window materialized this time, or `None` if carried over unchanged.
    pub window: Option<(Timestamp, Timestamp)>,
    /// Whether previous rows were merged in.
    pub merged: bool,
}

/// Snapshot bytes built by [`build_snapshots`]: one artifact, or one per shard.
#[derive(Debug, Clone)]
pub struct Built {
    /// Framed snapshot artifacts, in shard order.
    pub shards: Vec<Vec<u8>>,
    /// One entry per view in the snapshot.
    pub views: Vec<ViewReport>,
    /// The snapshot's window (the hull of the previous one and this one's).
    pub window: (Timestamp, Timestamp),
}

/// Builds snapshot bytes from in-memory data: the pure part of materialization.
///
/// `windows` names the views to materialize (each must be an online feature view
/// of `defs`); `previous` is the latest snapshot (all its shards), or empty;
/// `load(view)` returns the view's source rows in the layout of
/// [`crate::source::read_source`]. Views of `previous` that are not in `windows`
/// but still match their definition are carried over.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
/// use verge_core::artifact::Snapshot;
/// use verge_core::definition::*;
/// use verge_core::{ContentId, DType, Duration, Timestamp, Value};
/// use verge_host::materialize::{Sharding, ViewWindow, build_snapshots};
///
/// let defs = Definitions {
///     entities: vec![Entity { name: "horse".into(), join_keys: vec![Field::new("horse", DType::Int64)], description: String::new() }],
///     sources: vec![Source { name: "s".into(), path: "s.csv".into(), format: SourceFormat::Csv,
///         timestamp_field: "ts".into(), created_timestamp_field: None, field_mapping: vec![] }],
///     feature_views: vec![FeatureView { name: "vitals".into(), entities: vec!["horse".into()], source: "s".into(),
///         ttl: Duration::ZERO, online: true, fields: vec![Field::new("pulse", DType::Float64)],
///         description: String::new(), owner: String::new(), tags: vec![] }],
///     ..Definitions::default()
/// };
/// let batch = RecordBatch::try_from_iter([
///     ("horse", Arc::new(Int64Array::from(vec![1, 1, 2])) as ArrayRef),
///     ("ts", Arc::new(TimestampMicrosecondArray::from(vec![10, 20, 30]).with_timezone("UTC")) as ArrayRef),
///     ("pulse", Arc::new(Float64Array::from(vec![60.0, 70.0, 80.0])) as ArrayRef),
/// ])?;
/// let window = ViewWindow { view: "vitals".into(), start: Timestamp(0), end: Timestamp(25) };
/// let built = build_snapshots(&defs, ContentId::of(b"r"), &[window], &[], Sharding::None, |_| Ok(batch.clone()))?;
/// let snapshot = Snapshot::load(built.shards[0].clone())?;
/// assert_eq!(snapshot.value(0, 0, snapshot.lookup_int(0, 1).unwrap()), Value::Float64(70.0));
/// assert_eq!(snapshot.lookup_int(0, 2), None, "event 30 is after the window");
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// An unknown or offline view, a window whose start is after its end, a view
/// listed twice, a batch missing a column or with the wrong types, or a source
/// row that the snapshot cannot hold.
pub fn build_snapshots(
    defs: &Definitions,
    registry_id: ContentId,
    windows: &[ViewWindow],
    previous: &[Snapshot],
    sharding: Sharding,
    load: impl FnMut(&FeatureView) -> Result<RecordBatch>,
) -> Result<Built> {
    check_windows(defs, windows)?;
    let window = hull(windows, previous);
    let mut tables = collect_tables(defs, windows, previous, load)?;
    let counts = shard_counts(sharding, &tables)?;
    let mut last_error = String::new();
    let attempts = counts.len();
    for (attempt, count) in counts.into_iter().enumerate() {
        // Only the last possible attempt may release the input as it goes.
        let consume = attempt + 1 == attempts;
        let shards = build_shards(registry_id, window, &mut tables, count, consume)?;
        if let Sharding::MaxBytes(max) = sharding
            && let Some(big) = shards.iter().find(|s| s.len() as u64 > max)
        {
            last_error = format!(
                "with {count} shards one is {} bytes, over --max-shard-bytes {max}",
                big.len()
            );
            continue;
        }
        return Ok(Built {
            shards,
            views: tables.into_iter().map(|t| t.report).collect(),
            window,
        });
    }
    bail!("{last_error}; raise --max-shard-bytes or use --shards")
}

/// Refuses an unknown or offline view, a window that starts after it ends, and
/// a view listed twice.
pub(super) fn check_windows(defs: &Definitions, windows: &[ViewWindow]) -> Result<()> {
    for (i, w) in windows.iter().enumerate() {
        let view = online_view(defs, &w.view)?;
        if w.start > w.end {
            bail!(
                "feature view `{}`: the window starts at {} after it ends at {}",
                view.name,
                w.start.to_rfc3339(),
                w.end.to_rfc3339()
            );
        }
        if windows[..i].iter().any(|o| o.view == w.view) {
            bail!("feature view `{}` is listed twice", w.view);
        }
    }
    Ok(())
}

/// The new snapshot's window: the hull of the previous snapshot's windows and
/// this materialization's (`(0, 0)` when there are none).
fn hull(windows: &[ViewWindow], previous: &[Snapshot]) -> (Timestamp, Timestamp) {
    let mut hull: Option<(Timestamp, Timestamp)> = None;
    let mut widen = |s: Timestamp, e: Timestamp| {
        hull = Some(match hull {
            None => (s, e),
            Some((a, b)) => (a.min(s), b.max(e)),
        });
    };
    for p in previous {
        widen(p.meta().window_start, p.meta().window_end);
    }
    for w in windows {
        widen(w.start, w.end);
    }
    hull.unwrap_or((Timestamp(0), Timestamp(0)))
}

/// The online feature view `name`, or an error listing the online views.
///
/// # Errors
///
/// When there is no such view, or it is not `online = true`.
pub fn online_view<'d>(defs: &'d Definitions, name: &str) -> Result<&'d FeatureView> {
    let online: Vec<&str> = defs
        .feature_views
        .iter()
        .filter(|v| v.online)
        .map(|v| v.name.as_str())
        .collect();
    let list = if online.is_empty() {
        "(none: set `online = true` on a feature view)".to_owned()
    } else {
        online.join(", ")
    };
    match defs.feature_view(name) {
        Some(v) if v.online => Ok(v),
        Some(_) => bail!(
            "feature view `{name}` is not online; set `online = true` in verge.toml and apply, or pick one of: {list}"
        ),
        None => bail!("unknown feature view `{name}`; online views: {list}"),
    }
}
