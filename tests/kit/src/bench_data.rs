//! Seeded synthetic data for the point-in-time join and materialization
//! benchmarks and their memory probes (`host/benches`, `host/examples`):
//! `keys × rows_per_key` feature rows with `features` float64 columns (5% null),
//! and `entity_rows` entity rows (about 10% with keys the source has never seen),
//! as Arrow record batches. Behind the `arrow` feature, so the crates whose tests
//! need no Arrow do not build it.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use verge_core::definition::{
    Definitions, Entity, FeatureRef, FeatureView, Field, Source, SourceFormat,
};
use verge_core::{DType, Duration};

/// The seeded generator that scatters the data.
pub use crate::rng::Rng;

/// Sizes of a generated data set.
#[derive(Debug)]
pub struct Shape {
    /// Distinct entity keys in the source.
    pub keys: u64,
    /// Feature rows per key.
    pub rows_per_key: u64,
    /// float64 feature columns.
    pub features: usize,
    /// Entity rows to join.
    pub entity_rows: usize,
}

/// The first event time (µs): 2020-09-13.
pub const START: i64 = 1_600_000_000_000_000;
/// Event times spread over a year after [`START`] (µs).
pub const SPAN: i64 = 365 * 86_400_000_000;

/// The definitions: one entity `driver`, one source, one view `stats` with a 30-day ttl.
pub fn definitions(shape: &Shape, path: &str, format: SourceFormat) -> Definitions {
    Definitions {
        project: "bench".into(),
        entities: vec![Entity {
            name: "driver".into(),
            join_keys: vec![Field::new("driver_id", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "stats".into(),
            path: path.into(),
            format,
            timestamp_field: "ts".into(),
            created_timestamp_field: Some("created".into()),
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: "stats".into(),
            entities: vec!["driver".into()],
            source: "stats".into(),
            ttl: Duration::from_days(30),
            online: false,
            fields: (0..shape.features)
                .map(|i| Field::new(format!("f{i}"), DType::Float64))
                .collect(),
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        ..Definitions::default()
    }
}

/// Every feature of the view, as references.
pub fn feature_refs(shape: &Shape) -> Vec<FeatureRef> {
    (0..shape.features)
        .map(|i| FeatureRef {
            view: "stats".into(),
            field: format!("f{i}"),
        })
        .collect()
}

/// The feature rows, in the layout `verge_host::source::read_source` produces.
pub fn source_batch(shape: &Shape, rng: &mut Rng) -> RecordBatch {
    let n = (shape.keys * shape.rows_per_key) as usize;
    let mut key = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut created = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut values: Vec<Float64Builder> = (0..shape.features)
        .map(|_| Float64Builder::with_capacity(n))
        .collect();
    for i in 0..n as u64 {
        key.append_value((i % shape.keys) as i64);
        let t = START + rng.below(SPAN as u64) as i64;
        ts.append_value(t);
        created.append_value(t + rng.below(3_600_000_000) as i64);
        for v in &mut values {
            if rng.below(20) == 0 {
                v.append_null();
            } else {
                v.append_value((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64);
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
    RecordBatch::try_from_iter(columns).expect("generated columns line up")
}

/// The entity rows: a key (10% unknown), a time, and a label to carry through.
pub fn entity_batch(shape: &Shape, rng: &mut Rng) -> RecordBatch {
    let n = shape.entity_rows;
    let mut key = Int64Builder::with_capacity(n);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut label = Int64Builder::with_capacity(n);
    for _ in 0..n {
        key.append_value(rng.below(shape.keys + shape.keys / 10) as i64);
        ts.append_value(START + rng.below(SPAN as u64) as i64);
        label.append_value(rng.below(2) as i64);
    }
    RecordBatch::try_from_iter([
        ("driver_id", Arc::new(key.finish()) as ArrayRef),
        ("event_timestamp", Arc::new(ts.finish()) as ArrayRef),
        ("label", Arc::new(label.finish()) as ArrayRef),
    ])
    .expect("generated columns line up")
}
