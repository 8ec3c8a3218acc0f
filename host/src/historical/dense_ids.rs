//! Dense ids for the distinct values of a key column, numbered on all cores.
//!
//! One hash map over every source row was the largest serial step of the join
//! (1M rows, 100k keys: about 30 ms of a 180 ms `historical`). Here the rows
//! are cut into fixed blocks; each block (blocks in parallel) sorts its keys
//! into key-hash partitions, in row order; each partition (partitions in
//! parallel) numbers its distinct keys in the order it meets them; and a
//! key's id is its partition's base plus its number there. Blocks and
//! partitions are fixed, not the thread count, so the ids are the same on any
//! number of threads. Nothing outside needs them in a particular order: they
//! only group rows by key.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash};

use anyhow::{Result, bail};
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use super::keys::NO_KEY;

/// Rows per block of the numbering pass.
const BLOCK_ROWS: usize = 1 << 15;

/// How many key-hash partitions the keys are numbered in.
const PARTITIONS: usize = 64;

fn partition_of<K: Hash>(key: &K) -> usize {
    (FxBuildHasher.hash_one(key) >> 58) as usize
}

/// The ids of a column's distinct values.
pub(super) struct DenseIds<K> {
    maps: Vec<HashMap<K, u32, FxBuildHasher>>,
    /// The first id of each partition's keys.
    bases: Vec<u32>,
    len: usize,
}

impl<K: Hash + Eq + Copy + Send + Sync> DenseIds<K> {
    /// Numbers the distinct values of rows `0..rows`, where `value(row)` is
    /// the row's key (`None` for a row without one, whose id is [`NO_KEY`]).
    /// Returns the ids and each row's id.
    ///
    /// # Errors
    ///
    /// More distinct keys than ids below [`NO_KEY`].
    pub(super) fn number(
        rows: usize,
        value: impl Fn(usize) -> Option<K> + Sync,
    ) -> Result<(Self, Vec<u32>)> {
        let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
        let tagged: Vec<Vec<Vec<K>>> = starts
            .par_iter()
            .map(|&start| {
                let mut parts: Vec<Vec<K>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
                for row in start..(start + BLOCK_ROWS).min(rows) {
                    if let Some(key) = value(row)
                        && let Some(part) = parts.get_mut(partition_of(&key))
                    {
                        part.push(key);
                    }
                }
                parts
            })
            .collect();
        let maps: Vec<HashMap<K, u32, FxBuildHasher>> = (0..PARTITIONS)
            .into_par_iter()
            .map(|part| {
                let mut map: HashMap<K, u32, FxBuildHasher> = HashMap::default();
                for key in tagged.iter().filter_map(|block| block.get(part)).flatten() {
                    let next = map.len() as u32;
                    map.entry(*key).or_insert(next);
                }
                map
            })
            .collect();
        drop(tagged);
        let mut bases = Vec::with_capacity(PARTITIONS);
        let mut len = 0usize;
        for map in &maps {
            bases.push(u32::try_from(len).unwrap_or(NO_KEY));
            len += map.len();
        }
        if u32::try_from(len).is_err() || len >= NO_KEY as usize {
            bail!("more than 2^32 - 1 distinct keys");
        }
        let ids = DenseIds { maps, bases, len };
        let mut row_ids = vec![NO_KEY; rows];
        row_ids
            .par_chunks_mut(BLOCK_ROWS)
            .enumerate()
            .for_each(|(block, chunk)| {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    if let Some(key) = value(block * BLOCK_ROWS + i) {
                        *slot = ids.get(&key).unwrap_or(NO_KEY);
                    }
                }
            });
        Ok((ids, row_ids))
    }

    /// The id of `key`, if a numbered row had it.
    pub(super) fn get(&self, key: &K) -> Option<u32> {
        let part = partition_of(key);
        let local = self.maps.get(part)?.get(key)?;
        Some(self.bases.get(part)? + local)
    }

    /// How many distinct keys were numbered.
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_share_an_id_exactly_when_they_share_a_key() {
        // More rows than a block, keys recurring across blocks, some rows without one.
        let keys: Vec<Option<i64>> = (0..100_000i64)
            .map(|i| (i % 11 != 0).then_some((i * 7919) % 3001))
            .collect();
        let (ids, row_ids) = DenseIds::number(keys.len(), |r| keys[r]).unwrap();
        let distinct: std::collections::HashSet<i64> = keys.iter().flatten().copied().collect();
        assert_eq!(ids.len(), distinct.len());
        let mut seen: HashMap<i64, u32> = HashMap::new();
        for (key, &id) in keys.iter().zip(&row_ids) {
            match key {
                None => assert_eq!(id, NO_KEY),
                Some(k) => {
                    assert!((id as usize) < ids.len());
                    assert_eq!(*seen.entry(*k).or_insert(id), id, "key {k}");
                    assert_eq!(ids.get(k), Some(id));
                }
            }
        }
        // Dense: every id below len is some key's.
        let used: std::collections::HashSet<u32> = seen.values().copied().collect();
        assert_eq!(used.len(), ids.len());
        assert_eq!(ids.get(&-1), None);
    }

    #[test]
    fn the_ids_do_not_depend_on_the_thread_count() {
        let keys: Vec<Option<&str>> = ["a", "b", "c", "a", "d"]
            .iter()
            .cycle()
            .take(70_000)
            .map(|s| Some(*s))
            .collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| DenseIds::number(keys.len(), |r| keys[r]).unwrap().1)
        };
        assert_eq!(run(1), run(3));
    }
}
