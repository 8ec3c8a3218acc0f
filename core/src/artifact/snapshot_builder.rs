//! Writing a snapshot: rows go straight into their final column layout.
//!
//! The builder never holds a row as a `Vec<Value>`: each pushed value is appended
//! to its column's byte buffer and validity bitmap, so materializing a million
//! rows costs about the size of the finished snapshot in memory.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::codec::encode_payload;
use super::header::{ArtifactKind, Header};
use super::snapshot::{
    ColumnSegments, Segment, SnapshotMeta, ViewTableMeta, align8, view_fingerprint,
};
use crate::definition::Field;
use crate::time::{Duration, Timestamp};
use crate::value::{DType, EntityKey, KeyPart, Value};
use crate::{ContentId, Error, Result};

/// One column being built.
#[derive(Debug, Clone)]
struct ColumnBuf {
    dtype: DType,
    validity: Vec<u8>,
    any_null: bool,
    offsets: Vec<u8>,
    data: Vec<u8>,
    rows: usize,
}

impl ColumnBuf {
    fn new(dtype: DType) -> Self {
        let offsets = if dtype == DType::String {
            0u32.to_le_bytes().to_vec()
        } else {
            Vec::new()
        };
        ColumnBuf {
            dtype,
            validity: Vec::new(),
            any_null: false,
            offsets,
            data: Vec::new(),
            rows: 0,
        }
    }

    fn push(&mut self, value: &Value) -> core::result::Result<(), ()> {
        let present = !value.is_null();
        let row = self.rows;
        if row.is_multiple_of(8) {
            self.validity.push(0);
            if self.dtype == DType::Bool {
                self.data.push(0);
            }
        }
        if present {
            if let Some(last) = self.validity.last_mut() {
                *last |= 1 << (row % 8);
            }
        } else {
            self.any_null = true;
        }
        match (self.dtype, value) {
            (DType::Bool, Value::Bool(b)) => {
                if *b && let Some(last) = self.data.last_mut() {
                    *last |= 1 << (row % 8);
                }
            }
            (DType::Bool, Value::Null) => {}
            (DType::Int64, Value::Int64(v)) => self.data.extend_from_slice(&v.to_le_bytes()),
            (DType::Int64, Value::Null) => self.data.extend_from_slice(&0i64.to_le_bytes()),
            (DType::Float32, Value::Float32(v)) => self.data.extend_from_slice(&v.to_le_bytes()),
            (DType::Float32, Value::Null) => self.data.extend_from_slice(&0f32.to_le_bytes()),
            (DType::Float64, Value::Float64(v)) => self.data.extend_from_slice(&v.to_le_bytes()),
            (DType::Float64, Value::Null) => self.data.extend_from_slice(&0f64.to_le_bytes()),
            (DType::String, Value::String(s)) => {
                self.data.extend_from_slice(s.as_bytes());
                let end = u32::try_from(self.data.len()).map_err(|_| ())?;
                self.offsets.extend_from_slice(&end.to_le_bytes());
            }
            (DType::String, Value::Null) => {
                let end = u32::try_from(self.data.len()).map_err(|_| ())?;
                self.offsets.extend_from_slice(&end.to_le_bytes());
            }
            _ => return Err(()),
        }
        self.rows += 1;
        Ok(())
    }
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

    /// Rows pushed so far.
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
            if part.dtype() != field.dtype {
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
        for (part, col) in key.parts().iter().zip(&mut self.keys) {
            let value = match part {
                KeyPart::Int64(v) => Value::Int64(*v),
                KeyPart::String(s) => Value::String(s.clone()),
            };
            col.push(&value).map_err(|()| {
                Error::Request(format!("view `{}`: key text passes 4 GiB", self.name))
            })?;
        }
        for (value, col) in values.iter().zip(&mut self.columns) {
            col.push(value).map_err(|()| {
                Error::Request(format!("view `{}`: text data passes 4 GiB", self.name))
            })?;
        }
        self.event_ts
            .extend_from_slice(&event_ts.as_micros().to_le_bytes());
        if let (Some(buf), Some(ts)) = (&mut self.created_ts, created_ts) {
            buf.extend_from_slice(&ts.as_micros().to_le_bytes());
        }
        self.rows += 1;
        Ok(())
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
    /// [`Error::Request`] for an impossible shard; [`Error::Malformed`] if encoding fails.
    pub fn finish(self) -> Result<Vec<u8>> {
        if self.shard_count == 0 || self.shard_index >= self.shard_count {
            return Err(Error::Request(format!(
                "shard {} of {} is impossible",
                self.shard_index, self.shard_count
            )));
        }
        let mut data: Vec<u8> = Vec::new();
        let mut put = |bytes: &[u8]| -> Segment {
            if bytes.is_empty() {
                return Segment::default();
            }
            data.resize(align8(data.len()), 0);
            let seg = Segment {
                offset: data.len() as u64,
                len: bytes.len() as u64,
            };
            data.extend_from_slice(bytes);
            seg
        };
        let mut put_column = |col: &ColumnBuf| ColumnSegments {
            validity: if col.any_null {
                put(&col.validity)
            } else {
                Segment::default()
            },
            offsets: put(if col.dtype == DType::String {
                &col.offsets
            } else {
                &[]
            }),
            data: put(&col.data),
        };
        let mut views = Vec::with_capacity(self.views.len());
        for v in &self.views {
            let keys = v.keys.iter().map(&mut put_column).collect();
            let columns = v.columns.iter().map(&mut put_column).collect();
            views.push(ViewTableMeta {
                name: v.name.clone(),
                fingerprint: view_fingerprint(&v.name, &v.join_keys, &v.fields, v.ttl),
                ttl: v.ttl,
                join_keys: v.join_keys.clone(),
                fields: v.fields.clone(),
                rows: v.rows as u64,
                keys,
                event_ts: Segment::default(),
                created_ts: Segment::default(),
                columns,
            });
        }
        // Timestamps go after the columns; a second pass keeps `put` borrowed once at a time.
        for (meta, v) in views.iter_mut().zip(&self.views) {
            meta.event_ts = put(&v.event_ts);
            meta.created_ts = v.created_ts.as_deref().map_or(Segment::default(), &mut put);
        }
        let meta = SnapshotMeta {
            registry_id: self.registry_id,
            window_start: self.window_start,
            window_end: self.window_end,
            shard_index: self.shard_index,
            shard_count: self.shard_count,
            views,
        };
        let meta_bytes = encode_payload(&meta, "snapshot")?;
        let mut payload = Vec::with_capacity(8 + meta_bytes.len() + 8 + data.len());
        payload.extend_from_slice(&(meta_bytes.len() as u64).to_le_bytes());
        payload.extend_from_slice(&meta_bytes);
        payload.resize(align8(payload.len()), 0);
        payload.extend_from_slice(&data);
        Ok(Header::frame(ArtifactKind::Snapshot, &payload))
    }
}
