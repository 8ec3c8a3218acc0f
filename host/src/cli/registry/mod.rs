//! `verge registry log|show|diff`: read-only views of the registry's history.
//!
//! Every version ever applied stays readable; these commands take an id, a
//! unique prefix of one (4+ hex digits), or `HEAD`.

pub mod diff;
pub mod log;
pub mod show;

use clap::Subcommand;

use super::{Ctx, ExitStatus};

/// Inspect registry versions: log, show, diff.
///
/// Every version ever applied stays readable. Versions are named by their id, a
/// unique prefix of it (4+ hex digits), or HEAD.
// Variants carry no doc comments so each command's own help (with examples) shows.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Registry {
    Log(log::Log),
    Show(show::Show),
    Diff(diff::Diff),
}

impl Registry {
    /// Runs the subcommand.
    ///
    /// # Errors
    ///
    /// When the registry cannot be read or an id does not resolve.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        match self {
            Registry::Log(c) => c.run(ctx),
            Registry::Show(c) => c.run(ctx),
            Registry::Diff(c) => c.run(ctx),
        }
    }
}
