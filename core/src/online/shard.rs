//! A shard answers only for the keys it holds.
//!
//! A snapshot split `shard_count` ways holds, in shard `shard_index`, exactly
//! the rows whose key [`shard_of`] routes there. A key routed elsewhere is not
//! "not found" here: its row lives in another shard, and answering `NOT_FOUND`
//! (and then predicting from imputed values) would be a confident wrong answer.
//! So every read through a shard first checks that each entity row's key, for
//! every view the request can address, belongs to it, and refuses the request
//! otherwise, naming the shard that owns the key so a router can resend it.
//!
//! A reader of a whole shard set ([`super::Layers::sharded`]) routes the same
//! way: [`shards_for`] says which shards a request needs, so the reader can
//! fetch them first, and a key whose shard it still does not hold is refused
//! ([`Misrouted::NotLoaded`]) rather than read as unknown.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::layers::Layered;
use crate::artifact::{Snapshot, shard_of};
use crate::value::{EntityKey, KeyPart};

/// An entity row whose key another shard owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// The entity row (0-based) in the request.
    pub row: usize,
    /// The view whose join keys routed it.
    pub view: String,
    /// The key, one part per join key of `view`.
    pub key: EntityKey,
    /// The shard that holds the key.
    pub owner: u32,
    /// This snapshot's shard.
    pub shard_index: u32,
    /// How many shards the set has.
    pub shard_count: u32,
}

impl ForeignKey {
    /// What to tell the caller: where the key lives and how to route.
    #[must_use]
    pub fn message(&self) -> String {
        let key = self
            .key
            .parts()
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "entity row {} (view `{}`, key [{key}]) belongs to shard {} of {}, and this snapshot is shard {}; \
             send it to shard {}'s deployment (route with verge_core::artifact::shard_of)",
            self.row, self.view, self.owner, self.shard_count, self.shard_index, self.owner
        )
    }
}

/// The first entity row of `entities` (`len` rows, one column per join key)
/// whose key, for some view of `snapshot` whose join keys the columns all give,
/// another shard owns. `None` for an unsharded snapshot or when every key is
/// this shard's own.
///
/// # Examples
///
/// ```
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder, shard_of};
/// use verge_core::definition::Field;
/// use verge_core::online::foreign_key;
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp};
///
/// let view = ViewBuilder::new("vitals", vec![Field::new("horse", DType::Int64)], vec![], Duration::ZERO, false);
/// let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(0))
///     .shard(0, 2)
///     .with_view(view)
///     .finish()?;
/// let shard = Snapshot::load(bytes)?;
/// let owner = |i: i64| shard_of(&EntityKey::single(KeyPart::Int64(i)), 2);
/// let mine = (0..).find(|&i| owner(i) == 0).unwrap();
/// let theirs = (0..).find(|&i| owner(i) == 1).unwrap();
/// let entities = [("horse".to_string(), vec![KeyPart::Int64(mine)])];
/// assert_eq!(foreign_key(&shard, &entities, 1), None);
/// let entities = [("horse".to_string(), vec![KeyPart::Int64(mine), KeyPart::Int64(theirs)])];
/// let foreign = foreign_key(&shard, &entities, 2).unwrap();
/// assert_eq!((foreign.row, foreign.owner, foreign.shard_index), (1, 1, 0));
/// # Ok::<(), verge_core::Error>(())
/// ```
#[must_use]
pub fn foreign_key(
    snapshot: &Snapshot,
    entities: &[(String, Vec<KeyPart>)],
    len: usize,
) -> Option<ForeignKey> {
    let meta = snapshot.meta();
    if meta.shard_count <= 1 {
        return None;
    }
    let mut foreign = None;
    for_each_routed_key(snapshot, entities, len, |row, view, key| {
        let owner = shard_of(&key, meta.shard_count);
        if owner == meta.shard_index {
            return true;
        }
        foreign = Some(ForeignKey {
            row,
            view: String::from(view),
            key,
            owner,
            shard_index: meta.shard_index,
            shard_count: meta.shard_count,
        });
        false
    });
    foreign
}

