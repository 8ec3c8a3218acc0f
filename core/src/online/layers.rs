//! [`Layers`]: a base snapshot with an ordered list of delta snapshots over it.
//!
//! A delta snapshot has the base's format and schema but holds only the keys
//! that changed (pushed rows in `verge serve`, a published delta at the edge).
//! Reading a key probes the base and each delta once and keeps the newest row
//! by `(event_ts, created_ts)`, the materialization rule; on a complete tie the
//! later layer wins, as a pushed row wins over the snapshot it is pushed onto.
//! So a read costs O(layers) index probes and nothing is rebuilt or copied:
//! the winning row is then read in place from the layer that holds it.
//!
//! A delta must be of the same shard as the base (same index and count), and
//! each of its views must be one of the base's with the same fingerprint (name,
//! join keys, fields, ttl), so column `c` of a view means the same field in
//! every layer. A delta may leave views out; those are read from the base alone.
//!
//! A sharded snapshot read at the edge is layers too, of another kind
//! ([`Layers::sharded`]): the shards of one set a reader holds, each key read
//! from the one shard that owns it. A shard set takes no deltas.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

#[cfg(feature = "shard-sets")]
use super::shard_set::ShardSet;
use super::{FeatureValue, find_row, read_row};
use crate::artifact::Snapshot;
use crate::time::{Duration, Timestamp};
use crate::value::KeyPart;
use crate::{ContentId, Error, Result};

/// One delta over a base, with where each base table lives in it.
#[derive(Debug, Clone)]
struct Delta {
    snapshot: Arc<Snapshot>,
    /// For each base table, the delta's table of that view, if it has one.
    tables: Vec<Option<usize>>,
}

/// A base snapshot and the deltas layered over it, oldest first.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
/// use verge_core::definition::Field;
/// use verge_core::online::Layers;
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
///
/// let snapshot = |ts: i64, pulse: i64| {
///     let mut view = ViewBuilder::new(
///         "vitals",
///         vec![Field::new("horse", DType::Int64)],
///         vec![Field::new("pulse", DType::Int64)],
///         Duration::ZERO,
///         false,
///     );
///     view.push_row(&EntityKey::single(KeyPart::Int64(7)), Timestamp::from_secs(ts), None, &[Value::Int64(pulse)])?;
///     let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(ts))
///         .with_view(view)
///         .finish()?;
///     Ok::<_, verge_core::Error>(Arc::new(Snapshot::load(bytes)?))
/// };
/// let layers = Layers::new(snapshot(10, 60)?, vec![snapshot(20, 72)?])?;
/// let key = [KeyPart::Int64(7)];
/// let value = layers.read_key(0, &key, 0, Timestamp::from_secs(30));
/// assert_eq!(value.value, Value::Int64(72));
/// // An older delta does not override the base.
/// let layers = Layers::new(snapshot(10, 60)?, vec![snapshot(5, 1)?])?;
/// assert_eq!(layers.read_key(0, &key, 0, Timestamp::from_secs(30)).value, Value::Int64(60));
/// # Ok::<(), verge_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Layers {
    base: Arc<Snapshot>,
    deltas: Vec<Delta>,
    /// For a shard set: the shards held; `base` is then the first of them,
    /// read only for the schema every shard shares.
    #[cfg(feature = "shard-sets")]
    shards: Option<ShardSet>,
}

/// Where a key's winning row is: layer 0 is the base, `i + 1` delta `i`; in
/// a shard set, layer `i` is shard `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) layer: usize,
    pub(crate) table: usize,
    pub(crate) row: usize,
}

impl From<Arc<Snapshot>> for Layers {
    fn from(base: Arc<Snapshot>) -> Layers {
        Layers {
            base,
            deltas: Vec::new(),
            #[cfg(feature = "shard-sets")]
            shards: None,
        }
    }
}

