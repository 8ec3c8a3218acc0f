//! The load-time checks of a snapshot's tables: every segment inside the data
//! section with exactly the length its dtype and row count require, text that is
//! valid UTF-8 with sane offsets, and unique keys, then the in-memory key index.
//!
//! They run once, in [`Snapshot::load`](super::Snapshot::load), so that every read
//! afterwards can index the bytes without checking again and never panics.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use super::{Column, ColumnSegments, KIND, Segment, ViewTable, ViewTableMeta};
use crate::artifact::index::{IntIndex, KeyHasher, KeyIndex};
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
        DType::Int32 | DType::Float32 => Some(rows as u64 * 4),
        DType::Int64 | DType::Float64 | DType::UnixTimestamp => Some(rows as u64 * 8),
        DType::String | DType::Bytes | DType::Json | DType::Array(_) => None,
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
                    "{}: {dtype} offsets have {} bytes for {rows} rows",
                    what(),
                    seg.offsets.len
                )));
            }
            offsets = place(data_start, data_len, seg.offsets, what)?;
            let present = |row: usize| {
                validity
                    .as_ref()
                    .is_none_or(|v| bytes[v.start + row / 8] >> (row % 8) & 1 == 1)
            };
            check_cells(
                &bytes[offsets.clone()],
                &bytes[data.clone()],
                dtype,
                &present,
            )
            .map_err(|m| malformed(&format!("{}: {m}", what())))?;
        }
    }
    Ok(Column {
        dtype,
        validity,
        offsets,
        data,
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
        if !field.dtype.is_key() {
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
    // Integer keys of either width index as i64, as lookups give them.
    let read_int = |col: &Column, row: usize| -> i64 {
        if col.dtype == DType::Int32 {
            let start = col.data.start + row * 4;
            i64::from(i32::from_le_bytes(to_array(&bytes[start..start + 4])))
        } else {
            let start = col.data.start + row * 8;
            i64::from_le_bytes(to_array(&bytes[start..start + 8]))
        }
    };
    let read_str = |col: &Column, row: usize| -> &[u8] {
        let off =
            |i: usize| u32::from_le_bytes(to_array(&bytes[col.offsets.start + i * 4..])) as usize;
        &bytes[col.data.start + off(row)..col.data.start + off(row + 1)]
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
