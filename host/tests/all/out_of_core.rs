//! `--memory` (issue 18 §1): under a budget far too small for the sources,
//! `historical` and `materialize` work out of core by key-hash partitions and
//! give the in-memory bytes, on data full of the cases where an order could
//! leak through: ties broken by created time, complete ties (the later row
//! wins), null created times, unknown keys, entity rows exactly on an event
//! time and exactly a ttl after one, repeated entity rows, string keys from a
//! CSV source. The spill directory is gone afterwards, also after an error.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Float32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use verge_host::table_io::write_table;
use verge_test_kit::rng::Rng;

use crate::support::{Run, run_expect, verge};

const SEC: i64 = 1_000_000;
const DAY: i64 = 86_400 * SEC;
const BASE: i64 = 1_700_000_000 * SEC;
const KEYS: u64 = 2_000;
const CITIES: u64 = 300;
/// Far below what the sources take: hundreds of partitions.
const TINY: &str = "16KiB";

const CONFIG: &str = r#"project = "ooc"

[[entity]]
name = "driver"
join_keys = ["driver_id"]
value_type = "int64"

[[entity]]
name = "city"
join_keys = ["city"]
value_type = "string"

[[source]]
name = "stats"
path = "stats.parquet"
timestamp_field = "event_timestamp"
created_timestamp_field = "created"

[[source]]
name = "weather"
path = "weather.csv"
timestamp_field = "ts"

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

[[feature_view]]
name = "weather"
entities = ["city"]
source = "weather"
ttl = "1d"
online = true
fields = [{ name = "rain", dtype = "float64" }]
"#;

/// An event time among few, so ties are everywhere.
fn tied_time(rng: &mut Rng) -> i64 {
    BASE + rng.below(12) as i64 * DAY / 2
}

/// Tied time `k` (of [`tied_time`]'s twelve) as RFC 3339: `BASE` is
/// 2023-11-14T22:13:20Z, and they are twelve hours apart.
fn tied_text(k: u64) -> String {
    let day = 14 + k.div_ceil(2);
    let hour = if k.is_multiple_of(2) { 22 } else { 10 };
    format!("2023-11-{day}T{hour}:13:20Z")
}

/// Source rows of `stats` (int keys, created times, some null).
fn stats(rng: &mut Rng) -> RecordBatch {
    let mut key = Int64Builder::new();
    let mut ev = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let (mut a, mut b, mut c, mut d) = (
        Float32Builder::new(),
        Float64Builder::new(),
        Int64Builder::new(),
        StringBuilder::new(),
    );
    for i in 0..30_000 {
        key.append_value(rng.below(KEYS) as i64);
        ev.append_value(tied_time(rng));
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

/// `weather.csv`: string keys, no created time (complete ties are common),
/// some empty keys and values; `bad_last` spoils the last row's value.
fn weather(rng: &mut Rng, rows: usize, bad_last: bool) -> String {
    let mut text = String::from("city,ts,rain\n");
    for i in 0..rows {
        let city = match rng.below(50) {
            0 => String::new(),
            _ => format!("c{}", rng.below(CITIES)),
        };
        let t = tied_text(rng.below(12));
        let roll = rng.below(10);
        let rain = if bad_last && i + 1 == rows {
            "heavy".to_owned()
        } else if roll == 0 {
            String::new()
        } else {
            format!("{}", rng.below(100) as f64 / 4.0)
        };
        writeln!(text, "{city},{t},{rain}").unwrap();
    }
    text
}

/// Entity rows: known and unknown keys, on event times, a ttl after them,
/// between; every tenth row a repeat of the one before.
fn entities(rng: &mut Rng) -> RecordBatch {
    let mut key = Int64Builder::new();
    let mut city = StringBuilder::new();
    let mut t = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut last = (0i64, String::new(), 0i64);
    for i in 0..8_000 {
        if i % 10 == 9 {
            key.append_value(last.0);
            city.append_value(&last.1);
            t.append_value(last.2);
            continue;
        }
        let k = rng.below(KEYS + KEYS / 10) as i64;
        let c = format!("c{}", rng.below(CITIES + CITIES / 10));
        let on = tied_time(rng);
        let at = match rng.below(4) {
            0 => on,
            1 => on + 3 * DAY,
            2 => on + DAY,
            _ => on + rng.below(DAY as u64) as i64,
        };
        key.append_value(k);
        city.append_value(&c);
        t.append_value(at);
        last = (k, c, at);
    }
    RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("city", Arc::new(city.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(t.finish()) as ArrayRef),
    ])
    .unwrap()
}

/// A repository with the data, applied.
fn repo(dir: &Path, weather_rows: usize, bad_last: bool) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("verge.toml"), CONFIG).unwrap();
    let mut rng = Rng::new(1818);
    write_table(&stats(&mut rng), &dir.join("stats.parquet")).unwrap();
    fs::write(
        dir.join("weather.csv"),
        weather(&mut rng, weather_rows, bad_last),
    )
    .unwrap();
    write_table(&entities(&mut rng), &dir.join("entities.parquet")).unwrap();
    run_expect(dir, &["-q", "apply"], 0);
}

