//! Materialization against a plain reference: for each key, scan every row in the
//! window and keep the greatest `(event_ts, created_ts)`, the last in the source
//! on a complete tie. Plus merge semantics (an older window never overwrites
//! newer values; incremental equals one-shot), fingerprint changes and sharding.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use proptest::prelude::*;
use verge_core::artifact::{Snapshot, shard_of};
use verge_core::definition::{Definitions, Entity, FeatureView, Field, Source, SourceFormat};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
use verge_host::materialize::{Sharding, ViewWindow, build_snapshots};

/// Which join keys the view has.
#[derive(Debug, Clone, Copy)]
enum Keys {
    Int,
    Text,
    Composite,
}

#[derive(Debug, Clone)]
struct Row {
    key: i64,
    event: i64,
    created: Option<i64>,
    x: Option<f64>,
    s: Option<String>,
}

fn key_of(keys: Keys, k: i64) -> EntityKey {
    match keys {
        Keys::Int => EntityKey::single(KeyPart::Int64(k)),
        Keys::Text => EntityKey::single(KeyPart::String(format!("k{k}"))),
        Keys::Composite => EntityKey(vec![
            KeyPart::Int64(k % 2),
            KeyPart::String(format!("k{}", k / 2)),
        ]),
    }
}

fn defs(keys: Keys, with_created: bool, ttl_days: i64) -> Definitions {
    let join_keys = match keys {
        Keys::Int => vec![Field::new("id", DType::Int64)],
        Keys::Text => vec![Field::new("name", DType::String)],
        Keys::Composite => vec![
            Field::new("id", DType::Int64),
            Field::new("name", DType::String),
        ],
    };
    Definitions {
        entities: vec![Entity {
            name: "e".into(),
            join_keys,
            description: String::new(),
        }],
        sources: vec![Source {
            name: "src".into(),
            path: "unused.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "ts".into(),
            created_timestamp_field: with_created.then(|| "created".into()),
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: "v".into(),
            entities: vec!["e".into()],
            source: "src".into(),
            ttl: Duration::from_days(ttl_days),
            online: true,
            fields: vec![
                Field::new("x", DType::Float64),
                Field::new("s", DType::String),
            ],
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        ..Definitions::default()
    }
}

fn batch(keys: Keys, with_created: bool, rows: &[Row]) -> RecordBatch {
    let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
    let ints = |f: &dyn Fn(&Row) -> i64| Arc::new(Int64Array::from_iter_values(rows.iter().map(f)));
    let texts = |f: &dyn Fn(&Row) -> String| {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef
    };
    match keys {
        Keys::Int => columns.push(("id", ints(&|r| r.key))),
        Keys::Text => columns.push(("name", texts(&|r| format!("k{}", r.key)))),
        Keys::Composite => {
            columns.push(("id", ints(&|r| r.key % 2)));
            columns.push(("name", texts(&|r| format!("k{}", r.key / 2))));
        }
    }
    columns.push((
        "ts",
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.event))
                .with_timezone("UTC"),
        ),
    ));
    if with_created {
        columns.push((
            "created",
            Arc::new(
                TimestampMicrosecondArray::from(rows.iter().map(|r| r.created).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ));
    }
    columns.push((
        "x",
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.x).collect::<Vec<_>>(),
        )),
    ));
    columns.push((
        "s",
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.s.clone()).collect::<Vec<_>>(),
        )),
    ));
    RecordBatch::try_from_iter(columns).unwrap()
}

/// The obvious O(n) scan per key.
fn reference(rows: &[Row], with_created: bool, start: i64, end: i64) -> BTreeMap<i64, &Row> {
    let rank = |r: &Row| {
        (
            r.event,
            if with_created {
                r.created.unwrap_or(i64::MIN)
            } else {
                i64::MIN
            },
        )
    };
    let mut best: BTreeMap<i64, &Row> = BTreeMap::new();
    for r in rows {
        if r.event < start || r.event > end {
            continue;
        }
        match best.get(&r.key) {
            Some(b) if rank(b) > rank(r) => {}
            _ => {
                best.insert(r.key, r);
            }
        }
    }
    best
}

