//! Which engine runs the offline jobs, and how to reach Spark: the
//! `[offline]` table of `verge.toml`, with the command line's `--engine` and
//! `--spark-master` over it. Like `[run]`, it is not part of the definitions,
//! so it never changes a registry id.
//!
//! ```toml
//! [offline]
//! engine = "spark"                 # or "native" (the default)
//! spark_master = "local[2]"        # a spark-submit master: local[N], spark://, yarn, k8s://
//! spark_submit = "/opt/spark/bin/spark-submit"   # optional, see below
//! staging = "/mnt/shared/verge"    # optional: a directory the driver and verge both see
//! timeout = "30m"                  # optional: give up (and kill the job) after this long
//! memory = "2GiB"                  # optional: the native engine's budget (out of core past it)
//! [offline.spark_conf]
//! "spark.sql.shuffle.partitions" = "64"
//! ```
//!
//! `spark-submit` is found as `spark_submit`, else `$VERGE_SPARK_SUBMIT`, else
//! the `spark-submit` beside `$VERGE_SPARK_PYTHON` (the venv `scripts/setup`
//! installs), else on `PATH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

/// The offline engine of `historical` and `materialize`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Engine {
    /// verge's own join, in this process, on all cores.
    #[default]
    Native,
    /// The same rules as SQL run by Spark.
    Spark(SparkConfig),
}

/// How to run Spark jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkConfig {
    /// The `--master` of spark-submit (`local[2]`, `spark://host:7077`, `yarn`).
    pub master: String,
    /// The `spark-submit` to run.
    pub submit: PathBuf,
    /// The Python the driver runs with (`PYSPARK_PYTHON`), when known.
    pub python: Option<PathBuf>,
    /// Extra Spark settings, passed as `--conf key=value`.
    pub conf: BTreeMap<String, String>,
    /// Where the job's inputs and outputs are staged (a fresh directory is made
    /// inside); the system's temporary directory when `None`.
    pub staging: Option<PathBuf>,
    /// Give up after this long; `None` waits for the job.
    pub timeout: Option<Duration>,
}

/// `[offline]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    engine: Option<String>,
    spark_master: Option<String>,
    spark_submit: Option<PathBuf>,
    staging: Option<PathBuf>,
    timeout: Option<String>,
    /// The memory budget, read by `crate::source::memory::Memory::resolve`
    /// (named here so that `deny_unknown_fields` accepts it).
    #[serde(default, rename = "memory")]
    _memory: Option<toml::Value>,
    #[serde(default)]
    spark_conf: BTreeMap<String, toml::Value>,
}

/// What the command line says about the engine (each `None` when not given).
#[derive(Debug, Clone, Default)]
pub struct EngineFlags {
    /// `--engine native|spark`.
    pub engine: Option<String>,
    /// `--spark-master URL`.
    pub master: Option<String>,
}

impl Engine {
    /// The engine for a repository whose declarations are `config`, with the
    /// command line's `flags` over its `[offline]` table. Relative paths in the
    /// table are taken from `repo_root`.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid `verge.toml`, an unknown engine or key, a bad
    /// timeout, a Spark Connect URL (not supported yet), or no `spark-submit`
    /// to be found (the message says where verge looked).
    pub fn resolve(config: &Path, repo_root: &Path, flags: &EngineFlags) -> Result<Engine> {
        // A repository may run from its registry alone; no file is no `[offline]`.
        let text = match std::fs::read_to_string(config) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", config.display()));
            }
        };
        Self::parse(&text, &config.display().to_string(), repo_root, flags)
    }

    /// [`Engine::resolve`] on the text of `verge.toml` (named `file` in messages).
    ///
    /// # Errors
    ///
    /// As [`Engine::resolve`].
    pub fn parse(text: &str, file: &str, repo_root: &Path, flags: &EngineFlags) -> Result<Engine> {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("{file} is not valid TOML"))?;
        let raw: RawOffline = match table.get("offline") {
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e| anyhow::anyhow!("{file}: [offline]: {}", e.to_string().trim_end()))?,
            None => RawOffline::default(),
        };
        let engine = flags.engine.clone().or(raw.engine.clone());
        match engine.as_deref().unwrap_or("native") {
            "native" => return Ok(Engine::Native),
            "spark" => {}
            other => bail!("unknown offline engine `{other}`; use `native` or `spark`"),
        }
        let master = flags
            .master
            .clone()
            .or(raw.spark_master.clone())
            .unwrap_or_else(|| "local[*]".into());
        if master.starts_with("sc://") {
            bail!(
                "spark master `{master}` is a Spark Connect URL, which verge does not support yet; give a spark-submit master (local[N], spark://host:7077, yarn, k8s://...)"
            );
        }
        let timeout = match &raw.timeout {
            None => None,
            Some(t) => Some(
                crate::repo::duration::parse(t)
                    .with_context(|| format!("{file}: [offline] timeout `{t}` is not a duration such as \"90s\" or \"30m\""))?
                    .as_micros(),
            )
            .map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0))),
        };
        let conf = raw
            .spark_conf
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        let (submit, python) = find_submit(raw.spark_submit.map(|p| repo_root.join(p)))?;
        Ok(Engine::Spark(SparkConfig {
            master,
            submit,
            python,
            conf,
            staging: raw.staging.map(|p| repo_root.join(p)),
            timeout,
        }))
    }
}

/// The `spark-submit` to run and the Python for the driver (see the module docs).
fn find_submit(configured: Option<PathBuf>) -> Result<(PathBuf, Option<PathBuf>)> {
    let python = std::env::var_os("VERGE_SPARK_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if let Some(p) = configured {
        return Ok((p, python));
    }
    if let Some(p) = std::env::var_os("VERGE_SPARK_SUBMIT").filter(|p| !p.is_empty()) {
        return Ok((PathBuf::from(p), python));
    }
    if let Some(py) = &python {
        let beside = py.with_file_name("spark-submit");
        if beside.is_file() {
            return Ok((beside, python));
        }
        bail!(
            "Spark is not installed where VERGE_SPARK_PYTHON points: {} does not exist (run scripts/setup, or set [offline] spark_submit)",
            beside.display()
        );
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("spark-submit"))
        .find(|p| p.is_file());
    match on_path {
        Some(p) => {
            let python = p
                .with_file_name("python")
                .is_file()
                .then(|| p.with_file_name("python"));
            Ok((p, python))
        }
        None => bail!(
            "Spark is not installed: no spark-submit found (set [offline] spark_submit, VERGE_SPARK_SUBMIT or VERGE_SPARK_PYTHON, or put spark-submit on PATH; scripts/setup installs pyspark into ~/.cache/verge)"
        ),
    }
}
