//! `verge push`: append rows to a push source's online overlay.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::{Ctx, ExitStatus};

/// Push fresh rows to a push source: online reads see them at once.
///
/// Reads FILE (CSV, Parquet, or JSON columns `{"pulse": [70, 71], ...}`;
/// columns named as the features are) and checks
/// every row against each online feature view reading push source SOURCE in
/// the registry head: join keys, the batch source's timestamp columns and every
/// field, converted to their types. A bad row refuses the whole push (exit 2,
/// the row and column named) and the log is unchanged. Otherwise the rows are
/// appended to the durable overlay log (.verge/push/log) and synced to disk
/// before this command reports success. `get-online-features`, `predict` and
/// `serve` read them over the snapshot (newer event time wins, as in
/// materialization); the next `materialize` folds them into the snapshot.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge push driver_stats_push fresh.csv\n  verge push driver_stats_push fresh.parquet"
)]
pub struct Push {
    /// The `[[push_source]]` to push to.
    pub source: String,
    /// The rows: a .csv, .parquet or .json file.
    pub file: PathBuf,
}

impl Push {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An empty registry, an unknown source, a bad row, or an I/O error.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let (_, version) = ctx
            .store()
            .read_head()?
            .context("the registry is empty; run `verge apply` first")?;
        let defs = version.definitions;
        let batches = verge_host::push::read_file(&defs, &self.source, &self.file)?;
        let pushed = verge_host::push::append(&ctx.repo, &batches)?;
        ctx.note(&format!(
            "pushed {} rows to {} ({})",
            pushed.rows,
            self.source,
            pushed.views.join(", ")
        ));
        Ok(ExitStatus::Success)
    }
}
