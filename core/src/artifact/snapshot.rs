//! Reading a snapshot: online feature values for some feature views as of a time.
//!
//! A snapshot payload is a small bincode-encoded [`SnapshotMeta`] followed by a
//! data section. Per table it holds the join keys as columns, then one fixed-size
//! record per row (timestamps, fixed-width values and null bits side by side; see
//! `record`), then a heap per variable-width field. Loading checks the header and
//! hash, decodes the metadata, checks every extent against the data section,
//! validates the heaps, and builds a hash index per table. Values are then read in
//! place from the loaded bytes: a lookup touches the index slot and the row's
//! record, nothing else.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use serde::{Deserialize, Serialize};

use super::codec::decode_payload;
use super::header::{ArtifactKind, Header};
use super::index::{IntIndex, KeyHasher, KeyIndex};
use crate::definition::Field;
use crate::time::{Duration, Timestamp};
use crate::value::{DType, EntityKey, KeyPart, Value};
use crate::{ContentId, Result};
pub(crate) use record::{CellPlace, RecordLayout, fixed_width};

mod bytes;
mod check;
mod record;
mod row;

pub use bytes::SnapshotBytes;
pub use row::RowRef;

use super::wire::decode_struct;
pub(crate) use check::align8;
use check::{check_table, malformed, to_array};

const KIND: &str = "snapshot";

/// Where a run of bytes sits, relative to the start of the data section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Segment {
    /// Offset from the data section's start; a multiple of 8.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The byte extents of a column kept apart from the row records: a join key
/// (int32 or int64 keys have no `offsets`) or a variable-width field's heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CellSegments {
    /// For string and the other variable-width types: `rows + 1` u32 offsets
    /// into `data`, first 0, never decreasing; empty for integer keys.
    pub offsets: Segment,
    /// The cells: i32/i64 little-endian keys, or every row's bytes back to back.
    pub data: Segment,
}

/// Metadata of one feature view's table inside a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewTableMeta {
    /// Feature view name.
    pub name: String,
    /// [`view_fingerprint`] of the view definition the rows were materialized for.
    pub fingerprint: ContentId,
    /// The view's ttl (zero: no limit), enforced by online reads.
    pub ttl: Duration,
    /// Join keys, in order.
    pub join_keys: Vec<Field>,
    /// Feature fields, in order.
    pub fields: Vec<Field>,
    /// Number of rows (one per entity key).
    pub rows: u64,
    /// One column per join key. Keys stay columnar, so the index is built from
    /// contiguous bytes; they are never null.
    pub keys: Vec<CellSegments>,
    /// Whether each row's record holds a created timestamp.
    pub has_created: bool,
    /// The row records, `rows` × the record stride, whose layout follows from
    /// `fields` and `has_created` (`docs/format.md`, "Row records").
    pub records: Segment,
    /// One heap per variable-width field, in field order.
    pub heaps: Vec<CellSegments>,
}

/// Snapshot-wide metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The registry version the snapshot was materialized from.
    pub registry_id: ContentId,
    /// Start of the materialized window (inclusive).
    pub window_start: Timestamp,
    /// End of the materialized window (inclusive): the "as of" time.
    pub window_end: Timestamp,
    /// Which shard this is, `0..shard_count`.
    pub shard_index: u32,
    /// How many shards the snapshot was split into (1: not sharded).
    pub shard_count: u32,
    /// One table per feature view.
    pub views: Vec<ViewTableMeta>,
}

/// The fingerprint of a feature view's online shape: name, join keys, fields and ttl.
///
/// A bundle and a snapshot agree on a view when their fingerprints match, even if
/// they were built from different registry versions.
#[must_use]
pub fn view_fingerprint(
    name: &str,
    join_keys: &[Field],
    fields: &[Field],
    ttl: Duration,
) -> ContentId {
    #[derive(Serialize)]
    struct Shape<'a> {
        name: &'a str,
        join_keys: &'a [Field],
        fields: &'a [Field],
        ttl: Duration,
    }
    // Encoding these plain types cannot fail; fall back to hashing nothing rather than panic.
    let bytes = super::codec::encode_payload(
        &Shape {
            name,
            join_keys,
            fields,
            ttl,
        },
        KIND,
    )
    .unwrap_or_default();
    ContentId::of(&bytes)
}

