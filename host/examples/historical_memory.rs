//! Reports time and peak memory (VmHWM) of one point-in-time join over the
//! benchmark data: 1M feature rows × 20 float64 features, 100k entity rows.
//!
//! ```text
//! cargo run --release -p verge-host --example historical_memory            # join in memory
//! cargo run --release -p verge-host --example historical_memory -- parquet # read Parquet + join
//! ```
//!
//! In `parquet` mode the file is written first and the read + join is measured in
//! a child process, so its peak memory is not the generator's.
//!
//! ```text
//! ```
//!
//! Run each mode in its own process: VmHWM is a high-water mark for the process.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use verge_core::definition::SourceFormat;
use verge_host::historical::{HistoricalOptions, historical, historical_with};

use verge_test_kit::bench_data as data;

/// Peak resident set size so far, in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let mode = std::env::args().nth(1);
    if mode.as_deref() == Some("parquet") {
        // Write the file here, then measure reading and joining in a fresh process,
        // so the high-water mark is not the generator's or the writer's.
        let shape = data::Shape {
            keys: 100_000,
            rows_per_key: 10,
            features: 20,
            entity_rows: 0,
        };
        let dir = tempfile::tempdir().unwrap();
        let source = data::source_batch(&shape, &mut data::Rng::new(42));
        let path = dir.path().join("stats.parquet");
        verge_host::table_io::write_table(&source, &path).unwrap();
        println!(
            "parquet file: {:.1} MiB; in memory: {:.1} MiB",
            std::fs::metadata(&path).unwrap().len() as f64 / (1 << 20) as f64,
            source.get_array_memory_size() as f64 / (1 << 20) as f64
        );
        drop(source);
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("parquet-read")
            .arg(dir.path())
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(2));
    }
    let parquet = mode.as_deref() == Some("parquet-read");
    let shape = data::Shape {
        keys: 100_000,
        rows_per_key: 10,
        features: 20,
        entity_rows: 100_000,
    };
    let options = HistoricalOptions::default();
    let features = data::feature_refs(&shape);
    let dir = std::path::PathBuf::from(std::env::args().nth(2).unwrap_or_default());
    // Separate seeds, so both modes see the same source rows and entity rows.
    let source = (!parquet).then(|| data::source_batch(&shape, &mut data::Rng::new(42)));
    let entities = data::entity_batch(&shape, &mut data::Rng::new(7));
    let defs = data::definitions(&shape, "stats.parquet", SourceFormat::Parquet);
    let data_mib =
        source.as_ref().map_or(0, |s| s.get_array_memory_size()) as f64 / (1 << 20) as f64;
    let before = peak_rss_mib().unwrap_or(f64::NAN);
    let started = Instant::now();
    let out = match &source {
        Some(source) => historical_with(&defs, &entities, &features, &options, |_, _| {
            Ok(source.clone())
        }),
        None => historical(
            &defs,
            &dir,
            &entities,
            &features,
            &options,
            &mut verge_host::warnings::Warnings::default(),
        ),
    }
    .unwrap();
    let elapsed = started.elapsed();
    let hits = out
        .column_by_name("f0")
        .map_or(0, |c| c.len() - c.null_count());
    println!(
        "mode: {}\nrows out: {} (f0 non-null: {hits})\njoin time: {:.1} ms\nsource data in memory: {:.1} MiB\nentity table: {:.1} MiB\noutput: {:.1} MiB\npeak RSS before join: {:.1} MiB\npeak RSS after join: {:.1} MiB",
        if parquet {
            "read parquet + join"
        } else {
            "join in memory"
        },
        out.num_rows(),
        elapsed.as_secs_f64() * 1000.0,
        data_mib,
        entities.get_array_memory_size() as f64 / (1 << 20) as f64,
        out.get_array_memory_size() as f64 / (1 << 20) as f64,
        before,
        peak_rss_mib().unwrap_or(f64::NAN),
    );
}
