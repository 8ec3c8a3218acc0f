//! Property: for any interleaving of pushes, materializations (which fold the
//! pushed rows in, as `verge materialize` does) and folds, the online read
//! (the snapshot with the pending pushed rows layered on it, rebuilt, and
//! as `verge serve` reads it, base + a delta of the pending rows) holds, for every
//! key, the newest `(event_ts, created_ts)` among every row acknowledged so far.
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use proptest::prelude::*;
use verge_core::KeyPart;
use verge_core::artifact::Snapshot;
use verge_core::definition::{
    Definitions, Entity, FeatureView, Field, PushSource, Source, SourceFormat,
};
use verge_core::online::{FeatureStatus, Layers};
use verge_core::{ContentId, DType, Duration, Timestamp, Value};
use verge_host::materialize::{Sharding, ViewWindow, build_snapshots};
use verge_host::push::layer;

const KEYS: i64 = 6;

fn defs() -> Definitions {
    let mut defs = Definitions {
        project: "p".into(),
        entities: vec![Entity {
            name: "e".into(),
            join_keys: vec![Field::new("k", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "s".into(),
            path: "s.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "ts".into(),
            created_timestamp_field: Some("c".into()),
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: "v".into(),
            entities: vec!["e".into()],
            source: "p".into(),
            ttl: Duration::ZERO,
            online: true,
            fields: vec![Field::new("x", DType::Int64)],
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        push_sources: vec![PushSource {
            name: "p".into(),
            batch_source: "s".into(),
            description: String::new(),
        }],
        ..Definitions::default()
    };
    defs.canonicalize();
    defs
}

/// A row: key, event time, created time, value.
type Row = (i64, i64, i64, i64);

fn batch(rows: &[Row]) -> RecordBatch {
    let ts = |f: fn(&Row) -> i64| {
        Arc::new(
            TimestampMicrosecondArray::from(rows.iter().map(f).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ) as ArrayRef
    };
    RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("ts", ts(|r| r.1)),
        ("c", ts(|r| r.2)),
        (
            "x",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<(i64, i64, i64)>),
    Materialize(Vec<(i64, i64, i64)>),
    Fold,
}

fn rows() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
    prop::collection::vec((0..KEYS, 0..5i64, any::<i32>().prop_map(i64::from)), 1..6)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        rows().prop_map(Op::Push),
        rows().prop_map(Op::Materialize),
        Just(Op::Fold),
    ]
}

fn materialize(defs: &Definitions, base: &[Snapshot], rows: &[Row]) -> Vec<Snapshot> {
    let window = ViewWindow {
        view: "v".into(),
        start: Timestamp(0),
        end: Timestamp(10),
    };
    let b = batch(rows);
    let built = build_snapshots(
        defs,
        ContentId::of(b"r"),
        &[window],
        base,
        Sharding::None,
        |_| Ok(b.clone()),
    )
    .unwrap();
    built
        .shards
        .into_iter()
        .map(|s| Snapshot::load(s).unwrap())
        .collect()
}

fn fold(defs: &Definitions, base: Vec<Snapshot>, pending: &[Row]) -> Vec<Snapshot> {
    if pending.is_empty() {
        return base;
    }
    layer(defs, &base, &[("v".to_owned(), batch(pending))])
        .unwrap()
        .unwrap_or(base)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn reads_are_the_newest_acknowledged_row(ops in prop::collection::vec(op(), 1..12)) {
        let defs = defs();
        // Created times are unique (the acknowledgment order), so the newest
        // row is always one row; event times collide often.
        let mut created = 0i64;
        let mut stamp = |rows: Vec<(i64, i64, i64)>| -> Vec<Row> {
            rows.into_iter().map(|(k, t, x)| { created += 1; (k, t, created, x) }).collect()
        };
        let mut base = materialize(&defs, &[], &stamp(vec![(0, 0, 0)]));
        let mut acknowledged: Vec<Row> = vec![(0, 0, 1, 0)];
        let mut pending: Vec<Row> = Vec::new();
        // What `verge serve` reads: the pending rows as a delta over the
        // base, each push merged into the delta before it.
        let mut delta: Option<Snapshot> = None;
        for op in ops {
            match op {
                Op::Push(r) => {
                    let r = stamp(r);
                    acknowledged.extend(&r);
                    let rows = vec![("v".to_owned(), batch(&r))];
                    if let Some(d) = verge_host::push::delta::delta(&defs, &base[0], delta.as_ref(), &rows).unwrap() {
                        delta = Some(d);
                    }
                    pending.extend(r);
                }
                Op::Materialize(r) => {
                    let r = stamp(r);
                    acknowledged.extend(&r);
                    base = fold(&defs, materialize(&defs, &base, &r), &pending);
                    pending.clear();
                    delta = None;
                }
                Op::Fold => {
                    base = fold(&defs, base, &pending);
                    pending.clear();
                    delta = None;
                }
            }
            let read = fold(&defs, base.clone(), &pending);
            let s = &read[0];
            let t = s.table_index("v").unwrap();
            let layers = Layers::new(Arc::new(base[0].clone()), delta.iter().cloned().map(Arc::new).collect()).unwrap();
            let tl = layers.base().table_index("v").unwrap();
            for k in 0..KEYS {
                let one = layers.read_key(tl, &[KeyPart::Int64(k)], 0, Timestamp(10));
                let layered = (one.status != FeatureStatus::NotFound).then(|| (one.event_ts.unwrap().0, one.value));
                let want = acknowledged.iter().filter(|r| r.0 == k).max_by_key(|r| (r.1, r.2));
                let got = s.lookup_int(t, k).map(|row| (s.event_ts(t, row).0, s.value(t, 0, row)));
                prop_assert_eq!(&got, &want.map(|r| (r.1, Value::Int64(r.3))), "key {}", k);
                prop_assert_eq!(layered, got, "key {} through base + delta", k);
            }
        }
    }
}
