//! Rows partitioned by join-key hash and spilled to a temporary directory:
//! the out-of-core step of `historical` and `materialize` under a memory
//! budget ([`super::memory`]).
//!
//! Every row goes to partition [`partition_of`] of its key, so all rows of
//! one key land in one partition, in the order they were added; the exact
//! in-memory join or winner selection then runs on one partition at a time.
//! Each partition is an Arrow IPC stream file in a [`tempfile::TempDir`],
//! removed when the [`Spill`] is dropped, on success and on error alike.
//! Keys hash by value in their read type (int64 as the integer, strings as
//! their bytes), so an entity key and a source key that the join matches
//! always share a partition.

use std::fs::File;
use std::hash::Hasher as _;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use verge_core::definition::Field;

use super::memory::Memory;
use rustc_hash::FxHasher;

/// Rows per batch read from a source.
pub(crate) const BATCH_ROWS: usize = 1 << 16;

/// The most partitions a source is split into.
pub(crate) const MAX_PARTITIONS: u64 = 512;

/// Partitions for `working` bytes of one job's data beside `fixed` bytes held
/// throughout: 1 when it all fits, else enough that a partition takes at most
/// half of what is left (hash skew, and the pieces made from it).
pub(crate) fn count_for(working: u64, fixed: u64, memory: Memory) -> u32 {
    let room = memory.0.saturating_sub(fixed).max(memory.0 / 4).max(1);
    if working <= room {
        return 1;
    }
    let n = working.div_ceil((room / 2).max(1));
    u32::try_from(n.clamp(2, MAX_PARTITIONS)).unwrap_or(2)
}

/// The join-key columns of a batch in the source layout.
pub(crate) fn key_columns<'b>(batch: &'b RecordBatch, keys: &[Field]) -> Result<Vec<&'b ArrayRef>> {
    keys.iter()
        .map(|k| {
            batch
                .column_by_name(&k.name)
                .with_context(|| format!("internal: no join key column `{}`", k.name))
        })
        .collect()
}

