//! One column as it is built: its data, offsets (variable-width types) and
//! validity bytes laid out exactly as the snapshot stores them, with marks to
//! roll back a half-pushed batch; and [`CellRef`], the borrowed cell a caller
//! lends to fill it.
//!
//! Kept apart from the builders so that the byte layout of a column lives in one
//! place, next to nothing else.

use alloc::vec::Vec;

use crate::artifact::cell;
use crate::value::{Array, DType, KeyPart, Value};

/// True for the types stored as offsets into a data area (see `crate::artifact::cell`).
pub(crate) const fn is_variable(dtype: DType) -> bool {
    // The same split the row records make: what has no fixed width lives in
    // offsets and bytes.
    crate::artifact::snapshot::fixed_width(dtype).is_none()
}

/// One column being built.
#[derive(Debug, Clone)]
pub(super) struct ColumnBuf {
    pub(super) dtype: DType,
    pub(super) validity: Vec<u8>,
    pub(super) any_null: bool,
    pub(super) offsets: Vec<u8>,
    pub(super) data: Vec<u8>,
    pub(super) rows: usize,
}

impl ColumnBuf {
    pub(super) fn new(dtype: DType) -> Self {
        let offsets = if is_variable(dtype) {
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

    /// Makes room for `rows` more rows of fixed-width data.
    pub(super) fn reserve(&mut self, rows: usize) {
        let width = match self.dtype {
            DType::Int64 | DType::Float64 | DType::UnixTimestamp => 8,
            DType::Int32 | DType::Float32 => 4,
            DType::Bool | DType::String | DType::Bytes | DType::Json | DType::Array(_) => 0,
        };
        self.data.reserve(rows * width);
        self.validity.reserve(rows.div_ceil(8));
        if is_variable(self.dtype) {
            self.offsets.reserve(rows * 4);
        }
    }

    pub(super) fn push(&mut self, value: &Value) -> Result<(), ()> {
        self.push_cell(CellRef::from(value))
    }

    pub(super) fn push_cell(&mut self, value: CellRef<'_>) -> Result<(), ()> {
        // Type first, so a mismatch leaves the buffers untouched.
        let value = fit(self.dtype, value).ok_or(())?;
        let present = !matches!(value, CellRef::Null);
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
        let data = &mut self.data;
        match value {
            CellRef::Bool(b) => {
                if b && let Some(last) = data.last_mut() {
                    *last |= 1 << (row % 8);
                }
            }
            CellRef::Int32(v) => data.extend_from_slice(&v.to_le_bytes()),
            CellRef::Int64(v) | CellRef::Timestamp(v) => data.extend_from_slice(&v.to_le_bytes()),
            CellRef::Float32(v) => data.extend_from_slice(&v.to_le_bytes()),
            CellRef::Float64(v) => data.extend_from_slice(&v.to_le_bytes()),
            CellRef::Str(s) | CellRef::Json(s) => data.extend_from_slice(s.as_bytes()),
            CellRef::Bytes(b) => data.extend_from_slice(b),
            CellRef::Array(a) => cell::encode(a, data),
            CellRef::Null => match self.dtype {
                DType::Int32 | DType::Float32 => data.extend_from_slice(&[0; 4]),
                DType::Int64 | DType::Float64 | DType::UnixTimestamp => {
                    data.extend_from_slice(&[0; 8]);
                }
                _ => {}
            },
        }
        if is_variable(self.dtype) {
            // Past 4 GiB of data: the caller rolls the whole row or batch back.
            let end = u32::try_from(self.data.len()).map_err(|_| ())?;
            self.offsets.extend_from_slice(&end.to_le_bytes());
        }
        self.rows += 1;
        Ok(())
    }

    /// Fills the next `rows` rows of a fixed-width column, visiting them in
    /// `order` (batch rows, each once, in any order): row `r` takes `cell(r)`
    /// and is written in its place, so the bytes are those `rows` calls of
    /// [`Self::push_cell`] in row order write. A row `order` leaves out is null.
    ///
    /// The order is the caller's choice of which reads to make in sequence: a
    /// host gathering winners out of a large source visits them in source
    /// order, where its own reads run forward through memory, and the writes
    /// here land in a column small enough to stay in cache.
    ///
    /// # Errors
    ///
    /// The first batch row, in `order`, whose cell does not fit the column's
    /// type; the column may then hold part of the batch: roll back to a mark
    /// taken before.
    pub(super) fn put_fixed<'a>(
        &mut self,
        rows: usize,
        order: &[u32],
        mut cell: impl FnMut(usize) -> CellRef<'a>,
    ) -> Result<(), usize> {
        let width = match self.dtype {
            DType::Int64 | DType::Float64 | DType::UnixTimestamp => 8,
            DType::Int32 | DType::Float32 => 4,
            // Bools are bits in `data`, as validity is; variable widths go row by row.
            DType::Bool => 0,
            DType::String | DType::Bytes | DType::Json | DType::Array(_) => return Err(0),
        };
        let start = self.rows;
        let end = start + rows;
        self.validity.resize(end.div_ceil(8), 0);
        let data_len = if width == 0 {
            end.div_ceil(8)
        } else {
            end * width
        };
        self.data.resize(data_len, 0);
        for &r in order {
            let r = r as usize;
            if r >= rows {
                return Err(r);
            }
            let row = start + r;
            let (byte, bit) = (row / 8, 1u8 << (row % 8));
            let mut put = |bytes: &[u8]| {
                if let Some(slot) = self.data.get_mut(row * width..(row + 1) * width) {
                    slot.copy_from_slice(bytes);
                }
            };
            match fit(self.dtype, cell(r)).ok_or(r)? {
                CellRef::Null => continue,
                CellRef::Bool(b) => {
                    if b && let Some(d) = self.data.get_mut(byte) {
                        *d |= bit;
                    }
                }
                CellRef::Int32(v) => put(&v.to_le_bytes()),
                CellRef::Float32(v) => put(&v.to_le_bytes()),
                CellRef::Int64(v) | CellRef::Timestamp(v) => put(&v.to_le_bytes()),
                CellRef::Float64(v) => put(&v.to_le_bytes()),
                CellRef::Str(_) | CellRef::Json(_) | CellRef::Bytes(_) | CellRef::Array(_) => {
                    return Err(r);
                }
            }
            if let Some(v) = self.validity.get_mut(byte) {
                *v |= bit;
            }
        }
        self.rows = end;
        self.any_null |= (start..end).any(|row| {
            self.validity
                .get(row / 8)
                .is_none_or(|v| v & (1 << (row % 8)) == 0)
        });
        Ok(())
    }

    /// The buffer lengths now, to roll back to if a later cell of the same batch fails.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            validity: self.validity.len(),
            offsets: self.offsets.len(),
            data: self.data.len(),
            rows: self.rows,
            any_null: self.any_null,
        }
    }

    /// Forgets every row pushed since `mark`.
    pub(super) fn rollback(&mut self, mark: Mark) {
        self.validity.truncate(mark.validity);
        self.offsets.truncate(mark.offsets);
        self.data.truncate(mark.data);
        self.rows = mark.rows;
        self.any_null = mark.any_null;
        // Bits of rows past the mark may sit in the last kept bitmap byte.
        let keep = (1u16 << (mark.rows % 8)) as u8;
        if !mark.rows.is_multiple_of(8) {
            let mask = keep.wrapping_sub(1);
            if let Some(last) = self.validity.last_mut() {
                *last &= mask;
            }
            if self.dtype == DType::Bool
                && let Some(last) = self.data.last_mut()
            {
                *last &= mask;
            }
        }
    }
}

