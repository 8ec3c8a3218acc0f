//! Writing a snapshot: rows are gathered column by column, then laid out as the
//! file stores them (key columns, row records, heaps).
//!
//! The builder never holds a row as a `Vec<Value>`: each pushed value is appended
//! to its column's byte buffer and validity bitmap, so a view of a million rows
//! costs about its size in the finished snapshot. Columns are what a materializer
//! fills in parallel (one column per thread, disjoint borrows); the row records
//! a lookup wants are a transposition of them, done once at the end.
//!
//! Two ways in: [`ViewBuilder::push_row`] takes one row of [`Value`]s (simple, for
//! tests and small tables), and [`ViewBuilder::push_columns`] takes many rows column
//! by column through a callback that lends each cell as a [`CellRef`], so a
//! materializer reading Arrow arrays never builds a `Value` or a `String` per cell.
//! Both append the same bytes: the format does not know which was used.
//! [`SnapshotBuilder::finish`] writes each view into the framed output and
//! frees its columns before the next, so peak memory is the output plus one
//! view's columns, not three copies of the snapshot.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::codec::encode_payload;
use super::header::{ArtifactKind, HEADER_LEN, Header};
use super::snapshot::{
    CellSegments, RecordLayout, Segment, SnapshotMeta, ViewTableMeta, align8, view_fingerprint,
};
use crate::definition::Field;
use crate::time::{Duration, Timestamp};
use crate::value::{EntityKey, Value};
use crate::{ContentId, Error, Result};

mod column;
mod fill;
mod records;

pub use column::CellRef;
use column::{ColumnBuf, Mark};
pub use fill::ColumnFill;

/// Which column [`ViewBuilder::push_columns`] asks a cell for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSlot {
    /// Join key `i`, in the view's join-key order.
    Key(usize),
    /// Field `i`, in the view's field order.
    Field(usize),
}

/// Rows of one feature view, in the order they will be stored.
///
/// verge writes rows sorted by key so that equal inputs give byte-identical
/// snapshots (and so equal ids); the builder keeps whatever order it is given.
#[derive(Debug, Clone)]
pub struct ViewBuilder {
    name: String,
    join_keys: Vec<Field>,
    fields: Vec<Field>,
    ttl: Duration,
    keys: Vec<ColumnBuf>,
    event_ts: Vec<u8>,
    created_ts: Option<Vec<u8>>,
    columns: Vec<ColumnBuf>,
    rows: usize,
}

impl ViewBuilder {
    /// A table for feature view `name` with these join keys and fields. With
    /// `has_created`, every row must carry a created timestamp.
    #[must_use]
    pub fn new(
        name: &str,
        join_keys: Vec<Field>,
        fields: Vec<Field>,
        ttl: Duration,
        has_created: bool,
    ) -> Self {
        ViewBuilder {
            name: String::from(name),
            keys: join_keys.iter().map(|f| ColumnBuf::new(f.dtype)).collect(),
            columns: fields.iter().map(|f| ColumnBuf::new(f.dtype)).collect(),
            join_keys,
            fields,
            ttl,
            event_ts: Vec::new(),
            created_ts: has_created.then(Vec::new),
            rows: 0,
        }
    }

