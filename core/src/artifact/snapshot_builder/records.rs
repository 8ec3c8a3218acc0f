//! The row records of a view as the snapshot stores them (`RecordLayout`),
//! written from the builder's columns: a transposition, done once when the
//! snapshot is finished.

use alloc::vec::Vec;

use super::ViewBuilder;
use crate::artifact::snapshot::{CellPlace, RecordLayout, fixed_width};

/// Appends `v`'s row records to `out`: each column's cells transposed into
/// their place in every record (`RecordLayout`), with the timestamps and null
/// bits.
///
/// Rows go in blocks small enough to stay in cache while every column writes
/// into them, so the transposition reads each column once, in order, and
/// writes each record once.
pub(super) fn write(out: &mut Vec<u8>, v: &ViewBuilder) {
    const BLOCK_ROWS: usize = 1024;
    let layout = RecordLayout::of(&v.fields, v.created_ts.is_some());
    let stride = layout.stride;
    let mut block = Vec::with_capacity(BLOCK_ROWS * stride);
    for first in (0..v.rows).step_by(BLOCK_ROWS) {
        let rows = first..v.rows.min(first + BLOCK_ROWS);
        block.clear();
        block.resize(rows.len() * stride, 0);
        for (r, record) in block_records(&mut block, stride, rows.clone()) {
            record[..8].copy_from_slice(&v.event_ts[r * 8..r * 8 + 8]);
            if let (Some(at), Some(created)) = (layout.created, &v.created_ts) {
                record[at..at + 8].copy_from_slice(&created[r * 8..r * 8 + 8]);
            }
        }
        for (j, (col, cell)) in v.columns.iter().zip(&layout.cells).enumerate() {
            let null_byte = layout.nulls + j / 8;
            let null_bit = 1u8 << (j % 8);
            let width = fixed_width(col.dtype);
            for (r, record) in block_records(&mut block, stride, rows.clone()) {
                if !col.any_null || bit(&col.validity, r) {
                    record[null_byte] |= null_bit;
                }
                match (*cell, width) {
                    (CellPlace::Fixed(at), Some(1)) => record[at] = u8::from(bit(&col.data, r)),
                    (CellPlace::Fixed(at), Some(w)) => {
                        record[at..at + w].copy_from_slice(&col.data[r * w..r * w + w]);
                    }
                    _ => {}
                }
            }
        }
        out.extend_from_slice(&block);
    }
}

/// The records of a block of `rows`, each with its row number.
fn block_records(
    block: &mut [u8],
    stride: usize,
    rows: core::ops::Range<usize>,
) -> impl Iterator<Item = (usize, &mut [u8])> {
    rows.zip(block.chunks_exact_mut(stride))
}

/// Bit `row` of an LSB-first bitmap.
fn bit(bitmap: &[u8], row: usize) -> bool {
    bitmap[row / 8] >> (row % 8) & 1 == 1
}
