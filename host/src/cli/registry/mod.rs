//! `verge registry log|show|diff`: read-only views of the registry's history.
//!
//! Every version ever applied stays readable; these commands take an id, a
//! unique prefix of one (4+ hex digits), or `HEAD`.

pub mod diff;
pub mod log;
pub mod show;

use clap::Subcommand;

use super::{Ctx, ExitStatus};

/// The registry subcommands.
#[derive(Debug, Subcommand)]
pub enum Registry {
    /// List registry versions, newest first.
    Log(log::Log),
    /// Print one version's definitions (as verge.toml, or JSON).
    Show(show::Show),
    /// List the objects that differ between two versions.
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
