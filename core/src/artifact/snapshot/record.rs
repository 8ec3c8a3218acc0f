//! The row record of a snapshot table: where one row's timestamps, fixed-width
//! values and null bits sit, as a function of the view's schema alone.
//!
//! Reading every feature of one entity then touches its one record, one to three
//! cache lines for a typical view, instead of one line per column and one per
//! validity bitmap (about forty misses for twenty features in the columnar
//! layout of format version 3). The layout is derived, never stored, so the file
//! holds no offsets a loader would have to distrust, and the writer and the
//! reader cannot disagree on it.
//!
//! A record is, in order: the event timestamp (i64 µs) at 0; the created
//! timestamp at 8 when the view has one; the 8-byte fields (int64, float64,
//! unix_timestamp), then the 4-byte fields (int32, float32), then the bool fields
//! (one byte, 0 or 1), each group in field order; then the null bits, one per
//! field (bit `j % 8` of byte `j / 8`, 1 = present); then zero padding to a
//! multiple of 8. Every value is thus aligned to its width. Variable-width fields
//! (string, bytes, json, array) have only their null bit here: their cells live
//! in per-field heaps beside the records.

use alloc::vec::Vec;

use super::check::align8;
use crate::definition::Field;
use crate::value::DType;

/// Where one field's cell of a row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellPlace {
    /// In the record, at this byte offset from the record's start.
    Fixed(usize),
    /// In the field's heap, the `n`th heap of the table.
    Heap(usize),
}

/// The layout of one table's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordLayout {
    /// Bytes from one record to the next; a multiple of 8.
    pub(crate) stride: usize,
    /// Offset of the created timestamp, when rows carry one.
    pub(crate) created: Option<usize>,
    /// Offset of the first null-bit byte.
    pub(crate) nulls: usize,
    /// One place per field, in field order.
    pub(crate) cells: Vec<CellPlace>,
    /// How many fields live in heaps.
    pub(crate) heaps: usize,
}

/// The width of a field's cell in the record; `None` for the variable-width types.
pub(crate) const fn fixed_width(dtype: DType) -> Option<usize> {
    match dtype {
        DType::Int64 | DType::Float64 | DType::UnixTimestamp => Some(8),
        DType::Int32 | DType::Float32 => Some(4),
        DType::Bool => Some(1),
        DType::String | DType::Bytes | DType::Json | DType::Array(_) => None,
    }
}

impl RecordLayout {
    /// The layout for rows of `fields`, with or without a created timestamp.
    pub(crate) fn of(fields: &[Field], has_created: bool) -> RecordLayout {
        let created = has_created.then_some(8);
        let mut at = if has_created { 16 } else { 8 };
        let mut cells = alloc::vec![CellPlace::Heap(0); fields.len()];
        // Widest first, so every value sits at a multiple of its width.
        for width in [8, 4, 1] {
            for (cell, field) in cells.iter_mut().zip(fields) {
                if fixed_width(field.dtype) == Some(width) {
                    *cell = CellPlace::Fixed(at);
                    at += width;
                }
            }
        }
        let mut heaps = 0;
        for (cell, field) in cells.iter_mut().zip(fields) {
            if fixed_width(field.dtype).is_none() {
                *cell = CellPlace::Heap(heaps);
                heaps += 1;
            }
        }
        let nulls = at;
        RecordLayout {
            stride: align8(nulls + fields.len().div_ceil(8)),
            created,
            nulls,
            cells,
            heaps,
        }
    }

    /// Where field `field`'s null bit sits: the record byte, and the bit's mask
    /// in it (bit `field % 8` of null byte `field / 8`; set = present).
    pub(crate) fn null_bit(&self, field: usize) -> (usize, u8) {
        (self.nulls + field / 8, 1 << (field % 8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(dtype: DType) -> Field {
        Field::new("f", dtype)
    }

    #[test]
    fn values_are_grouped_by_width_and_aligned() {
        let fields = [
            field(DType::Bool),
            field(DType::Float32),
            field(DType::String),
            field(DType::Float64),
            field(DType::Int32),
            field(DType::UnixTimestamp),
        ];
        let layout = RecordLayout::of(&fields, true);
        assert_eq!(
            layout.cells,
            [
                CellPlace::Fixed(40),
                CellPlace::Fixed(32),
                CellPlace::Heap(0),
                CellPlace::Fixed(16),
                CellPlace::Fixed(36),
                CellPlace::Fixed(24),
            ]
        );
        assert_eq!(layout.created, Some(8));
        assert_eq!((layout.nulls, layout.stride, layout.heaps), (41, 48, 1));
        assert_eq!(layout.null_bit(5), (41, 0b10_0000));
    }

    #[test]
    fn a_record_without_created_time_or_fields_is_its_event_time() {
        let layout = RecordLayout::of(&[], false);
        assert_eq!((layout.created, layout.nulls, layout.stride), (None, 8, 8));
        let nine = alloc::vec![field(DType::Float32); 9];
        let layout = RecordLayout::of(&nine, false);
        // 8 + 9 × 4 = 44, then two null-bit bytes: 46, padded to 48.
        assert_eq!((layout.nulls, layout.stride), (44, 48));
        assert_eq!(layout.null_bit(8), (45, 1));
    }
}
