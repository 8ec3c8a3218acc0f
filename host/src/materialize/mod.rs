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
mod time;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};
use verge_core::artifact::{
    CellRef, ColumnSlot, Snapshot, SnapshotBuilder, ViewBuilder, shard_of, view_fingerprint,
};
use verge_core::definition::{Definitions, FeatureView};
use verge_core::{ContentId, Timestamp};

use crate::artifacts::ArtifactStore;
use crate::store::atomic;
use crate::store::lock::RefLock;
use columns::{Pick, Segment, key_of, winners};

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
    mut load: impl FnMut(&FeatureView) -> Result<RecordBatch>,
) -> Result<Built> {
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
    let window = hull.unwrap_or((Timestamp(0), Timestamp(0)));

    // Views in a fixed order: the definitions' (canonical, sorted) order.
    let mut tables: Vec<Table<'_>> = Vec::new();
    for view in defs.feature_views.iter().filter(|v| v.online) {
        let join_keys = defs.join_keys(view);
        let fingerprint = view_fingerprint(&view.name, &join_keys, &view.fields, view.ttl);
        let mut segments = Vec::new();
        for p in previous {
            if let Some(t) = p.table_index(&view.name)
                && p.meta()
                    .views
                    .get(t)
                    .is_some_and(|m| m.fingerprint == fingerprint)
            {
                segments.push(Segment::from_snapshot(p, t)?);
            }
        }
        let merged = !segments.is_empty();
        let this = windows.iter().find(|w| w.view == view.name);
        let mut has_created = segments.iter().any(|s| s.created.is_some());
        if let Some(w) = this {
            let source = defs.source(&view.source).with_context(|| {
                format!(
                    "feature view `{}` reads source `{}`, which is not declared",
                    view.name, view.source
                )
            })?;
            let batch = load(view)?;
            has_created |= source.created_timestamp_field.is_some();
            segments.push(Segment::from_batch(
                &batch,
                &view.name,
                &join_keys,
                &source.timestamp_field,
                source.created_timestamp_field.as_deref(),
                &view.fields,
                (w.start.as_micros(), w.end.as_micros()),
            )?);
        } else if segments.is_empty() {
            continue;
        }
        let picks = winners(&segments).with_context(|| format!("feature view `{}`", view.name))?;
        tables.push(Table {
            view,
            join_keys,
            has_created,
            segments,
            picks,
            report: ViewReport {
                view: view.name.clone(),
                rows: 0,
                window: this.map(|w| (w.start, w.end)),
                merged,
            },
        });
    }
    for t in &mut tables {
        t.report.rows = t.picks.len();
    }

    let counts: Vec<u32> = match sharding {
        Sharding::None => vec![1],
        Sharding::Count(0) => bail!("--shards must be at least 1"),
        Sharding::Count(n) => vec![n],
        Sharding::MaxBytes(max) => {
            let total: u64 = tables
                .iter()
                .map(|t| {
                    t.picks
                        .iter()
                        .map(|p| {
                            t.segments
                                .get(p.seg as usize)
                                .map_or(0, |s| s.bytes_at(p.row as usize))
                                as u64
                        })
                        .sum::<u64>()
                })
                .sum();
            // Leave 10% for metadata, padding and an uneven hash split.
            let budget = max.saturating_mul(9) / 10;
            if budget < 4096 {
                bail!("--max-shard-bytes {max} is too small; give at least 8192");
            }
            let first = u32::try_from(total.div_ceil(budget).max(1))
                .context("the snapshot would need more than 2^32 shards")?;
            (0..8u32)
                .map(|i| first.saturating_add(first.div_ceil(4).max(1) * i))
                .collect()
        }
    };
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

/// One view's candidates and winners, ready to write.
struct Table<'d> {
    view: &'d FeatureView,
    join_keys: Vec<verge_core::definition::Field>,
    has_created: bool,
    segments: Vec<Segment>,
    picks: Vec<Pick>,
    report: ViewReport,
}

