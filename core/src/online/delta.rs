//! The delta between two online states: what a publisher ships so that the
//! edge, layering it over what it already serves, reads the new state.
//!
//! [`delta_between`] compares what is published (a base and its deltas) with
//! what should be served, key by key, by each side's winning row (the
//! [`Layers`] rule: newest `(event_ts, created_ts)`, the later layer on a
//! tie). The delta holds the target's winning row of every key whose row
//! differs (timestamps or any value), and nothing else, so its size follows
//! the change, not the snapshot.
//!
//! A delta can only add rows, and a row it adds only wins when it is at least
//! as new as the one it replaces. So a change is shipped as a delta only when
//! every changed key got a newer (or equally new) row and no key disappeared;
//! otherwise (a view's shape changed, a key left the window, a backfill made a
//! key's row older) the answer is [`DeltaPlan::Rebuild`] with the reason, and
//! the publisher ships a new base. Layering the delta over the published state
//! then reads exactly as the target on every key, which
//! `core/tests/delta_between.rs` checks against a reference.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::Layers;
use crate::artifact::{Snapshot, SnapshotBuilder, ViewBuilder, ViewTableMeta};
use crate::time::Timestamp;
use crate::value::{EntityKey, Value};
use crate::{Error, Result};

/// What it takes to go from a published state to a target state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaPlan {
    /// Every key reads the same in both: nothing to ship.
    Unchanged,
    /// The encoded delta snapshot (keys changed, of views changed) and how
    /// many rows it holds.
    Delta {
        /// The delta, framed as any snapshot.
        bytes: Vec<u8>,
        /// Rows in it, over all views.
        rows: usize,
    },
    /// The change cannot be expressed by newer-wins layering; why, in a sentence.
    Rebuild(String),
}

/// One key's winning row: the layer's snapshot, its table and row.
struct Row<'a> {
    snapshot: &'a Snapshot,
    table: usize,
    row: usize,
}

impl Row<'_> {
    fn stamp(&self) -> (Timestamp, Option<Timestamp>) {
        (
            self.snapshot.event_ts(self.table, self.row),
            self.snapshot.created_ts(self.table, self.row),
        )
    }

    fn value(&self, column: usize) -> Value {
        self.snapshot.value(self.table, column, self.row)
    }
}

/// The winning row of `key` in base table `table` of `layers`.
fn winner<'a>(layers: &'a Layers, table: usize, key: &EntityKey) -> Option<Row<'a>> {
    let parts = key.parts();
    let hit = layers.find(table, parts.len(), |i| parts.get(i))?;
    Some(Row {
        snapshot: layers.layer(hit.layer),
        table: hit.table,
        row: hit.row,
    })
}

