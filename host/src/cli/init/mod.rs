//! `verge init`: a small feature repository that works at once.
//!
//! The sample is chosen to exercise the point-in-time rules a newcomer should
//! see: a correction with the same event time and a later created time, a null
//! value, a row exactly on the ttl bound and one a second past it, an entity row
//! before any data, an unknown key, and repeated entity rows.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

use super::{Ctx, ExitStatus};
use verge_host::store::atomic;

/// The files written, relative to the new repository.
const FILES: [(&str, &str); 4] = [
    ("verge.toml", include_str!("verge.toml")),
    ("data/vitals.csv", include_str!("vitals.csv")),
    ("entities.csv", include_str!("entities.csv")),
    (
        ".gitignore",
        "# verge's registry is local state; publish artifacts, not this.\n.verge/\n",
    ),
];

/// Create a small working feature repository with sample data.
///
/// Create a small working feature repository in DIR: a verge.toml declaring an
/// entity, a CSV source, a feature view, an on-demand view, a feature service and
/// a model, sample data, and an entity table for `historical`.
///
/// DIR is created if needed and must be empty.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge init demo\n  verge -C demo apply\n  verge -C demo historical --entities entities.csv --service surgery_v1 -o training.csv"
)]
pub struct Init {
    /// The directory to create the repository in.
    #[arg(value_name = "DIR")]
    pub target: PathBuf,
}

impl Init {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// When DIR is not empty or a file cannot be written.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        ensure_empty(&self.target)?;
        for (name, text) in FILES {
            let path = self.target.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            atomic::replace(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let dir = self.target.display();
        ctx.note(&format!(
            "Created a feature repository in {dir}. Next:\n  \
             verge -C {dir} run            # the whole pipeline, memoized\n  \
             verge -C {dir} apply\n  \
             verge -C {dir} historical --entities entities.csv --service surgery_v1 -o training.csv"
        ));
        Ok(ExitStatus::Success)
    }
}

fn ensure_empty(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; `verge init` only writes into a new or empty directory",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}
