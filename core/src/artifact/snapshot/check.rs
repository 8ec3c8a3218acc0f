//! The load-time checks of a snapshot's tables: every segment inside the data
//! section with exactly the length its dtype, row count and record layout
//! require, bools that are 0 or 1, heaps whose offsets are sane and whose cells
//! are valid for their type, and unique keys; then the in-memory key index.
//!
//! They run once, in [`Snapshot::load`](super::Snapshot::load), so that every read
//! afterwards can index the bytes without checking again and never panics.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::{
    CellPlace, CellSegments, Cells, Column, KIND, KeyColumn, Place, RecordLayout, Segment,
    ViewTable, ViewTableMeta, fixed_width,
};
use crate::artifact::index::{IntIndex, KeyHasher, KeyIndex};
use crate::definition::Field;
use crate::value::DType;
use crate::{Error, Result};

pub(super) fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

pub(crate) fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

pub(super) fn malformed(message: &str) -> Error {
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

/// Checks a variable-width column's `rows + 1` offsets and its cells, of which
/// those `present` says hold a value.
#[allow(clippy::too_many_arguments)]
fn check_heap(
    bytes: &[u8],
    data_start: usize,
    data_len: usize,
    rows: usize,
    dtype: DType,
    seg: CellSegments,
    present: &dyn Fn(usize) -> bool,
    what: &dyn Fn() -> String,
) -> Result<Cells> {
    if seg.offsets.len != (rows as u64 + 1) * 4 {
        return Err(malformed(&format!(
            "{}: {dtype} offsets have {} bytes for {rows} rows",
            what(),
            seg.offsets.len
        )));
    }
    let offsets = place(data_start, data_len, seg.offsets, what)?;
    let data = place(data_start, data_len, seg.data, what)?;
    check_cells(
        &bytes[offsets.clone()],
        &bytes[data.clone()],
        dtype,
        present,
    )
    .map_err(|m| malformed(&format!("{}: {m}", what())))?;
    Ok(Cells { offsets, data })
}

/// Checks one join-key column: int32, int64 or string, never null.
fn check_key(
    bytes: &[u8],
    data_start: usize,
    data_len: usize,
    rows: usize,
    field: &Field,
    seg: &CellSegments,
    what: &dyn Fn() -> String,
) -> Result<KeyColumn> {
    let dtype = field.dtype;
    if !dtype.is_key() {
        return Err(malformed(&format!(
            "{}: a join key of type {dtype}",
            what()
        )));
    }
    let Some(width) = fixed_width(dtype) else {
        let cells = check_heap(
            bytes,
            data_start,
            data_len,
            rows,
            dtype,
            *seg,
            &|_| true,
            what,
        )?;
        return Ok(KeyColumn {
            dtype,
            data: 0..0,
            cells: Some(cells),
        });
    };
    let expected = rows as u64 * width as u64;
    if seg.data.len != expected || seg.offsets.len != 0 {
        return Err(malformed(&format!(
            "{}: {} bytes of {dtype} keys for {rows} rows",
            what(),
            seg.data.len + seg.offsets.len
        )));
    }
    Ok(KeyColumn {
        dtype,
        data: place(data_start, data_len, seg.data, what)?,
        cells: None,
    })
}

/// Checks the offsets of a variable-width column (first 0, never decreasing,
/// last = data length) and every cell's bytes for its type (see
/// `crate::artifact::cell`).
fn check_cells(
    offsets: &[u8],
    data: &[u8],
    dtype: DType,
    present: &dyn Fn(usize) -> bool,
) -> core::result::Result<(), String> {
    // Text is checked as one string, so each offset only needs to be a char boundary.
    let text = match dtype {
        DType::String => {
            Some(core::str::from_utf8(data).map_err(|e| format!("text is not UTF-8 ({e})"))?)
        }
        _ => None,
    };
    let mut previous = 0usize;
    for (i, chunk) in offsets.chunks_exact(4).enumerate() {
        let off = u32::from_le_bytes(to_array(chunk)) as usize;
        let in_order = if i == 0 { off == 0 } else { off >= previous };
        let boundary = text.is_none_or(|t| t.is_char_boundary(off));
        if !in_order || !boundary || off > data.len() {
            return Err(format!(
                "{dtype} offset {i} ({off}) is out of order or out of range"
            ));
        }
        // A null cell's bytes are never read, whatever they are.
        if i > 0 && present(i - 1) {
            check_cell(dtype, &data[previous..off]).map_err(|m| format!("row {}: {m}", i - 1))?;
        }
        previous = off;
    }
    if previous != data.len() {
        return Err(format!(
            "{dtype} offsets end at {previous}, data has {}",
            data.len()
        ));
    }
    Ok(())
}

fn check_cell(dtype: DType, cell: &[u8]) -> core::result::Result<(), &'static str> {
    match dtype {
        DType::Json => {
            let text = core::str::from_utf8(cell).map_err(|_| "JSON text is not UTF-8")?;
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map(|_| ())
                .map_err(|_| "JSON text does not parse")
        }
        DType::Array(elem) => crate::artifact::cell::check(elem, cell),
        _ => Ok(()),
    }
}

