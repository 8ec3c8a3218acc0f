//! `--threads` (issue 18 §1): `historical` and `materialize` give the same bytes
//! with one thread and with several, on data full of the cases where an order
//! could leak through — equal event times broken by created time, complete ties
//! (the later row wins), null created times, unknown keys, entity rows exactly
//! on an event time and exactly a ttl after one.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use verge_host::table_io::write_table;
use verge_test_kit::rng::Rng;

use crate::support::{bin, run_expect};

const SEC: i64 = 1_000_000;
const DAY: i64 = 86_400 * SEC;
const BASE: i64 = 1_700_000_000 * SEC;
const KEYS: u64 = 3_000;

const CONFIG: &str = r#"project = "threads"

[[entity]]
name = "driver"
join_keys = ["driver_id"]
value_type = "int64"

[[source]]
name = "stats"
path = "stats.parquet"
timestamp_field = "event_timestamp"
created_timestamp_field = "created"

[[feature_view]]
name = "stats"
entities = ["driver"]
source = "stats"
ttl = "3d"
online = true
fields = [
  { name = "a", dtype = "float32" },
  { name = "b", dtype = "float64" },
  { name = "c", dtype = "int64" },
  { name = "d", dtype = "string" },
]
"#;

/// Source rows with few distinct times, so ties are everywhere.
fn source(rng: &mut Rng) -> RecordBatch {
    let n = 40_000;
    let mut key = Int64Builder::new();
    let mut ev = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut a, mut b, mut c, mut d) = (
        Float32Builder::new(),
        Float64Builder::new(),
        Int64Builder::new(),
        StringBuilder::new(),
    );
    for i in 0..n {
        key.append_value(rng.below(KEYS) as i64);
        ev.append_value(BASE + rng.below(12) as i64 * DAY / 2);
        match rng.below(10) {
            0 => created.append_null(),
            _ => created.append_value(BASE + rng.below(3) as i64 * SEC),
        }
        a.append_option((rng.below(20) != 0).then(|| rng.below(1000) as f32 / 8.0));
        b.append_option((rng.below(20) != 0).then(|| i as f64 / 3.0));
        c.append_value(i);
        d.append_option((rng.below(20) != 0).then(|| format!("row {i}")));
    }
    RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(ev.finish()) as ArrayRef),
        ("created", Arc::new(created.finish()) as ArrayRef),
        ("a", Arc::new(a.finish()) as ArrayRef),
        ("b", Arc::new(b.finish()) as ArrayRef),
        ("c", Arc::new(c.finish()) as ArrayRef),
        ("d", Arc::new(d.finish()) as ArrayRef),
    ])
    .unwrap()
}

/// Entity rows: known and unknown keys, on event times, a ttl after them, between.
fn entities(rng: &mut Rng) -> RecordBatch {
    let mut key = Int64Builder::new();
    let mut t = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for _ in 0..10_000 {
        key.append_value(rng.below(KEYS + KEYS / 10) as i64);
        let on = BASE + rng.below(12) as i64 * DAY / 2;
        t.append_value(match rng.below(3) {
            0 => on,
            1 => on + 3 * DAY,
            _ => on + rng.below(DAY as u64) as i64,
        });
    }
    RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(t.finish()) as ArrayRef),
    ])
    .unwrap()
}

/// A repository with the data, applied.
fn repo(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("verge.toml"), CONFIG).unwrap();
    let mut rng = Rng::new(18);
    write_table(&source(&mut rng), &dir.join("stats.parquet")).unwrap();
    write_table(&entities(&mut rng), &dir.join("entities.parquet")).unwrap();
    run_expect(dir, &["-q", "apply"], 0);
}

#[test]
fn historical_gives_the_same_bytes_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    repo(&dir);
    let out = |threads: &str| {
        let file = dir.join(format!("out-{threads}.parquet"));
        let mut args = vec!["-q", "historical", "--entities", "entities.parquet"];
        args.extend(["--features", "stats:a,stats:b,stats:c,stats:d"]);
        args.extend(["-o", file.to_str().unwrap()]);
        if threads != "default" {
            args.extend(["--threads", threads]);
        }
        run_expect(&dir, &args, 0);
        fs::read(&file).unwrap()
    };
    let one = out("1");
    assert!(one.len() > 10_000, "a real training set was written");
    for threads in ["2", "5", "default"] {
        assert!(out(threads) == one, "--threads {threads} wrote other bytes");
    }
}

#[test]
fn materialize_builds_the_same_snapshot_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<String> = ["1", "2", "5"]
        .iter()
        .map(|threads| {
            let dir = tmp.path().join(format!("repo-{threads}"));
            repo(&dir);
            let window = ["2023-11-01T00:00:00Z", "2023-11-30T00:00:00Z"];
            let mut args = vec!["-q", "materialize", window[0], window[1]];
            args.extend(["--threads", threads]);
            run_expect(&dir, &args, 0).stdout
        })
        .collect();
    assert!(
        !ids[0].trim().is_empty(),
        "materialize printed a snapshot id"
    );
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
}

#[test]
fn a_thread_count_of_zero_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let r = bin().run(tmp.path(), &["historical", "--threads", "0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--threads"), "{}", r.stderr);
}