/// Writes every table into `count` snapshots. With `consume`, each input column
/// is released as soon as it is copied (and the tables are left empty), so the
/// input and the snapshot are never both whole in memory.
fn build_shards(
    registry_id: ContentId,
    window: (Timestamp, Timestamp),
    tables: &mut [Table<'_>],
    count: u32,
    consume: bool,
) -> Result<Vec<Vec<u8>>> {
    let mut builders: Vec<SnapshotBuilder> = (0..count)
        .map(|i| {
            let b = SnapshotBuilder::new(registry_id, window.0, window.1);
            if count > 1 { b.shard(i, count) } else { b }
        })
        .collect();
    for t in tables.iter_mut() {
        // Split the (key-sorted) winners by shard, keeping their order.
        let per_shard: Vec<Vec<Pick>> = if count == 1 {
            vec![if consume {
                std::mem::take(&mut t.picks)
            } else {
                t.picks.clone()
            }]
        } else {
            let mut split = vec![Vec::new(); count as usize];
            for &p in &t.picks {
                let key = key_of(&t.segments, p).context("internal: a winner lost its key")?;
                if let Some(list) = split.get_mut(shard_of(&key, count) as usize) {
                    list.push(p);
                }
            }
            split
        };
        let context = || format!("writing feature view `{}`", t.view.name);
        let mut views = Vec::with_capacity(per_shard.len());
        for picks in &per_shard {
            let mut view = ViewBuilder::new(
                &t.view.name,
                t.join_keys.clone(),
                t.view.fields.clone(),
                t.view.ttl,
                t.has_created,
            );
            let segs = &t.segments;
            view.push_times(picks.len(), |r| {
                let (event, created) = picks
                    .get(r)
                    .and_then(|p| segs.get(p.seg as usize).map(|s| s.times(p.row as usize)))
                    .unwrap_or((i64::MIN, i64::MIN));
                (Timestamp(event), Some(Timestamp(created)))
            })
            .with_context(context)?;
            views.push(view);
        }
        let columns = (0..t.join_keys.len())
            .map(ColumnSlot::Key)
            .chain((0..t.view.fields.len()).map(ColumnSlot::Field));
        for slot in columns {
            for (view, picks) in views.iter_mut().zip(&per_shard) {
                let segs = &t.segments;
                view.push_column(slot, |r| {
                    let Some(p) = picks.get(r) else {
                        return CellRef::Null;
                    };
                    let col = segs.get(p.seg as usize).and_then(|s| match slot {
                        ColumnSlot::Key(i) => s.keys.get(i),
                        ColumnSlot::Field(i) => s.fields.get(i).and_then(Option::as_ref),
                    });
                    col.map_or(CellRef::Null, |c| c.cell(p.row as usize))
                })
                .with_context(context)?;
            }
            if consume && let ColumnSlot::Field(i) = slot {
                for s in &mut t.segments {
                    if let Some(f) = s.fields.get_mut(i) {
                        *f = None;
                    }
                }
            }
        }
        if consume {
            t.segments = Vec::new();
        }
        drop(per_shard);
        builders = builders
            .into_iter()
            .zip(views)
            .map(|(b, v)| b.with_view(v))
            .collect();
    }
    builders
        .into_iter()
        .map(|b| b.finish().context("encoding the snapshot"))
        .collect()
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

/// The materialization state kept in `.verge/materialize.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Per view, what has been materialized.
    #[serde(default)]
    pub views: BTreeMap<String, ViewState>,
    /// The ids of the latest snapshot (one, or one per shard in order).
    #[serde(default)]
    pub latest: Vec<String>,
}

/// What has been materialized for one view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewState {
    /// The view's fingerprint when these windows were materialized.
    pub fingerprint: String,
    /// Every window materialized, oldest first, as RFC 3339 pairs.
    pub windows: Vec<(String, String)>,
    /// The end of the most recent window (where `materialize-incremental` starts).
    pub last_end: String,
}