    /// Rows pushed so far (counting a columnar batch from [`ViewBuilder::push_times`] on).
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row. Values must match the field types (or be null).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] naming the field when a value or key part has the wrong
    /// type, a created timestamp is missing or unexpected, or the text data would
    /// pass 4 GiB.
    pub fn push_row(
        &mut self,
        key: &EntityKey,
        event_ts: Timestamp,
        created_ts: Option<Timestamp>,
        values: &[Value],
    ) -> Result<()> {
        self.check_complete()?;
        if key.parts().len() != self.keys.len() || values.len() != self.columns.len() {
            return Err(Error::Request(format!(
                "view `{}`: row has {} key parts and {} values, expected {} and {}",
                self.name,
                key.parts().len(),
                values.len(),
                self.keys.len(),
                self.columns.len()
            )));
        }
        // Check everything before writing anything so a bad row leaves no trace.
        for ((part, field), _) in key.parts().iter().zip(&self.join_keys).zip(&self.keys) {
            if !part.fits(field.dtype) {
                return Err(Error::Request(format!(
                    "view `{}`: join key `{}` is {} but got a {} key",
                    self.name,
                    field.name,
                    field.dtype,
                    part.dtype()
                )));
            }
        }
        for (value, field) in values.iter().zip(&self.fields) {
            if value.dtype().is_some_and(|d| d != field.dtype) {
                return Err(Error::Request(format!(
                    "view `{}`: field `{}` is {} but got {value:?}",
                    self.name, field.name, field.dtype
                )));
            }
        }
        if created_ts.is_some() != self.created_ts.is_some() {
            return Err(Error::Request(format!(
                "view `{}`: created timestamp given for some rows only",
                self.name
            )));
        }
        let marks = self.marks();
        let pushed = key
            .parts()
            .iter()
            .zip(&mut self.keys)
            .try_for_each(|(part, col)| col.push_cell(CellRef::from(part)))
            .and_then(|()| {
                values
                    .iter()
                    .zip(&mut self.columns)
                    .try_for_each(|(value, col)| col.push(value))
            });
        if pushed.is_err() {
            self.rollback(&marks);
            return Err(Error::Request(format!(
                "view `{}`: text data passes 4 GiB",
                self.name
            )));
        }
        self.event_ts
            .extend_from_slice(&event_ts.as_micros().to_le_bytes());
        if let (Some(buf), Some(ts)) = (&mut self.created_ts, created_ts) {
            buf.extend_from_slice(&ts.as_micros().to_le_bytes());
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends `rows` rows column by column, without building a [`Value`] per cell:
    /// the columnar fast path for materializing large tables.
    ///
    /// `times(r)` gives row `r`'s event and created timestamps (the created one is
    /// ignored when the table has no created timestamps, and must be `Some` when it
    /// has). `cell(slot, r)` lends row `r`'s value of a join key or field; it is
    /// called column by column (all rows of `Key(0)`, then `Key(1)`, …, then
    /// `Field(0)`, …), which keeps each column's buffer hot. The bytes appended are
    /// exactly those `rows` calls of [`ViewBuilder::push_row`] would append.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::artifact::{CellRef, ColumnSlot, Snapshot, SnapshotBuilder, ViewBuilder};
    /// use verge_core::definition::Field;
    /// use verge_core::{ContentId, DType, Duration, Timestamp, Value};
    ///
    /// let ids = [7i64, 9];
    /// let pulse = [Some(60.0), None];
    /// let mut view = ViewBuilder::new(
    ///     "vitals",
    ///     vec![Field::new("horse", DType::Int64)],
    ///     vec![Field::new("pulse", DType::Float64)],
    ///     Duration::ZERO,
    ///     false,
    /// );
    /// view.push_columns(
    ///     2,
    ///     |_| (Timestamp::from_secs(10), None),
    ///     |slot, r| match slot {
    ///         ColumnSlot::Key(_) => CellRef::Int64(ids[r]),
    ///         ColumnSlot::Field(_) => pulse[r].map_or(CellRef::Null, CellRef::Float64),
    ///     },
    /// )?;
    /// let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(10))
    ///     .with_view(view)
    ///     .finish()?;
    /// let snapshot = Snapshot::load(bytes)?;
    /// assert_eq!(snapshot.value(0, 0, snapshot.lookup_int(0, 9).unwrap()), Value::Null);
    /// # Ok::<(), verge_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Request`] naming the column and row when a cell has the wrong type, a
    /// join key is null, a created timestamp is missing, or text passes 4 GiB. On
    /// error nothing of the batch is kept.
    pub fn push_columns<'a>(
        &mut self,
        rows: usize,
        times: impl FnMut(usize) -> (Timestamp, Option<Timestamp>),
        mut cell: impl FnMut(ColumnSlot, usize) -> CellRef<'a>,
    ) -> Result<()> {
        self.check_complete()?;
        let marks = self.marks();
        let ts_marks = (
            self.event_ts.len(),
            self.created_ts.as_ref().map_or(0, Vec::len),
        );
        let start = self.rows;
        let result = self.push_times(rows, times).and_then(|()| {
            let slots = (0..self.keys.len())
                .map(ColumnSlot::Key)
                .chain((0..self.columns.len()).map(ColumnSlot::Field));
            for slot in slots.collect::<Vec<_>>() {
                self.push_column(slot, |r| cell(slot, r))?;
            }
            Ok(())
        });
        if result.is_err() {
            self.rollback(&marks);
            self.event_ts.truncate(ts_marks.0);
            if let Some(buf) = &mut self.created_ts {
                buf.truncate(ts_marks.1);
            }
            self.rows = start;
        }
        result
    }

    /// Starts a columnar batch of `rows` rows by appending their timestamps (see
    /// [`ViewBuilder::push_columns`] for `times`); [`ViewBuilder::push_column`]
    /// then fills each key and field column. Filling one column at a time lets a
    /// caller free each input column as soon as it is copied, so input and
    /// snapshot are never both whole in memory.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] when the previous batch still has unfilled columns, or
    /// a created timestamp is missing (nothing of the batch is kept).
    pub fn push_times(
        &mut self,
        rows: usize,
        mut times: impl FnMut(usize) -> (Timestamp, Option<Timestamp>),
    ) -> Result<()> {
        self.check_complete()?;
        let ts_marks = (
            self.event_ts.len(),
            self.created_ts.as_ref().map_or(0, Vec::len),
        );
        self.event_ts.reserve(rows * 8);
        if let Some(buf) = &mut self.created_ts {
            buf.reserve(rows * 8);
        }
        for r in 0..rows {
            let (event, created) = times(r);
            self.event_ts
                .extend_from_slice(&event.as_micros().to_le_bytes());
            if let Some(buf) = &mut self.created_ts {
                let Some(created) = created else {
                    self.event_ts.truncate(ts_marks.0);
                    buf.truncate(ts_marks.1);
                    return Err(Error::Request(format!(
                        "view `{}`: batch row {r} has no created timestamp",
                        self.name
                    )));
                };
                buf.extend_from_slice(&created.as_micros().to_le_bytes());
            }
        }
        self.rows += rows;
        Ok(())
    }

    /// Fills column `slot` of the batch started by [`ViewBuilder::push_times`]:
    /// `cell(r)` lends row `r` of the batch, for every row the column lacks.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] naming the column and row when a cell has the wrong type,
    /// a join key is null, text passes 4 GiB, or `slot` does not exist. On error
    /// the column is left as it was, still to be filled.
    pub fn push_column<'a>(
        &mut self,
        slot: ColumnSlot,
        cell: impl FnMut(usize) -> CellRef<'a>,
    ) -> Result<()> {
        let missing = Error::Request(format!("view `{}` has no column {slot:?}", self.name));
        self.column_fills()
            .into_iter()
            .find(|f| f.slot == slot)
            .ok_or(missing)?
            .fill(cell)
    }

    /// Every column of the batch started by [`ViewBuilder::push_times`],
    /// join keys first, each to be filled on its own
    /// ([`ColumnFill::fill`], as [`ViewBuilder::push_column`] fills one): the
    /// borrows are disjoint, so a host can fill them on several threads, and
    /// the bytes are the same whatever the order they are filled in.
    pub fn column_fills(&mut self) -> Vec<ColumnFill<'_>> {
        let rows = self.rows;
        let keys = self
            .keys
            .iter_mut()
            .zip(&self.join_keys)
            .enumerate()
            .map(|(i, (col, field))| (ColumnSlot::Key(i), col, field));
        let fields = self
            .columns
            .iter_mut()
            .zip(&self.fields)
            .enumerate()
            .map(|(i, (col, field))| (ColumnSlot::Field(i), col, field));
        let view = self.name.as_str();
        keys.chain(fields)
            .map(|(slot, col, field)| ColumnFill {
                view,
                slot,
                field,
                col,
                rows,
            })
            .collect()
    }

    /// Refuses to go on while a columnar batch has unfilled columns.
    fn check_complete(&self) -> Result<()> {
        let incomplete = self
            .join_keys
            .iter()
            .zip(&self.keys)
            .chain(self.fields.iter().zip(&self.columns))
            .find(|(_, c)| c.rows != self.rows);
        match incomplete {
            None => Ok(()),
            Some((field, _)) => Err(Error::Request(format!(
                "view `{}`: column `{}` of the last batch is not filled; call push_column for it",
                self.name, field.name
            ))),
        }
    }

    fn marks(&self) -> Vec<Mark> {
        self.keys
            .iter()
            .chain(&self.columns)
            .map(ColumnBuf::mark)
            .collect()
    }

    fn rollback(&mut self, marks: &[Mark]) {
        for (col, mark) in self.keys.iter_mut().chain(&mut self.columns).zip(marks) {
            col.rollback(*mark);
        }
    }
}

