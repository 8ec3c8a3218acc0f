//! Materialization in a repository: the latest snapshot and the sources read
//! from disk, the new snapshot (or shards and their manifest) stored, the refs
//! moved and the state recorded, all under the repository's lock.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use arrow_array::RecordBatch;
use verge_core::artifact::{Snapshot, view_fingerprint};
use verge_core::definition::Definitions;
use verge_core::{ContentId, Timestamp};

use super::{
    LATEST, LOCK_FILE, STATE_FILE, Sharding, State, ViewReport, ViewState, ViewWindow,
    build_snapshots, check_windows, online_view, shard_ref, spill,
};
use crate::artifacts::ArtifactStore;
use crate::source::memory::Memory;
use crate::spark::Engine;
use crate::store::atomic;
use crate::store::lock::RefLock;
use crate::warnings::Warnings;

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
    /// What the sources did not make an error of (rows skipped for an empty
    /// join key, `field_mapping` entries that map nothing).
    pub warnings: Warnings,
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
    materialize_on(
        &Engine::Native,
        repo_root,
        defs,
        registry_id,
        windows,
        sharding,
    )
}

/// [`materialize`] on `engine`: with Spark, one Spark job picks each view's
/// winners per key over its window ([`crate::spark`]) before anything in the
/// store is touched, and the snapshot is built from them by the same code, so
/// it has the native engine's bytes and id.
///
/// # Errors
///
/// As [`materialize`]; with Spark, also an unsupported source or a failed job,
/// in which case nothing is written.
pub fn materialize_on(
    engine: &Engine,
    repo_root: &Path,
    defs: &Definitions,
    registry_id: ContentId,
    windows: &[ViewWindow],
    sharding: Sharding,
) -> Result<Materialized> {
    materialize_within(
        engine,
        repo_root,
        defs,
        registry_id,
        windows,
        sharding,
        None,
    )
}

/// [`materialize_on`] under a memory budget: natively, a view whose source
/// would not fit in `memory` (beside the previous snapshot) has its window's
/// winners picked out of core, its rows spilled by key hash to partitions in
/// a temporary directory (see `docs/offline.md`); the snapshot has the same
/// bytes and id. `None`, and Spark, are [`materialize_on`] itself.
///
/// # Errors
///
/// As [`materialize_on`]; a partition cannot be written to or read back from
/// the temporary directory (which is removed either way), in which case
/// nothing is written.
pub fn materialize_within(
    engine: &Engine,
    repo_root: &Path,
    defs: &Definitions,
    registry_id: ContentId,
    windows: &[ViewWindow],
    sharding: Sharding,
    memory: Option<Memory>,
) -> Result<Materialized> {
    check_windows(defs, windows)?; // first, so a bad window costs no Spark job
    let mut from_spark = spark_winners(engine, repo_root, defs, windows)?;
    let store = ArtifactStore::open(repo_root);
    // One materialization at a time per repository: each reads the latest
    // snapshot and the state, builds on them and replaces both, so two at
    // once would each drop the other's rows and windows (a lost update). The
    // kernel drops the lock if the holder dies, so a killed run never wedges
    // the next one.
    let _lock = lock(repo_root)?;
    let mut state = State::load(repo_root)?;
    let previous = load_previous(&store, &state)?;
    let mut warnings = Warnings::default();
    let held: u64 = previous.iter().map(|p| p.as_bytes().len() as u64).sum();
    let built = build_snapshots(defs, registry_id, windows, &previous, sharding, |view| {
        let source = Load {
            repo_root,
            defs,
            windows,
            memory,
            held,
        };
        source.rows(view, &mut from_spark, &mut warnings)
    })?;
    drop(previous);
    // Fold the push log in: its rows over the new snapshot, newer wins.
    let (pushed, log_end) = crate::push::pending(repo_root, state.push_folded.as_ref())?;
    let shards = fold(defs, built.shards, &pushed)?;

    let mut ids = Vec::with_capacity(shards.len());
    let mut sizes = Vec::with_capacity(shards.len());
    let mut paths = Vec::with_capacity(shards.len());
    for bytes in &shards {
        let (id, path) = store.put(bytes).context("storing the snapshot")?;
        ids.push(id);
        sizes.push(bytes.len() as u64);
        paths.push(path);
    }
    let sharded = shards.len() > 1 || matches!(sharding, Sharding::Count(n) if n > 1);
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
        // The unsharded ref and the refs of shards past this set's count name
        // older snapshots: remove them, so the refs describe one shard set.
        remove_ref(repo_root, LATEST)?;
        remove_shard_refs(repo_root, ids.len())?;
        manifest = Some(path);
    } else if let Some(id) = ids.first() {
        store.set_ref(LATEST, *id)?;
        remove_shard_refs(repo_root, 0)?;
    }

    record_windows(&mut state, defs, windows);
    state.latest = ids.iter().map(ToString::to_string).collect();
    state.push_folded = Some(log_end.clone());
    // The commit point: from here the snapshot holds the folded rows, so the
    // log may drop them (a crash before that only leaves them to be skipped).
    state.save(repo_root)?;
    if let Some(epoch) = crate::push::epoch_bytes(&log_end) {
        crate::push::Log::open(repo_root).drop_prefix(epoch, log_end.offset)?;
    }
    Ok(Materialized {
        ids,
        sizes,
        paths,
        manifest,
        views: built.views,
        window: built.window,
        warnings,
    })
}