/// Calls `visit(row, view, key)` for every entity row's key of every view of
/// `snapshot` whose join keys the columns of `entities` all give (a view the
/// request cannot address is not read, so not routed), view by view, until
/// `visit` returns `false`.
fn for_each_routed_key(
    snapshot: &Snapshot,
    entities: &[(String, Vec<KeyPart>)],
    len: usize,
    mut visit: impl FnMut(usize, &str, EntityKey) -> bool,
) {
    for view in &snapshot.meta().views {
        let columns: Option<Vec<&[KeyPart]>> = view
            .join_keys
            .iter()
            .map(|k| {
                entities
                    .iter()
                    .find(|(name, _)| *name == k.name)
                    .map(|(_, values)| values.as_slice())
            })
            .collect();
        let Some(columns) = columns.filter(|c| !c.is_empty()) else {
            continue;
        };
        for row in 0..len {
            let parts: Option<Vec<KeyPart>> = columns.iter().map(|c| c.get(row).cloned()).collect();
            let Some(parts) = parts else { continue };
            if !visit(row, &view.name, EntityKey(parts)) {
                return;
            }
        }
    }
}

#[cfg(feature = "shard-sets")]
/// The shards of a set of `count` that hold the keys of `entities` (`len`
/// rows, one column per join key), for every view of `schema` (any shard of
/// the set) the columns address: what a reader must hold to answer. Sorted,
/// each once.
#[must_use]
pub fn shards_for(schema: &Snapshot, entities: &[(String, Vec<KeyPart>)], len: usize) -> Vec<u32> {
    let count = schema.meta().shard_count;
    let mut owners = alloc::collections::BTreeSet::new();
    for_each_routed_key(schema, entities, len, |_, _, key| {
        owners.insert(shard_of(&key, count));
        true
    });
    owners.into_iter().collect()
}

/// Why a request cannot be answered here, found before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misrouted {
    /// This snapshot is one shard and another owns a key (answer 421: the
    /// caller may resend it there).
    Foreign(ForeignKey),
    /// A shard set holds the key's shard but has not loaded it (answer 503:
    /// the reader could not fetch or check it).
    NotLoaded {
        /// The entity row (0-based) in the request.
        row: usize,
        /// The shard that holds the key.
        shard: u32,
        /// How many shards the set has.
        count: u32,
    },
}

impl Misrouted {
    /// What to tell the caller.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Misrouted::Foreign(foreign) => foreign.message(),
            Misrouted::NotLoaded { row, shard, count } => format!(
                "entity row {row} is held by shard {shard} of {count}, which this server has not loaded; retry, and if it persists check that shard in the artifact store"
            ),
        }
    }
}

/// The first entity row that `layers` cannot answer for: on a shard, a key
/// another shard owns; on a shard set, a key whose shard is not loaded.
pub(crate) fn route_check(
    layers: Layered<'_>,
    entities: &[(String, Vec<KeyPart>)],
    len: usize,
) -> Option<Misrouted> {
    #[cfg(feature = "shard-sets")]
    if let Layered::Many(l) = layers
        && let Some(set) = l.shard_set()
    {
        return not_loaded(set, layers.base(), entities, len);
    }
    foreign_key(layers.base(), entities, len).map(Misrouted::Foreign)
}

/// The first entity row whose key's shard `set` has not loaded.
#[cfg(feature = "shard-sets")]
fn not_loaded(
    set: &super::shard_set::ShardSet,
    schema: &Snapshot,
    entities: &[(String, Vec<KeyPart>)],
    len: usize,
) -> Option<Misrouted> {
    let mut missing = None;
    for_each_routed_key(schema, entities, len, |row, _, key| {
        let shard = shard_of(&key, set.count());
        if set.shard(shard as usize).is_some() {
            return true;
        }
        missing = Some(Misrouted::NotLoaded {
            row,
            shard,
            count: set.count(),
        });
        false
    });
    missing
}
