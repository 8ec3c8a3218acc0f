//! `verge apply`: record the definitions as a new registry version.

use std::io::Write as _;

use clap::Args;
use serde_json::json;

use super::output::{change_json, counts_text, id_json, print_json};
use super::{Ctx, ExitStatus};
use verge_host::store::apply::{Applied, ApplyOptions, apply, now};
use verge_host::store::merge::MergeConflict;

/// Record verge.toml as a new registry version and print its id.
///
/// Validate `verge.toml` and record it as a new, immutable registry version whose
/// parent is the current head; print its id. If nothing changed, nothing is
/// written and the head's id is printed. The sources' schemas are checked
/// first, as `verge plan` does; a mismatch records nothing (exit 2).
///
/// When another `apply` moves the head first, this one fails with a conflict
/// (exit 2) and writes nothing visible; run `verge plan` and apply again, or pass
/// `--retry N` to rebase onto the new head automatically: your changes (since
/// the head you planned against, or --expect-head) are carried onto it; if
/// the other writer changed one of the same objects, nothing is written, the
/// objects are named, and the exit code is 1.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge apply -m \"add pulse to the vitals view\"\n  verge apply --expect-head 1a2b3c4d   # only if the head is still what `plan` showed"
)]
pub struct Apply {
    /// A message recorded with the version, shown by `verge registry log`.
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// On a conflict, rebase onto the new head (three-way, object by object)
    /// up to N times; an object both changed is a conflict (exit 1).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retry: u32,
    /// Refuse (as a conflict) unless the head is this version (an id, a prefix, or
    /// `none` for an empty registry).
    #[arg(long, value_name = "ID")]
    pub expect_head: Option<String>,
    /// Print {id, parent, created, changes} as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Apply {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An invalid `verge.toml`, a conflict, or an I/O error.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let defs = ctx.definitions()?;
        let store = ctx.store();
        let expect_head = match self.expect_head.as_deref() {
            None => None,
            Some("none") => Some(None),
            Some(spec) => Some(Some(store.resolve(spec)?)),
        };
        let options = ApplyOptions {
            message: self.message,
            retries: self.retry,
            expect_head,
        };
        let applied = match apply(&store, defs, now(), &options) {
            Ok(applied) => applied,
            // Both sides changed the same objects: a check that failed (exit
            // 1), not an error; nothing was written.
            Err(e) if e.downcast_ref::<MergeConflict>().is_some() => {
                let _ = writeln!(std::io::stderr().lock(), "{e}");
                return Ok(ExitStatus::CheckFailed);
            }
            Err(e) => return Err(e),
        };
        if self.json {
            // What artifacts built from this version will name as their registry.
            let definitions_id = store.read(applied.id())?.definitions_id()?;
            let body = match &applied {
                Applied::Unchanged { id } => json!({
                    "id": id.to_string(), "definitions_id": definitions_id.to_string(),
                    "parent": null, "created": false, "changes": [],
                }),
                Applied::Created {
                    id,
                    parent,
                    changes,
                    ..
                } => json!({
                    "id": id.to_string(),
                    "definitions_id": definitions_id.to_string(),
                    "parent": id_json(*parent),
                    "created": true,
                    "changes": changes.iter().map(change_json).collect::<Vec<_>>(),
                }),
            };
            print_json(&body)?;
        } else {
            writeln!(std::io::stdout().lock(), "{}", applied.id())?;
        }
        match &applied {
            Applied::Unchanged { id } => {
                ctx.note(&format!(
                    "No changes; the registry head is still {}.",
                    id.short()
                ));
            }
            Applied::Created {
                changes,
                parent,
                retries,
                ..
            } => {
                let on = parent.map_or_else(|| "the empty registry".to_owned(), |p| p.short());
                let retried = if *retries > 0 {
                    format!(" after {retries} conflict(s)")
                } else {
                    String::new()
                };
                ctx.note(&format!(
                    "Applied {} on top of {on}{retried}.",
                    counts_text(changes)
                ));
            }
        }
        Ok(ExitStatus::Success)
    }
}