/// The shard a key belongs to when a snapshot is split `count` ways.
///
/// Stable across versions and platforms: the first 8 bytes (little-endian u64) of
/// the BLAKE3 hash of the key's canonical bytes, modulo `count`. Canonical bytes
/// per part: `0x00` + i64 LE for integers, `0x01` + u32 LE length + UTF-8 for text.
///
/// # Examples
///
/// ```
/// use verge_core::artifact::shard_of;
/// use verge_core::{EntityKey, KeyPart};
/// let key = EntityKey::single(KeyPart::Int64(533738));
/// assert!(shard_of(&key, 4) < 4);
/// assert_eq!(shard_of(&key, 1), 0);
/// ```
#[must_use]
pub fn shard_of(key: &EntityKey, count: u32) -> u32 {
    shard_of_parts(key.parts().iter(), count)
}

/// [`shard_of`] for a key given as its parts in join-key order, so a reader
/// routing a key it holds as borrowed parts does not build an [`EntityKey`].
#[must_use]
pub fn shard_of_parts<'k>(parts: impl IntoIterator<Item = &'k KeyPart>, count: u32) -> u32 {
    if count <= 1 {
        return 0;
    }
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        match part {
            KeyPart::Int64(v) => {
                hasher.update(&[0]);
                hasher.update(&v.to_le_bytes());
            }
            KeyPart::String(s) => {
                hasher.update(&[1]);
                hasher.update(&(s.len() as u32).to_le_bytes());
                hasher.update(s.as_bytes());
            }
        }
    }
    let hash = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    (u64::from_le_bytes(first) % u64::from(count)) as u32
}

/// A checked feature column: its type and where its cells sit.
#[derive(Debug, Clone)]
pub struct Column {
    dtype: DType,
    /// The record byte holding the field's null bit, and the bit's mask.
    null_at: usize,
    null_mask: u8,
    place: Place,
}

#[derive(Debug, Clone)]
enum Place {
    /// At this offset inside each record.
    Fixed(usize),
    /// In a heap, at absolute byte ranges of the snapshot.
    Heap(Cells),
}

/// Absolute ranges of a variable-width column: `rows + 1` u32 offsets, and the
/// bytes they index.
#[derive(Debug, Clone)]
struct Cells {
    offsets: Range<usize>,
    data: Range<usize>,
}

impl Column {
    /// The column's type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        self.dtype
    }
}

/// A checked join-key column.
#[derive(Debug, Clone)]
struct KeyColumn {
    dtype: DType,
    /// Absolute range of the fixed-width keys; for string keys, unused.
    data: Range<usize>,
    /// String keys' cells.
    cells: Option<Cells>,
}

/// A checked table with its index.
#[derive(Debug, Clone)]
pub struct ViewTable {
    rows: usize,
    keys: Vec<KeyColumn>,
    /// Absolute offset of the first record.
    records: usize,
    stride: usize,
    created: Option<usize>,
    columns: Vec<Column>,
    index: KeyIndex,
    /// Set instead of `index` when the table has a single int64 join key.
    ints: Option<IntIndex>,
}

impl ViewTable {
    /// Number of rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The absolute offset of `row`'s record, if the row exists.
    #[inline]
    fn record(&self, row: usize) -> Option<usize> {
        (row < self.rows).then(|| self.records + row * self.stride)
    }
}

/// A loaded, checked snapshot.
///
/// # Examples
///
/// ```
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
/// use verge_core::definition::Field;
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
///
/// let mut view = ViewBuilder::new(
///     "stats",
///     vec![Field::new("hospital_number", DType::Int64)],
///     vec![Field::new("pulse", DType::Float64)],
///     Duration::from_days(1),
///     false,
/// );
/// let key = EntityKey::single(KeyPart::Int64(533738));
/// view.push_row(&key, Timestamp::from_secs(100), None, &[Value::Float64(72.0)]).unwrap();
/// let bytes = SnapshotBuilder::new(ContentId::of(b"registry"), Timestamp::MIN, Timestamp::from_secs(200))
///     .with_view(view)
///     .finish()
///     .unwrap();
///
/// let snapshot = Snapshot::load(bytes).unwrap();
/// let table = snapshot.table_index("stats").unwrap();
/// let row = snapshot.lookup(table, &key).unwrap();
/// assert_eq!(snapshot.value(table, 0, row), Value::Float64(72.0));
/// assert_eq!(snapshot.event_ts(table, row), Timestamp::from_secs(100));
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    bytes: SnapshotBytes,
    id: ContentId,
    meta: SnapshotMeta,
    tables: Vec<ViewTable>,
}