pub(super) fn check_table(
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
    let layout = RecordLayout::of(&view.fields, view.has_created);
    if view.heaps.len() != layout.heaps {
        return Err(malformed(&format!(
            "view `{name}` has {} heaps for {} variable-width fields",
            view.heaps.len(),
            layout.heaps
        )));
    }
    let expected = (rows as u64).checked_mul(layout.stride as u64);
    if expected != Some(view.records.len) {
        return Err(malformed(&format!(
            "view `{name}`: {} bytes of records for {rows} rows of {} bytes",
            view.records.len, layout.stride
        )));
    }
    let records = place(data_start, data_len, view.records, &|| {
        format!("view `{name}` records")
    })?;
    let mut keys = Vec::with_capacity(view.keys.len());
    for (field, seg) in view.join_keys.iter().zip(&view.keys) {
        keys.push(check_key(
            bytes,
            data_start,
            data_len,
            rows,
            field,
            seg,
            &|| format!("view `{name}` key `{}`", field.name),
        )?);
    }
    let columns = check_fields(bytes, data_start, data_len, view, &layout, &records)?;
    let mut table = ViewTable {
        rows,
        keys,
        records: records.start,
        stride: layout.stride,
        created: layout.created,
        columns,
        index: KeyIndex::default(),
        ints: None,
    };
    build_index(bytes, &mut table)
        .map_err(|row| malformed(&format!("view `{name}`: row {row} repeats an earlier key")))?;
    Ok(table)
}

/// Checks each field's cells where the record layout puts them: bools in the
/// records, heaps beside them.
fn check_fields(
    bytes: &[u8],
    data_start: usize,
    data_len: usize,
    view: &ViewTableMeta,
    layout: &RecordLayout,
    records: &Range<usize>,
) -> Result<Vec<Column>> {
    let name = view.name.as_str();
    let rows = view.rows as usize;
    let mut columns = Vec::with_capacity(view.fields.len());
    for (bit, (field, cell)) in view.fields.iter().zip(&layout.cells).enumerate() {
        let what = || format!("view `{name}` field `{}`", field.name);
        let (null_at, null_mask) = layout.null_bit(bit);
        let place = match *cell {
            CellPlace::Fixed(offset) => {
                if field.dtype == DType::Bool {
                    check_bools(bytes, records, layout.stride, offset).map_err(|row| {
                        malformed(&format!(
                            "{}: row {row} holds a bool other than 0 or 1",
                            what()
                        ))
                    })?;
                }
                Place::Fixed(offset)
            }
            CellPlace::Heap(h) => {
                let present = |row: usize| {
                    bytes[records.start + row * layout.stride + null_at] & null_mask != 0
                };
                Place::Heap(check_heap(
                    bytes,
                    data_start,
                    data_len,
                    rows,
                    field.dtype,
                    view.heaps[h],
                    &present,
                    &what,
                )?)
            }
        };
        columns.push(Column {
            dtype: field.dtype,
            null_at,
            null_mask,
            place,
        });
    }
    Ok(columns)
}

/// Checks that every record's byte at `offset` is 0 or 1; returns the first row
/// where it is not.
fn check_bools(
    bytes: &[u8],
    records: &Range<usize>,
    stride: usize,
    offset: usize,
) -> core::result::Result<(), usize> {
    match bytes[records.clone()]
        .chunks_exact(stride)
        .position(|record| record[offset] > 1)
    {
        Some(row) => Err(row),
        None => Ok(()),
    }
}

fn build_index(bytes: &[u8], table: &mut ViewTable) -> core::result::Result<(), u32> {
    // Integer keys of either width index as i64, as lookups give them.
    let read_int = |col: &KeyColumn, row: usize| -> i64 {
        if col.dtype == DType::Int32 {
            let start = col.data.start + row * 4;
            i64::from(i32::from_le_bytes(to_array(&bytes[start..start + 4])))
        } else {
            let start = col.data.start + row * 8;
            i64::from_le_bytes(to_array(&bytes[start..start + 8]))
        }
    };
    let read_str = |col: &KeyColumn, row: usize| -> &[u8] {
        let Some(cells) = &col.cells else {
            return &[];
        };
        let off =
            |i: usize| u32::from_le_bytes(to_array(&bytes[cells.offsets.start + i * 4..])) as usize;
        &bytes[cells.data.start + off(row)..cells.data.start + off(row + 1)]
    };
    // Single integer keys are by far the most common: they get their own index.
    if let [col] = table.keys.as_slice()
        && col.dtype != DType::String
    {
        let mut ints = IntIndex::with_rows(table.rows);
        for row in 0..table.rows {
            ints.insert(read_int(col, row), row as u32)
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
                    DType::String => h.str(read_str(col, row)),
                    _ => h.int(read_int(col, row)),
                }
            }
            let same = |other: u32| {
                table.keys.iter().all(|col| match col.dtype {
                    DType::String => read_str(col, row) == read_str(col, other as usize),
                    _ => read_int(col, row) == read_int(col, other as usize),
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
