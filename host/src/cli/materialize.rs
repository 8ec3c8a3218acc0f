//! `verge materialize` and `verge materialize-incremental`: online snapshots from
//! the sources, merged into the latest one (see [`verge_host::materialize`]).

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::json;
use verge_core::ContentId;

use super::engine::EngineArgs;
use super::output::{print_json, spinner};
use super::threads::Threads;
use super::{Ctx, ExitStatus};
use verge_host::materialize::{
    Materialized, Sharding, State, ViewWindow, incremental_windows, materialize_within,
    online_view, parse_time,
};
use verge_host::source::memory::Memory;

/// Options both materialize commands share.
#[derive(Debug, Args)]
pub struct Common {
    /// Only these online feature views (comma-separated); the others are carried over.
    #[arg(long, value_name = "VIEW,...", value_delimiter = ',')]
    pub views: Vec<String>,
    /// Split the snapshot into N shards by key hash, each a complete snapshot
    /// (refs `snapshot/latest-shard-<i>`).
    #[arg(long, value_name = "N", conflicts_with = "max_shard_bytes")]
    pub shards: Option<u32>,
    /// Split into as few shards as keep each under SIZE (1MiB, 25MiB, or a
    /// number of bytes). A Workers KV value holds at most 25 MiB; for a Worker,
    /// about a 64th of its shard cache (1MiB for the default 64 MiB) keeps a
    /// request that misses the cache cheap (docs/worker.md, "Choosing a shard size").
    #[arg(long, value_name = "SIZE", value_parser = parse_shard_size)]
    pub max_shard_bytes: Option<u64>,
    /// Print a JSON report instead of the ids.
    #[arg(long)]
    pub json: bool,
    /// Threads.
    #[command(flatten)]
    pub threads: Threads,
    /// Engine.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `--max-shard-bytes`' parser, for clap: a size as `--memory` takes it.
fn parse_shard_size(text: &str) -> Result<u64, String> {
    Memory::parse(text).map(|m| m.0).map_err(|_| {
        format!("`{text}` is not a shard size; write bytes or a number with a unit (KiB, MiB, KB, MB), such as 1MiB or 26214400")
    })
}

impl Common {
    fn sharding(&self) -> Sharding {
        match (self.shards, self.max_shard_bytes) {
            (Some(n), _) => Sharding::Count(n),
            (None, Some(b)) => Sharding::MaxBytes(b),
            (None, None) => Sharding::None,
        }
    }
}

/// Write the latest feature values in [START, END] to an online snapshot.
///
/// Per online feature view and entity key, the row with the greatest (event
/// time, created time) among rows with START <= event time <= END wins (the last
/// in the source on a complete tie). The result is merged into the latest
/// snapshot, keeping per key whichever row is newer, so an older window never
/// overwrites newer values. Prints the snapshot id (one per shard) and moves
/// `snapshot/latest` (or `snapshot/latest-shard-<i>`).
///
/// Times: RFC 3339, a date, `now`, or `now-30d` (units s, m, h, d, w).
///
/// Examples:
///   verge materialize 2021-01-01T00:00:00Z now
///   verge materialize now-2000d now --views horse_vitals --shards 4
///   verge materialize 2021-01-01 now --memory 2GiB
///   verge materialize 2021-01-01 now --engine spark --spark-master 'local[4]'
#[derive(Debug, Args)]
pub struct Materialize {
    /// First event time included.
    #[arg(value_name = "START", allow_hyphen_values = true)]
    pub start: String,
    /// Last event time included.
    #[arg(value_name = "END", allow_hyphen_values = true)]
    pub end: String,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

/// Materialize from where the last materialization of each view ended up to END.
///
/// A view materialized before starts at its last END (inclusive: the merge keeps
/// the newer row, so the overlap is harmless); a view never materialized starts
/// at END - ttl (the beginning of time for a ttl of 0).
///
/// Examples:
///   verge materialize-incremental now
#[derive(Debug, Args)]
pub struct MaterializeIncremental {
    /// Last event time included.
    #[arg(value_name = "END", allow_hyphen_values = true)]
    pub end: String,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

pub(crate) use verge_host::store::apply::now;

impl Materialize {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An empty registry, a bad time, an unknown or offline view, unreadable
    /// sources, or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let clock = now();
        let start = parse_time(&self.start, clock).context("START")?;
        let end = parse_time(&self.end, clock).context("END")?;
        if start > end {
            bail!(
                "START {} is after END {}; swap them",
                start.to_rfc3339(),
                end.to_rfc3339()
            );
        }
        let (registry, defs) = head(ctx)?;
        let names = view_names(&defs, &self.common.views)?;
        let windows: Vec<ViewWindow> = names
            .into_iter()
            .map(|view| ViewWindow { view, start, end })
            .collect();
        run(ctx, &defs, registry, &windows, &self.common)
    }
}

impl MaterializeIncremental {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// As [`Materialize::run`], plus an unreadable state file.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let end = parse_time(&self.end, now()).context("END")?;
        let (registry, defs) = head(ctx)?;
        let names = view_names(&defs, &self.common.views)?;
        let state = State::load(&ctx.repo)?;
        let windows = incremental_windows(&defs, &state, &names, end)?;
        run(ctx, &defs, registry, &windows, &self.common)
    }
}

fn head(ctx: &Ctx) -> anyhow::Result<(ContentId, verge_core::definition::Definitions)> {
    let (id, version) = ctx
        .store()
        .head_definitions()?
        .context("the registry is empty; run `verge apply` first")?;
    Ok((id, version.definitions))
}

/// The named views (checked), or every online view.
fn view_names(
    defs: &verge_core::definition::Definitions,
    views: &[String],
) -> anyhow::Result<Vec<String>> {
    if views.is_empty() {
        let all: Vec<String> = defs
            .feature_views
            .iter()
            .filter(|v| v.online)
            .map(|v| v.name.clone())
            .collect();
        if all.is_empty() {
            bail!(
                "no feature view is online; set `online = true` on one in verge.toml and run `verge apply`"
            );
        }
        return Ok(all);
    }
    for v in views {
        online_view(defs, v.trim())?;
    }
    Ok(views.iter().map(|v| v.trim().to_owned()).collect())
}

fn run(
    ctx: &Ctx,
    defs: &verge_core::definition::Definitions,
    registry: ContentId,
    windows: &[ViewWindow],
    common: &Common,
) -> anyhow::Result<ExitStatus> {
    let engine = common.engine.resolve(ctx)?;
    let memory = common.engine.memory(ctx)?;
    let progress = spinner(ctx.quiet, "materializing");
    let out = common.threads.install(|| {
        materialize_within(
            &engine,
            &ctx.repo,
            defs,
            registry,
            windows,
            common.sharding(),
            memory,
        )
    })??;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    ctx.warn(&out.warnings);
    if common.json {
        print_json(&report(&out))?;
    } else {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        for id in &out.ids {
            writeln!(stdout, "{id}")?;
        }
    }
    for v in &out.views {
        let what = match v.window {
            Some((s, e)) => format!("{} .. {}", s.to_rfc3339(), e.to_rfc3339()),
            None => "carried over".to_owned(),
        };
        ctx.note(&format!(
            "{}: {} keys ({what}{})",
            v.view,
            v.rows,
            if v.merged {
                ", merged into the latest snapshot"
            } else {
                ""
            }
        ));
    }
    if let Some(m) = &out.manifest {
        ctx.note(&format!(
            "{} shards; manifest {}",
            out.ids.len(),
            m.display()
        ));
    }
    Ok(ExitStatus::Success)
}

fn report(out: &Materialized) -> serde_json::Value {
    json!({
        "snapshot_ids": out.ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "bytes": out.sizes,
        "shard_count": out.ids.len(),
        "manifest": out.manifest.as_ref().map(|p| p.display().to_string()),
        "window_start": out.window.0.to_rfc3339(),
        "window_end": out.window.1.to_rfc3339(),
        "views": out.views.iter().map(|v| json!({
            "name": v.view,
            "rows": v.rows,
            "start": v.window.map(|w| w.0.to_rfc3339()),
            "end": v.window.map(|w| w.1.to_rfc3339()),
            "merged": v.merged,
        })).collect::<Vec<_>>(),
        "warnings": super::output::warnings_json(&out.warnings),
    })
}
