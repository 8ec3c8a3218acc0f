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
        let eights = rows.start * 8..rows.end * 8;
        copy_cells::<8>(&mut block, stride, 0, &v.event_ts[eights.clone()]);
        if let (Some(at), Some(created)) = (layout.created, &v.created_ts) {
            copy_cells::<8>(&mut block, stride, at, &created[eights]);
        }
        for (j, (col, cell)) in v.columns.iter().zip(&layout.cells).enumerate() {
            let validity = col.any_null.then_some(col.validity.as_slice());
            mark_present(&mut block, stride, layout.null_bit(j), validity, rows.start);
            let CellPlace::Fixed(at) = *cell else {
                continue;
            };
            let data = &col.data;
            match fixed_width(col.dtype) {
                Some(8) => {
                    copy_cells::<8>(&mut block, stride, at, &data[rows.start * 8..rows.end * 8])
                }
                Some(4) => {
                    copy_cells::<4>(&mut block, stride, at, &data[rows.start * 4..rows.end * 4])
                }
                Some(_) => {
                    for (r, record) in rows.clone().zip(block.chunks_exact_mut(stride)) {
                        record[at] = u8::from(bit(data, r));
                    }
                }
                None => {}
            }
        }
        out.extend_from_slice(&block);
    }
}

/// Copies consecutive `W`-byte cells into successive records at offset `at`.
fn copy_cells<const W: usize>(block: &mut [u8], stride: usize, at: usize, cells: &[u8]) {
    for (record, cell) in block.chunks_exact_mut(stride).zip(cells.chunks_exact(W)) {
        record[at..at + W].copy_from_slice(cell);
    }
}

/// Sets a field's null bit (`(byte, mask)`) in every record of the block
/// whose row `validity` marks present (every row, without a bitmap); the
/// block starts at row `first`.
fn mark_present(
    block: &mut [u8],
    stride: usize,
    (byte, mask): (usize, u8),
    validity: Option<&[u8]>,
    first: usize,
) {
    let records = block.chunks_exact_mut(stride);
    match validity {
        None => records.for_each(|record| record[byte] |= mask),
        Some(bits) => {
            for (r, record) in (first..).zip(records) {
                if bit(bits, r) {
                    record[byte] |= mask;
                }
            }
        }
    }
}

/// Bit `row` of an LSB-first bitmap.
fn bit(bitmap: &[u8], row: usize) -> bool {
    bitmap[row / 8] >> (row % 8) & 1 == 1
}
