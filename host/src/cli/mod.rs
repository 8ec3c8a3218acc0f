//! The `verge` subcommands: one module and one clap type per command.
//!
//! Each command is a clap derive struct whose doc comments are its `--help`, with
//! a `run(self, &Ctx) -> anyhow::Result<ExitStatus>` method. Output meant for
//! scripts goes to stdout (`--json` where a script would parse it); chatter for
//! humans goes to stderr and `--quiet` silences it.

pub mod apply;
pub mod build;
pub mod engine;
pub mod get_online_features;
pub mod historical;
pub mod init;
pub mod inspect;
pub mod keygen;
pub mod materialize;
pub mod output;
pub mod plan;
pub mod predict;
pub mod publish;
pub mod push;
pub mod registry;
pub mod run;
pub mod serve;
pub mod threads;
pub mod train;
pub mod verify;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use verge_core::definition::Definitions;

use verge_host::resolve::Repository;
use verge_host::store::Store;

const EXAMPLES: &str = "\
Examples:
  verge init demo                      # a small working repository with sample data
  verge -C demo plan                   # what `apply` would change
  verge -C demo apply -m \"first\"       # record the definitions as a new registry version
  verge -C demo registry log           # every version, newest first
  verge -C demo historical --entities entities.csv --service surgery_v1 -o training.csv";

/// verge: a feature store that serves at the edge.
///
/// Declare entities, sources, feature views and models in `verge.toml`; `apply`
/// records them as an immutable, content-addressed registry version; `historical`
/// builds point-in-time correct training sets from them.
///
/// Exit codes: 0 ok, 1 a check failed (`plan --check` found changes), 2 error.
#[derive(Debug, Parser)]
#[command(name = "verge", version, after_help = EXAMPLES)]
pub struct Cli {
    /// Run as if verge was started in DIR, the feature repository (like `git -C`).
    #[arg(short = 'C', value_name = "DIR", global = true, default_value = ".")]
    pub dir: PathBuf,

    /// The declarations file, relative to DIR.
    #[arg(long, value_name = "FILE", global = true, default_value = verge_host::repo::CONFIG_FILE)]
    pub config: PathBuf,

    /// Print only results (ids, data); no progress or summaries on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands: each variant runs the type it holds (see its docs).
// Variants carry no doc comments on purpose: clap would use them as the
// command's help and hide the richer help (with examples) on each type.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Init),
    Plan(plan::Plan),
    Apply(apply::Apply),
    #[command(subcommand)]
    Registry(registry::Registry),
    Historical(historical::Historical),
    Materialize(materialize::Materialize),
    MaterializeIncremental(materialize::MaterializeIncremental),
    GetOnlineFeatures(get_online_features::GetOnlineFeatures),
    Predict(predict::Predict),
    Build(build::Build),
    Inspect(inspect::Inspect),
    Train(train::Train),
    Run(run::Run),
    Verify(verify::Verify),
    Serve(serve::Serve),
    Publish(publish::Publish),
    Push(push::Push),
    Keygen(keygen::Keygen),
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything went as asked (exit code 0).
    Success,
    /// A check ran and failed, e.g. `plan --check` found changes (exit code 1).
    CheckFailed,
}

impl ExitStatus {
    /// The process exit code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::CheckFailed => 1,
        }
    }
}

/// The process exit code of any error (usage errors included, as clap does).
pub const ERROR_CODE: u8 = 2;

/// What every command gets: where the repository is and how chatty to be.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The feature repository's root (the current directory after `-C`).
    pub repo: PathBuf,
    /// The declarations file.
    pub config: PathBuf,
    /// No summaries or progress on stderr.
    pub quiet: bool,
}

impl Ctx {
    /// The repository, for the library's functions.
    #[must_use]
    pub fn repository(&self) -> Repository {
        Repository::new(&self.repo, &self.config)
    }

    /// The repository's registry.
    #[must_use]
    pub fn store(&self) -> Store {
        Store::open(&self.repo)
    }

    /// Parses and validates the declarations file and checks it against the
    /// sources' schemas (untyped join keys get their column's type).
    ///
    /// # Errors
    ///
    /// As [`verge_host::repo::load_checked`].
    pub fn definitions(&self) -> anyhow::Result<Definitions> {
        verge_host::repo::load_checked(&self.config, &self.repo)
    }

    /// Prints each warning as `warning: ...` on stderr, even with `--quiet`:
    /// a warning says the output is not what the input seems to promise.
    pub fn warn(&self, warnings: &verge_host::warnings::Warnings) {
        use std::io::Write as _;
        let mut stderr = std::io::stderr().lock();
        for w in warnings {
            let _ = writeln!(stderr, "warning: {w}");
        }
    }

    /// Prints a line for humans on stderr unless `--quiet`. A closed stderr is ignored.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }
}

impl Cli {
    /// Runs the parsed command.
    ///
    /// `-C DIR` changes the process's directory first, so every relative path
    /// (the config, `--entities`, `-o`, source paths) means the same as it would
    /// typed inside DIR.
    ///
    /// # Errors
    ///
    /// Whatever the command reports; the caller prints it and exits with [`ERROR_CODE`].
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        if self.dir != std::path::Path::new(".") {
            std::env::set_current_dir(&self.dir).with_context(|| {
                format!("cannot change to directory {} (-C)", self.dir.display())
            })?;
        }
        let ctx = Ctx {
            repo: PathBuf::from("."),
            config: self.config,
            quiet: self.quiet,
        };
        match self.command {
            Command::Init(c) => c.run(&ctx),
            Command::Plan(c) => c.run(&ctx),
            Command::Apply(c) => c.run(&ctx),
            Command::Registry(c) => c.run(&ctx),
            Command::Historical(c) => c.run(&ctx),
            Command::Materialize(c) => c.run(&ctx),
            Command::MaterializeIncremental(c) => c.run(&ctx),
            Command::GetOnlineFeatures(c) => c.run(&ctx),
            Command::Predict(c) => c.run(&ctx),
            Command::Build(c) => c.run(&ctx),
            Command::Inspect(c) => c.run(&ctx),
            Command::Train(c) => c.run(&ctx),
            Command::Run(c) => c.run(&ctx),
            Command::Verify(c) => c.run(&ctx),
            Command::Serve(c) => c.run(&ctx),
            Command::Publish(c) => c.run(&ctx),
            Command::Push(c) => c.run(&ctx),
            Command::Keygen(c) => c.run(&ctx),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
