//! A base snapshot with delta snapshots over it ([`Layers`]) against a plain
//! reference: merge every layer's rows, and per key keep the greatest
//! `(event_ts, created_ts)`, the later layer on a complete tie.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use proptest::prelude::*;
use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::{FeatureRef, Field};
use verge_core::online::{FeatureStatus, Layers, SnapshotField, SnapshotRead};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};

/// One layer's rows: `(key, event_ts, created_ts, value)`, one per key.
type Rows = Vec<(i64, i64, i64, Option<i64>)>;

fn key_part(key: i64, text: bool) -> KeyPart {
    if text {
        KeyPart::String(format!("k{key}"))
    } else {
        KeyPart::Int64(key)
    }
}

/// A snapshot of view `v` holding `rows`, keyed by an int64 or a string key.
fn snapshot(rows: &Rows, text: bool, created: bool) -> Arc<Snapshot> {
    let dtype = if text { DType::String } else { DType::Int64 };
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("k", dtype)],
        vec![Field::new("x", DType::Int64)],
        Duration::ZERO,
        created,
    );
    for &(key, event, made, value) in rows {
        view.push_row(
            &EntityKey::single(key_part(key, text)),
            Timestamp(event),
            created.then_some(Timestamp(made)),
            &[value.map_or(Value::Null, Value::Int64)],
        )
        .unwrap();
    }
    let bytes = SnapshotBuilder::new(ContentId::of(b"defs"), Timestamp::MIN, Timestamp(0))
        .with_view(view)
        .finish()
        .unwrap();
    Arc::new(Snapshot::load(bytes).unwrap())
}

/// Per key, the reference winner's `(event_ts, value)`.
fn reference(layers: &[Rows], key: i64, created: bool) -> Option<(i64, Option<i64>)> {
    let mut best: Option<(i64, i64, Option<i64>)> = None;
    for rows in layers {
        for &(k, event, made, value) in rows {
            let made = if created { made } else { 0 };
            if k == key && best.is_none_or(|(e, m, _)| (event, made) >= (e, m)) {
                best = Some((event, made, value));
            }
        }
    }
    best.map(|(e, _, v)| (e, v))
}

/// A layer: distinct keys from 0..12, times from a small range so ties happen.
fn layer() -> impl Strategy<Value = Rows> {
    proptest::collection::btree_map(
        0i64..12,
        (0i64..4, 0i64..3, proptest::option::of(-5i64..5)),
        0..10,
    )
    .prop_map(|m| m.into_iter().map(|(k, (e, c, v))| (k, e, c, v)).collect())
}

proptest! {
    #[test]
    fn layered_reads_equal_the_merged_reference(
        layers in proptest::collection::vec(layer(), 1..6),
        text in any::<bool>(),
        created in any::<bool>(),
    ) {
        let snapshots: Vec<Arc<Snapshot>> = layers.iter().map(|r| snapshot(r, text, created)).collect();
        let merged = Layers::new(Arc::clone(&snapshots[0]), snapshots[1..].to_vec()).unwrap();
        let keys: Vec<i64> = (0..14).collect();
        let entities = [("k".to_string(), keys.iter().map(|&k| key_part(k, text)).collect())];
        let field = SnapshotField::resolve(merged.base(), &FeatureRef::parse("v:x").unwrap()).unwrap();
        let now = Timestamp(10);
        let batch = SnapshotRead::layered(&merged, &entities, keys.len(), now).field(field).unwrap();
        for (i, &key) in keys.iter().enumerate() {
            let one = merged.read_key(0, &[key_part(key, text)], 0, now);
            prop_assert_eq!(&one, &batch[i]);
            match reference(&layers, key, created) {
                None => prop_assert_eq!(one.status, FeatureStatus::NotFound),
                Some((event, value)) => {
                    prop_assert_eq!(one.event_ts, Some(Timestamp(event)));
                    prop_assert_eq!(one.value, value.map_or(Value::Null, Value::Int64));
                }
            }
        }
    }
}

#[test]
fn a_complete_tie_goes_to_the_later_layer() {
    let base = snapshot(&vec![(1, 5, 2, Some(10))], false, true);
    let delta = snapshot(&vec![(1, 5, 2, Some(20))], false, true);
    let layers = Layers::new(base, vec![delta]).unwrap();
    let read = layers.read_key(0, &[KeyPart::Int64(1)], 0, Timestamp(9));
    assert_eq!(read.value, Value::Int64(20));
}

#[test]
fn a_newer_created_time_wins_at_one_event_time() {
    let base = snapshot(&vec![(1, 5, 3, Some(10))], false, true);
    let delta = snapshot(&vec![(1, 5, 2, Some(20))], false, true);
    let layers = Layers::new(base, vec![delta]).unwrap();
    let read = layers.read_key(0, &[KeyPart::Int64(1)], 0, Timestamp(9));
    assert_eq!(read.value, Value::Int64(10));
}

#[test]
fn a_delta_of_another_shape_is_refused() {
    let base = snapshot(&vec![(1, 5, 3, Some(10))], false, false);
    let delta = snapshot(&vec![(1, 5, 2, Some(20))], true, false);
    let err = Layers::new(base, vec![delta]).unwrap_err().to_string();
    assert!(err.contains("holds view `v`"), "{err}");
}
