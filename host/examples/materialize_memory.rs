//! Reports time and peak memory (VmHWM) of one materialization of the benchmark
//! data: 1M source rows × 20 float64 features (5% null), 1M distinct keys, into
//! one snapshot (1M rows), in memory.
//!
//! ```text
//! cargo run --release -p verge-host --example materialize_memory            # 1M keys
//! cargo run --release -p verge-host --example materialize_memory -- 100000  # 100k keys × 10 rows
//! ```
//!
//! The peak includes the generated source batch itself (~178 MiB), which a real
//! run holds too (the source reader's output); the batch is handed over, as the
//! reader's is, so each column is released once copied. Run one measurement per
//! process: VmHWM is a high-water mark.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use verge_core::definition::SourceFormat;
use verge_core::{ContentId, Timestamp};
use verge_host::materialize::{Sharding, ViewWindow, build_snapshots};

use verge_test_kit::bench_data as data;

/// Peak resident set size so far, in MiB, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let shape = data::Shape {
        keys,
        rows_per_key: 1_000_000 / keys.max(1),
        features: 20,
        entity_rows: 0,
    };
    let source = data::source_batch(&shape, &mut data::Rng::new(42));
    let mut defs = data::definitions(&shape, "stats.parquet", SourceFormat::Parquet);
    defs.feature_views[0].online = true;
    let window = [ViewWindow {
        view: "stats".into(),
        start: Timestamp::MIN,
        end: Timestamp::MAX,
    }];
    let (source_rows, source_mib) = (
        source.num_rows(),
        source.get_array_memory_size() as f64 / (1 << 20) as f64,
    );
    let before = peak_rss_mib().unwrap_or(f64::NAN);
    let started = Instant::now();
    // Hand the batch over as the source reader does, so materialization can
    // release each column once it is copied.
    let mut source = Some(source);
    let built = build_snapshots(
        &defs,
        ContentId::of(b"bench"),
        &window,
        &[],
        Sharding::None,
        |_| Ok(source.take().unwrap()),
    )
    .unwrap();
    let elapsed = started.elapsed();
    println!(
        "source rows: {} ({keys} keys) x 20 float64\nsnapshot rows: {}\nsnapshot: {:.1} MiB\nsource data in memory: {:.1} MiB\ntime: {:.3} s\npeak RSS before: {:.1} MiB\npeak RSS after: {:.1} MiB",
        source_rows,
        built.views[0].rows,
        built.shards[0].len() as f64 / (1 << 20) as f64,
        source_mib,
        elapsed.as_secs_f64(),
        before,
        peak_rss_mib().unwrap_or(f64::NAN),
    );
}