fn build(
    d: &Definitions,
    b: &RecordBatch,
    start: i64,
    end: i64,
    previous: &[Snapshot],
    sharding: Sharding,
) -> Vec<Vec<u8>> {
    let window = ViewWindow {
        view: "v".into(),
        start: Timestamp(start),
        end: Timestamp(end),
    };
    build_snapshots(
        d,
        ContentId::of(b"reg"),
        &[window],
        previous,
        sharding,
        |_| Ok(b.clone()),
    )
    .unwrap()
    .shards
}

fn one(d: &Definitions, b: &RecordBatch, start: i64, end: i64, previous: &[Snapshot]) -> Vec<u8> {
    build(d, b, start, end, previous, Sharding::None).remove(0)
}

fn check_against_reference(
    snapshot: &Snapshot,
    keys: Keys,
    with_created: bool,
    expected: &BTreeMap<i64, &Row>,
) {
    let t = snapshot.table_index("v").unwrap();
    assert_eq!(snapshot.table(t).unwrap().rows(), expected.len());
    for (k, r) in expected {
        let row = snapshot.lookup(t, &key_of(keys, *k)).unwrap();
        assert_eq!(snapshot.event_ts(t, row), Timestamp(r.event), "key {k}");
        if with_created {
            assert_eq!(
                snapshot.created_ts(t, row),
                Some(Timestamp(r.created.unwrap_or(i64::MIN))),
                "key {k}"
            );
        }
        assert_eq!(
            snapshot.value(t, 0, row),
            r.x.map_or(Value::Null, Value::Float64)
        );
        assert_eq!(
            snapshot.value(t, 1, row),
            r.s.clone().map_or(Value::Null, Value::String)
        );
    }
    // Sorted by key: each stored key is greater than the one before.
    let stored: Vec<EntityKey> = (0..expected.len())
        .map(|r| snapshot.key(t, r).unwrap())
        .collect();
    assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    let row = (
        0i64..6,
        0i64..10,
        proptest::option::weighted(0.8, 0i64..3),
        proptest::option::weighted(0.8, -5i64..5),
        proptest::option::weighted(0.8, "[a-c]{0,3}"),
    )
        .prop_map(|(key, event, created, x, s)| Row {
            key,
            event,
            created,
            x: x.map(|v| v as f64 / 2.0),
            s,
        });
    proptest::collection::vec(row, 0..40)
}

