//! The `materialize` step: a complete snapshot of every online view for its
//! window, built by the library call `verge materialize` makes, with
//! `snapshot/latest` moved to it.

use std::fs;
use std::time::Instant;

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Snapshot};
use verge_core::definition::{Definitions, Source};

use super::{key_sources, report};
use crate::materialize::{
    LATEST, Sharding, State, ViewWindow, build_snapshots, incremental_windows,
};
use crate::pipeline::{Ctx, Key, Step, StepReport};

fn load_snapshot(ctx: &Ctx<'_>, id: ContentId) -> anyhow::Result<Snapshot> {
    let path = ctx.store.path(id, ArtifactKind::Snapshot);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Snapshot::load(bytes).with_context(|| format!("loading snapshot {}", path.display()))
}

/// `materialize`'s line: keys per view and the window.
fn describe_snapshot(s: &Snapshot) -> (u64, String) {
    let meta = s.meta();
    let mut rows = 0u64;
    let mut views = Vec::new();
    for (i, v) in meta.views.iter().enumerate() {
        let n = s.table(i).map_or(0, verge_core::artifact::ViewTable::rows);
        rows += n as u64;
        views.push(format!("{n} keys of {}", v.name));
    }
    (
        rows,
        format!(
            "{}, {} .. {}",
            views.join(", "),
            meta.window_start.to_rfc3339(),
            meta.window_end.to_rfc3339()
        ),
    )
}

/// `materialize`: a complete snapshot of every online view for its window.
pub(in crate::pipeline) fn materialize(
    ctx: &Ctx<'_>,
    defs: &Definitions,
    registry: ContentId,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let mut windows = incremental_windows(defs, &State::default(), &[], ctx.now)?;
    if windows.is_empty() {
        bail!(
            "no feature view is online; set `online = true` on one in {}",
            ctx.config_path.display()
        );
    }
    if let Some(text) = &ctx.config.materialize_start {
        let start =
            crate::materialize::parse_time(text, ctx.now).context("[run] materialize_start")?;
        if start > ctx.now {
            bail!(
                "[run] materialize_start {} is after the run's clock {}; move it earlier or pass a later --now",
                start.to_rfc3339(),
                ctx.now.to_rfc3339()
            );
        }
        for w in &mut windows {
            w.start = start;
        }
    }
    let mut key = Key::new("materialize").id("registry", registry);
    for ViewWindow { view, start, end } in &windows {
        key = key
            .time(&format!("{view} start"), *start)
            .time(&format!("{view} end"), *end);
    }
    let online: Vec<&Source> = {
        let mut s: Vec<&Source> = windows
            .iter()
            .filter_map(|w| defs.feature_view(&w.view))
            .filter_map(|v| defs.source(&v.source))
            .collect();
        s.sort_by(|a, b| a.name.cmp(&b.name));
        s.dedup_by(|a, b| a.name == b.name);
        s
    };
    let key = key_sources(key, ctx.repo, &online)?.finish();
    if let Some(id) = ctx.cached(key, |id| {
        ctx.store.path(id, ArtifactKind::Snapshot).is_file()
    })? && let Ok(snapshot) = load_snapshot(ctx, id)
    {
        ctx.store.set_ref(LATEST, id)?;
        let (rows, detail) = describe_snapshot(&snapshot);
        return Ok(report(
            Step::Materialize,
            true,
            key,
            id,
            Some(rows),
            detail,
            started,
        ));
    }
    // No previous snapshot: the output depends on the window and the sources only.
    let mut warnings = crate::warnings::Warnings::default();
    let built = build_snapshots(defs, registry, &windows, &[], Sharding::None, |view| {
        // A database source is asked for the window's rows only; the build still filters.
        let window = windows
            .iter()
            .find(|w| w.view == view.name)
            .map(|w| (w.start.0, w.end.0));
        crate::source::read_feature_view_window(defs, ctx.repo, view, None, window, &mut warnings)
    })?;
    let [bytes] = built.shards.as_slice() else {
        bail!(
            "internal: an unsharded snapshot came out in {} parts",
            built.shards.len()
        );
    };
    let (id, _) = ctx.store.put(bytes).context("storing the snapshot")?;
    ctx.store.set_ref(LATEST, id)?;
    ctx.store.memo_put(key, id)?;
    let (rows, detail) = describe_snapshot(&load_snapshot(ctx, id)?);
    let mut done = report(
        Step::Materialize,
        false,
        key,
        id,
        Some(rows),
        detail,
        started,
    );
    done.warnings = warnings;
    Ok(done)
}