/// Buffer lengths of a [`ColumnBuf`] at some row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    validity: usize,
    offsets: usize,
    data: usize,
    rows: usize,
    any_null: bool,
}

/// `value` as column type `dtype` stores it, or `None` when it is of another
/// type. The one conversion: an int64 cell fills an int32 column when it fits,
/// since join keys travel as [`KeyPart::Int64`] whatever their width.
fn fit(dtype: DType, value: CellRef<'_>) -> Option<CellRef<'_>> {
    Some(match (dtype, value) {
        (_, CellRef::Null)
        | (DType::Bool, CellRef::Bool(_))
        | (DType::Int32, CellRef::Int32(_))
        | (DType::Int64, CellRef::Int64(_))
        | (DType::Float32, CellRef::Float32(_))
        | (DType::Float64, CellRef::Float64(_))
        | (DType::String, CellRef::Str(_))
        | (DType::Bytes, CellRef::Bytes(_))
        | (DType::UnixTimestamp, CellRef::Timestamp(_)) => value,
        // Checked here as at load, so a builder never writes what a loader refuses.
        (DType::Json, CellRef::Json(text)) => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
            value
        }
        (DType::Array(elem), CellRef::Array(a)) if a.elem() == elem => value,
        (DType::Int32, CellRef::Int64(v)) => CellRef::Int32(i32::try_from(v).ok()?),
        _ => return None,
    })
}

/// A cell lent to [`ViewBuilder::push_columns`](super::ViewBuilder::push_columns): a value of some [`DType`]
/// (text, bytes and arrays borrowed, not owned), or null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int64(i64),
    /// A 32-bit float.
    Float32(f32),
    /// A 64-bit float.
    Float64(f64),
    /// Text.
    Str(&'a str),
    /// A 32-bit integer.
    Int32(i32),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// A timestamp, µs since the epoch.
    Timestamp(i64),
    /// JSON text in canonical form.
    Json(&'a str),
    /// An array.
    Array(&'a Array),
}

impl<'a> From<&'a Value> for CellRef<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Null => CellRef::Null,
            Value::Bool(b) => CellRef::Bool(*b),
            Value::Int32(v) => CellRef::Int32(*v),
            Value::Int64(v) => CellRef::Int64(*v),
            Value::Float32(v) => CellRef::Float32(*v),
            Value::Float64(v) => CellRef::Float64(*v),
            Value::String(s) => CellRef::Str(s),
            Value::Bytes(b) => CellRef::Bytes(b),
            Value::Timestamp(t) => CellRef::Timestamp(t.0),
            Value::Json(s) => CellRef::Json(s),
            Value::Array(a) => CellRef::Array(a),
        }
    }
}

impl<'a> From<&'a KeyPart> for CellRef<'a> {
    fn from(part: &'a KeyPart) -> Self {
        match part {
            KeyPart::Int64(v) => CellRef::Int64(*v),
            KeyPart::String(s) => CellRef::Str(s),
        }
    }
}
