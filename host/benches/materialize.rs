//! Benchmark of materialization: 1M source rows × 20 float64 features (5% null)
//! into a snapshot, in memory (`build_snapshots`: pick winners, sort by key, lay
//! out columns, frame and hash). Two shapes: 1M distinct keys (the snapshot has
//! 1M rows) and 100k keys × 10 rows (100k rows, most candidates lose).
//!
//! Peak memory is measured by `host/examples/materialize_memory.rs` in its own
//! process (VmHWM is per process).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::definition::SourceFormat;
use verge_core::{ContentId, Timestamp};
use verge_host::materialize::{Sharding, ViewWindow, build_snapshots};

use verge_test_kit::bench_data as data;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("materialize");
    group.sample_size(10);
    for (keys, rows_per_key) in [(1_000_000u64, 1u64), (100_000, 10)] {
        let shape = data::Shape {
            keys,
            rows_per_key,
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
        group.bench_function(format!("1M rows x 20 f64 -> snapshot ({keys} keys)"), |b| {
            b.iter(|| {
                let built = build_snapshots(
                    &defs,
                    ContentId::of(b"bench"),
                    &window,
                    &[],
                    Sharding::None,
                    |_| Ok(source.clone()),
                )
                .unwrap();
                black_box(built.shards)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
