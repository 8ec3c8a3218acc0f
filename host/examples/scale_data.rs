//! The seeded data of the scale benchmark (`bench/scale/run`): sources too
//! large to build in memory, written a chunk at a time.
//!
//! | file | rows | columns |
//! |---|---|---|
//! | `stats.parquet` | `--rows` | `driver_id` int64 (`--keys` distinct), `ts`, `created` (ts + up to 1 h), `f0..f{F-1}` float64 (~5% null) |
//! | `entities.parquet` | `--entity-rows` | `driver_id` (~10% unknown), `event_timestamp`, `label` |
//! | `verge.toml` | | one entity, the source, an online view `stats` with a 30-day ttl |
//!
//! Event times are whole seconds over a year from 2020-09-13, so equal event
//! times of one key happen and the created time breaks them.
//!
//! ```text
//! cargo run --release -p verge-host --example scale_data -- --rows 10000000 --keys 1000000 --features 8 --entity-rows 1000000 --out DIR
//! ```
#![forbid(unsafe_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use arrow_array::builder::{Float64Builder, Int64Builder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// 2020-09-13T12:26:40Z in µs.
const START: i64 = 1_600_000_000_000_000;
/// A year, in seconds.
const SPAN_SECS: u64 = 365 * 86_400;
/// Rows generated and written at a time.
const CHUNK: u64 = 1 << 20;

/// xorshift64*: seeded and stable, all a benchmark's data needs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

struct Args {
    rows: u64,
    keys: u64,
    features: usize,
    entity_rows: u64,
    out: PathBuf,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = Args {
        rows: 10_000_000,
        keys: 1_000_000,
        features: 8,
        entity_rows: 1_000_000,
        out: PathBuf::from("scale-data"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag} `{value}`"))
        };
        match flag.as_str() {
            "--rows" => args.rows = number()?,
            "--keys" => args.keys = number()?,
            "--features" => args.features = usize::try_from(number()?)?,
            "--entity-rows" => args.entity_rows = number()?,
            "--out" => args.out = PathBuf::from(&value),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn writer(path: &Path, batch: &RecordBatch) -> anyhow::Result<ArrowWriter<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    Ok(ArrowWriter::try_new(file, batch.schema(), Some(props))?)
}

fn source_chunk(a: &Args, rows: u64, rng: &mut Rng) -> anyhow::Result<RecordBatch> {
    let n = rows as usize;
    let mut key = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut values: Vec<Float64Builder> = (0..a.features)
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    for _ in 0..n {
        key.append_value(rng.below(a.keys) as i64);
        let t = START + rng.below(SPAN_SECS) as i64 * 1_000_000;
        ts.append_value(t);
        created.append_value(t + rng.below(3_600) as i64 * 1_000_000);
        for v in &mut values {
            let r = rng.next_u64();
            if r.is_multiple_of(20) {
                v.append_null();
            } else {
                v.append_value((r >> 11) as f64 / (1u64 << 53) as f64);
            }
        }
    }
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("driver_id".into(), Arc::new(key.finish())),
        ("ts".into(), Arc::new(ts.finish())),
        ("created".into(), Arc::new(created.finish())),
    ];
    for (i, mut v) in values.into_iter().enumerate() {
        columns.push((format!("f{i}"), Arc::new(v.finish())));
    }
    Ok(RecordBatch::try_from_iter(columns)?)
}

fn entity_chunk(a: &Args, rows: u64, rng: &mut Rng) -> anyhow::Result<RecordBatch> {
    let n = rows as usize;
    let mut key = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut label = Int64Builder::with_capacity(n);
    for _ in 0..n {
        key.append_value(rng.below(a.keys + a.keys / 10) as i64);
        ts.append_value(START + rng.below(SPAN_SECS) as i64 * 1_000_000);
        label.append_value(rng.below(2) as i64);
    }
    Ok(RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(ts.finish()) as ArrayRef),
        ("label", Arc::new(label.finish()) as ArrayRef),
    ])?)
}

/// Writes `total` rows made by `make` in chunks to `path`.
fn write(
    path: &Path,
    total: u64,
    rng: &mut Rng,
    mut make: impl FnMut(u64, &mut Rng) -> anyhow::Result<RecordBatch>,
) -> anyhow::Result<()> {
    let mut out: Option<ArrowWriter<File>> = None;
    let mut done = 0;
    while done < total {
        let rows = CHUNK.min(total - done);
        let batch = make(rows, rng)?;
        let w = match &mut out {
            Some(w) => w,
            None => out.insert(writer(path, &batch)?),
        };
        w.write(&batch)?;
        done += rows;
    }
    if let Some(w) = out {
        w.close()?;
    }
    Ok(())
}

fn run() -> anyhow::Result<()> {
    let a = parse()?;
    std::fs::create_dir_all(&a.out)?;
    let mut rng = Rng(0x5ca1e_u64.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    write(&a.out.join("stats.parquet"), a.rows, &mut rng, |n, r| {
        source_chunk(&a, n, r)
    })?;
    write(
        &a.out.join("entities.parquet"),
        a.entity_rows,
        &mut rng,
        |n, r| entity_chunk(&a, n, r),
    )?;
    let fields: Vec<String> = (0..a.features)
        .map(|i| format!("  {{ name = \"f{i}\", dtype = \"float64\" }},"))
        .collect();
    let config = format!(
        "project = \"scale\"\n\n[[entity]]\nname = \"driver\"\njoin_keys = [\"driver_id\"]\nvalue_type = \"int64\"\n\n[[source]]\nname = \"stats\"\npath = \"stats.parquet\"\ntimestamp_field = \"ts\"\ncreated_timestamp_field = \"created\"\n\n[[feature_view]]\nname = \"stats\"\nentities = [\"driver\"]\nsource = \"stats\"\nttl = \"30d\"\nonline = true\nfields = [\n{}\n]\n",
        fields.join("\n")
    );
    std::fs::write(a.out.join("verge.toml"), config)?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale_data: {e:#}");
            ExitCode::from(2)
        }
    }
}