impl From<Snapshot> for Layers {
    fn from(base: Snapshot) -> Layers {
        Layers::from(Arc::new(base))
    }
}

impl Layers {
    /// `deltas` (oldest first) over `base`.
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] for a delta of another shard, or holding a view
    /// the base does not have or has with another shape.
    pub fn new(base: Arc<Snapshot>, deltas: Vec<Arc<Snapshot>>) -> Result<Layers> {
        let mut layers = Layers::from(base);
        #[cfg(feature = "shard-sets")]
        if layers.base.meta().shard_count > 1 && !deltas.is_empty() {
            // A delta layers over one shard; a reader of a shard set holds
            // several, so publishing shards ships whole shards instead.
            return Err(Error::Incompatible {
                message: format!(
                    "snapshot {} is a shard; deltas layer over a whole snapshot, so publish changed shards whole instead",
                    layers.base.id().short()
                ),
            });
        }
        for (i, delta) in deltas.into_iter().enumerate() {
            layers.deltas.push(layers.check(i, delta)?);
        }
        Ok(layers)
    }

    #[cfg(feature = "shard-sets")]
    /// The shard set whose shards have the ids `ids` (in shard order), with
    /// the shards of it `loaded` holds: a key is read from the shard
    /// [`shard_of`](crate::artifact::shard_of) routes it to. Readers refuse
    /// a request with a key whose shard is not loaded, before reading.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder, shard_of};
    /// use verge_core::definition::Field;
    /// use verge_core::online::Layers;
    /// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
    ///
    /// let key = |i: i64| EntityKey::single(KeyPart::Int64(i));
    /// let shard = |index: u32| {
    ///     let mut view = ViewBuilder::new(
    ///         "vitals",
    ///         vec![Field::new("horse", DType::Int64)],
    ///         vec![Field::new("pulse", DType::Int64)],
    ///         Duration::ZERO,
    ///         false,
    ///     );
    ///     for i in (0..20).filter(|&i| shard_of(&key(i), 2) == index) {
    ///         view.push_row(&key(i), Timestamp::from_secs(1), None, &[Value::Int64(i * 10)])?;
    ///     }
    ///     let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(1))
    ///         .shard(index, 2)
    ///         .with_view(view)
    ///         .finish()?;
    ///     Ok::<_, verge_core::Error>(Arc::new(Snapshot::load(bytes)?))
    /// };
    /// let (zero, one) = (shard(0)?, shard(1)?);
    /// let ids = vec![zero.id(), one.id()];
    /// let both = Layers::sharded(ids.clone(), vec![zero.clone(), one])?;
    /// for i in 0..20 {
    ///     let read = both.read_key(0, &[KeyPart::Int64(i)], 0, Timestamp::from_secs(2));
    ///     assert_eq!(read.value, Value::Int64(i * 10));
    /// }
    /// let some = Layers::sharded(ids, vec![zero])?;
    /// assert_eq!(some.missing_shards().collect::<Vec<_>>(), [1]);
    /// assert_eq!(some.id(), both.id());
    /// # Ok::<(), verge_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] when nothing is loaded, a loaded snapshot is
    /// not the shard of this set its index says, or the shards' schemas differ.
    pub fn sharded(ids: Vec<ContentId>, loaded: Vec<Arc<Snapshot>>) -> Result<Layers> {
        let (set, base) = ShardSet::new(ids, loaded)?;
        Ok(Layers {
            base,
            deltas: Vec::new(),
            shards: Some(set),
        })
    }

    /// The id answers name: the base snapshot's, or a shard set's
    /// ([`set_id`](super::set_id)) whichever shards are loaded.
    #[must_use]
    pub fn id(&self) -> ContentId {
        #[cfg(feature = "shard-sets")]
        if let Some(set) = &self.shards {
            return set.id();
        }
        self.base.id()
    }

    #[cfg(feature = "shard-sets")]
    /// For a shard set, every shard's id in shard order; empty otherwise.
    #[must_use]
    pub fn shard_ids(&self) -> &[ContentId] {
        self.shards.as_ref().map_or(&[], ShardSet::ids)
    }

    #[cfg(feature = "shard-sets")]
    /// For a shard set, the loaded shards in index order; nothing otherwise.
    pub fn loaded_shards(&self) -> impl Iterator<Item = &Arc<Snapshot>> {
        self.shards.iter().flat_map(ShardSet::loaded)
    }

    #[cfg(feature = "shard-sets")]
    /// For a shard set, the indexes of the shards not loaded.
    pub fn missing_shards(&self) -> impl Iterator<Item = u32> + '_ {
        self.shards
            .iter()
            .flat_map(|set| (0..set.count()).filter(|&i| set.shard(i as usize).is_none()))
    }

    #[cfg(feature = "shard-sets")]
    /// The shard set, when these layers are one.
    pub(crate) fn shard_set(&self) -> Option<&ShardSet> {
        self.shards.as_ref()
    }

    /// Delta number `i` matched against the base.
    fn check(&self, i: usize, delta: Arc<Snapshot>) -> Result<Delta> {
        let (base, meta) = (self.base.meta(), delta.meta());
        if (meta.shard_index, meta.shard_count) != (base.shard_index, base.shard_count) {
            return Err(Error::Incompatible {
                message: format!(
                    "delta {i} ({}) is shard {} of {}, and its base ({}) shard {} of {}; layer a delta over the base shard it was cut from",
                    delta.id().short(),
                    meta.shard_index,
                    meta.shard_count,
                    self.base.id().short(),
                    base.shard_index,
                    base.shard_count
                ),
            });
        }
        for view in &meta.views {
            let same = self
                .base
                .table_index(&view.name)
                .is_some_and(|t| base.views[t].fingerprint == view.fingerprint);
            if !same {
                return Err(Error::Incompatible {
                    message: format!(
                        "delta {i} ({}) holds view `{}`, which its base ({}) does not hold in that shape; build the delta from the base's definitions",
                        delta.id().short(),
                        view.name,
                        self.base.id().short()
                    ),
                });
            }
        }
        let tables = base
            .views
            .iter()
            .map(|v| delta.table_index(&v.name))
            .collect();
        Ok(Delta {
            snapshot: delta,
            tables,
        })
    }

    /// The base snapshot.
    #[must_use]
    pub fn base(&self) -> &Snapshot {
        &self.base
    }

    /// The base snapshot, shared.
    #[must_use]
    pub fn shared_base(&self) -> &Arc<Snapshot> {
        &self.base
    }

    /// The deltas, oldest first.
    pub fn deltas(&self) -> impl Iterator<Item = &Arc<Snapshot>> {
        self.deltas.iter().map(|d| &d.snapshot)
    }

    /// The snapshot of layer `layer` (0: the base).
    pub(crate) fn layer(&self, layer: usize) -> &Snapshot {
        #[cfg(feature = "shard-sets")]
        if let Some(set) = &self.shards {
            return set.shard(layer).unwrap_or(&self.base);
        }
        match layer.checked_sub(1).and_then(|i| self.deltas.get(i)) {
            Some(d) => &d.snapshot,
            None => &self.base,
        }
    }

    /// How many deltas are layered over the base.
    #[must_use]
    pub fn delta_count(&self) -> usize {
        self.deltas.len()
    }

    /// Where base table `table` lives in layer `layer` (0: the base), if
    /// that layer holds the view.
    pub(crate) fn table_in(&self, layer: usize, table: usize) -> Option<usize> {
        match layer.checked_sub(1) {
            None => (table < self.base.meta().views.len()).then_some(table),
            Some(i) => self.deltas.get(i)?.tables.get(table).copied().flatten(),
        }
    }

    /// The winning row of the key whose `n` parts `part(i)` gives (in the
    /// view's join-key order), in base table `table`.
    pub(crate) fn find<'k>(
        &self,
        table: usize,
        n: usize,
        part: impl Fn(usize) -> Option<&'k KeyPart>,
    ) -> Option<Hit> {
        #[cfg(feature = "shard-sets")]
        if let Some(set) = &self.shards {
            let owner = set.route(n, &part) as usize;
            let row = find_row(set.shard(owner)?, table, n, &part)?;
            return Some(Hit {
                layer: owner,
                table,
                row,
            });
        }
        let mut best = find_row(&self.base, table, n, &part).map(|row| Hit {
            layer: 0,
            table,
            row,
        });
        for (i, delta) in self.deltas.iter().enumerate() {
            let Some(t) = delta.tables.get(table).copied().flatten() else {
                continue;
            };
            let Some(row) = find_row(&delta.snapshot, t, n, &part) else {
                continue;
            };
            let hit = Hit {
                layer: i + 1,
                table: t,
                row,
            };
            // `>=`: on a complete tie the later layer wins.
            if best.is_none_or(|b| self.stamp(hit) >= self.stamp(b)) {
                best = Some(hit);
            }
        }
        best
    }

    /// A row's `(event_ts, created_ts)`: what newer-wins compares.
    fn stamp(&self, hit: Hit) -> (Timestamp, Option<Timestamp>) {
        let s = self.layer(hit.layer);
        (
            s.event_ts(hit.table, hit.row),
            s.created_ts(hit.table, hit.row),
        )
    }

    /// Reads `column` of the row `hit` found, checked against `ttl` at `now`.
    pub(crate) fn read(
        &self,
        hit: Option<Hit>,
        column: usize,
        ttl: Duration,
        now: Timestamp,
    ) -> FeatureValue {
        match hit {
            Some(h) => read_row(self.layer(h.layer), h.table, Some(h.row), column, ttl, now),
            None => FeatureValue::NOT_FOUND,
        }
    }

    /// Reads `column` of base table `table` for the key `key` (in the view's
    /// join-key order) at `now`, with the table's ttl: newest layer wins.
    #[must_use]
    pub fn read_key(
        &self,
        table: usize,
        key: &[KeyPart],
        column: usize,
        now: Timestamp,
    ) -> FeatureValue {
        let Some(meta) = self.base.meta().views.get(table) else {
            return FeatureValue::NOT_FOUND;
        };
        let hit = self.find(table, key.len(), |i| key.get(i));
        self.read(hit, column, meta.ttl, now)
    }
}

