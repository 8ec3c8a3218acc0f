//! `verge plan`: what `apply` would change, object by object.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use verge_core::definition::Definitions;
use verge_core::registry::diff;

use super::output::{change_json, id_json, print_json, write_changes};
use super::{Ctx, ExitStatus};

/// Show what `apply` would create, update and delete.
///
/// Compare `verge.toml` with the registry head and list the objects `apply`
/// would create (+), update (~) and delete (-).
///
/// Each feature view's source is checked first (a Parquet footer, a SQLite
/// table's columns and a sample, a CSV header and a sample): a missing column,
/// a type the column cannot hold or a lossy narrowing without `cast = true` is
/// an error (exit 2) naming the file, column and both types.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge plan\n  verge plan --check    # exit 1 when there are changes (for CI)\n  verge plan --json"
)]
pub struct Plan {
    /// Exit with code 1 when `apply` would change anything.
    #[arg(long)]
    pub check: bool,
    /// Print the plan as JSON: {head, project_renamed, changes: [{op, kind, name}]}.
    #[arg(long)]
    pub json: bool,
}

impl Plan {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// When `verge.toml` is invalid or the registry cannot be read.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let defs = ctx.definitions()?;
        let head = ctx
            .store()
            .read_head()
            .context("cannot read the registry head")?;
        let empty = Definitions::default();
        let old = head.as_ref().map_or(&empty, |(_, v)| &v.definitions);
        let changes = diff(old, &defs);
        let project_renamed = head.is_some() && old.project != defs.project;
        let changed = head.is_none() || project_renamed || !changes.is_empty();
        let head_id = head.as_ref().map(|(id, _)| *id);
        if self.json {
            print_json(&json!({
                "head": id_json(head_id),
                "project_renamed": project_renamed,
                "changes": changes.iter().map(change_json).collect::<Vec<_>>(),
            }))?;
        } else if !ctx.quiet {
            let mut out = std::io::stdout().lock();
            let against = head_id.map_or_else(
                || "the empty registry".to_owned(),
                |id| format!("head {}", id.short()),
            );
            if changed {
                writeln!(out, "Plan against {against}: {} change(s)", changes.len())?;
                if project_renamed {
                    writeln!(
                        out,
                        "  ~ project \"{}\" -> \"{}\"",
                        old.project, defs.project
                    )?;
                }
                write_changes(&mut out, &changes)?;
                writeln!(out, "Run `verge apply` to record them.")?;
            } else {
                writeln!(
                    out,
                    "No changes: {} matches {against}.",
                    ctx.config.display()
                )?;
            }
        }
        Ok(if self.check && changed {
            ExitStatus::CheckFailed
        } else {
            ExitStatus::Success
        })
    }
}
