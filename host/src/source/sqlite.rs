//! SQLite sources: one table, read cell by cell in each cell's storage class.
//!
//! SQLite columns have no fixed type: a `REAL` column may hold text such as `?`
//! (the horse-colic table does exactly that for missing values). Each cell is
//! therefore read as what it is (NULL, INTEGER, REAL, TEXT, BLOB) and converted
//! to the declared type by the shared rules, where `?` and empty text are null
//! for numeric fields. A BLOB is read only as `bytes`; arrays and JSON are
//! stored as JSON text (see `super::builder`).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_array::ArrayRef;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::convert::{Builder, Cell, Origin};
use super::{Wanted, concat_pieces};

/// Reads the wanted columns of table `table` in the SQLite database at `path`.
pub(super) fn read(
    path: &Path,
    table: &str,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    if !path.is_file() {
        bail!("{place}: {} does not exist", path.display());
    }
    // Read-only, so a typo in the path never creates an empty database.
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("{place}: cannot open {}", path.display()))?;
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {quoted}"))
        .with_context(|| format!("{place}: cannot read table `{table}` (does it exist?)"))?;
    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let indices = resolve(&names)?;
    let mut builders: Vec<Builder> = wanted
        .iter()
        .map(|w| Builder::new(w.target, 1024))
        .collect();
    let mut rows = stmt
        .query([])
        .with_context(|| format!("{place}: querying table `{table}`"))?;
    let mut row = 0usize;
    while let Some(r) = rows
        .next()
        .with_context(|| format!("{place}: reading after data row {row}"))?
    {
        for ((builder, &index), w) in builders.iter_mut().zip(&indices).zip(wanted) {
            let column = names.get(index).map_or(w.name.as_str(), String::as_str);
            let origin = Origin { place, column };
            let value = r
                .get_ref(index)
                .map_err(|e| origin.at(row, &e.to_string()))?;
            let cell = match value {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(i) => Cell::Int(i),
                ValueRef::Real(x) => Cell::Float(x),
                ValueRef::Text(bytes) => Cell::Text(
                    std::str::from_utf8(bytes)
                        .map_err(|_| origin.at(row, "text is not valid UTF-8"))?,
                ),
                ValueRef::Blob(bytes) => Cell::Bytes(bytes),
            };
            builder.push(cell).map_err(|m| origin.at(row, &m))?;
        }
        row += 1;
    }
    builders
        .iter_mut()
        .zip(wanted)
        .map(|(b, w)| concat_pieces(&[b.finish()], w.target, place))
        .collect()
}
