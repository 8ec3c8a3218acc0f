//! Benchmark of the point-in-time join: 1M feature rows (100k keys × 10 rows ×
//! 20 float64 features, 5% null) against 100k entity rows, in memory (the join
//! alone, via `historical_with`), and the same read from a Parquet file (reader
//! plus join, via `historical`).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::definition::SourceFormat;
use verge_host::historical::{HistoricalOptions, historical, historical_with};

use verge_test_kit::bench_data as data;

fn bench(c: &mut Criterion) {
    let shape = data::Shape {
        keys: 100_000,
        rows_per_key: 10,
        features: 20,
        entity_rows: 100_000,
    };
    let mut rng = data::Rng::new(42);
    let source = data::source_batch(&shape, &mut rng);
    let entities = data::entity_batch(&shape, &mut rng);
    let features = data::feature_refs(&shape);
    let options = HistoricalOptions::default();

    let defs = data::definitions(&shape, "stats.parquet", SourceFormat::Parquet);
    let mut group = c.benchmark_group("historical");
    group.sample_size(10);
    group.bench_function("join 1M x 20 / 100k entity rows (in memory)", |b| {
        b.iter(|| {
            let out = historical_with(&defs, &entities, &features, &options, |_, _| {
                Ok(source.clone())
            })
            .unwrap();
            black_box(out)
        })
    });

    let dir = tempfile::tempdir().unwrap();
    verge_host::table_io::write_table(&source, &dir.path().join("stats.parquet")).unwrap();
    group.bench_function("read parquet + join 1M x 20 / 100k entity rows", |b| {
        b.iter(|| {
            black_box(
                historical(
                    &defs,
                    dir.path(),
                    &entities,
                    &features,
                    &options,
                    &mut verge_host::warnings::Warnings::default(),
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
