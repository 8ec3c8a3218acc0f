//! The in-memory entity index of a snapshot table: open addressing over row numbers.
//!
//! The index is rebuilt at load time rather than stored, so it costs no bytes in
//! the file, cannot disagree with the rows it indexes, and its hash function can
//! change without a format bump. A lookup hashes the key once and usually
//! touches one slot.

use alloc::vec;
use alloc::vec::Vec;
use core::hash::Hasher;

use rustc_hash::FxHasher;

const EMPTY: u32 = u32::MAX;

/// Maps a key hash to the row holding that key.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndex {
    slots: Vec<u32>,
    mask: usize,
}

/// Hashes a key from its parts; `KeyHasher` is fed the same way at build and lookup.
#[derive(Default)]
pub(crate) struct KeyHasher(FxHasher);

impl KeyHasher {
    pub(crate) fn int(&mut self, v: i64) {
        self.0.write_i64(v);
    }

    pub(crate) fn str(&mut self, s: &[u8]) {
        self.0.write(s);
        // A terminator keeps ("ab","c") and ("a","bc") apart.
        self.0.write_u8(0xff);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl KeyIndex {
    /// An index for `rows` rows: capacity is the next power of two ≥ 2 × rows, so
    /// probes stay short and the table costs at most 16 bytes a row.
    pub(crate) fn with_rows(rows: usize) -> Self {
        let capacity = rows.saturating_mul(2).max(4).next_power_of_two();
        KeyIndex {
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
        }
    }

    /// Inserts `row` under `hash`; `same_key(other_row)` tells whether another row
    /// has the same key. Returns the other row on a duplicate.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        row: u32,
        mut same_key: impl FnMut(u32) -> bool,
    ) -> Result<(), u32> {
        let mut i = (hash as usize) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                self.slots[i] = row;
                return Ok(());
            }
            if same_key(slot) {
                return Err(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The row whose key hashes to `hash` and satisfies `is_key`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = (hash as usize) & self.mask;
        // The table is at most half full, so this loop always meets an empty slot.
        for _ in 0..self.slots.len() {
            let slot = *self.slots.get(i)?;
            if slot == EMPTY {
                return None;
            }
            if is_key(slot) {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
        None
    }
}

/// An index for tables keyed by one int64 join key, the common case: each slot
/// holds the key itself next to its row, so a lookup touches one cache line of
/// the index and never the key column.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntIndex {
    slots: Vec<(i64, u32)>,
    mask: usize,
}

impl IntIndex {
    /// An index for `rows` rows, at most half full (16 bytes a slot).
    pub(crate) fn with_rows(rows: usize) -> Self {
        let capacity = rows.saturating_mul(2).max(4).next_power_of_two();
        IntIndex {
            slots: vec![(0, EMPTY); capacity],
            mask: capacity - 1,
        }
    }

    fn start(&self, key: i64) -> usize {
        let mut h = KeyHasher::default();
        h.int(key);
        (h.finish() as usize) & self.mask
    }

    /// Inserts `key` at `row`; returns the earlier row on a repeated key.
    pub(crate) fn insert(&mut self, key: i64, row: u32) -> Result<(), u32> {
        let mut i = self.start(key);
        loop {
            let (k, r) = self.slots[i];
            if r == EMPTY {
                self.slots[i] = (key, row);
                return Ok(());
            }
            if k == key {
                return Err(r);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The row holding `key`.
    #[inline]
    pub(crate) fn find(&self, key: i64) -> Option<u32> {
        let mut i = self.start(key);
        for _ in 0..self.slots.len() {
            let (k, r) = *self.slots.get(i)?;
            if r == EMPTY {
                return None;
            }
            if k == key {
                return Some(r);
            }
            i = (i + 1) & self.mask;
        }
        None
    }
}
