//! `--engine`, `--spark-master` and `--memory`: which engine runs `historical`
//! and `materialize`, and the native engine's memory budget (see
//! `docs/offline.md`). They override `[offline]` in verge.toml
//! ([`verge_host::spark::Engine::resolve`], [`Memory::resolve`]).

use clap::{Args, ValueEnum};
use verge_host::source::memory::Memory;
use verge_host::spark::{Engine, EngineFlags};

use super::Ctx;

/// An engine named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineName {
    /// verge's own join, in this process, on all cores.
    Native,
    /// The same rules as Spark SQL, run by spark-submit.
    Spark,
}

/// The engine options.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Offline engine (default: `[offline] engine` in verge.toml, else native).
    #[arg(long, value_enum)]
    pub engine: Option<EngineName>,
    /// Spark master for `--engine spark`, as spark-submit takes it (local[2], spark://host:7077, yarn); default `[offline] spark_master`, else local[*].
    #[arg(long, value_name = "MASTER")]
    pub spark_master: Option<String>,
    /// Memory budget of the native engine (2GiB, 512MiB, 4GB); past it, sources are
    /// joined out of core by key-hash partitions in a temporary directory, with the
    /// same results. Default `[offline] memory`, else no budget.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub memory: Option<Memory>,
}

/// `--memory`'s parser, for clap.
fn parse_memory(text: &str) -> Result<Memory, String> {
    Memory::parse(text).map_err(|e| e.to_string())
}

impl EngineArgs {
    /// The engine these options and the repository's verge.toml choose.
    ///
    /// # Errors
    ///
    /// As [`Engine::resolve`].
    pub fn resolve(&self, ctx: &Ctx) -> anyhow::Result<Engine> {
        let flags = EngineFlags {
            engine: self.engine.map(|e| match e {
                EngineName::Native => "native".to_owned(),
                EngineName::Spark => "spark".to_owned(),
            }),
            master: self.spark_master.clone(),
        };
        Engine::resolve(&ctx.config, &ctx.repo, &flags)
    }

    /// The memory budget: `--memory`, else `[offline] memory`, else none.
    ///
    /// # Errors
    ///
    /// As [`Memory::resolve`].
    pub fn memory(&self, ctx: &Ctx) -> anyhow::Result<Option<Memory>> {
        match self.memory {
            Some(m) => Ok(Some(m)),
            None => Memory::resolve(&ctx.config, None),
        }
    }
}
