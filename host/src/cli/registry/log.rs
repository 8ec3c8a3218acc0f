//! `verge registry log`: the chain of versions from the head back to the first.

use std::io::Write as _;

use clap::Args;
use serde_json::json;
use verge_core::definition::Definitions;
use verge_core::registry::diff;

use super::super::output::{counts, counts_text, id_json, print_json, rfc3339};
use super::{Ctx, ExitStatus};

/// List registry versions, newest first.
///
/// List registry versions from the head back to the first: id, parent, time,
/// change counts (+created ~updated -deleted) and message.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  verge registry log\n  verge registry log -n 5 --json")]
pub struct Log {
    /// Show at most N versions.
    #[arg(short = 'n', long, value_name = "N")]
    pub max_count: Option<usize>,
    /// Print a JSON array of {id, parent, applied_at, message, created, updated, deleted}.
    #[arg(long)]
    pub json: bool,
}

impl Log {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// When a version on the chain is missing or corrupt.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let store = ctx.store();
        let history = match store.head()? {
            Some(head) => store.history(head)?,
            None => Vec::new(),
        };
        let limit = self.max_count.unwrap_or(usize::MAX);
        let empty = Definitions::default();
        let rows = history.iter().enumerate().take(limit).map(|(i, (id, v))| {
            // History is newest first, so the parent is the next entry.
            let before = history.get(i + 1).map_or(&empty, |(_, p)| &p.definitions);
            (id, v, diff(before, &v.definitions))
        });
        if self.json {
            let items: Vec<_> = rows
                .map(|(id, v, changes)| {
                    let (c, u, d) = counts(&changes);
                    json!({
                        "id": id.to_string(),
                        "parent": id_json(v.parent),
                        "applied_at": rfc3339(v.applied_at),
                        "message": v.message,
                        "created": c,
                        "updated": u,
                        "deleted": d,
                    })
                })
                .collect();
            print_json(&serde_json::Value::Array(items))?;
            return Ok(ExitStatus::Success);
        }
        let mut out = std::io::stdout().lock();
        if history.is_empty() {
            ctx.note("The registry is empty; run `verge apply` to record the first version.");
        }
        for (id, v, changes) in rows {
            let parent = v.parent.map_or_else(|| "-".repeat(12), |p| p.short());
            let message = v.message.lines().next().unwrap_or("");
            let line = format!(
                "{}  parent {parent}  {}  {:<12}  {message}",
                id.short(),
                rfc3339(v.applied_at),
                counts_text(&changes),
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(ExitStatus::Success)
    }
}
