//! `--engine` and `--spark-master`: which engine runs `historical` and
//! `materialize` (see `docs/offline.md`). They override `[offline]` in
//! verge.toml ([`verge_host::spark::Engine::resolve`]).

use clap::{Args, ValueEnum};
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
}
