//! CSV sources: a header row names the columns; an empty field is null.
//!
//! Read with the `csv` crate rather than `arrow-csv` so that every field goes
//! through the same conversion rules as SQLite cells (and so a bad value is
//! reported with its data row and column, not as a batch-level parse error).
//! Only the wanted columns are kept in memory, and only they are decoded as
//! UTF-8.

use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::ArrayRef;

use super::convert::{Builder, Cell, Origin};
use super::{Wanted, concat_pieces};

/// Opens the CSV file at `path` (named `place` in messages) and reads its
/// header row: the reader, positioned at the first data row, and the names.
pub(super) fn open(
    path: &Path,
    place: &str,
) -> Result<(::csv::Reader<std::fs::File>, Vec<String>)> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("{place}: cannot open {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{place}: cannot read the header row of {}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    Ok((reader, headers))
}

/// Reads the wanted columns of the CSV file at `path`, whole.
pub(super) fn read(
    path: &Path,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    let mut whole = None;
    read_batches(
        path,
        place,
        wanted,
        resolve,
        usize::MAX,
        &mut |columns, _| {
            whole = Some(columns);
            Ok(())
        },
    )?;
    whole.with_context(|| format!("{place}: internal: no columns read"))
}

/// Reads the wanted columns of the CSV file at `path` in pieces of at most
/// `batch_rows` rows, handing each to `each` with its first data row; at least
/// one piece (maybe empty) is handed over.
pub(super) fn read_batches(
    path: &Path,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
    batch_rows: usize,
    each: &mut dyn FnMut(Vec<ArrayRef>, usize) -> Result<()>,
) -> Result<()> {
    let (mut reader, headers) = open(path, place)?;
    let indices = resolve(&headers)?;
    let capacity = batch_rows.min(1024);
    let mut builders: Vec<Builder> = wanted
        .iter()
        .map(|w| Builder::new(w.target, capacity))
        .collect();
    let finish = |builders: &mut Vec<Builder>| -> Result<Vec<ArrayRef>> {
        builders
            .iter_mut()
            .zip(wanted)
            .map(|(b, w)| concat_pieces(&[b.finish()], w.target, place))
            .collect()
    };
    // Bytes, not text: only the wanted columns are decoded, so invalid UTF-8 in
    // a column verge does not read is no error, and in one it reads the message
    // names the row and column.
    let mut record = ::csv::ByteRecord::new();
    let mut row = 0usize;
    let mut first = 0usize;
    loop {
        let more = reader.read_byte_record(&mut record).with_context(|| {
            format!("{place}: CSV error after data row {row} (check quoting and field counts)")
        })?;
        if !more {
            break;
        }
        for ((builder, &index), w) in builders.iter_mut().zip(&indices).zip(wanted) {
            let column = headers.get(index).map_or(w.name.as_str(), String::as_str);
            let cell = match record.get(index) {
                None | Some(b"") => Cell::Null,
                Some(bytes) => Cell::Text(std::str::from_utf8(bytes).map_err(|e| {
                    Origin { place, column }.at(
                        row,
                        &format!(
                            "not valid UTF-8 (at byte {} of the field); save the file as UTF-8",
                            e.valid_up_to()
                        ),
                    )
                })?),
            };
            builder
                .push(cell)
                .map_err(|m| Origin { place, column }.at(row, &m))?;
        }
        row += 1;
        if row - first >= batch_rows {
            each(finish(&mut builders)?, first)?;
            first = row;
        }
    }
    if row > first || row == 0 {
        each(finish(&mut builders)?, first)?;
    }
    Ok(())
}
