//! Core benchmarks: snapshot load and online lookup at 1M entities × 20 features,
//! and one `POST /predict` for 1 entity of the horse-colic bundle through the
//! JSON API (parse, read, score, answer; issue 16's goal: ≤ 2 µs p50 natively).
//!
//! Run: `cargo bench -p verge-core --bench core` (`-- predict` for the JSON calls
//! alone). The size ratio against the raw data (f32 values + i64 keys + i64
//! timestamps) is printed before the snapshot timings.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::api::{Api, Limits, get_online_features_json};
use verge_core::artifact::Bundle;
use verge_core::artifact::{CellRef, ColumnSlot, Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::{FeatureRef, Field};
use verge_core::online::{Predictor, get_online_features};
use verge_core::{ContentId, DType, Duration, KeyPart, Timestamp};
// Seeded, so every run measures the same snapshot.
use verge_test_kit::horse_colic::{fixture, now};
use verge_test_kit::rng::Rng;

const ENTITIES: usize = 1_000_000;
const FEATURES: usize = 20;
/// The issue's scale: 10M entities, half float32 and half float64, 5% nulls.
const ENTITIES_10M: usize = 10_000_000;

/// A mixing function, so each cell's value depends on its row and column alone
/// and a batch fills in any order.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `entities` rows of `FEATURES` fields keyed `id = row × 7919`; the first
/// `float64` fields are float64, the rest float32; about 5% of cells null.
fn snapshot_of(entities: usize, float64: usize) -> Vec<u8> {
    let dtype = |i: usize| {
        if i < float64 {
            DType::Float64
        } else {
            DType::Float32
        }
    };
    let fields: Vec<Field> = (0..FEATURES)
        .map(|i| Field::new(format!("f{i}"), dtype(i)))
        .collect();
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        fields,
        Duration::from_days(1),
        false,
    );
    view.push_columns(
        entities,
        |r| (Timestamp(r as i64), None),
        |slot, r| match slot {
            ColumnSlot::Key(_) => CellRef::Int64(r as i64 * 7919),
            ColumnSlot::Field(i) => {
                let x = splitmix((r * FEATURES + i) as u64);
                if x.is_multiple_of(20) {
                    CellRef::Null
                } else if i < float64 {
                    CellRef::Float64((x >> 11) as f64 / 1e9)
                } else {
                    CellRef::Float32((x >> 40) as f32 / 1e3)
                }
            }
        },
    )
    .unwrap();
    SnapshotBuilder::new(ContentId::of(b"bench"), Timestamp(0), Timestamp(1))
        .with_view(view)
        .finish()
        .unwrap()
}

fn big_snapshot() -> Vec<u8> {
    snapshot_of(ENTITIES, 0)
}