/// Every key of base table `table` in some layer of `layers`, each once,
/// sorted (the order verge stores rows in, so equal deltas are byte-identical).
fn keys_of(layers: &Layers, table: usize) -> Vec<EntityKey> {
    let mut keys = Vec::new();
    for layer in 0..=layers.delta_count() {
        let Some(t) = layers.table_in(layer, table) else {
            continue;
        };
        let snapshot = layers.layer(layer);
        let rows = snapshot.table(t).map_or(0, |t| t.rows());
        keys.extend((0..rows).filter_map(|row| snapshot.key(t, row)));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Equal values, floats compared by bits (a NaN is unchanged when it stays NaN).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float64(x), Value::Float64(y)) => x.to_bits() == y.to_bits(),
        (Value::Float32(x), Value::Float32(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn same_row(a: &Row<'_>, b: &Row<'_>, columns: usize) -> bool {
    a.stamp() == b.stamp() && (0..columns).all(|c| same_value(&a.value(c), &b.value(c)))
}

/// The delta that takes `published` to `target` (see the module docs).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
/// use verge_core::definition::Field;
/// use verge_core::online::{DeltaPlan, Layers, delta_between};
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
///
/// let snapshot = |rows: &[(i64, i64, i64)]| {
///     let mut view = ViewBuilder::new(
///         "vitals",
///         vec![Field::new("horse", DType::Int64)],
///         vec![Field::new("pulse", DType::Int64)],
///         Duration::ZERO,
///         false,
///     );
///     for &(horse, ts, pulse) in rows {
///         let key = EntityKey::single(KeyPart::Int64(horse));
///         view.push_row(&key, Timestamp::from_secs(ts), None, &[Value::Int64(pulse)])?;
///     }
///     let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(100))
///         .with_view(view)
///         .finish()?;
///     Ok::<_, verge_core::Error>(Arc::new(Snapshot::load(bytes)?))
/// };
/// let published = Layers::from(snapshot(&[(1, 10, 60), (2, 10, 70)])?);
/// let target = Layers::from(snapshot(&[(1, 10, 60), (2, 20, 72)])?);
/// let DeltaPlan::Delta { bytes, rows } = delta_between(&published, &target)? else {
///     panic!("horse 2 got a newer row");
/// };
/// assert_eq!(rows, 1);
/// let served = Layers::new(Arc::clone(published.shared_base()), vec![Arc::new(Snapshot::load(bytes)?)])?;
/// let key = [KeyPart::Int64(2)];
/// assert_eq!(served.read_key(0, &key, 0, Timestamp::from_secs(30)).value, Value::Int64(72));
/// // A key whose row got older cannot be shipped as a delta.
/// let older = Layers::from(snapshot(&[(1, 5, 1), (2, 10, 70)])?);
/// assert!(matches!(delta_between(&published, &older)?, DeltaPlan::Rebuild(_)));
/// # Ok::<(), verge_core::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Request`] when a row cannot be re-encoded (a builder check; not
/// expected for rows read from valid snapshots).
pub fn delta_between(published: &Layers, target: &Layers) -> Result<DeltaPlan> {
    let (old, new) = (published.base().meta(), target.base().meta());
    if (old.shard_index, old.shard_count) != (new.shard_index, new.shard_count) {
        return Ok(DeltaPlan::Rebuild(format!(
            "the published snapshot is shard {} of {} and the new one shard {} of {}",
            old.shard_index, old.shard_count, new.shard_index, new.shard_count
        )));
    }
    let shapes = |m: &crate::artifact::SnapshotMeta| -> Vec<_> {
        m.views
            .iter()
            .map(|v| (v.name.clone(), v.fingerprint))
            .collect()
    };
    if shapes(old) != shapes(new) {
        return Ok(DeltaPlan::Rebuild(String::from(
            "the feature views (or their fields, keys or ttl) changed",
        )));
    }
    let mut builder = SnapshotBuilder::new(new.registry_id, new.window_start, new.window_end)
        .shard(new.shard_index, new.shard_count);
    let mut total = 0;
    for (table, view) in new.views.iter().enumerate() {
        let columns = view.fields.len();
        let mut changed = Vec::new();
        for key in keys_of(published, table) {
            if winner(target, table, &key).is_none() {
                return Ok(DeltaPlan::Rebuild(format!(
                    "view `{}` no longer holds key {key:?}, and a delta cannot remove a key",
                    view.name
                )));
            }
        }
        for key in keys_of(target, table) {
            let Some(new_row) = winner(target, table, &key) else {
                continue;
            };
            match winner(published, table, &key) {
                Some(old_row) if same_row(&old_row, &new_row, columns) => continue,
                Some(old_row) if new_row.stamp() < old_row.stamp() => {
                    return Ok(DeltaPlan::Rebuild(format!(
                        "view `{}`, key {key:?}: the new row is older than the published one, and an older row never wins over a newer one",
                        view.name
                    )));
                }
                _ => changed.push((key, new_row)),
            }
        }
        total += changed.len();
        if !changed.is_empty() {
            builder = builder.with_view(view_rows(view, &changed)?);
        }
    }
    if total == 0 {
        return Ok(DeltaPlan::Unchanged);
    }
    Ok(DeltaPlan::Delta {
        bytes: builder.finish()?,
        rows: total,
    })
}

/// The rows `rows` (key and winning row, sorted by key) of `view` as a table.
fn view_rows(view: &ViewTableMeta, rows: &[(EntityKey, Row<'_>)]) -> Result<ViewBuilder> {
    let columns = view.fields.len();
    let has_created = rows.first().is_some_and(|(_, r)| r.stamp().1.is_some());
    let mut table = ViewBuilder::new(
        &view.name,
        view.join_keys.clone(),
        view.fields.clone(),
        view.ttl,
        has_created,
    );
    for (key, row) in rows {
        let (event, created) = row.stamp();
        let values: Vec<Value> = (0..columns).map(|c| row.value(c)).collect();
        table
            .push_row(key, event, created, &values)
            .map_err(|e| Error::Request(format!("re-encoding view `{}`: {e}", view.name)))?;
    }
    Ok(table)
}

/// `layers` folded into one snapshot: every key's winning row, as the base
/// and its deltas read together. What a publisher ships when a chain of
/// deltas may not grow (`[publish] max_deltas`), so the edge loads one
/// snapshot again. Its metadata is the base's.
///
/// # Errors
///
/// As [`delta_between`].
pub fn compact(layers: &Layers) -> Result<Vec<u8>> {
    let meta = layers.base().meta();
    let mut builder = SnapshotBuilder::new(meta.registry_id, meta.window_start, meta.window_end)
        .shard(meta.shard_index, meta.shard_count);
    for (table, view) in meta.views.iter().enumerate() {
        let rows: Vec<(EntityKey, Row<'_>)> = keys_of(layers, table)
            .into_iter()
            .filter_map(|key| winner(layers, table, &key).map(|row| (key, row)))
            .collect();
        builder = builder.with_view(view_rows(view, &rows)?);
    }
    builder.finish()
}
