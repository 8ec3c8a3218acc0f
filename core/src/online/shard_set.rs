//! A sharded snapshot read as one: the shards a reader holds, routed by key.
//!
//! `verge materialize --shards N` splits a snapshot by key hash
//! ([`shard_of`](crate::artifact::shard_of)) into `N` complete snapshot
//! artifacts, each small enough for an edge key-value store. A reader at the
//! edge holds only the shards its requests have needed (the Worker caches them
//! under a memory budget), so the set is known by its shard ids, all `N` of
//! them, and only some are loaded. A key is read from the one shard that owns
//! it: one hash to route it, then one probe, however many shards there are.
//!
//! A key routed to a shard that is not loaded is not "not found": its row
//! exists, elsewhere. Readers check every key's shard before reading
//! ([`super::shard::route_check`]) and refuse the request instead.
//!
//! The set has one id, so answers name the same snapshot whichever shards a
//! reader happens to hold: [`set_id`].

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::artifact::{Snapshot, shard_of_parts};
use crate::value::KeyPart;
use crate::{ContentId, Error, Result};

/// What [`set_id`] hashes before the shard ids.
const SET_ID_CONTEXT: &[u8] = b"verge-shard-set-v1\0";

/// The id of a shard set: BLAKE3 of `verge-shard-set-v1\0`, the shard count
/// (u32 LE) and each shard's id in shard order. It depends only on the shards'
/// contents, like every artifact id.
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::online::set_id;
///
/// let ids = [ContentId([1; 32]), ContentId([2; 32])];
/// assert_eq!(set_id(&ids), set_id(&ids));
/// assert_ne!(set_id(&ids), set_id(&[ids[1], ids[0]]));
/// ```
#[must_use]
pub fn set_id(ids: &[ContentId]) -> ContentId {
    let mut bytes = Vec::with_capacity(SET_ID_CONTEXT.len() + 4 + 32 * ids.len());
    bytes.extend_from_slice(SET_ID_CONTEXT);
    bytes.extend_from_slice(&(ids.len() as u32).to_le_bytes());
    for id in ids {
        bytes.extend_from_slice(&id.0);
    }
    ContentId::of(&bytes)
}

/// The shards of one set a reader holds: every shard's id, and the loaded
/// snapshot of some of them.
#[derive(Debug, Clone)]
pub(crate) struct ShardSet {
    /// Every shard's id, in shard order.
    ids: Vec<ContentId>,
    /// The loaded shards, by shard index.
    slots: Vec<Option<Arc<Snapshot>>>,
    /// [`set_id`] of `ids`.
    id: ContentId,
}

impl ShardSet {
    /// The set `ids` with the shards of `loaded`; returns it and the loaded
    /// shard with the lowest index, whose schema every shard shares.
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] when nothing is loaded, or a loaded snapshot
    /// is not the shard of this set its index says (its count, its id, a
    /// second copy of one index), or its views differ from the others'.
    pub(crate) fn new(
        ids: Vec<ContentId>,
        loaded: Vec<Arc<Snapshot>>,
    ) -> Result<(ShardSet, Arc<Snapshot>)> {
        let count = ids.len();
        let mut slots: Vec<Option<Arc<Snapshot>>> = alloc::vec![None; count];
        for shard in loaded {
            let meta = shard.meta();
            let index = meta.shard_index as usize;
            let fits = meta.shard_count as usize == count
                && ids.get(index) == Some(&shard.id())
                && slots.get(index).is_some_and(Option::is_none);
            if !fits {
                return Err(Error::Incompatible {
                    message: format!(
                        "snapshot {} (shard {} of {}) is not a shard of this set of {count}, or is given twice; load the shards the set names",
                        shard.id().short(),
                        meta.shard_index,
                        meta.shard_count
                    ),
                });
            }
            slots[index] = Some(shard);
        }
        let base = slots
            .iter()
            .flatten()
            .next()
            .cloned()
            .ok_or_else(|| Error::Incompatible {
                message: format!("a shard set of {count} needs at least one of its shards loaded"),
            })?;
        for shard in slots.iter().flatten() {
            Self::check_schema(&base, shard)?;
        }
        let id = set_id(&ids);
        Ok((ShardSet { ids, slots, id }, base))
    }

    /// Shards of one set come from one materialization: the same registry
    /// version, window and views (names, shapes and order), so table `t`
    /// means the same view in every shard.
    fn check_schema(base: &Snapshot, shard: &Snapshot) -> Result<()> {
        let (a, b) = (base.meta(), shard.meta());
        let same = a.registry_id == b.registry_id
            && (a.window_start, a.window_end) == (b.window_start, b.window_end)
            && a.views.len() == b.views.len()
            && a.views
                .iter()
                .zip(&b.views)
                .all(|(x, y)| x.name == y.name && x.fingerprint == y.fingerprint);
        if same {
            return Ok(());
        }
        Err(Error::Incompatible {
            message: format!(
                "shards {} and {} of one set were not materialized together (registry, window or views differ); publish the shards of one materialization",
                a.shard_index, b.shard_index
            ),
        })
    }

    /// The set's id ([`set_id`]).
    pub(crate) fn id(&self) -> ContentId {
        self.id
    }

    /// Every shard's id, in shard order.
    pub(crate) fn ids(&self) -> &[ContentId] {
        &self.ids
    }

    /// How many shards the set has.
    pub(crate) fn count(&self) -> u32 {
        self.ids.len() as u32
    }

    /// The shard that owns the key whose `n` parts `part(i)` gives.
    pub(crate) fn route<'k>(&self, n: usize, part: impl Fn(usize) -> Option<&'k KeyPart>) -> u32 {
        shard_of_parts((0..n).map_while(part), self.count())
    }

    /// Shard `index`, if it is loaded.
    pub(crate) fn shard(&self, index: usize) -> Option<&Arc<Snapshot>> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// The loaded shards, by index.
    pub(crate) fn loaded(&self) -> impl Iterator<Item = &Arc<Snapshot>> {
        self.slots.iter().flatten()
    }
}