/// Assembles view tables into snapshot bytes.
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    registry_id: ContentId,
    window_start: Timestamp,
    window_end: Timestamp,
    shard_index: u32,
    shard_count: u32,
    views: Vec<ViewBuilder>,
}

impl SnapshotBuilder {
    /// A snapshot of registry version `registry_id` for the window `[start, end]`.
    #[must_use]
    pub fn new(registry_id: ContentId, window_start: Timestamp, window_end: Timestamp) -> Self {
        SnapshotBuilder {
            registry_id,
            window_start,
            window_end,
            shard_index: 0,
            shard_count: 1,
            views: Vec::new(),
        }
    }

    /// Marks the snapshot as shard `index` of `count`.
    #[must_use]
    pub fn shard(mut self, index: u32, count: u32) -> Self {
        self.shard_index = index;
        self.shard_count = count;
        self
    }

    /// Adds a view's table.
    #[must_use]
    pub fn with_view(mut self, view: ViewBuilder) -> Self {
        self.views.push(view);
        self
    }

    /// Lays out the data section, encodes the metadata and frames the payload.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for an impossible shard or a view whose last columnar batch
    /// has unfilled columns; [`Error::Malformed`] if encoding fails.
    pub fn finish(self) -> Result<Vec<u8>> {
        if self.shard_count == 0 || self.shard_index >= self.shard_count {
            return Err(Error::Request(format!(
                "shard {} of {} is impossible",
                self.shard_index, self.shard_count
            )));
        }
        for v in &self.views {
            v.check_complete()?;
        }
        let (views, data_len) = self.layout();
        let meta = SnapshotMeta {
            registry_id: self.registry_id,
            window_start: self.window_start,
            window_end: self.window_end,
            shard_index: self.shard_index,
            shard_count: self.shard_count,
            views,
        };
        let meta_bytes = encode_payload(&meta, "snapshot")?;
        Ok(write_framed(self.views, &meta, meta_bytes, data_len))
    }

