//! `verge registry show`: one version's definitions, old or new.

use std::io::Write as _;

use clap::Args;
use serde_json::json;

use super::super::output::{id_json, print_json, rfc3339};
use super::{Ctx, ExitStatus};
use verge_host::repo::render::to_toml;

/// Print one registry version's definitions, old or new.
///
/// Print one registry version. The default output is a valid verge.toml (the
/// version's metadata in `#` comments), so an old version can be restored with
/// `verge registry show ID > verge.toml`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge registry show HEAD\n  verge registry show 1a2b3c4d\n  verge registry show 1a2b3c4d --json"
)]
pub struct Show {
    /// A version id, a unique prefix of one (4+ hex digits), or HEAD.
    #[arg(default_value = "HEAD")]
    pub id: String,
    /// Print {id, parent, applied_at, message, definitions} as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Show {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// When the id does not resolve or the version cannot be read.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let store = ctx.store();
        let id = store.resolve(&self.id)?;
        let version = store.read(id)?;
        if self.json {
            print_json(&json!({
                "id": id.to_string(),
                "parent": id_json(version.parent),
                "applied_at": rfc3339(version.applied_at),
                "message": version.message,
                "definitions": serde_json::to_value(&version.definitions)?,
            }))?;
            return Ok(ExitStatus::Success);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "# registry version {id}")?;
        if let Some(parent) = version.parent {
            writeln!(out, "# parent {parent}")?;
        }
        writeln!(out, "# applied at {}", rfc3339(version.applied_at))?;
        for line in version.message.lines() {
            writeln!(out, "# {line}")?;
        }
        write!(out, "{}", to_toml(&version.definitions))?;
        Ok(ExitStatus::Success)
    }
}
