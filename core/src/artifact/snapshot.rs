//! Reading a snapshot: online feature values for some feature views as of a time.
//!
//! A snapshot payload is a small bincode-encoded [`SnapshotMeta`] followed by a
//! data section of raw little-endian columns. Loading checks the header and hash,
//! decodes the metadata, checks every column's extent against the data section,
//! validates text columns, and builds a hash index per table. Values are then read
//! in place from the loaded bytes: nothing is copied column by column.

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
use crate::{ContentId, Error, Result};

const KIND: &str = "snapshot";

/// Where a column's bytes sit, relative to the start of the data section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Segment {
    /// Offset from the data section's start; a multiple of 8.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The byte extents of one column: optional validity bitmap, offsets for text, data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ColumnSegments {
    /// One bit a row, LSB first, 1 = present; empty when no row is null.
    pub validity: Segment,
    /// For text: `rows + 1` u32 offsets into `data`; empty otherwise.
    pub offsets: Segment,
    /// The values: i64/f32/f64 little-endian, a bit a row for bool, UTF-8 for text.
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
    /// One column per join key.
    pub keys: Vec<ColumnSegments>,
    /// Each row's event timestamp, i64 µs.
    pub event_ts: Segment,
    /// Each row's created timestamp, i64 µs; empty when the source has none.
    pub created_ts: Segment,
    /// One column per field.
    pub columns: Vec<ColumnSegments>,
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
    if count <= 1 {
        return 0;
    }
    let mut hasher = blake3::Hasher::new();
    for part in key.parts() {
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

/// A checked column: its type and absolute byte ranges in the snapshot.
#[derive(Debug, Clone)]
pub struct Column {
    dtype: DType,
    validity: Option<Range<usize>>,
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

/// A checked table with its index.
#[derive(Debug, Clone)]
pub struct ViewTable {
    rows: usize,
    keys: Vec<Column>,
    event_ts: Range<usize>,
    created_ts: Option<Range<usize>>,
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
    bytes: Vec<u8>,
    id: ContentId,
    meta: SnapshotMeta,
    tables: Vec<ViewTable>,
}

impl Snapshot {
    /// Checks and indexes a snapshot, taking ownership of its bytes.
    ///
    /// # Errors
    ///
    /// Every header error ([`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::Truncated`], [`Error::HashMismatch`]) and [`Error::Malformed`] when the
    /// metadata or a column is inconsistent, including a key that appears twice.
    pub fn load(bytes: Vec<u8>) -> Result<Snapshot> {
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

    /// The event timestamp of `row` in `table` (`Timestamp::MIN` if out of range).
    #[must_use]
    pub fn event_ts(&self, table: usize, row: usize) -> Timestamp {
        self.tables
            .get(table)
            .and_then(|t| self.int_at(&t.event_ts, row))
            .map_or(Timestamp::MIN, Timestamp)
    }

    /// The created timestamp of `row` in `table`, when the source had one.
    #[must_use]
    pub fn created_ts(&self, table: usize, row: usize) -> Option<Timestamp> {
        let t = self.tables.get(table)?;
        self.int_at(t.created_ts.as_ref()?, row).map(Timestamp)
    }

    /// The key of `row` in `table`.
    #[must_use]
    pub fn key(&self, table: usize, row: usize) -> Option<EntityKey> {
        let t = self.tables.get(table)?;
        let mut parts = Vec::with_capacity(t.keys.len());
        for col in &t.keys {
            parts.push(match self.value_in(col, row) {
                Value::Int64(v) => KeyPart::Int64(v),
                Value::String(s) => KeyPart::String(s),
                _ => return None,
            });
        }
        Some(EntityKey(parts))
    }

    /// The value of field `column` at `row` in `table`; null when out of range.
    #[must_use]
    pub fn value(&self, table: usize, column: usize, row: usize) -> Value {
        match self.tables.get(table).and_then(|t| t.columns.get(column)) {
            Some(col) => self.value_in(col, row),
            None => Value::Null,
        }
    }

    /// The value of a numeric field as f64 without building a [`Value`]; `None` for null.
    #[must_use]
    #[inline]
    pub fn f64_at(&self, table: usize, column: usize, row: usize) -> Option<f64> {
        let col = self.tables.get(table)?.columns.get(column)?;
        if !self.is_valid(col, row) {
            return None;
        }
        match col.dtype {
            DType::Float32 => self
                .fixed::<4>(&col.data, row)
                .map(|b| f64::from(f32::from_le_bytes(b))),
            DType::Float64 => self.fixed::<8>(&col.data, row).map(f64::from_le_bytes),
            DType::Int64 => self
                .fixed::<8>(&col.data, row)
                .map(|b| i64::from_le_bytes(b) as f64),
            DType::Bool => self.bit(&col.data, row).map(|b| if b { 1.0 } else { 0.0 }),
            DType::String => None,
        }
    }

    fn value_in(&self, col: &Column, row: usize) -> Value {
        if !self.is_valid(col, row) {
            return Value::Null;
        }
        let value = match col.dtype {
            DType::Bool => self.bit(&col.data, row).map(Value::Bool),
            DType::Int64 => self.int_at(&col.data, row).map(Value::Int64),
            DType::Float32 => self
                .fixed::<4>(&col.data, row)
                .map(|b| Value::Float32(f32::from_le_bytes(b))),
            DType::Float64 => self
                .fixed::<8>(&col.data, row)
                .map(|b| Value::Float64(f64::from_le_bytes(b))),
            DType::String => self
                .str_at(col, row)
                .map(|s| Value::String(String::from(s))),
        };
        value.unwrap_or(Value::Null)
    }

    fn key_equals(&self, col: &Column, row: usize, part: &KeyPart) -> bool {
        match part {
            KeyPart::Int64(v) => {
                col.dtype == DType::Int64 && self.int_at(&col.data, row) == Some(*v)
            }
            KeyPart::String(s) => {
                col.dtype == DType::String && self.str_at(col, row) == Some(s.as_str())
            }
        }
    }

    #[inline]
    fn is_valid(&self, col: &Column, row: usize) -> bool {
        match &col.validity {
            None => true,
            Some(range) => self.bit(range, row).unwrap_or(false),
        }
    }

    #[inline]
    fn bit(&self, range: &Range<usize>, row: usize) -> Option<bool> {
        let byte = self.bytes.get(range.start + row / 8)?;
        Some(byte >> (row % 8) & 1 == 1)
    }

    #[inline]
    fn fixed<const N: usize>(&self, range: &Range<usize>, row: usize) -> Option<[u8; N]> {
        let start = range.start + row * N;
        if start + N > range.end {
            return None;
        }
        self.bytes.get(start..start + N).map(to_array)
    }

    #[inline]
    fn int_at(&self, range: &Range<usize>, row: usize) -> Option<i64> {
        self.fixed::<8>(range, row).map(i64::from_le_bytes)
    }

    fn str_at(&self, col: &Column, row: usize) -> Option<&str> {
        let start = self.fixed::<4>(&col.offsets, row).map(u32::from_le_bytes)? as usize;
        let end = self
            .fixed::<4>(&col.offsets, row + 1)
            .map(u32::from_le_bytes)? as usize;
        let bytes = self
            .bytes
            .get(col.data.start + start..col.data.start + end)?;
        core::str::from_utf8(bytes).ok()
    }
}

fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

pub(crate) fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn malformed(message: &str) -> Error {
    Error::Malformed {
        kind: KIND,
        message: String::from(message),
    }
}

/// Turns a segment into an absolute range after checking it lies in the data section.
fn place(
    data_start: usize,
    data_len: usize,
    seg: Segment,
    what: &dyn Fn() -> String,
) -> Result<Range<usize>> {
    let end = seg.offset.checked_add(seg.len);
    match end {
        Some(end) if end <= data_len as u64 => {
            let start = data_start + seg.offset as usize;
            Ok(start..start + seg.len as usize)
        }
        _ => Err(malformed(&format!(
            "{} claims bytes {}..+{} but the data section has {data_len}",
            what(),
            seg.offset,
            seg.len
        ))),
    }
}

fn check_column(
    bytes: &[u8],
    data_start: usize,
    data_len: usize,
    rows: usize,
    dtype: DType,
    seg: &ColumnSegments,
    what: &dyn Fn() -> String,
) -> Result<Column> {
    let bitmap_len = rows.div_ceil(8) as u64;
    let validity = if seg.validity.len == 0 {
        None
    } else if seg.validity.len == bitmap_len {
        Some(place(data_start, data_len, seg.validity, what)?)
    } else {
        return Err(malformed(&format!(
            "{}: validity has {} bytes, expected {bitmap_len}",
            what(),
            seg.validity.len
        )));
    };
    let expected = match dtype {
        DType::Bool => Some(bitmap_len),
        DType::Int64 | DType::Float64 => Some(rows as u64 * 8),
        DType::Float32 => Some(rows as u64 * 4),
        DType::String => None,
    };
    let data = place(data_start, data_len, seg.data, what)?;
    let mut offsets = 0..0;
    match expected {
        Some(n) if n != seg.data.len => {
            return Err(malformed(&format!(
                "{}: {} bytes of {dtype} data for {rows} rows, expected {n}",
                what(),
                seg.data.len
            )));
        }
        Some(_) => {
            if seg.offsets.len != 0 {
                return Err(malformed(&format!(
                    "{}: a {dtype} column has offsets",
                    what()
                )));
            }
        }
        None => {
            if seg.offsets.len != (rows as u64 + 1) * 4 {
                return Err(malformed(&format!(
                    "{}: text offsets have {} bytes for {rows} rows",
                    what(),
                    seg.offsets.len
                )));
            }
            offsets = place(data_start, data_len, seg.offsets, what)?;
            let text = core::str::from_utf8(&bytes[data.clone()])
                .map_err(|e| malformed(&format!("{}: text is not UTF-8 ({e})", what())))?;
            let mut previous = 0usize;
            for (i, chunk) in bytes[offsets.clone()].chunks_exact(4).enumerate() {
                let off = u32::from_le_bytes(to_array(chunk)) as usize;
                let ok = if i == 0 {
                    off == 0
                } else {
                    off >= previous && text.is_char_boundary(off)
                };
                if !ok || off > text.len() {
                    return Err(malformed(&format!(
                        "{}: text offset {i} ({off}) is out of order or out of range",
                        what()
                    )));
                }
                previous = off;
            }
            if previous != text.len() {
                return Err(malformed(&format!(
                    "{}: text offsets end at {previous}, data has {}",
                    what(),
                    text.len()
                )));
            }
        }
    }
    Ok(Column {
        dtype,
        validity,
        offsets,
        data,
    })
}

fn check_table(
    bytes: &[u8],
    data_start: usize,
    data_len: usize,
    view: &ViewTableMeta,
) -> Result<ViewTable> {
    let name = view.name.as_str();
    // Every row costs at least 8 bytes (its event timestamp), so a count the data
    // section cannot hold is rejected before anything is allocated for it.
    let rows = usize::try_from(view.rows)
        .ok()
        .filter(|&r| r < u32::MAX as usize && r.checked_mul(8).is_some_and(|b| b <= data_len))
        .ok_or_else(|| {
            malformed(&format!(
                "view `{name}` claims {} rows, more than the data can hold",
                view.rows
            ))
        })?;
    if view.keys.len() != view.join_keys.len() || view.join_keys.is_empty() {
        return Err(malformed(&format!(
            "view `{name}` has {} key columns for {} join keys",
            view.keys.len(),
            view.join_keys.len()
        )));
    }
    if view.columns.len() != view.fields.len() {
        return Err(malformed(&format!(
            "view `{name}` has {} columns for {} fields",
            view.columns.len(),
            view.fields.len()
        )));
    }
    let ts_len = rows as u64 * 8;
    if view.event_ts.len != ts_len || (view.created_ts.len != 0 && view.created_ts.len != ts_len) {
        return Err(malformed(&format!(
            "view `{name}`: timestamp columns do not have {rows} rows"
        )));
    }
    let event_ts = place(data_start, data_len, view.event_ts, &|| {
        format!("view `{name}` event timestamps")
    })?;
    let created_ts = if view.created_ts.len == 0 {
        None
    } else {
        Some(place(data_start, data_len, view.created_ts, &|| {
            format!("view `{name}` created timestamps")
        })?)
    };
    let mut keys = Vec::with_capacity(view.keys.len());
    for (field, seg) in view.join_keys.iter().zip(&view.keys) {
        if !matches!(field.dtype, DType::Int64 | DType::String) {
            return Err(malformed(&format!(
                "view `{name}`: join key `{}` has type {}",
                field.name, field.dtype
            )));
        }
        let col = check_column(bytes, data_start, data_len, rows, field.dtype, seg, &|| {
            format!("view `{name}` key `{}`", field.name)
        })?;
        if col.validity.is_some() {
            return Err(malformed(&format!(
                "view `{name}`: join key `{}` has nulls",
                field.name
            )));
        }
        keys.push(col);
    }
    let mut columns = Vec::with_capacity(view.columns.len());
    for (field, seg) in view.fields.iter().zip(&view.columns) {
        columns.push(check_column(
            bytes,
            data_start,
            data_len,
            rows,
            field.dtype,
            seg,
            &|| format!("view `{name}` field `{}`", field.name),
        )?);
    }
    let mut table = ViewTable {
        rows,
        keys,
        event_ts,
        created_ts,
        columns,
        index: KeyIndex::default(),
        ints: None,
    };
    build_index(bytes, &mut table)
        .map_err(|row| malformed(&format!("view `{name}`: row {row} repeats an earlier key")))?;
    Ok(table)
}

fn build_index(bytes: &[u8], table: &mut ViewTable) -> core::result::Result<(), u32> {
    let read_int = |range: &Range<usize>, row: usize| -> i64 {
        let start = range.start + row * 8;
        i64::from_le_bytes(to_array(&bytes[start..start + 8]))
    };
    let read_str = |col: &Column, row: usize| -> &[u8] {
        let off =
            |i: usize| u32::from_le_bytes(to_array(&bytes[col.offsets.start + i * 4..])) as usize;
        &bytes[col.data.start + off(row)..col.data.start + off(row + 1)]
    };
    // Single integer keys are by far the most common: they get their own index.
    if let [col] = table.keys.as_slice()
        && col.dtype == DType::Int64
    {
        let mut ints = IntIndex::with_rows(table.rows);
        for row in 0..table.rows {
            ints.insert(read_int(&col.data, row), row as u32)
                .map_err(|_| row as u32)?;
        }
        table.ints = Some(ints);
        return Ok(());
    }
    let mut index = KeyIndex::with_rows(table.rows);
    {
        for row in 0..table.rows {
            let mut h = KeyHasher::default();
            for col in &table.keys {
                match col.dtype {
                    DType::Int64 => h.int(read_int(&col.data, row)),
                    _ => h.str(read_str(col, row)),
                }
            }
            let same = |other: u32| {
                table.keys.iter().all(|col| match col.dtype {
                    DType::Int64 => read_int(&col.data, row) == read_int(&col.data, other as usize),
                    _ => read_str(col, row) == read_str(col, other as usize),
                })
            };
            index
                .insert(h.finish(), row as u32, same)
                .map_err(|_| row as u32)?;
        }
    }
    table.index = index;
    Ok(())
}