impl State {
    /// Reads the state of the repository at `repo_root` (empty when there is none).
    ///
    /// # Errors
    ///
    /// When the file exists but cannot be read or parsed.
    pub fn load(repo_root: &Path) -> Result<State> {
        let path = repo_root.join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a materialization state file; delete it to start over",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Where `view` (with definition fingerprint `fingerprint`) last ended, if it
    /// was materialized with the same definition.
    #[must_use]
    pub fn last_end(&self, view: &str, fingerprint: ContentId) -> Option<Timestamp> {
        let v = self.views.get(view)?;
        (v.fingerprint == fingerprint.to_string())
            .then(|| Timestamp::parse_rfc3339(&v.last_end))
            .flatten()
    }

    fn save(&self, repo_root: &Path) -> Result<()> {
        let path = repo_root.join(STATE_FILE);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_vec_pretty(self).context("encoding the state")?;
        atomic::replace(&path, &text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The windows `materialize-incremental END` uses: each view starts where its
/// last materialization ended (that instant again: the merge keeps the newer row,
/// so overlap is harmless), or at `end - ttl` the first time (the beginning of
/// time for a ttl of zero).
///
/// # Errors
///
/// An unknown or offline view.
pub fn incremental_windows(
    defs: &Definitions,
    state: &State,
    views: &[String],
    end: Timestamp,
) -> Result<Vec<ViewWindow>> {
    let names: Vec<String> = if views.is_empty() {
        defs.feature_views
            .iter()
            .filter(|v| v.online)
            .map(|v| v.name.clone())
            .collect()
    } else {
        views.to_vec()
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let view = online_view(defs, &name)?;
        let fingerprint =
            view_fingerprint(&view.name, &defs.join_keys(view), &view.fields, view.ttl);
        let start = match state.last_end(&view.name, fingerprint) {
            Some(last) => last.min(end),
            None if view.ttl.is_zero() => Timestamp::MIN,
            None => end - view.ttl,
        };
        out.push(ViewWindow {
            view: view.name.clone(),
            start,
            end,
        });
    }
    Ok(out)
}

/// What [`materialize`] wrote.
#[derive(Debug, Clone)]
pub struct Materialized {
    /// Snapshot ids, in shard order (one when unsharded).
    pub ids: Vec<ContentId>,
    /// Their sizes in bytes.
    pub sizes: Vec<u64>,
    /// Their paths in the store.
    pub paths: Vec<PathBuf>,
    /// The shard manifest, when sharded.
    pub manifest: Option<PathBuf>,
    /// Per view reports.
    pub views: Vec<ViewReport>,
    /// The snapshot's window.
    pub window: (Timestamp, Timestamp),
}

/// Materializes `windows` in the repository at `repo_root`: reads the latest
/// snapshot and the sources, builds, stores the snapshot(s), moves the refs
/// and records the windows (see the module docs for the files).
///
/// # Errors
///
/// As [`build_snapshots`], plus unreadable sources or previous snapshots, and
/// I/O errors writing the store.
pub fn materialize(
    repo_root: &Path,
    defs: &Definitions,
    registry_id: ContentId,
    windows: &[ViewWindow],
    sharding: Sharding,
) -> Result<Materialized> {
    let store = ArtifactStore::open(repo_root);
    // One materialization at a time per repository: each reads the latest
    // snapshot and the state, builds on them and replaces both, so two at
    // once would each drop the other's rows and windows (a lost update). The
    // kernel drops the lock if the holder dies, so a killed run never wedges
    // the next one.
    let _lock = lock(repo_root)?;
    let mut state = State::load(repo_root)?;
    let previous = load_previous(&store, &state)?;
    let built = build_snapshots(defs, registry_id, windows, &previous, sharding, |view| {
        crate::source::read_feature_view(defs, repo_root, view, None)
    })?;
    drop(previous);

    let mut ids = Vec::with_capacity(built.shards.len());
    let mut sizes = Vec::with_capacity(built.shards.len());
    let mut paths = Vec::with_capacity(built.shards.len());
    for bytes in &built.shards {
        let (id, path) = store.put(bytes).context("storing the snapshot")?;
        ids.push(id);
        sizes.push(bytes.len() as u64);
        paths.push(path);
    }
    let sharded = built.shards.len() > 1 || matches!(sharding, Sharding::Count(n) if n > 1);
    let mut manifest = None;
    if sharded {
        let body = serde_json::json!({
            "shard_count": ids.len(),
            "window_start": built.window.0.to_rfc3339(),
            "window_end": built.window.1.to_rfc3339(),
            "registry_id": registry_id.to_string(),
            "shards": ids.iter().zip(&sizes).enumerate().map(|(i, (id, size))| serde_json::json!({
                "index": i, "id": id.to_string(), "bytes": size,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_vec_pretty(&body).context("encoding the shard manifest")?;
        let path = repo_root
            .join(".verge/artifacts")
            .join(format!("{}.shards.json", ContentId::of(&text)));
        atomic::create_once(&path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        for (i, id) in ids.iter().enumerate() {
            store.set_ref(&shard_ref(i as u32), *id)?;
        }
        // The unsharded ref would name an older snapshot: remove it so nothing reads it as latest.
        let stale = repo_root.join(".verge/refs/artifacts").join(LATEST);
        match fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", stale.display())),
        }
        manifest = Some(path);
    } else if let Some(id) = ids.first() {
        store.set_ref(LATEST, *id)?;
    }

    for w in windows {
        let Ok(view) = online_view(defs, &w.view) else {
            continue;
        };
        let fingerprint =
            view_fingerprint(&view.name, &defs.join_keys(view), &view.fields, view.ttl).to_string();
        let entry = state.views.entry(view.name.clone()).or_default();
        if entry.fingerprint != fingerprint {
            *entry = ViewState {
                fingerprint,
                ..ViewState::default()
            };
        }
        entry
            .windows
            .push((w.start.to_rfc3339(), w.end.to_rfc3339()));
        entry.last_end = w.end.to_rfc3339();
    }
    state.latest = ids.iter().map(ToString::to_string).collect();
    state.save(repo_root)?;
    Ok(Materialized {
        ids,
        sizes,
        paths,
        manifest,
        views: built.views,
        window: built.window,
    })
}

/// Takes the repository's materialization lock ([`LOCK_FILE`]), waiting for
/// a running materialization to finish.
fn lock(repo_root: &Path) -> Result<RefLock> {
    let path = repo_root.join(LOCK_FILE);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    RefLock::acquire(&path).with_context(|| format!("cannot lock {}", path.display()))
}

/// The latest snapshot (every shard of it), as the state file records, else as
/// `snapshot/latest` points.
fn load_previous(store: &ArtifactStore, state: &State) -> Result<Vec<Snapshot>> {
    let ids: Vec<ContentId> = if state.latest.is_empty() {
        store.get_ref(LATEST)?.into_iter().collect()
    } else {
        state
            .latest
            .iter()
            .map(|s| {
                ContentId::parse_hex(s)
                    .with_context(|| format!("{STATE_FILE} lists `{s}`, which is not an id"))
            })
            .collect::<Result<_>>()?
    };
    ids.into_iter()
        .map(|id| {
            let path = store.path(id, verge_core::artifact::ArtifactKind::Snapshot);
            let bytes = fs::read(&path).with_context(|| {
                format!(
                    "cannot read the latest snapshot {}; delete {STATE_FILE} to materialize from scratch",
                    path.display()
                )
            })?;
            Snapshot::load(bytes).with_context(|| format!("loading {}", path.display()))
        })
        .collect()
}
