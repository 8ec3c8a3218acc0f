//! The seeded data generator of the verge-vs-Feast benchmark (`bench/run`).
//!
//! Writes the same data as CSV and as Parquet (one Arrow batch, written twice by
//! [`verge_host::table_io::write_table`], so the two files cannot disagree):
//!
//! | file | rows | columns |
//! |---|---|---|
//! | `stats.{csv,parquet}` | N × R, shuffled | `driver_id` int64, `event_timestamp`, `created`, `f0..f{F-1}` (even: float32, odd: float64; ~5% null) |
//! | `entities.{csv,parquet}` | M | `request_id`, `driver_id`, `event_timestamp`, `label` |
//! | `meta.json` | | sizes, seed, time range, ttl, and how many entity rows of each kind |
//!
//! Event times are whole seconds spread over 30 days from 2024-01-01. About 2% of
//! the rows repeat the event time of another row of the same key with a different
//! created time, so the created timestamp has to break the tie; complete ties
//! (same event and created time) are never generated, because their winner is
//! left undefined by both systems. Entity rows are of four kinds: a key's exact
//! event time (the inclusive upper bound), exactly `TTL` after one (the inclusive
//! lower bound), a key the source has never seen, and a random time in the
//! window (±1 day).
//!
//! Why a generator of its own instead of `verge_test_kit::bench_data`: the comparison
//! needs float32 columns, created-time ties, request ids to match rows across two
//! systems, and files on disk in both formats.
//!
//! ```text
//! cargo run --release -p verge-host --example bench_data -- --size small --out /tmp/bench-data
//! cargo run --release -p verge-host --example bench_data -- --keys 100000 --rows 10 --features 20 --entity-rows 100000 --out DIR
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use arrow_array::builder::{
    Float32Builder, Float64Builder, Int64Builder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use serde_json::json;

/// 2024-01-01T00:00:00Z in seconds.
const START_SECS: i64 = 1_704_067_200;
/// The event times span 30 days.
const SPAN_SECS: i64 = 30 * 86_400;
/// The feature view's ttl (`2d`): short enough that many entity rows have no
/// candidate in their window, which is where implementations tend to differ.
const TTL_SECS: i64 = 2 * 86_400;
/// Share of rows (in 1/1000) that repeat another row's event time.
const TIE_PER_MILLE: u64 = 20;
/// Share of cells (in 1/1000) that are null.
const NULL_PER_MILLE: u64 = 50;

/// xorshift64*: tiny, seeded and stable across platforms and releases, which is
/// all a benchmark's data needs (and what makes a run reproducible).
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Scramble the seed so small seeds do not start in a low-entropy state.
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to generate.
#[derive(Debug, Clone)]
struct Shape {
    keys: u64,
    rows_per_key: u64,
    features: usize,
    entity_rows: u64,
    seed: u64,
}

impl Shape {
    fn named(size: &str) -> anyhow::Result<Shape> {
        Ok(match size {
            "small" => Shape {
                keys: 1_000,
                rows_per_key: 30,
                features: 20,
                entity_rows: 10_000,
                seed: 7,
            },
            "large" => Shape {
                keys: 100_000,
                rows_per_key: 10,
                features: 20,
                entity_rows: 100_000,
                seed: 7,
            },
            other => bail!("unknown --size `{other}`; use small or large"),
        })
    }
}

/// One generated feature row before shuffling.
#[derive(Debug, Clone, Copy)]
struct Row {
    key: i64,
    event: i64,
    created: i64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_data: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> &'static str {
    "usage: bench_data [--size small|large] [--keys N --rows R --features F --entity-rows M] [--seed S] --out DIR"
}

fn run() -> anyhow::Result<()> {
    let mut shape = Shape::named("small")?;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value; {}", usage()))
        };
        let number = |v: String| -> anyhow::Result<u64> {
            v.parse()
                .with_context(|| format!("`{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--size" => {
                let seed = shape.seed;
                shape = Shape::named(&value()?)?;
                shape.seed = seed;
            }
            "--keys" => shape.keys = number(value()?)?,
            "--rows" => shape.rows_per_key = number(value()?)?,
            "--features" => shape.features = usize::try_from(number(value()?)?)?,
            "--entity-rows" => shape.entity_rows = number(value()?)?,
            "--seed" => shape.seed = number(value()?)?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => bail!("unknown argument `{other}`; {}", usage()),
        }
    }
    let out = out.with_context(|| format!("--out DIR is required; {}", usage()))?;
    if shape.keys == 0 || shape.rows_per_key == 0 || shape.features == 0 {
        bail!("--keys, --rows and --features must be at least 1");
    }
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;

    let mut rng = Rng::new(shape.seed);
    let rows = feature_rows(&shape, &mut rng);
    let source = source_batch(&shape, &rows, &mut rng)?;
    let (entities, kinds) = entity_batch(&shape, &rows, &mut rng)?;
    for (batch, name) in [(&source, "stats"), (&entities, "entities")] {
        for ext in ["csv", "parquet"] {
            let path = out.join(format!("{name}.{ext}"));
            verge_host::table_io::write_table(batch, &path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let ties = count_ties(&rows);
    let meta = json!({
        "keys": shape.keys,
        "rows_per_key": shape.rows_per_key,
        "features": shape.features,
        "float32_features": (0..shape.features).filter(|i| i % 2 == 0).count(),
        "source_rows": rows.len(),
        "entity_rows": shape.entity_rows,
        "seed": shape.seed,
        "start": START_SECS,
        "end": START_SECS + SPAN_SECS,
        "ttl_seconds": TTL_SECS,
        "event_time_ties": ties,
        "entity_kinds": {
            "on_event_time": kinds[0],
            "ttl_after_event_time": kinds[1],
            "unknown_key": kinds[2],
            "random_time": kinds[3],
        },
    });
    let meta_path = out.join("meta.json");
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("writing {}", meta_path.display()))?;
    println!("{meta}");
    Ok(())
}

/// Every key's rows, then shuffled (Fisher–Yates) so no reader can rely on order.
fn feature_rows(shape: &Shape, rng: &mut Rng) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for key in 0..shape.keys {
        let key = key as i64;
        let first = rows.len();
        for _ in 0..shape.rows_per_key {
            let previous = (rows.len() > first).then(|| rows[rows.len() - 1]);
            let row = match previous {
                Some(p) if rng.below(1000) < TIE_PER_MILLE => {
                    // Same event time, a different created time: before or after
                    // the other row's, so order in the file cannot decide.
                    let shift = 1 + rng.below(600) as i64;
                    let created = if rng.below(2) == 0 {
                        p.created + shift
                    } else {
                        p.created - shift
                    };
                    Row {
                        key,
                        event: p.event,
                        created,
                    }
                }
                _ => {
                    let event = START_SECS + rng.below(SPAN_SECS as u64) as i64;
                    Row {
                        key,
                        event,
                        created: event + 1 + rng.below(3_600) as i64,
                    }
                }
            };
            rows.push(row);
        }
    }
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
    rows
}

/// Rows sharing their key and event time with another row.
fn count_ties(rows: &[Row]) -> usize {
    let mut pairs: Vec<(i64, i64)> = rows.iter().map(|r| (r.key, r.event)).collect();
    pairs.sort_unstable();
    pairs.windows(2).filter(|w| w[0] == w[1]).count()
}

fn micros(secs: i64) -> i64 {
    secs * 1_000_000
}

fn source_batch(shape: &Shape, rows: &[Row], rng: &mut Rng) -> anyhow::Result<RecordBatch> {
    let n = rows.len();
    let mut key = Int64Builder::with_capacity(n);
    let mut event = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    for r in rows {
        key.append_value(r.key);
        event.append_value(micros(r.event));
        created.append_value(micros(r.created));
    }
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("driver_id".into(), Arc::new(key.finish())),
        ("event_timestamp".into(), Arc::new(event.finish())),
        ("created".into(), Arc::new(created.finish())),
    ];
    for i in 0..shape.features {
        let scale = (i + 1) as f64;
        let array: ArrayRef = if i % 2 == 0 {
            let mut b = Float32Builder::with_capacity(n);
            for _ in 0..n {
                if rng.below(1000) < NULL_PER_MILLE {
                    b.append_null();
                } else {
                    b.append_value((rng.unit() * scale) as f32);
                }
            }
            Arc::new(b.finish())
        } else {
            let mut b = Float64Builder::with_capacity(n);
            for _ in 0..n {
                if rng.below(1000) < NULL_PER_MILLE {
                    b.append_null();
                } else {
                    b.append_value(rng.unit() * scale);
                }
            }
            Arc::new(b.finish())
        };
        columns.push((format!("f{i}"), array));
    }
    RecordBatch::try_from_iter(columns).context("assembling the source batch")
}

/// The entity table and how many rows of each kind it holds (on an event time,
/// a ttl after one, unknown key, random time).
fn entity_batch(
    shape: &Shape,
    rows: &[Row],
    rng: &mut Rng,
) -> anyhow::Result<(RecordBatch, [u64; 4])> {
    let n = usize::try_from(shape.entity_rows)?;
    let mut request = Int64Builder::with_capacity(n);
    let mut key = Int64Builder::with_capacity(n);
    let mut time = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut label = Int64Builder::with_capacity(n);
    let mut kinds = [0u64; 4];
    for id in 0..n {
        let roll = rng.below(100);
        let (k, t, kind) = if roll < 20 {
            let r = rows[rng.below(rows.len() as u64) as usize];
            (r.key, r.event, 0)
        } else if roll < 35 {
            let r = rows[rng.below(rows.len() as u64) as usize];
            (r.key, r.event + TTL_SECS, 1)
        } else if roll < 45 {
            let k = shape.keys + rng.below(shape.keys.max(10));
            (k as i64, START_SECS + rng.below(SPAN_SECS as u64) as i64, 2)
        } else {
            (
                rng.below(shape.keys) as i64,
                START_SECS - 86_400 + rng.below((SPAN_SECS + 2 * 86_400) as u64) as i64,
                3,
            )
        };
        kinds[kind] += 1;
        request.append_value(id as i64);
        key.append_value(k);
        time.append_value(micros(t));
        label.append_value(i64::from(rng.below(100) < 40 + (k % 3) as u64 * 10));
    }
    let batch = RecordBatch::try_from_iter([
        ("request_id", Arc::new(request.finish()) as ArrayRef),
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(time.finish()) as ArrayRef),
        ("label", Arc::new(label.finish()) as ArrayRef),
    ])
    .context("assembling the entity batch")?;
    Ok((batch, kinds))
}
