//! The raw Wasm ABI module under wasmtime: per-prediction cost for a horse-colic
//! bundle (8 float features, mean imputation, SelectKBest k = 5, Gaussian naive
//! Bayes), against the native core.
//!
//! Run: `cargo bench -p verge-host --bench wasm`. Goals (issue 5): ≤ 1 µs per row
//! amortized over a batch of 1000 through the binary path, ≤ 5 µs for one JSON
//! call; the module size (≤ 150 KB) is printed at the start.
//!
//! Tree ensembles (issue 15): the shapes of `core/benches/trees.rs` (100 × 6 and
//! 500 × 8 complete trees on 30 features, XGBoost's and LightGBM's rules) in a
//! bundle, scored through `verge_score_batch` one row per call and 1,000 rows
//! per call (reported per row). Filter: `cargo bench -p verge-host --bench wasm -- trees`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verge_core::Value;
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::model::tree::Semantics;
use verge_core::online::Predictor;
use verge_host::wasm_runtime::WasmModule;
use verge_test_kit::horse_colic::{fixture, now};
use verge_test_kit::trees::{binary_model, bundle, rows};
use verge_test_kit::wasm::module_path as wasm_path;

fn bench(c: &mut Criterion) {
    let path = wasm_path();
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    eprintln!(
        "module {}: {size} bytes ({:.1} KiB)",
        path.display(),
        size as f64 / 1024.0
    );

    let f = fixture(false);
    let mut rt = WasmModule::load(&path).unwrap().instantiate().unwrap();
    rt.load_bundle(&f.bundle).unwrap();
    rt.load_snapshot(&f.snapshot).unwrap();
    let api = Api::new(
        Predictor::new(
            Bundle::load(&f.bundle).unwrap(),
            Snapshot::load(f.snapshot.clone()).unwrap(),
        )
        .unwrap(),
        Limits::default(),
    );

    // 1000 rows cycled from the training set; NaN for missing values.
    let flat: Vec<f64> = f
        .rows
        .iter()
        .cycle()
        .take(1000)
        .flat_map(|r| {
            r.iter().map(|v| match v {
                Value::Float64(x) => *x,
                _ => f64::NAN,
            })
        })
        .collect();
    let keys: Vec<i64> = f.keys.iter().copied().cycle().take(1000).collect();
    let body = format!(r#"{{"entities":{{"hospital_number":[{}]}}}}"#, f.keys[0]);

    let mut group = c.benchmark_group("wasm_batch_1000");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("score_batch", |b| {
        b.iter(|| black_box(rt.score_batch(black_box(&flat), 8).unwrap()))
    });
    group.bench_function("predict_batch_i64", |b| {
        b.iter(|| black_box(rt.predict_batch_i64(black_box(&keys), now()).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("single_json_predict");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            black_box(
                rt.handle("POST", "/predict", body.as_bytes(), now())
                    .unwrap(),
            )
        })
    });
    group.bench_function("native", |b| {
        b.iter(|| black_box(api.handle("POST", "/predict", body.as_bytes(), now())))
    });
    group.finish();
}

fn trees(c: &mut Criterion) {
    const FEATURES: u32 = 30;
    let module = WasmModule::load(&wasm_path()).unwrap();
    let batch = rows(1000, FEATURES);
    let one = &batch[FEATURES as usize..2 * FEATURES as usize];
    for (source, semantics) in [
        ("xgboost", Semantics::XgBoost),
        ("lightgbm", Semantics::LightGbm),
    ] {
        for (trees, depth) in [(100, 6), (500, 8)] {
            let model = binary_model(semantics, FEATURES, trees, depth);
            let mut rt = module.instantiate().unwrap();
            rt.load_bundle(&bundle(model, FEATURES as usize)).unwrap();
            let mut group = c.benchmark_group(format!("wasm trees {source} {trees}x{depth}"));
            group.bench_function("one row", |b| {
                b.iter(|| black_box(rt.score_batch(black_box(one), FEATURES as usize).unwrap()))
            });
            group.throughput(Throughput::Elements(1000));
            group.bench_function("batch 1000", |b| {
                b.iter(|| {
                    black_box(
                        rt.score_batch(black_box(&batch), FEATURES as usize)
                            .unwrap(),
                    )
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench, trees);
criterion_main!(benches);
