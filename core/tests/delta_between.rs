//! [`delta_between`] and [`compact`] against a plain reference: for random
//! published chains and random target states,
//! - a shipped delta, layered over the published chain, reads exactly as the
//!   target on every key (row, timestamps and value), and holds only keys
//!   whose row changed;
//! - `Unchanged` only when every key reads the same;
//! - `Rebuild` only when the reference finds a key the target lost or a key
//!   whose target row is older than the published one;
//! - a compacted chain reads as the chain.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::Field;
use verge_core::online::{DeltaPlan, Layers, compact, delta_between};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};

/// One layer's rows: key → `(event_ts, created_ts, value)`.
type Rows = BTreeMap<i64, (i64, i64, Option<i64>)>;

fn snapshot(rows: &Rows) -> Arc<Snapshot> {
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("k", DType::Int64)],
        vec![Field::new("x", DType::Int64)],
        Duration::ZERO,
        true,
    );
    for (&key, &(event, made, value)) in rows {
        view.push_row(
            &EntityKey::single(KeyPart::Int64(key)),
            Timestamp(event),
            Some(Timestamp(made)),
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

fn layers(chain: &[Rows]) -> Layers {
    let (base, deltas) = chain.split_first().unwrap();
    Layers::new(snapshot(base), deltas.iter().map(snapshot).collect()).unwrap()
}

/// The reference read of a chain: per key the greatest `(event, created)`,
/// the later layer on a tie.
fn read(chain: &[Rows]) -> Rows {
    let mut out = Rows::new();
    for rows in chain {
        for (&key, &row) in rows {
            if out
                .get(&key)
                .is_none_or(|old| (row.0, row.1) >= (old.0, old.1))
            {
                out.insert(key, row);
            }
        }
    }
    out
}

/// What `layers` reads for `key`: `(event, value)` (reads do not show the
/// created time; which row won is checked through the delta's keys).
fn read_layers(layers: &Layers, key: i64) -> Option<(i64, Option<i64>)> {
    let v = layers.read_key(0, &[KeyPart::Int64(key)], 0, Timestamp(i64::MAX / 2));
    let event = v.event_ts?;
    let value = match v.value {
        Value::Int64(x) => Some(x),
        _ => None,
    };
    Some((event.0, value))
}

fn rows_strategy() -> impl Strategy<Value = Rows> {
    prop::collection::btree_map(
        0i64..24,
        (0i64..6, 0i64..3, prop::option::of(0i64..4)),
        0..16,
    )
}

/// A target: the published state with some keys edited (any time, so some
/// get older), some added and, now and then, some removed.
fn target_strategy() -> impl Strategy<Value = (Vec<Rows>, Rows)> {
    (
        prop::collection::vec(rows_strategy(), 1..4),
        rows_strategy(),
        any::<u8>(),
    )
        .prop_map(|(chain, edits, drop_every)| {
            let mut target = read(&chain);
            for (k, row) in edits {
                target.insert(k, row);
            }
            if drop_every % 4 == 0 {
                let every = usize::from(drop_every % 7) + 2;
                let keys: Vec<i64> = target.keys().copied().step_by(every).collect();
                for k in keys {
                    target.remove(&k);
                }
            }
            (chain, target)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_delta_layered_over_the_chain_reads_as_the_target((chain, target) in target_strategy()) {
        let published = layers(&chain);
        let want = read(&chain);
        let plan = delta_between(&published, &Layers::from(snapshot(&target))).unwrap();
        let lost = want.keys().any(|k| !target.contains_key(k));
        let older = target.iter().any(|(k, new)| {
            want.get(k).is_some_and(|old| old != new && (new.0, new.1) < (old.0, old.1))
        });
        let changed: BTreeSet<i64> = target
            .iter()
            .filter(|(k, row)| want.get(k) != Some(row))
            .map(|(k, _)| *k)
            .collect();
        match plan {
            DeltaPlan::Rebuild(reason) => prop_assert!(lost || older, "needless rebuild: {reason}"),
            DeltaPlan::Unchanged => prop_assert!(!lost && changed.is_empty()),
            DeltaPlan::Delta { bytes, rows } => {
                prop_assert!(!lost && !older);
                prop_assert_eq!(rows, changed.len());
                let delta = Arc::new(Snapshot::load(bytes).unwrap());
                let mut deltas: Vec<Arc<Snapshot>> = published.deltas().cloned().collect();
                deltas.push(Arc::clone(&delta));
                let served = Layers::new(Arc::clone(published.shared_base()), deltas).unwrap();
                for key in 0..24 {
                    prop_assert_eq!(read_layers(&served, key), target.get(&key).map(|r| (r.0, r.2)), "key {}", key);
                }
                let held: BTreeSet<i64> = (0..delta.table(0).map_or(0, |t| t.rows()))
                    .map(|r| match delta.key(0, r).unwrap().parts()[0] {
                        KeyPart::Int64(k) => k,
                        _ => unreachable!(),
                    })
                    .collect();
                prop_assert_eq!(held, changed);
            }
        }
    }

    #[test]
    fn a_compacted_chain_reads_as_the_chain(chain in prop::collection::vec(rows_strategy(), 1..5)) {
        let published = layers(&chain);
        let folded = Layers::from(Arc::new(Snapshot::load(compact(&published).unwrap()).unwrap()));
        prop_assert_eq!(folded.delta_count(), 0);
        let want = read(&chain);
        for key in 0..24 {
            prop_assert_eq!(read_layers(&folded, key), want.get(&key).map(|r| (r.0, r.2)), "key {}", key);
        }
        prop_assert_eq!(delta_between(&published, &folded).unwrap(), DeltaPlan::Unchanged);
    }
}