/// The partition (of `count`) of each row, from its key columns `keys`.
/// A row with a null key part goes to partition 0 (no join matches it).
#[must_use]
pub(crate) fn partition_of(keys: &[&ArrayRef], rows: usize, count: u32) -> Vec<u32> {
    let mut hashes = vec![0u64; rows];
    let mut null = vec![false; rows];
    for column in keys {
        if let Some(a) = column.as_primitive_opt::<Int64Type>() {
            for (i, h) in hashes.iter_mut().enumerate() {
                let mut s = FxHasher::default();
                s.write_u64(*h);
                s.write_i64(a.value(i));
                *h = s.finish();
            }
        } else if let Some(a) = column.as_string_opt::<i32>() {
            for (i, h) in hashes.iter_mut().enumerate() {
                let mut s = FxHasher::default();
                s.write_u64(*h);
                s.write(a.value(i).as_bytes());
                *h = s.finish();
            }
        }
        if column.null_count() > 0 {
            for (i, n) in null.iter_mut().enumerate() {
                *n |= column.is_null(i);
            }
        }
    }
    hashes
        .iter()
        .zip(&null)
        .map(|(&h, &n)| {
            if n {
                0
            } else {
                // The high bits of a multiplicative mix: Fx's low bits are weak.
                ((h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % u64::from(count)) as u32
            }
        })
        .collect()
}

/// The row indices of each partition, in row order.
#[must_use]
pub(crate) fn rows_by_partition(parts: &[u32], count: u32) -> Vec<Vec<u32>> {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
    for (row, &p) in parts.iter().enumerate() {
        if let Some(list) = rows.get_mut(p as usize) {
            // Fewer than 2^32 rows per batch, as every batch here.
            list.push(row as u32);
        }
    }
    rows
}

/// Batches of one schema partitioned into files of a temporary directory.
pub(crate) struct Spill {
    dir: tempfile::TempDir,
    schema: SchemaRef,
    writers: Vec<Option<StreamWriter<BufWriter<File>>>>,
    /// Bytes written so far (of the Arrow arrays, before IPC framing).
    pub(crate) bytes: u64,
}

impl Spill {
    /// An empty spill of `count` partitions of batches of `schema`.
    ///
    /// # Errors
    ///
    /// The temporary directory cannot be made.
    pub(crate) fn new(schema: SchemaRef, count: u32) -> Result<Spill> {
        let dir = tempfile::Builder::new()
            .prefix("verge-spill-")
            .tempdir()
            .context("cannot create a temporary directory to spill partitions to (set TMPDIR to a disk with room)")?;
        Ok(Spill {
            dir,
            schema,
            writers: (0..count).map(|_| None).collect(),
            bytes: 0,
        })
    }

    /// The schema of every partition's batches.
    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The number of partitions.
    pub(crate) fn count(&self) -> u32 {
        self.writers.len() as u32
    }

    fn path(&self, p: usize) -> PathBuf {
        self.dir.path().join(format!("part-{p:05}.arrows"))
    }

    /// Appends the rows of `batch` to their partitions, `parts[i]` being row `i`'s.
    ///
    /// # Errors
    ///
    /// A partition file cannot be written (a full disk, say).
    pub(crate) fn add(&mut self, batch: &RecordBatch, parts: &[u32]) -> Result<()> {
        for (p, rows) in rows_by_partition(parts, self.count())
            .into_iter()
            .enumerate()
        {
            if rows.is_empty() {
                continue;
            }
            let piece = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                arrow_select::take::take_record_batch(batch, &UInt32Array::from(rows))
                    .context("splitting a batch into partitions")?
            };
            self.bytes += piece.get_array_memory_size() as u64;
            let path = self.path(p);
            let Some(slot) = self.writers.get_mut(p) else {
                continue;
            };
            if slot.is_none() {
                let file = File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let w =
                    StreamWriter::try_new(BufWriter::with_capacity(1 << 16, file), &self.schema)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                *slot = Some(w);
            }
            let Some(writer) = slot.as_mut() else {
                continue;
            };
            writer
                .write(&piece)
                .with_context(|| format!("cannot write {} (is the disk full?)", path.display()))?;
        }
        Ok(())
    }

    /// Finishes writing: every partition file is complete afterwards.
    ///
    /// # Errors
    ///
    /// A partition file cannot be flushed.
    pub(crate) fn finish(&mut self) -> Result<()> {
        for w in self.writers.iter_mut().flatten() {
            w.finish()
                .context("finishing a partition file (is the disk full?)")?;
            w.get_mut()
                .flush()
                .context("flushing a partition file (is the disk full?)")?;
        }
        Ok(())
    }

    /// Partition `p`'s rows as one batch (empty when none were added), read
    /// back from its file. Call [`Spill::finish`] first.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub(crate) fn read(&self, p: u32) -> Result<RecordBatch> {
        if self.writers.get(p as usize).is_none_or(Option::is_none) {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let path = self.path(p as usize);
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader = StreamReader::try_new(BufReader::with_capacity(1 << 16, file), None)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("cannot read {}", path.display()))?;
        arrow_select::concat::concat_batches(&self.schema, &batches)
            .with_context(|| format!("joining the batches of {}", path.display()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};

    use super::*;

    #[test]
    fn equal_keys_share_a_partition_and_rows_keep_their_order() {
        let keys: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), Some(7), None, Some(5)]));
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "a"]));
        let parts = partition_of(&[&keys, &text], 4, 16);
        assert_eq!(parts[0], parts[3]);
        assert_eq!(parts[2], 0, "a null key goes to partition 0");
        let batch = RecordBatch::try_from_iter([("k", keys), ("t", text)]).unwrap();
        let mut spill = Spill::new(batch.schema(), 16).unwrap();
        spill.add(&batch, &parts).unwrap();
        spill.add(&batch, &parts).unwrap();
        spill.finish().unwrap();
        let total: usize = (0..16).map(|p| spill.read(p).unwrap().num_rows()).sum();
        assert_eq!(total, 8);
        let same = spill.read(parts[0]).unwrap();
        let k = same.column(0).as_primitive::<Int64Type>();
        assert!(k.iter().filter(|v| *v == Some(5)).count() == 4);
        let dir = spill.dir.path().to_path_buf();
        drop(spill);
        assert!(!dir.exists(), "the spill directory is removed on drop");
    }
}