impl Snapshot {
    /// Checks and indexes a snapshot, taking ownership of its bytes (a `Vec`,
    /// or [`SnapshotBytes::shared`] for a memory map): every value is then
    /// read in place from them.
    ///
    /// # Errors
    ///
    /// Every header error ([`Error::BadMagic`](crate::Error::BadMagic), [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion),
    /// [`Error::Truncated`](crate::Error::Truncated), [`Error::HashMismatch`](crate::Error::HashMismatch)) and [`Error::Malformed`](crate::Error::Malformed) when the
    /// metadata or a column is inconsistent, including a key that appears twice.
    pub fn load(bytes: impl Into<SnapshotBytes>) -> Result<Snapshot> {
        let bytes: SnapshotBytes = bytes.into();
        let (header, payload) = Header::open(&bytes, ArtifactKind::Snapshot)?;
        let payload_start = bytes.len() - payload.len();
        let meta_len = payload
            .get(..8)
            .ok_or_else(|| malformed("payload is shorter than its metadata length"))?;
        let meta_len = u64::from_le_bytes(to_array(meta_len));
        let meta_end = usize::try_from(meta_len)
            .ok()
            .and_then(|n| n.checked_add(8))
            .filter(|&end| end <= payload.len())
            .ok_or_else(|| {
                malformed(&format!("metadata length {meta_len} runs past the payload"))
            })?;
        let meta: SnapshotMeta = decode_payload(&payload[8..meta_end], KIND)?;
        let data_start = payload_start + align8(meta_end);
        if data_start > bytes.len() {
            return Err(malformed("data section starts past the end"));
        }
        if meta.shard_count == 0 || meta.shard_index >= meta.shard_count {
            return Err(malformed(&format!(
                "shard {} of {} is impossible",
                meta.shard_index, meta.shard_count
            )));
        }
        let data_len = bytes.len() - data_start;
        let mut tables = Vec::with_capacity(meta.views.len().min(1024));
        for view in &meta.views {
            tables.push(check_table(&bytes, data_start, data_len, view)?);
        }
        Ok(Snapshot {
            bytes,
            id: header.id,
            meta,
            tables,
        })
    }

    /// The snapshot's content id.
    #[must_use]
    pub fn id(&self) -> ContentId {
        self.id
    }

    /// The metadata: registry id, window, shard and view schemas.
    #[must_use]
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// The loaded bytes (header included).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The index of the table for feature view `view`.
    #[must_use]
    pub fn table_index(&self, view: &str) -> Option<usize> {
        self.meta.views.iter().position(|v| v.name == view)
    }

    /// The table at `table`, if any.
    #[must_use]
    pub fn table(&self, table: usize) -> Option<&ViewTable> {
        self.tables.get(table)
    }

    /// The row holding `key` in `table`, if the key is present.
    #[must_use]
    #[inline]
    pub fn lookup(&self, table: usize, key: &EntityKey) -> Option<usize> {
        let t = self.tables.get(table)?;
        if key.parts().len() != t.keys.len() {
            return None;
        }
        if let Some(ints) = &t.ints {
            return match key.parts() {
                [KeyPart::Int64(v)] => ints.find(*v).map(|r| r as usize),
                _ => None,
            };
        }
        let mut hasher = KeyHasher::default();
        for part in key.parts() {
            match part {
                KeyPart::Int64(v) => hasher.int(*v),
                KeyPart::String(s) => hasher.str(s.as_bytes()),
            }
        }
        let row = t.index.find(hasher.finish(), |row| {
            key.parts()
                .iter()
                .zip(&t.keys)
                .all(|(part, col)| self.key_equals(col, row as usize, part))
        })?;
        Some(row as usize)
    }

    /// A single-int64-key lookup without building an [`EntityKey`]: the hot path.
    #[must_use]
    #[inline]
    pub fn lookup_int(&self, table: usize, key: i64) -> Option<usize> {
        let t = self.tables.get(table)?;
        t.ints.as_ref()?.find(key).map(|r| r as usize)
    }

