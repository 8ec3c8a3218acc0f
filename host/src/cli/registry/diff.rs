//! `verge registry diff`: which objects differ between two versions.

use std::io::Write as _;

use clap::Args;
use serde_json::json;
use verge_core::registry::diff;

use super::super::output::{change_json, print_json, write_changes};
use super::{Ctx, ExitStatus};

/// List the objects that differ between two registry versions.
///
/// List the objects created (+), updated (~) and deleted (-) going from version
/// FROM to version TO.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge registry diff 1a2b3c4d HEAD\n  verge registry diff 1a2b3c4d 9f8e7d6c --json"
)]
pub struct Diff {
    /// The older version: an id, a unique prefix (4+ hex digits), or HEAD.
    pub from: String,
    /// The newer version.
    #[arg(default_value = "HEAD")]
    pub to: String,
    /// Print {from, to, project_renamed, changes: [{op, kind, name}]} as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Diff {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// When an id does not resolve or a version cannot be read.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let store = ctx.store();
        let (from, to) = (store.resolve(&self.from)?, store.resolve(&self.to)?);
        let (old, new) = (store.read(from)?, store.read(to)?);
        let changes = diff(&old.definitions, &new.definitions);
        let renamed = old.definitions.project != new.definitions.project;
        if self.json {
            print_json(&json!({
                "from": from.to_string(),
                "to": to.to_string(),
                "project_renamed": renamed,
                "changes": changes.iter().map(change_json).collect::<Vec<_>>(),
            }))?;
            return Ok(ExitStatus::Success);
        }
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} -> {}: {} change(s)",
            from.short(),
            to.short(),
            changes.len()
        )?;
        if renamed {
            writeln!(
                out,
                "  ~ project \"{}\" -> \"{}\"",
                old.definitions.project, new.definitions.project
            )?;
        }
        write_changes(&mut out, &changes)?;
        Ok(ExitStatus::Success)
    }
}