/// Where a materialization's view rows come from.
struct Load<'a> {
    repo_root: &'a Path,
    defs: &'a Definitions,
    windows: &'a [ViewWindow],
    memory: Option<Memory>,
    /// Bytes held beside the rows (the previous snapshot).
    held: u64,
}

impl Load<'_> {
    /// The rows of `view` to pick winners from: Spark's winners, the window's
    /// winners picked out of core when the source would not fit `memory`, or
    /// the source.
    fn rows(
        &self,
        view: &verge_core::definition::FeatureView,
        from_spark: &mut Option<BTreeMap<String, RecordBatch>>,
        warnings: &mut Warnings,
    ) -> Result<RecordBatch> {
        if let Some(batches) = from_spark {
            return batches.remove(&view.name).with_context(|| {
                format!(
                    "internal: Spark gave no winners for feature view `{}`",
                    view.name
                )
            });
        }
        let (defs, repo_root) = (self.defs, self.repo_root);
        // A database source is asked for the window's rows only; the build still filters.
        let window = self
            .windows
            .iter()
            .find(|w| w.view == view.name)
            .map(|w| (w.start.0, w.end.0));
        if let (Some(memory), Some(window)) = (self.memory, window) {
            let count = spill::partitions(defs, repo_root, view, self.held, memory)?;
            if count > 1 {
                return spill::window_winners(defs, repo_root, view, window, count, warnings);
            }
        }
        crate::source::read_feature_view_window(defs, repo_root, view, None, window, warnings)
    }
}

/// With Spark, every window's winners, from one job; `None` natively.
fn spark_winners(
    engine: &Engine,
    repo_root: &Path,
    defs: &Definitions,
    windows: &[ViewWindow],
) -> Result<Option<BTreeMap<String, RecordBatch>>> {
    let Engine::Spark(config) = engine else {
        return Ok(None);
    };
    let views = windows
        .iter()
        .map(|w| Ok((online_view(defs, &w.view)?, w.start.0, w.end.0)))
        .collect::<Result<Vec<_>>>()?;
    crate::spark::winners(config, defs, repo_root, &views).map(Some)
}

/// Records each materialized window (and the view's fingerprint) in `state`.
fn record_windows(state: &mut State, defs: &Definitions, windows: &[ViewWindow]) {
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
}

/// `shards` with the pushed rows layered over them ([`crate::push::layer`]).
fn fold(
    defs: &Definitions,
    shards: Vec<Vec<u8>>,
    pushed: &[(String, RecordBatch)],
) -> Result<Vec<Vec<u8>>> {
    if pushed.is_empty() {
        return Ok(shards);
    }
    let loaded = shards
        .iter()
        .map(|b| Snapshot::load(b.clone()))
        .collect::<verge_core::Result<Vec<_>>>()?;
    Ok(match crate::push::layer(defs, &loaded, pushed)? {
        Some(layered) => layered.iter().map(|s| s.as_bytes().to_vec()).collect(),
        None => shards,
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

/// Removes the ref `name` if it exists.
fn remove_ref(repo_root: &Path, name: &str) -> Result<()> {
    let path = repo_root.join(".verge/refs/artifacts").join(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// Removes every `snapshot/latest-shard-<i>` ref with `i >= keep`.
fn remove_shard_refs(repo_root: &Path, keep: usize) -> Result<()> {
    let dir = repo_root.join(".verge/refs/artifacts/snapshot");
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let index = name
            .to_str()
            .and_then(|n| n.strip_prefix("latest-shard-"))
            .and_then(|i| i.parse::<usize>().ok());
        if index.is_some_and(|i| i >= keep) {
            let path = entry.path();
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}