    /// Row `row` of `table`, to read several of its cells: the table and the
    /// row's record are found once, and each read is then an offset into the
    /// record. `None` when the table or the row does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// # use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
    /// # use verge_core::definition::Field;
    /// # use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
    /// let mut view = ViewBuilder::new(
    ///     "stats",
    ///     vec![Field::new("id", DType::Int64)],
    ///     vec![Field::new("pulse", DType::Float32), Field::new("temp", DType::Float64)],
    ///     Duration::ZERO,
    ///     false,
    /// );
    /// let key = EntityKey::single(KeyPart::Int64(7));
    /// view.push_row(&key, Timestamp(5), None, &[Value::Float32(72.0), Value::Null]).unwrap();
    /// let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp(0), Timestamp(9))
    ///     .with_view(view)
    ///     .finish()
    ///     .unwrap();
    /// let snapshot = Snapshot::load(bytes).unwrap();
    /// let row = snapshot.row(0, snapshot.lookup_int(0, 7).unwrap()).unwrap();
    /// assert_eq!((row.event_ts(), row.f64(0), row.f64(1)), (Timestamp(5), Some(72.0), None));
    /// ```
    #[must_use]
    #[inline]
    pub fn row(&self, table: usize, row: usize) -> Option<RowRef<'_>> {
        let t = self.tables.get(table)?;
        let start = t.record(row)?;
        Some(RowRef {
            snapshot: self,
            table: t,
            row,
            record: self.bytes.get(start..start + t.stride)?,
        })
    }

    /// The event timestamp of `row` in `table` (`Timestamp::MIN` if out of range).
    #[must_use]
    #[inline]
    pub fn event_ts(&self, table: usize, row: usize) -> Timestamp {
        self.row(table, row)
            .map_or(Timestamp::MIN, |r| r.event_ts())
    }

    /// The created timestamp of `row` in `table`, when the source had one.
    #[must_use]
    #[inline]
    pub fn created_ts(&self, table: usize, row: usize) -> Option<Timestamp> {
        self.row(table, row)?.created_ts()
    }

    /// The key of `row` in `table`.
    #[must_use]
    pub fn key(&self, table: usize, row: usize) -> Option<EntityKey> {
        let t = self.tables.get(table)?;
        if row >= t.rows {
            return None;
        }
        let mut parts = Vec::with_capacity(t.keys.len());
        for col in &t.keys {
            parts.push(match &col.cells {
                Some(cells) => KeyPart::String(String::from(self.str_in(cells, row)?)),
                None => KeyPart::Int64(self.key_int(col, row)?),
            });
        }
        Some(EntityKey(parts))
    }

    /// The value of field `column` at `row` in `table`; null when out of range.
    #[must_use]
    pub fn value(&self, table: usize, column: usize, row: usize) -> Value {
        self.row(table, row)
            .map_or(Value::Null, |r| r.value(column))
    }

    /// The value of a numeric field as f64 without building a [`Value`]; `None` for null.
    #[must_use]
    #[inline]
    pub fn f64_at(&self, table: usize, column: usize, row: usize) -> Option<f64> {
        self.row(table, row)?.f64(column)
    }

    /// The element count of an array cell without decoding it; `None` for
    /// null or a non-array column.
    #[must_use]
    pub fn array_len(&self, table: usize, column: usize, row: usize) -> Option<usize> {
        self.row(table, row)?.array_len(column)
    }

    fn key_equals(&self, col: &KeyColumn, row: usize, part: &KeyPart) -> bool {
        match (part, &col.cells) {
            (KeyPart::Int64(v), None) => self.key_int(col, row) == Some(*v),
            (KeyPart::String(s), Some(cells)) => self.str_in(cells, row) == Some(s.as_str()),
            _ => false,
        }
    }

    /// An integer key cell, either width, as i64.
    fn key_int(&self, col: &KeyColumn, row: usize) -> Option<i64> {
        let width = if col.dtype == DType::Int32 { 4 } else { 8 };
        let at = col.data.start + row.checked_mul(width)?;
        if at + width > col.data.end {
            return None;
        }
        if width == 4 {
            self.fixed::<4>(at)
                .map(|b| i64::from(i32::from_le_bytes(b)))
        } else {
            self.fixed::<8>(at).map(i64::from_le_bytes)
        }
    }

    #[inline]
    fn fixed<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at + N).map(to_array)
    }

    fn str_in(&self, cells: &Cells, row: usize) -> Option<&str> {
        core::str::from_utf8(self.cell(cells, row)?).ok()
    }

    /// The bytes of a variable-width cell.
    fn cell(&self, cells: &Cells, row: usize) -> Option<&[u8]> {
        let offset = |i: usize| -> Option<usize> {
            let at = cells.offsets.start + i.checked_mul(4)?;
            if at + 4 > cells.offsets.end {
                return None;
            }
            self.fixed::<4>(at).map(|b| u32::from_le_bytes(b) as usize)
        };
        let (start, end) = (offset(row)?, offset(row + 1)?);
        self.bytes
            .get(cells.data.start + start..cells.data.start + end)
    }
}

decode_struct!(Segment { offset, len });
decode_struct!(CellSegments { offsets, data });
decode_struct!(ViewTableMeta {
    name,
    fingerprint,
    ttl,
    join_keys,
    fields,
    rows,
    keys,
    has_created,
    records,
    heaps,
});
decode_struct!(SnapshotMeta {
    registry_id,
    window_start,
    window_end,
    shard_index,
    shard_count,
    views
});
