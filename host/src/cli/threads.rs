//! `--threads`: how many threads the offline jobs (`historical`, `materialize`)
//! read, join and build with. Their results do not depend on it: every parallel
//! step keeps the input order and reports the first failure in that order, so
//! one thread and many give the same bytes.

use anyhow::Context as _;
use clap::Args;

/// The `--threads` option.
#[derive(Debug, Clone, Args)]
pub struct Threads {
    /// Threads to read sources, join and build with (default: one per core; results are the same for any count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

impl Threads {
    /// Runs `job` on a pool of the chosen size, so the library's rayon work uses it.
    ///
    /// # Errors
    ///
    /// The pool's threads cannot be started.
    pub fn install<T: Send>(&self, job: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
        let pool = rayon::ThreadPoolBuilder::new()
            // 0 is rayon's own default: `RAYON_NUM_THREADS`, else one per core.
            .num_threads(self.threads.map_or(0, usize::from))
            .thread_name(|i| format!("verge-worker-{i}"))
            .build()
            .context("starting the worker threads")?;
        Ok(pool.install(job))
    }
}
