//! A shard answers only for the keys it holds.
//!
//! A snapshot split `shard_count` ways holds, in shard `shard_index`, exactly
//! the rows whose key [`shard_of`] routes there. A key routed elsewhere is not
//! "not found" here: its row lives in another shard, and answering `NOT_FOUND`
//! (and then predicting from imputed values) would be a confident wrong answer.
//! So every read through a shard first checks that each entity row's key, for
//! every view the request can address, belongs to it, and refuses the request
//! otherwise, naming the shard that owns the key so a router can resend it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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
    for view in &meta.views {
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
        // A view the request cannot address is not read, so not checked.
        let Some(columns) = columns.filter(|c| !c.is_empty()) else {
            continue;
        };
        for row in 0..len {
            let parts: Option<Vec<KeyPart>> = columns.iter().map(|c| c.get(row).cloned()).collect();
            let Some(parts) = parts else { continue };
            let key = EntityKey(parts);
            let owner = shard_of(&key, meta.shard_count);
            if owner != meta.shard_index {
                return Some(ForeignKey {
                    row,
                    view: view.name.clone(),
                    key,
                    owner,
                    shard_index: meta.shard_index,
                    shard_count: meta.shard_count,
                });
            }
        }
    }
    None
}