fn keys_strategy() -> impl Strategy<Value = Keys> {
    prop_oneof![Just(Keys::Int), Just(Keys::Text), Just(Keys::Composite)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn winners_match_the_reference(
        rows in rows_strategy(),
        keys in keys_strategy(),
        with_created in any::<bool>(),
        a in 0i64..11,
        b in 0i64..11,
    ) {
        let (start, end) = (a.min(b), a.max(b));
        let d = defs(keys, with_created, 0);
        let bt = batch(keys, with_created, &rows);
        let bytes = one(&d, &bt, start, end, &[]);
        prop_assert_eq!(&bytes, &one(&d, &bt, start, end, &[]), "deterministic");
        let snapshot = Snapshot::load(bytes).unwrap();
        check_against_reference(&snapshot, keys, with_created, &reference(&rows, with_created, start, end));
    }

    #[test]
    fn split_windows_in_any_order_equal_one_shot(
        rows in rows_strategy(),
        keys in keys_strategy(),
        with_created in any::<bool>(),
        cuts in proptest::collection::vec(0i64..11, 3),
        newer_first in any::<bool>(),
    ) {
        let mut c = cuts.clone();
        c.sort_unstable();
        let (s, m, e) = (c[0], c[1], c[2]);
        let d = defs(keys, with_created, 0);
        let bt = batch(keys, with_created, &rows);
        let whole = one(&d, &bt, s, e, &[]);
        let (first, second) = if newer_first { ((m, e), (s, m)) } else { ((s, m), (m, e)) };
        let step1 = Snapshot::load(one(&d, &bt, first.0, first.1, &[])).unwrap();
        let step2 = one(&d, &bt, second.0, second.1, &[step1]);
        // Same rows, same window hull: the same bytes, so the same id.
        prop_assert_eq!(step2, whole);
    }

    #[test]
    fn shards_partition_the_unsharded_snapshot(
        rows in rows_strategy(),
        keys in keys_strategy(),
        n in 1u32..5,
    ) {
        let d = defs(keys, true, 0);
        let bt = batch(keys, true, &rows);
        let whole = Snapshot::load(one(&d, &bt, 0, 10, &[])).unwrap();
        // More shards than keys is refused: it could only make empty shards.
        let held = whole.table(whole.table_index("v").unwrap()).unwrap().rows().max(1);
        if n as usize > held {
            let window = ViewWindow { view: "v".into(), start: Timestamp(0), end: Timestamp(10) };
            let refused = build_snapshots(&d, ContentId::of(b"reg"), &[window], &[], Sharding::Count(n), |_| Ok(bt.clone()));
            let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
            prop_assert!(err.contains("more than the snapshot's"), "{}", err);
            return Ok(());
        }
        let shards: Vec<Snapshot> = build(&d, &bt, 0, 10, &[], Sharding::Count(n))
            .into_iter()
            .map(|b| Snapshot::load(b).unwrap())
            .collect();
        prop_assert_eq!(shards.len(), n as usize);
        let t = whole.table_index("v").unwrap();
        let mut total = 0;
        for (i, s) in shards.iter().enumerate() {
            prop_assert_eq!(s.meta().shard_index, i as u32);
            prop_assert_eq!(s.meta().shard_count, n);
            total += s.table(0).unwrap().rows();
        }
        prop_assert_eq!(total, whole.table(t).unwrap().rows());
        for r in 0..whole.table(t).unwrap().rows() {
            let key = whole.key(t, r).unwrap();
            let home = shard_of(&key, n) as usize;
            for (i, s) in shards.iter().enumerate() {
                let found = s.lookup(0, &key);
                prop_assert_eq!(found.is_some(), i == home, "key {:?} in shard {}", key, i);
                if let Some(row) = found {
                    prop_assert_eq!(s.value(0, 0, row), whole.value(t, 0, r));
                    prop_assert_eq!(s.value(0, 1, row), whole.value(t, 1, r));
                    prop_assert_eq!(s.event_ts(0, row), whole.event_ts(t, r));
                }
            }
        }
    }
}

/// Sources longer than one block of the winner pass (32k rows), where a key's
/// rows and its ties span blocks: the proptest's 40 rows never cross one.
#[test]
fn winners_match_the_reference_across_blocks() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let rows: Vec<Row> = (0..100_000)
        .map(|i| Row {
            key: next(300) as i64,
            event: next(10) as i64,
            created: (next(5) != 0).then(|| next(3) as i64),
            x: (next(10) != 0).then_some(f64::from(i) / 2.0),
            s: (next(10) != 0).then(|| format!("s{i}")),
        })
        .collect();
    for (keys, with_created) in [
        (Keys::Int, true),
        (Keys::Int, false),
        (Keys::Text, true),
        (Keys::Composite, true),
    ] {
        let d = defs(keys, with_created, 0);
        let bt = batch(keys, with_created, &rows);
        let snapshot = Snapshot::load(one(&d, &bt, 2, 8, &[])).unwrap();
        check_against_reference(
            &snapshot,
            keys,
            with_created,
            &reference(&rows, with_created, 2, 8),
        );
    }
}

fn row(key: i64, event: i64, created: Option<i64>, x: f64) -> Row {
    Row {
        key,
        event,
        created,
        x: Some(x),
        s: None,
    }
}

#[test]
fn an_older_window_never_overwrites_newer_values() {
    let d = defs(Keys::Int, true, 0);
    let rows = vec![
        row(1, 1, Some(0), 10.0),
        row(1, 8, Some(0), 80.0),
        row(2, 2, Some(0), 20.0),
    ];
    let bt = batch(Keys::Int, true, &rows);
    let newer = Snapshot::load(one(&d, &bt, 5, 9, &[])).unwrap();
    let merged = Snapshot::load(one(&d, &bt, 0, 4, &[newer])).unwrap();
    let t = merged.table_index("v").unwrap();
    let at = |k| merged.value(t, 0, merged.lookup_int(t, k).unwrap());
    assert_eq!(at(1), Value::Float64(80.0), "kept the newer row");
    assert_eq!(
        at(2),
        Value::Float64(20.0),
        "added the key only the older window has"
    );
    assert_eq!(merged.meta().window_start, Timestamp(0));
    assert_eq!(merged.meta().window_end, Timestamp(9));
}