    /// The first pass of [`SnapshotBuilder::finish`]: every table's metadata, with
    /// each non-empty buffer placed in the data section, and the section's length.
    fn layout(&self) -> (Vec<ViewTableMeta>, usize) {
        // Placed 8-aligned, in a fixed order, without copying anything yet.
        let mut data_len = 0usize;
        let mut put = |len: usize| -> Segment {
            if len == 0 {
                return Segment::default();
            }
            data_len = align8(data_len);
            let seg = Segment {
                offset: data_len as u64,
                len: len as u64,
            };
            data_len += len;
            seg
        };
        let mut views = Vec::with_capacity(self.views.len());
        for v in &self.views {
            let keys = v
                .keys
                .iter()
                .map(|col| CellSegments {
                    offsets: put(if column::is_variable(col.dtype) {
                        col.offsets.len()
                    } else {
                        0
                    }),
                    data: put(col.data.len()),
                })
                .collect();
            let layout = RecordLayout::of(&v.fields, v.created_ts.is_some());
            let records = put(v.rows * layout.stride);
            let heaps = v
                .columns
                .iter()
                .filter(|col| column::is_variable(col.dtype))
                .map(|col| CellSegments {
                    offsets: put(col.offsets.len()),
                    data: put(col.data.len()),
                })
                .collect();
            views.push(ViewTableMeta {
                name: v.name.clone(),
                fingerprint: view_fingerprint(&v.name, &v.join_keys, &v.fields, v.ttl),
                ttl: v.ttl,
                join_keys: v.join_keys.clone(),
                fields: v.fields.clone(),
                rows: v.rows as u64,
                keys,
                has_created: v.created_ts.is_some(),
                records,
                heaps,
            });
        }
        (views, data_len)
    }
}

/// The second pass of [`SnapshotBuilder::finish`]: header space, the metadata,
/// then each view's keys, records and heaps written to their places and the
/// view's buffers freed before the next view; then the header over it all.
fn write_framed(
    views: Vec<ViewBuilder>,
    meta: &SnapshotMeta,
    meta_bytes: Vec<u8>,
    data_len: usize,
) -> Vec<u8> {
    let data_start = align8(8 + meta_bytes.len());
    let mut out = Vec::with_capacity(HEADER_LEN + data_start + data_len);
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(&(meta_bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&meta_bytes);
    drop(meta_bytes);
    let base = HEADER_LEN + data_start;
    let copy = |out: &mut Vec<u8>, seg: Segment, bytes: &[u8]| {
        if seg.len != 0 {
            out.resize(base + seg.offset as usize, 0);
            out.extend_from_slice(bytes);
        }
    };
    for (v, table) in views.into_iter().zip(&meta.views) {
        for (col, seg) in v.keys.iter().zip(&table.keys) {
            copy(&mut out, seg.offsets, &col.offsets);
            copy(&mut out, seg.data, &col.data);
        }
        if table.records.len != 0 {
            out.resize(base + table.records.offset as usize, 0);
            records::write(&mut out, &v);
        }
        let heaps = v.columns.iter().filter(|c| column::is_variable(c.dtype));
        for (col, seg) in heaps.zip(&table.heaps) {
            copy(&mut out, seg.offsets, &col.offsets);
            copy(&mut out, seg.data, &col.data);
        }
    }
    out.resize(base + data_len, 0);
    Header::frame_in_place(ArtifactKind::Snapshot, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
