//! Loading a deployment: one snapshot and 1 or 10 bundles, from bytes to an
//! answering API, natively and in the Wasm module under wasmtime.
//!
//! The snapshot (500,000 entities of the test kit's tiny view) is checked and
//! indexed once and shared by every bundle; each bundle adds its decode and
//! its pairing check. Goal (issue 13): 10 bundles load in at most 2× the time
//! of one. The snapshot's size and the ratios are printed at the start.
//!
//! Run: `cargo bench -p verge-host --bench deployment`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Deployment;
use verge_host::wasm_runtime::WasmModule;
use verge_test_kit::tiny::{Rows, Tiny};
use verge_test_kit::wasm::module_path as wasm_path;

const ENTITIES: i64 = 500_000;

/// Bytes to a native API over `bundles` and the snapshot.
fn load_native(snapshot: &[u8], bundles: &[Vec<u8>]) -> Api {
    let snapshot = Snapshot::load(snapshot.to_vec()).unwrap();
    let bundles = bundles.iter().map(|b| Bundle::load(b).unwrap()).collect();
    Api::serving(
        Deployment::new(snapshot, bundles).unwrap(),
        Limits::default(),
    )
}

/// Bytes into a fresh Wasm instance (what `verge serve` does per thread).
fn load_wasm(module: &WasmModule, snapshot: &[u8], bundles: &[Vec<u8>]) {
    let mut rt = module.instantiate().unwrap();
    rt.load_snapshot(snapshot).unwrap();
    rt.load_bundle(&bundles[0]).unwrap();
    for b in &bundles[1..] {
        rt.add_bundle(b).unwrap();
    }
    black_box(rt.memory_bytes());
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn bench(c: &mut Criterion) {
    let tiny = Tiny {
        rows: Rows::Many { entities: ENTITIES },
        ..Tiny::many(0)
    };
    let snapshot = tiny.snapshot_bytes();
    // Ten models of one service, as a team serving model variants has.
    let ten: Vec<Vec<u8>> = (0..10)
        .map(|i| tiny.bundle_bytes_for(Some(&format!("m{i}"))))
        .collect();
    let one = &ten[..1];
    let module = WasmModule::load(&wasm_path()).unwrap();

    let native = (
        median(9, || drop(black_box(load_native(&snapshot, one)))),
        median(9, || drop(black_box(load_native(&snapshot, &ten)))),
    );
    let wasm = (
        median(5, || load_wasm(&module, &snapshot, one)),
        median(5, || load_wasm(&module, &snapshot, &ten)),
    );
    eprintln!(
        "snapshot: {ENTITIES} entities, {:.1} MiB; bundle: {} bytes",
        snapshot.len() as f64 / f64::from(1 << 20),
        ten[0].len()
    );
    for (face, (a, b)) in [("native", native), ("wasm", wasm)] {
        eprintln!(
            "{face}: 1 bundle {a:.2?}, 10 bundles {b:.2?}: {:.2}x (goal <= 2x)",
            b.as_secs_f64() / a.as_secs_f64()
        );
    }

    let mut group = c.benchmark_group("deployment_load");
    group.sample_size(10);
    group.bench_function("native_1_bundle", |b| {
        b.iter(|| black_box(load_native(&snapshot, one)));
    });
    group.bench_function("native_10_bundles", |b| {
        b.iter(|| black_box(load_native(&snapshot, &ten)));
    });
    group.bench_function("wasm_1_bundle", |b| {
        b.iter(|| load_wasm(&module, &snapshot, one));
    });
    group.bench_function("wasm_10_bundles", |b| {
        b.iter(|| load_wasm(&module, &snapshot, &ten));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
