//! Layered reads: one entity x 20 features from a snapshot alone, and from the
//! same snapshot with a delta of 100k changed keys over it (what `verge serve`
//! reads with 100k pushed rows pending). Also prints the size of a delta of
//! 1% of the keys against the full snapshot.
//!
//! Run: `cargo bench -p verge-core --bench layers`.
#![allow(clippy::unwrap_used)] // bench code: a failed unwrap is a failed bench

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::{FeatureRef, Field};
use verge_core::online::{Layers, SnapshotField, SnapshotRead};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
// Seeded, so every run measures the same snapshots.
use verge_test_kit::rng::Rng;

const ENTITIES: i64 = 1_000_000;
const FEATURES: usize = 20;

/// A snapshot of `keys` (each at event time `ts`), 20 float32 features.
fn snapshot(keys: impl Iterator<Item = i64>, ts: i64, seed: u64) -> Arc<Snapshot> {
    let fields: Vec<Field> = (0..FEATURES)
        .map(|i| Field::new(format!("f{i}"), DType::Float32))
        .collect();
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        fields,
        Duration::ZERO,
        false,
    );
    let mut rng = Rng::new(seed);
    let mut values = vec![Value::Null; FEATURES];
    for key in keys {
        for v in &mut values {
            *v = Value::Float32((rng.next_u64() >> 40) as f32 / 1e3);
        }
        view.push_row(
            &EntityKey::single(KeyPart::Int64(key)),
            Timestamp(ts),
            None,
            &values,
        )
        .unwrap();
    }
    let bytes = SnapshotBuilder::new(ContentId::of(b"bench"), Timestamp(0), Timestamp(ts))
        .with_view(view)
        .finish()
        .unwrap();
    Arc::new(Snapshot::load(bytes).unwrap())
}

fn layered(c: &mut Criterion) {
    let base = snapshot(0..ENTITIES, 1, 1);
    // 1% of the keys, spread over the key space.
    let small = snapshot((0..ENTITIES).step_by(100), 2, 2);
    let (full, delta) = (base.as_bytes().len(), small.as_bytes().len());
    eprintln!(
        "delta of 1% of {ENTITIES} keys: {delta} bytes, {:.2}% of the full snapshot ({full} bytes)",
        100.0 * delta as f64 / full as f64
    );
    let overlay = snapshot((0..ENTITIES).step_by(10), 2, 3);
    let alone = Layers::from(Arc::clone(&base));
    let over = Layers::new(Arc::clone(&base), vec![overlay]).unwrap();
    let fields: Vec<SnapshotField> = (0..FEATURES)
        .map(|i| {
            let r = FeatureRef::parse(&format!("v:f{i}")).unwrap();
            SnapshotField::resolve(&base, &r).unwrap()
        })
        .collect();
    let mut rng = Rng::new(7);
    let keys: Vec<Vec<(String, Vec<KeyPart>)>> = (0..1024)
        .map(|_| {
            let k = (rng.next_u64() % ENTITIES as u64) as i64;
            vec![("id".to_owned(), vec![KeyPart::Int64(k)])]
        })
        .collect();
    let mut group = c.benchmark_group("layered_read_1x20");
    for (name, layers) in [("no_overlay", &alone), ("overlay_100k", &over)] {
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                let mut read = SnapshotRead::layered(layers, &keys[i], 1, Timestamp(5));
                for f in &fields {
                    black_box(read.field(*f).unwrap());
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, layered);
criterion_main!(benches);
