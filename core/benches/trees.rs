//! Tree-ensemble prediction: complete random trees on 30 features, 100 trees of
//! depth 6 and 500 of depth 8, under XGBoost's and LightGBM's rules (binary,
//! sigmoid), one row at a time and a batch of 1,000 rows (criterion reports the
//! batch per row, as its throughput), with 10% NaN inputs.
//!
//! Run: `cargo bench -p verge-core --bench trees`. The goal is ≤ 2 µs for one
//! row of 100 × 6 (issue 15); "batch 1000" is `predict_proba_batch_into`
//! (tree by tree over blocks of rows), "1000 single rows" the row-at-a-time call
//! in a loop; `bench/trees/run` puts XGBoost's and LightGBM's
//! own predict beside it on models they trained, and `cargo bench -p verge-host
//! --bench wasm` times the same shapes under wasmtime.

// Benchmark code: a failed unwrap is a failed benchmark, with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verge_core::model::tree::Semantics;
use verge_test_kit::trees::{binary_model, rows};

const FEATURES: u32 = 30;

fn predict(c: &mut Criterion) {
    let batch = rows(1000, FEATURES);
    for (source, semantics) in [
        ("xgboost", Semantics::XgBoost),
        ("lightgbm", Semantics::LightGbm),
    ] {
        for (trees, depth) in [(100, 6), (500, 8)] {
            let m = binary_model(semantics, FEATURES, trees, depth);
            let mut out = [0.0; 2];
            let mut group = c.benchmark_group(format!("trees {source} {trees}x{depth}"));
            // A different row each call, as a server sees them: the same row
            // again and again would let the branch predictor learn its paths.
            let mut next = batch.chunks_exact(FEATURES as usize).cycle();
            group.bench_function("one row", |b| {
                b.iter(|| {
                    let row = next.next().unwrap_or_default();
                    m.predict_proba_into(black_box(row), &mut out).unwrap()
                })
            });
            group.throughput(Throughput::Elements(1000));
            let mut probs = vec![0.0; 2 * 1000];
            group.bench_function("batch 1000", |b| {
                b.iter(|| {
                    m.predict_proba_batch_into(black_box(&batch), &mut probs)
                        .unwrap()
                })
            });
            group.bench_function("1000 single rows", |b| {
                b.iter(|| {
                    for row in batch.chunks_exact(FEATURES as usize) {
                        black_box(m.predict_proba_into(black_box(row), &mut out).unwrap());
                    }
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, predict);
criterion_main!(benches);
