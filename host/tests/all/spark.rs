//! `--engine spark` against a real local Spark (issue 18 §2): pyspark pinned by
//! `scripts/spark-venv`, run by spark-submit in local mode on 127.0.0.1. The
//! data is the benchmark suite's seeded generator (`host/examples/bench_data`:
//! created-time ties, entity rows exactly on an event time and exactly a ttl
//! after one, unknown keys, ~5% nulls) plus a hand-made source of every other
//! type with complete ties (identical event and created times, where the last
//! row of the file wins) and null created times, read through two sources:
//! with a created column and without one, with a ttl and without. Spark's
//! training set must equal the native one on every row and cell, and its
//! snapshot must have the native snapshot's id. Failures (no Spark, a bad
//! master, a query error) must exit 2 and leave no output.
//!
//! Each Spark test starts one JVM per verge command. Without the venv the
//! tests say so loudly and pass, unless `VERGE_SPARK_REQUIRED=1` (set by
//! scripts/test and CI). `VERGE_SPARK_PYTHON` names the venv's python.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use verge_host::table_io::{read_table, write_table};
use verge_test_kit::rng::Rng;

use crate::support::bin;

const SEC: i64 = 1_000_000;
/// bench_data's first event time, 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200 * SEC;
/// Generator shape: small, so the test is about Spark's start, not its work.
const KEYS: i64 = 300;

/// The venv's python, or `None` (after saying why) when it is absent.
fn spark_python() -> Option<PathBuf> {
    let py = std::env::var_os("VERGE_SPARK_PYTHON").map(PathBuf::from);
    match py {
        Some(p) if p.is_file() && p.with_file_name("spark-submit").is_file() => Some(p),
        _ => {
            assert!(
                std::env::var("VERGE_SPARK_REQUIRED").as_deref() != Ok("1"),
                "VERGE_SPARK_REQUIRED=1 but VERGE_SPARK_PYTHON names no pyspark venv (run scripts/setup)"
            );
            eprintln!("!!! SKIPPED: no pyspark venv (VERGE_SPARK_PYTHON); run scripts/setup");
            None
        }
    }
}

/// The generator example, built beside this test binary (`cargo test` builds
/// examples; scripts/test builds it before this step).
fn generator() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).unwrap();
    let path = target.join("examples/bench_data");
    assert!(
        path.is_file(),
        "{} is missing: cargo build -p verge-host --example bench_data",
        path.display()
    );
    path
}

/// A source of every other type on the generator's keys: complete ties,
/// null created times, null values, in a deliberately unsorted file.
fn extras(path: &Path) {
    let mut rng = Rng::new(18);
    let n = 1_200;
    let mut key = Int64Builder::new();
    let mut event = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut count = Int32Builder::new();
    let mut flag = BooleanBuilder::new();
    let mut word = StringBuilder::new();
    let mut seen = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut raw = BinaryBuilder::new();
    let mut emb = ListBuilder::new(Float64Builder::new());
    for i in 0..n {
        let k = rng.below(KEYS as u64 / 3) as i64;
        // Few distinct times per key, so identical (event, created) pairs are common.
        let e = START + (rng.below(6) as i64) * 86_400 * SEC;
        key.append_value(k);
        event.append_value(e);
        match rng.below(4) {
            0 => created.append_null(),
            _ => created.append_value(e + (rng.below(2) as i64) * SEC),
        }
        let null = rng.below(10) == 0;
        if null {
            count.append_null()
        } else {
            count.append_value(i)
        }
        flag.append_option((!null).then_some(i % 3 == 0));
        word.append_option((!null).then(|| format!("row {i}")));
        seen.append_option((!null).then_some(e - i64::from(i) * SEC));
        raw.append_option((!null).then(|| i.to_le_bytes().to_vec()));
        if null {
            emb.append(false);
        } else {
            emb.values().append_value(f64::from(i) / 4.0);
            emb.values().append_value(-1.5);
            emb.append(true);
        }
    }
    let batch = RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("ts", Arc::new(event.finish()) as ArrayRef),
        ("made", Arc::new(created.finish()) as ArrayRef),
        ("count_raw", Arc::new(count.finish()) as ArrayRef),
        ("flag", Arc::new(flag.finish()) as ArrayRef),
        ("word", Arc::new(word.finish()) as ArrayRef),
        ("seen", Arc::new(seen.finish()) as ArrayRef),
        ("raw", Arc::new(raw.finish()) as ArrayRef),
        ("emb", Arc::new(emb.finish()) as ArrayRef),
    ])
    .unwrap();
    write_table(&batch, path).unwrap();
}

