//! Running one Spark job: the driver script ([`DRIVER`]) and a JSON job
//! description written into the staging directory, `spark-submit` started
//! on them, waited for (under the configured timeout) and its failure turned
//! into one clear error. Settings that the generated SQL's meaning depends on
//! (the session time zone, how timestamps are written) are forced here, over
//! whatever `spark_conf` says.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use super::config::SparkConfig;

/// The driver: runs each query and writes its result as Parquet, nothing more.
pub(crate) const DRIVER: &str = include_str!("driver.py");

/// Settings the SQL relies on: times are compared as UTC instants, and
/// timestamps come back as Parquet's TIMESTAMP_MICROS, which verge reads.
const FORCED: [(&str, &str); 2] = [
    ("spark.sql.session.timeZone", "UTC"),
    ("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"),
];

/// Every setting of the job: local mode's defaults, then `spark_conf` over
/// them, then [`FORCED`] over both.
fn settings(config: &SparkConfig, local: bool) -> BTreeMap<String, String> {
    let mut conf = BTreeMap::new();
    if local {
        // A local job serves no one: no web UI, and few shuffle partitions
        // (the default 200 costs more than the work on small data).
        conf.insert("spark.ui.enabled".to_owned(), "false".to_owned());
        conf.insert("spark.sql.shuffle.partitions".to_owned(), "8".to_owned());
    }
    conf.extend(config.conf.clone());
    conf.extend(FORCED.map(|(k, v)| (k.to_owned(), v.to_owned())));
    conf
}

/// One query and the directory its result is written to.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// The SQL.
    pub sql: String,
    /// The output directory (must not exist yet).
    pub out: PathBuf,
}

/// Runs `queries` as one Spark application (one JVM start), staging the
/// driver and the job description in `staging`.
///
/// # Errors
///
/// spark-submit cannot be started, exits non-zero (the driver's own
/// `verge-spark-error:` line, else the tail of its output, is in the message),
/// or runs past the timeout (it is then killed).
pub(crate) fn run(
    config: &SparkConfig,
    staging: &Path,
    app: &str,
    queries: &[Query],
) -> Result<()> {
    let driver = staging.join("verge_driver.py");
    std::fs::write(&driver, DRIVER)
        .with_context(|| format!("cannot write {}", driver.display()))?;
    let local = config.master.starts_with("local");
    let conf = settings(config, local);
    let job = serde_json::json!({
        "app": app,
        "queries": queries.iter().map(|q| serde_json::json!({
            "sql": q.sql,
            "out": q.out.display().to_string(),
        })).collect::<Vec<_>>(),
    });
    let job_path = staging.join("job.json");
    std::fs::write(&job_path, serde_json::to_vec_pretty(&job)?)
        .with_context(|| format!("cannot write {}", job_path.display()))?;

    let log_path = staging.join("spark-submit.log");
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut command = Command::new(&config.submit);
    command.arg("--master").arg(&config.master);
    for (key, value) in &conf {
        // On spark-submit's command line, not the session builder, so that
        // settings read when the JVM starts (spark.driver.memory) apply too.
        command.arg("--conf").arg(format!("{key}={value}"));
    }
    command
        .arg(&driver)
        .arg(&job_path)
        .current_dir(staging)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some(py) = &config.python {
        command
            .env("PYSPARK_PYTHON", py)
            .env("PYSPARK_DRIVER_PYTHON", py);
    }
    if local && std::env::var_os("SPARK_LOCAL_IP").is_none() {
        // Local mode talks only to itself; don't let it bind a public address.
        command.env("SPARK_LOCAL_IP", "127.0.0.1");
    }
    let shown = format!("{} --master {}", config.submit.display(), config.master);
    let mut child = command.spawn().with_context(|| {
        format!("cannot start Spark ({shown}); is Spark installed? (scripts/setup installs pyspark; see [offline] spark_submit)")
    })?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for spark-submit")? {
            break status;
        }
        if config.timeout.is_some_and(|t| started.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the Spark job ({shown}) ran past the timeout of {:?} and was stopped; raise [offline] timeout",
                config.timeout.unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let reason = match text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("verge-spark-error: "))
    {
        Some(line) => line.to_owned(),
        None => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines
                .get(lines.len().saturating_sub(15)..)
                .unwrap_or_default();
            tail.join("\n")
        }
    };
    bail!("the Spark job failed ({shown}, {status}): {reason}")
}