/// What a read goes through: one snapshot, or layers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Layered<'a> {
    /// A snapshot alone (a read that was given no deltas).
    One(&'a Snapshot),
    /// A base and its deltas.
    Many(&'a Layers),
}

impl<'a> Layered<'a> {
    /// The base snapshot (the schema every layer shares).
    pub(crate) fn base(self) -> &'a Snapshot {
        match self {
            Layered::One(s) => s,
            Layered::Many(l) => &l.base,
        }
    }

    /// As [`Layers::find`].
    pub(crate) fn find<'k>(
        self,
        table: usize,
        n: usize,
        part: impl Fn(usize) -> Option<&'k KeyPart>,
    ) -> Option<Hit> {
        match self {
            Layered::One(s) => find_row(s, table, n, part).map(|row| Hit {
                layer: 0,
                table,
                row,
            }),
            Layered::Many(l) => l.find(table, n, part),
        }
    }

    /// As [`Layers::read`].
    pub(crate) fn read(
        self,
        hit: Option<Hit>,
        column: usize,
        ttl: Duration,
        now: Timestamp,
    ) -> FeatureValue {
        match (self, hit) {
            (Layered::One(s), Some(h)) => read_row(s, h.table, Some(h.row), column, ttl, now),
            (Layered::Many(l), hit) => l.read(hit, column, ttl, now),
            (Layered::One(_), None) => FeatureValue::NOT_FOUND,
        }
    }
}