/// Runs verge in `dir` with its temporary files under `tmp`.
fn run_in(dir: &Path, tmp: &Path, args: &[&str]) -> Run {
    fs::create_dir_all(tmp).unwrap();
    verge()
        .env("TMPDIR", tmp)
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
        .into()
}

/// Nothing left in the temporary directory.
fn assert_empty(tmp: &Path) {
    let left: Vec<_> = fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

const FEATURES: &str = "stats:a,stats:b,stats:c,stats:d,weather:rain";

#[test]
fn historical_out_of_core_writes_the_in_memory_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let spill = tmp.path().join("spill");
    repo(&dir, 20_000, false);
    let out = |name: &str, memory: Option<&str>| {
        let file = dir.join(name);
        let mut args = vec!["-q", "historical", "--entities", "entities.parquet"];
        args.extend(["--features", FEATURES, "-o", file.to_str().unwrap()]);
        if let Some(m) = memory {
            args.extend(["--memory", m]);
        }
        let r = run_in(&dir, &spill, &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_empty(&spill);
        fs::read(&file).unwrap()
    };
    let whole = out("whole.parquet", None);
    assert!(whole.len() > 10_000, "a real training set was written");
    assert!(
        out("tiny.parquet", Some(TINY)) == whole,
        "--memory {TINY} wrote other bytes"
    );
    assert!(
        out("ample.parquet", Some("4GiB")) == whole,
        "an ample budget wrote other bytes"
    );
    let csv = out("whole.csv", None);
    assert!(out("tiny.csv", Some("64KiB")) == csv, "CSV output differs");

    // The same budget from verge.toml.
    let mut config = CONFIG.to_owned();
    config.push_str("\n[offline]\nmemory = \"16KiB\"\n");
    fs::write(dir.join("verge.toml"), config).unwrap();
    assert!(
        out("config.parquet", None) == whole,
        "[offline] memory wrote other bytes"
    );
}

#[test]
fn materialize_out_of_core_builds_the_in_memory_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let spill = tmp.path().join("spill");
    let ids: Vec<String> = [None, Some(TINY), Some("40KiB")]
        .iter()
        .enumerate()
        .map(|(i, memory)| {
            let dir = tmp.path().join(format!("repo-{i}"));
            repo(&dir, 20_000, false);
            let mut printed = String::new();
            // A first window, then a second one merged into it.
            for window in [
                ["2023-11-14T00:00:00Z", "2023-11-17T00:00:00Z"],
                ["2023-11-16T00:00:00Z", "2023-11-30T00:00:00Z"],
            ] {
                let mut args = vec!["-q", "materialize", window[0], window[1]];
                if let Some(m) = memory {
                    args.extend(["--memory", m]);
                }
                let r = run_in(&dir, &spill, &args);
                assert_eq!(r.code, 0, "{}", r.stderr);
                printed.push_str(&r.stdout);
            }
            assert_empty(&spill);
            printed
        })
        .collect();
    assert_eq!(ids[0].lines().count(), 2, "two snapshot ids: {}", ids[0]);
    assert_eq!(ids[1], ids[0], "--memory {TINY} built another snapshot");
    assert_eq!(ids[2], ids[0], "--memory 40KiB built another snapshot");
}

#[test]
fn an_error_mid_source_leaves_no_spill_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let spill = tmp.path().join("spill");
    // Past one read batch (65,536 rows), so partitions exist when it fails.
    let rows = 70_000;
    repo(&dir, rows, true);
    let file = dir.join("out.parquet");
    let args = [
        "historical",
        "--entities",
        "entities.parquet",
        "--features",
        FEATURES,
        "-o",
        file.to_str().unwrap(),
        "--memory",
        TINY,
    ];
    let r = run_in(&dir, &spill, &args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("row {rows}, column `rain`")),
        "{}",
        r.stderr
    );
    assert!(!file.exists(), "no output after a failed join");
    assert_empty(&spill);
    let r = run_in(
        &dir,
        &spill,
        &["materialize", "2023-11-01", "2023-12-01", "--memory", TINY],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("column `rain`"), "{}", r.stderr);
    assert_empty(&spill);
}

#[test]
fn a_bad_memory_size_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    repo(&dir, 100, false);
    let historical = [
        "historical",
        "--entities",
        "entities.parquet",
        "--features",
        FEATURES,
        "-o",
        "out.parquet",
    ];
    for args in [
        &historical[..],
        &["materialize", "2023-11-01", "2023-12-01"][..],
    ] {
        let mut bad = args.to_vec();
        bad.extend(["--memory", "2XB"]);
        let r = run_expect(&dir, &bad, 2);
        assert!(
            r.stderr.contains("--memory") && r.stderr.contains("not a memory size"),
            "{}",
            r.stderr
        );

        let mut config = CONFIG.to_owned();
        config.push_str("\n[offline]\nmemory = \"lots\"\n");
        fs::write(dir.join("verge.toml"), config).unwrap();
        let r = run_expect(&dir, args, 2);
        assert!(
            r.stderr.contains("[offline] memory") && r.stderr.contains("lots"),
            "{}",
            r.stderr
        );
        fs::write(dir.join("verge.toml"), CONFIG).unwrap();
    }
}