/// The whole JSON call for one entity, as every face makes it: `/predict` and
/// `/get-online-features` (the feature service, 8 features) over the
/// horse-colic pair, cycling through its keys.
fn predict(c: &mut Criterion) {
    let f = fixture(false);
    let api = Api::new(
        Predictor::new(
            Bundle::load(&f.bundle).unwrap(),
            Snapshot::load(f.snapshot.clone()).unwrap(),
        )
        .unwrap(),
        Limits::default(),
    );
    let predict: Vec<Vec<u8>> = f
        .keys
        .iter()
        .map(|k| format!(r#"{{"entities":{{"hospital_number":[{k}]}}}}"#).into_bytes())
        .collect();
    let online: Vec<Vec<u8>> = f
        .keys
        .iter()
        .map(|k| {
            format!(r#"{{"feature_service":"surgery_v1","entities":{{"hospital_number":[{k}]}}}}"#)
                .into_bytes()
        })
        .collect();
    assert_eq!(
        api.handle("POST", "/predict", &predict[0], now()).status,
        200
    );
    assert_eq!(
        api.handle("POST", "/get-online-features", &online[0], now())
            .status,
        200
    );
    let mut group = c.benchmark_group("json_1_entity");
    let mut i = 0;
    group.bench_function("predict", |b| {
        b.iter(|| {
            i = (i + 1) % predict.len();
            black_box(api.handle("POST", "/predict", black_box(&predict[i]), now()))
        })
    });
    group.bench_function("get_online_features", |b| {
        b.iter(|| {
            i = (i + 1) % online.len();
            black_box(api.handle("POST", "/get-online-features", black_box(&online[i]), now()))
        })
    });
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    // The 1M-entity snapshot takes seconds to build: skip it when a filter
    // names only the JSON calls (`-- json_1_entity`).
    if std::env::args().any(|a| a.starts_with("json_1_entity")) {
        return;
    }
    let bytes = big_snapshot();
    let raw = ENTITIES * (FEATURES * 4 + 8 + 8);
    eprintln!(
        "snapshot: {} bytes, raw data {} bytes, ratio {:.3}",
        bytes.len(),
        raw,
        bytes.len() as f64 / raw as f64
    );

    let mut group = c.benchmark_group("snapshot_1m_x20");
    group.sample_size(10);
    // Filling the columns and finishing the file (for format 4, the
    // transposition into row records), half float32 and half float64.
    group.bench_function("build", |b| {
        b.iter(|| black_box(snapshot_of(ENTITIES, FEATURES / 2)).len())
    });
    group.bench_function("load", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| Snapshot::load(black_box(bytes)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();

    let snapshot = Snapshot::load(bytes).unwrap();
    let hot = lookups(c, &snapshot, ENTITIES, "1m");
    let mut i = 0;

    // What `POST /get-online-features` runs for snapshot features: the typed read
    // (statuses, ttl, event times), then the whole call with JSON parse and render.
    let refs: Vec<FeatureRef> = (0..FEATURES)
        .map(|i| FeatureRef::parse(&format!("v:f{i}")).unwrap())
        .collect();
    c.bench_function("online_read_20_features_1m_hot", |b| {
        b.iter(|| {
            i = (i + 1) % hot.len();
            let entities = [("id".to_owned(), vec![KeyPart::Int64(hot[i])])];
            black_box(get_online_features(&snapshot, &refs, &entities, Timestamp(0)).unwrap())
        })
    });
    let names: Vec<String> = refs
        .iter()
        .map(|r| format!("\"{}:{}\"", r.view, r.field))
        .collect();
    let bodies: Vec<Vec<u8>> = hot
        .iter()
        .map(|k| {
            format!(
                r#"{{"features":[{}],"entities":{{"id":[{k}]}}}}"#,
                names.join(",")
            )
            .into_bytes()
        })
        .collect();
    c.bench_function("api_get_online_features_20_1m_hot", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let answer =
                get_online_features_json(&snapshot, &bodies[i], Timestamp(0), Limits::default());
            black_box(answer.body.len())
        })
    });
}

/// Reading all 20 features of one entity, as `f64`: the index probe, the
/// null checks and the 20 values. Cold: uniformly random keys over every
/// entity, so nearly every read misses the CPU caches. Hot: 64 keys whose
/// records stay in cache, which is what an edge isolate serving its popular
/// entities sees. Returns the hot keys.
fn lookups(c: &mut Criterion, snapshot: &Snapshot, entities: usize, scale: &str) -> Vec<i64> {
    let read_all = |key: i64| {
        let row = snapshot
            .row(0, snapshot.lookup_int(0, key).unwrap())
            .unwrap();
        let mut sum = 0.0;
        for col in 0..FEATURES {
            sum += row.f64(col).unwrap_or(0.0);
        }
        sum
    };
    let mut rng = Rng::new(7);
    c.bench_function(&format!("lookup_20_features_{scale}_cold"), |b| {
        b.iter(|| {
            let key = (rng.next_u64() % entities as u64) as i64 * 7919;
            black_box(read_all(black_box(key)))
        })
    });
    let hot: Vec<i64> = (0..64)
        .map(|_| (rng.next_u64() % entities as u64) as i64 * 7919)
        .collect();
    let mut i = 0;
    c.bench_function(&format!("lookup_20_features_{scale}_hot"), |b| {
        b.iter(|| {
            i = (i + 1) % hot.len();
            black_box(read_all(black_box(hot[i])))
        })
    });
    hot
}

/// Issue 16's scale: 10M entities × 20 features (half float32, half float64,
/// 5% nulls): about 1.4 GB of snapshot and 0.5 GB of index, built only when
/// no filter is given or a filter names `10m`.
fn snapshot_10m(c: &mut Criterion) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| f.contains("10m")) {
        return;
    }
    let bytes = snapshot_of(ENTITIES_10M, FEATURES / 2);
    let raw = ENTITIES_10M * (FEATURES / 2 * (4 + 8) + 8 + 8);
    eprintln!(
        "snapshot 10M: {} bytes, raw data {} bytes, ratio {:.3}",
        bytes.len(),
        raw,
        bytes.len() as f64 / raw as f64
    );
    let snapshot = Snapshot::load(bytes).unwrap();
    lookups(c, &snapshot, ENTITIES_10M, "10m");
}

criterion_group!(benches, predict, snapshot, snapshot_10m);
criterion_main!(benches);