/// A repository over the generator's data and the extras file.
fn repository(python: &Path) -> (tempfile::TempDir, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(generator())
        .args([
            "--keys",
            &KEYS.to_string(),
            "--rows",
            "20",
            "--features",
            "6",
        ])
        .args(["--entity-rows", "3000", "--seed", "18", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    extras(&data.join("extras.parquet"));
    let mut toml = String::from(
        r#"project = "spark"

[[entity]]
name = "driver"
join_keys = ["driver_id"]
value_type = "int64"

[[source]]
name = "stats"
path = "data/stats.parquet"
timestamp_field = "event_timestamp"
created_timestamp_field = "created"

[[source]]
name = "extras"
path = "data/extras.parquet"
timestamp_field = "ts"
created_timestamp_field = "made"
field_mapping = { count_raw = "count" }

[[source]]
name = "extras_uncreated"
path = "data/extras.parquet"
timestamp_field = "ts"

[[feature_view]]
name = "stats"
entities = ["driver"]
source = "stats"
ttl = "2d"
online = true
fields = [
"#,
    );
    for i in 0..6 {
        let t = if i % 2 == 0 { "float32" } else { "float64" };
        toml.push_str(&format!("  {{ name = \"f{i}\", dtype = \"{t}\" }},\n"));
    }
    toml.push_str(
        r#"]

[[feature_view]]
name = "extras"
entities = ["driver"]
source = "extras"
ttl = "3d"
online = true
fields = [
  { name = "count", dtype = "int32" },
  { name = "flag", dtype = "bool" },
  { name = "word", dtype = "string" },
  { name = "seen", dtype = "unix_timestamp" },
  { name = "raw", dtype = "bytes" },
  { name = "emb", dtype = "array<float64>" },
]

[[feature_view]]
name = "latest"
entities = ["driver"]
source = "extras_uncreated"
ttl = "0"
online = true
fields = [{ name = "word", dtype = "string" }, { name = "count_raw", dtype = "int64" }]

[[on_demand_feature_view]]
name = "derived"
sources = ["stats"]
fields = [{ name = "f01", dtype = "float64", expr = "f0 + f1" }]

[offline]
timeout = "180s"
"#,
    );
    toml.push_str(&format!(
        "spark_submit = \"{}\"\n",
        python.with_file_name("spark-submit").display()
    ));
    std::fs::write(dir.path().join("verge.toml"), toml).unwrap();
    let mut features: Vec<String> = (0..6).map(|i| format!("stats:f{i}")).collect();
    for f in ["count", "flag", "word", "seen", "raw", "emb"] {
        features.push(format!("extras:{f}"));
    }
    features.extend([
        "latest:word".into(),
        "latest:count_raw".into(),
        "derived:f01".into(),
    ]);
    let list = features.join(",");
    (dir, features, list)
}

/// Runs verge in `repo` with the venv's python exported, insisting on `code`.
fn verge(repo: &Path, python: &Path, args: &[&str], code: i32) -> String {
    let started = Instant::now();
    let out = bin()
        .command()
        .current_dir(repo)
        .env("VERGE_SPARK_PYTHON", python)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "verge {args:?} (after {:?}):\n{stderr}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(200),
        "verge {args:?} took {:?}",
        started.elapsed()
    );
    stderr + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn spark_gives_the_native_training_set_and_snapshot() {
    let Some(python) = spark_python() else { return };
    let (dir, features, list) = repository(&python);
    let repo = dir.path();
    verge(repo, &python, &["-q", "apply"], 0);
    let common = [
        "historical",
        "--entities",
        "data/entities.parquet",
        "--features",
        &list,
        "--full-feature-names",
    ];
    let mut native_args = common.to_vec();
    native_args.extend(["-o", "native.parquet", "--engine", "native"]);
    verge(repo, &python, &native_args, 0);
    let mut spark_args = common.to_vec();
    spark_args.extend([
        "-o",
        "spark.parquet",
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
    ]);
    verge(repo, &python, &spark_args, 0);

    let native = read_table(&repo.join("native.parquet")).unwrap();
    let spark = read_table(&repo.join("spark.parquet")).unwrap();
    assert_eq!(native.schema(), spark.schema());
    assert_eq!(native.num_rows(), 3000);
    // Every cell, column by column, so a failure names the column.
    for (i, f) in native.schema().fields().iter().enumerate() {
        assert_eq!(native.column(i), spark.column(i), "column {}", f.name());
    }
    // The data holds what the test is about: matches, misses and nulls in every view.
    for f in &features {
        let name = f.replace(':', "__");
        let c = native.column_by_name(&name).unwrap();
        assert!(
            c.null_count() > 0 && c.null_count() < c.len(),
            "{name}: {} nulls",
            c.null_count()
        );
    }
    assert_eq!(
        std::fs::read(repo.join("native.parquet")).unwrap(),
        std::fs::read(repo.join("spark.parquet")).unwrap(),
        "the two training sets differ in bytes"
    );

    // Materialization: the same snapshot, so the same id. Two copies of the
    // repository, each materializing from scratch.
    let twin = tempfile::tempdir().unwrap();
    let copy = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", repo.display()))
        .arg(twin.path())
        .status()
        .unwrap();
    assert!(copy.success());
    let window = [
        "materialize",
        "2023-12-01T00:00:00Z",
        "2024-01-20T00:00:00Z",
    ];
    let mut native_m = window.to_vec();
    native_m.extend(["--engine", "native", "--json"]);
    let mut spark_m = window.to_vec();
    spark_m.extend(["--engine", "spark", "--spark-master", "local[2]", "--json"]);
    let a = verge(repo, &python, &native_m, 0);
    let b = verge(twin.path(), &python, &spark_m, 0);
    let id = |text: &str| -> String {
        let start = text.find('{').unwrap();
        let json: serde_json::Value = serde_json::from_str(&text[start..]).unwrap();
        json["snapshot_ids"][0].as_str().unwrap().to_owned()
    };
    assert_eq!(id(&a), id(&b), "native:\n{a}\nspark:\n{b}");
}

#[test]
fn spark_failures_exit_2_and_write_nothing() {
    let Some(python) = spark_python() else { return };
    let (dir, _, list) = repository(&python);
    let repo = dir.path();
    verge(repo, &python, &["-q", "apply"], 0);
    let historical = |extra: &[&str], code: i32, py: &Path| -> String {
        let mut args = vec![
            "historical",
            "--entities",
            "data/entities.parquet",
            "--features",
            &list,
            "-o",
            "out.parquet",
            "--engine",
            "spark",
            "--full-feature-names",
        ];
        args.extend_from_slice(extra);
        let text = verge(repo, py, &args, code);
        assert!(
            !repo.join("out.parquet").exists(),
            "a failed job left out.parquet"
        );
        text
    };

    // Spark not installed: spark-submit's venv is gone.
    let config = std::fs::read_to_string(repo.join("verge.toml")).unwrap();
    let no_submit: String = config
        .lines()
        .filter(|l| !l.starts_with("spark_submit"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(repo.join("verge.toml"), &no_submit).unwrap();
    let text = historical(&[], 2, Path::new("/nonexistent/bin/python"));
    assert!(text.contains("Spark is not installed"), "{text}");
    std::fs::write(repo.join("verge.toml"), &config).unwrap();

    // A master spark-submit refuses.
    let text = historical(&["--spark-master", "nowhere://x"], 2, &python);
    assert!(text.contains("the Spark job failed"), "{text}");

    // A setting read when the JVM starts reaches it: spark_conf goes on
    // spark-submit's command line, where a bad heap size stops the launch.
    std::fs::write(
        repo.join("verge.toml"),
        format!("{config}\n[offline.spark_conf]\n\"spark.driver.memory\" = \"lots\"\n"),
    )
    .unwrap();
    let text = historical(&["--spark-master", "local[1]"], 2, &python);
    assert!(
        text.contains("the Spark job failed") && text.contains("Invalid maximum heap size"),
        "{text}"
    );
    std::fs::write(repo.join("verge.toml"), &config).unwrap();

    // A query error: an empty event time in the source, named with its row.
    let stats = read_table(&repo.join("data/stats.parquet")).unwrap();
    let mut columns = stats.columns().to_vec();
    let at = stats.schema().index_of("event_timestamp").unwrap();
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let old = columns[at]
        .as_any()
        .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
        .unwrap();
    for (i, v) in old.iter().enumerate() {
        ts.append_option(if i == 4 { None } else { v });
    }
    columns[at] = Arc::new(ts.finish());
    let names: Vec<String> = stats
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let broken = RecordBatch::try_from_iter(names.into_iter().zip(columns)).unwrap();
    write_table(&broken, &repo.join("data/stats.parquet")).unwrap();
    let text = historical(&["--spark-master", "local[1]"], 2, &python);
    assert!(
        text.contains("column `event_timestamp`: the event timestamp is empty at row 5"),
        "{text}"
    );
    // And so is a materialization: no snapshot, no ref.
    verge(
        repo,
        &python,
        &[
            "materialize",
            "2024-01-01",
            "2024-02-01",
            "--engine",
            "spark",
        ],
        2,
    );
    assert!(!repo.join(".verge/refs/artifacts/snapshot/latest").exists());
}
