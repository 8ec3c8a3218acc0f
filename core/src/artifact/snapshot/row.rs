//! [`RowRef`]: one row of a snapshot table, read in place from its record.
//!
//! A caller reading several cells of one entity (every online read, every
//! prediction) finds the table and the row's record once through
//! [`Snapshot::row`](super::Snapshot::row); each read is then a null bit and an
//! offset-and-width read into the record slice, with no further lookups.

use alloc::string::String;

use super::check::to_array;
use super::{Column, Place, Snapshot, ViewTable};
use crate::time::Timestamp;
use crate::value::{DType, Value};

/// One row of one snapshot table, borrowed: its record, and the table's layout
/// to read it (see [`Snapshot::row`]).
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'s> {
    pub(super) snapshot: &'s Snapshot,
    pub(super) table: &'s ViewTable,
    pub(super) row: usize,
    pub(super) record: &'s [u8],
}

impl RowRef<'_> {
    /// The row's event timestamp.
    #[must_use]
    #[inline]
    pub fn event_ts(&self) -> Timestamp {
        Timestamp(self.fixed::<8>(0).map_or(i64::MIN, i64::from_le_bytes))
    }

    /// The row's created timestamp, when the source had one.
    #[must_use]
    #[inline]
    pub fn created_ts(&self) -> Option<Timestamp> {
        let at = self.table.created?;
        self.fixed::<8>(at)
            .map(|b| Timestamp(i64::from_le_bytes(b)))
    }

    /// Field `column` as f64 without building a [`Value`]: `None` for null, for
    /// a non-numeric field, or past the last field. A bool reads as 0 or 1.
    #[must_use]
    #[inline]
    pub fn f64(&self, column: usize) -> Option<f64> {
        let col = self.table.columns.get(column)?;
        let Place::Fixed(at) = col.place else {
            return None;
        };
        if !self.is_present(col) {
            return None;
        }
        // Straight to f64, not through a `Value`: this is the hot read.
        match col.dtype {
            DType::Float32 => self
                .fixed::<4>(at)
                .map(|b| f64::from(f32::from_le_bytes(b))),
            DType::Float64 => self.fixed::<8>(at).map(f64::from_le_bytes),
            DType::Int64 => self.fixed::<8>(at).map(|b| i64::from_le_bytes(b) as f64),
            DType::Int32 => self
                .fixed::<4>(at)
                .map(|b| f64::from(i32::from_le_bytes(b))),
            DType::Bool => self.record.get(at).map(|&b| f64::from(b)),
            DType::String | DType::Bytes | DType::UnixTimestamp | DType::Json | DType::Array(_) => {
                None
            }
        }
    }

    /// Field `column` as a [`Value`]; null for a null cell or past the last field.
    #[must_use]
    pub fn value(&self, column: usize) -> Value {
        let Some(col) = self.table.columns.get(column) else {
            return Value::Null;
        };
        if !self.is_present(col) {
            return Value::Null;
        }
        let value = match &col.place {
            Place::Fixed(at) => self.fixed_value(col.dtype, *at),
            Place::Heap(cells) => {
                let s = self.snapshot;
                match col.dtype {
                    DType::String => s
                        .str_in(cells, self.row)
                        .map(|t| Value::String(String::from(t))),
                    DType::Json => s
                        .str_in(cells, self.row)
                        .map(|t| Value::Json(String::from(t))),
                    DType::Bytes => s.cell(cells, self.row).map(|b| Value::Bytes(b.to_vec())),
                    DType::Array(elem) => s
                        .cell(cells, self.row)
                        .and_then(|b| crate::artifact::cell::decode(elem, b))
                        .map(Value::Array),
                    _ => None,
                }
            }
        };
        value.unwrap_or(Value::Null)
    }

    /// The fixed-width cell of type `dtype` at `at` in the record (`None`
    /// for a variable-width type).
    #[inline]
    fn fixed_value(&self, dtype: DType, at: usize) -> Option<Value> {
        match dtype {
            DType::Bool => self.record.get(at).map(|&b| Value::Bool(b == 1)),
            DType::Int32 => self
                .fixed::<4>(at)
                .map(|b| Value::Int32(i32::from_le_bytes(b))),
            DType::Int64 => self
                .fixed::<8>(at)
                .map(|b| Value::Int64(i64::from_le_bytes(b))),
            DType::UnixTimestamp => self
                .fixed::<8>(at)
                .map(|b| Value::Timestamp(Timestamp(i64::from_le_bytes(b)))),
            DType::Float32 => self
                .fixed::<4>(at)
                .map(|b| Value::Float32(f32::from_le_bytes(b))),
            DType::Float64 => self
                .fixed::<8>(at)
                .map(|b| Value::Float64(f64::from_le_bytes(b))),
            DType::String | DType::Bytes | DType::Json | DType::Array(_) => None,
        }
    }

    /// The element count of array field `column` without decoding it;
    /// `None` for null or a non-array field.
    #[must_use]
    pub fn array_len(&self, column: usize) -> Option<usize> {
        let col = self.table.columns.get(column)?;
        let elem = col.dtype.elem()?;
        let Place::Heap(cells) = &col.place else {
            return None;
        };
        if !self.is_present(col) {
            return None;
        }
        let cell = self.snapshot.cell(cells, self.row)?;
        Some(crate::artifact::cell::len(elem, cell))
    }

    /// Whether `col` holds a value in this row.
    #[inline]
    fn is_present(&self, col: &Column) -> bool {
        self.record
            .get(col.null_at)
            .is_some_and(|byte| byte & col.null_mask != 0)
    }

    #[inline]
    fn fixed<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.record.get(at..at + N).map(to_array)
    }
}