#[test]
fn rows_on_the_window_edges_count_and_ties_go_to_the_last_row() {
    let d = defs(Keys::Int, true, 0);
    let rows = vec![
        row(1, 3, Some(5), 1.0), // on START
        row(2, 7, Some(5), 2.0), // on END
        row(3, 2, Some(5), 3.0), // before
        row(3, 8, Some(5), 4.0), // after
        row(4, 5, Some(1), 5.0),
        row(4, 5, Some(1), 6.0), // complete tie: the later row wins
        row(4, 5, None, 7.0),    // null created ranks lowest
    ];
    let bt = batch(Keys::Int, true, &rows);
    let s = Snapshot::load(one(&d, &bt, 3, 7, &[])).unwrap();
    let t = s.table_index("v").unwrap();
    let at = |k| s.lookup_int(t, k).map(|r| s.value(t, 0, r));
    assert_eq!(at(1), Some(Value::Float64(1.0)));
    assert_eq!(at(2), Some(Value::Float64(2.0)));
    assert_eq!(at(3), None);
    assert_eq!(at(4), Some(Value::Float64(6.0)));
}

#[test]
fn a_changed_view_starts_fresh_and_others_carry_over() {
    let d = defs(Keys::Int, false, 0);
    let bt = batch(
        Keys::Int,
        false,
        &[row(1, 1, None, 1.0), row(2, 9, None, 2.0)],
    );
    let first = Snapshot::load(one(&d, &bt, 5, 9, &[])).unwrap();
    // Same view, new ttl: a different fingerprint, so key 2 from before is not kept.
    let changed = defs(Keys::Int, false, 3);
    let again = Snapshot::load(one(&changed, &bt, 0, 4, std::slice::from_ref(&first))).unwrap();
    let t = again.table_index("v").unwrap();
    assert_eq!(again.lookup_int(t, 2), None);
    assert!(again.lookup_int(t, 1).is_some());
    // Materializing no view at all carries the previous table over unchanged.
    let built = build_snapshots(
        &d,
        ContentId::of(b"reg"),
        &[],
        std::slice::from_ref(&first),
        Sharding::None,
        |_| panic!("nothing to read"),
    )
    .unwrap();
    assert_eq!(built.views[0].window, None);
    let carried = Snapshot::load(built.shards[0].clone()).unwrap();
    assert_eq!(carried.as_bytes(), first.as_bytes());
}

#[test]
fn bad_windows_and_views_are_refused() {
    let d = defs(Keys::Int, false, 0);
    let bt = batch(Keys::Int, false, &[]);
    let run = |view: &str, s: i64, e: i64| {
        build_snapshots(
            &d,
            ContentId::of(b"reg"),
            &[ViewWindow {
                view: view.into(),
                start: Timestamp(s),
                end: Timestamp(e),
            }],
            &[],
            Sharding::None,
            |_| Ok(bt.clone()),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert!(run("nope", 0, 1).contains("unknown feature view `nope`"));
    assert!(run("v", 5, 1).contains("starts at"));
    let mut offline = d.clone();
    offline.feature_views[0].online = false;
    let err = build_snapshots(
        &offline,
        ContentId::of(b"reg"),
        &[ViewWindow {
            view: "v".into(),
            start: Timestamp(0),
            end: Timestamp(1),
        }],
        &[],
        Sharding::None,
        |_| Ok(bt.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not online"), "{err}");
}

#[test]
fn max_shard_bytes_keeps_every_shard_under_the_limit() {
    let d = defs(Keys::Int, true, 0);
    let rows: Vec<Row> = (0..2000).map(|k| row(k, 1, Some(1), k as f64)).collect();
    let bt = batch(Keys::Int, true, &rows);
    let whole = one(&d, &bt, 0, 10, &[]);
    let limit = 16_384u64;
    let shards = build(&d, &bt, 0, 10, &[], Sharding::MaxBytes(limit));
    assert!(shards.len() > 1);
    assert!(shards.iter().all(|s| s.len() as u64 <= limit));
    let rows_total: usize = shards
        .into_iter()
        .map(|b| Snapshot::load(b).unwrap().table(0).unwrap().rows())
        .sum();
    assert_eq!(
        rows_total,
        Snapshot::load(whole).unwrap().table(0).unwrap().rows()
    );
}
