//! Writing the example's SQLite source and its entity tables from parsed
//! visits, with the event times the crate's docs explain.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use verge_core::Timestamp;
use verge_host::store::atomic;

use crate::uci::*;

/// Which file a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `horse-colic.data`, the rows a model is trained on.
    Train,
    /// `horse-colic.test`, the holdout rows.
    Test,
}

impl Split {
    /// The value of the `split` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// The training and test visits with the event times they are given.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The event time of the first training row.
    pub start: Timestamp,
    /// Training rows, in file order.
    pub train: Vec<Visit>,
    /// Test rows, in file order (empty when there is no test file).
    pub test: Vec<Visit>,
}

/// One row of the database: a visit with its split and event time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    /// The file it came from.
    pub split: Split,
    /// The visit.
    pub visit: &'a Visit,
    /// Its event time.
    pub event_time: Timestamp,
}

impl Dataset {
    /// Every row with its event time: training rows first, then test rows, one
    /// minute apart (see the module docs).
    ///
    /// # Errors
    ///
    /// An event time would not fit in a timestamp (a `start` near the end of time).
    pub fn rows(&self) -> Result<Vec<Row<'_>>> {
        let tagged = self
            .train
            .iter()
            .map(|v| (Split::Train, v))
            .chain(self.test.iter().map(|v| (Split::Test, v)));
        tagged
            .enumerate()
            .map(|(i, (split, visit))| {
                let offset = i64::try_from(i)
                    .ok()
                    .and_then(|i| i.checked_mul(STEP_MICROS))
                    .and_then(|o| self.start.as_micros().checked_add(o))
                    .with_context(|| {
                        format!(
                            "row {} cannot be given an event time after {}; pick an earlier start",
                            i + 1,
                            self.start.to_rfc3339()
                        )
                    })?;
                Ok(Row {
                    split,
                    visit,
                    event_time: Timestamp::from_micros(offset),
                })
            })
            .collect()
    }
}

/// What [`write_db`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSummary {
    /// Training rows written.
    pub train_rows: usize,
    /// Test rows written.
    pub test_rows: usize,
    /// Cells stored as `NULL` (a `?` in the file), over the 24 kept columns.
    pub nulls: usize,
    /// Event times of the first and last row.
    pub first: Option<Timestamp>,
    /// See `first`.
    pub last: Option<Timestamp>,
}

/// Quotes an SQL identifier (the column names hold spaces).
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Writes every row of `dataset` to table [`TABLE`] of a new SQLite database at
/// `path`, replacing any file there atomically (a temporary file in the same
/// directory, synced, then renamed), so a reader never sees a half-written
/// database and a failed run leaves the old one in place.
///
/// Columns: the 24 of [`COLUMNS`] (codes `INTEGER`, measurements `REAL`, `?` as
/// `NULL`), then `timestamp` (`TEXT`, RFC 3339) and `split` (`TEXT`).
///
/// # Examples
///
/// ```
/// use verge_core::Timestamp;
/// use verge_example_horse_colic::{Dataset, parse_uci, write_db};
/// let line = "2 1 530101 38.50 66 28 3 3 ? 2 5 4 4 ? ? ? 3 5 45.00 8.40 ? ? 2 2 11300 00000 00000 2\n";
/// let dataset = Dataset {
///     start: Timestamp::parse_rfc3339("2021-06-25T00:00:00Z").unwrap(),
///     train: parse_uci(line, "horse-colic.data")?,
///     test: Vec::new(),
/// };
/// let dir = tempfile::tempdir()?;
/// let db = dir.path().join("horse_colic.db");
/// let summary = write_db(&dataset, &db)?;
/// assert_eq!((summary.train_rows, summary.nulls), (1, 6));
/// let conn = rusqlite::Connection::open(&db)?;
/// let time: String = conn.query_row("SELECT timestamp FROM data", [], |r| r.get(0))?;
/// assert_eq!(time, "2021-06-25T00:00:00Z");
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// The destination's directory cannot be written, SQLite fails, or an event time
/// overflows (see [`Dataset::rows`]).
pub fn write_db(dataset: &Dataset, path: &Path) -> Result<DbSummary> {
    let rows = dataset.rows()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".horse_colic")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut summary = DbSummary {
        train_rows: dataset.train.len(),
        test_rows: dataset.test.len(),
        nulls: 0,
        first: rows.first().map(|r| r.event_time),
        last: rows.last().map(|r| r.event_time),
    };
    fill(tmp.path(), &rows, &mut summary)
        .with_context(|| format!("writing the SQLite database {}", path.display()))?;
    File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the new database to {}", path.display()))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))?;
    Ok(summary)
}

/// Creates the table in the (empty) database file at `path` and inserts `rows`.
pub(crate) fn fill(path: &Path, rows: &[Row<'_>], summary: &mut DbSummary) -> Result<()> {
    let mut conn = Connection::open(path).context("cannot open the temporary database")?;
    let mut columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            let sql_type = match c.kind {
                Kind::Code => "INTEGER",
                Kind::Measurement => "REAL",
            };
            format!("{} {sql_type}", ident(c.name))
        })
        .collect();
    columns.push(format!("{} TEXT NOT NULL", ident(TIMESTAMP_COLUMN)));
    columns.push(format!("{} TEXT NOT NULL", ident(SPLIT_COLUMN)));
    let tx = conn.transaction().context("cannot start a transaction")?;
    tx.execute_batch(&format!(
        "CREATE TABLE {} ({});",
        ident(TABLE),
        columns.join(", ")
    ))
    .context("cannot create the table")?;
    {
        let mut sql = format!("INSERT INTO {} VALUES (", ident(TABLE));
        for i in 0..COLUMNS.len() + 2 {
            let _ = write!(sql, "{}?", if i == 0 { "" } else { ", " });
        }
        sql.push(')');
        let mut insert = tx.prepare(&sql).context("cannot prepare the insert")?;
        for row in rows {
            let mut params: Vec<SqlValue> = row
                .visit
                .values
                .iter()
                .map(|v| match v {
                    None => SqlValue::Null,
                    Some(Number::Int(i)) => SqlValue::Integer(*i),
                    Some(Number::Real(x)) => SqlValue::Real(*x),
                })
                .collect();
            summary.nulls += params
                .iter()
                .filter(|p| matches!(p, SqlValue::Null))
                .count();
            params.push(SqlValue::Text(row.event_time.to_rfc3339()));
            params.push(SqlValue::Text(row.split.as_str().to_owned()));
            insert
                .execute(rusqlite::params_from_iter(params))
                .with_context(|| {
                    format!(
                        "cannot insert the {} row from line {}",
                        row.split.as_str(),
                        row.visit.line
                    )
                })?;
        }
    }
    tx.commit().context("cannot commit")?;
    conn.close()
        .map_err(|(_, e)| e)
        .context("cannot close the database")
}

/// What [`write_entities`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySummary {
    /// Rows in [`TRAIN_ENTITIES`].
    pub train_rows: usize,
    /// Rows in [`HOLDOUT_ENTITIES`], or `None` when there are no test rows (the
    /// file is then not written).
    pub holdout_rows: Option<usize>,
    /// Rows left out of either file because their label is missing: training
    /// refuses unlabelled rows, and scoring them tells nothing.
    pub unlabelled: usize,
}

/// Writes the entity tables [`TRAIN_ENTITIES`] and (when there are test rows)
/// [`HOLDOUT_ENTITIES`] into `dir`, each atomically: a header
/// `hospital_number,event_timestamp`, then one line per labelled row of that
/// split, in file order, at exactly that row's event time.
///
/// # Errors
///
/// A file cannot be written, or an event time overflows (see [`Dataset::rows`]).
pub fn write_entities(dataset: &Dataset, dir: &Path) -> Result<EntitySummary> {
    let rows = dataset.rows()?;
    let mut summary = EntitySummary {
        train_rows: 0,
        holdout_rows: None,
        unlabelled: 0,
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    for split in [Split::Train, Split::Test] {
        if split == Split::Test && dataset.test.is_empty() {
            continue;
        }
        let mut text = String::from("hospital_number,event_timestamp\n");
        let mut written = 0usize;
        for row in rows.iter().filter(|r| r.split == split) {
            if row.visit.surgical_lesion().is_none() {
                summary.unlabelled += 1;
                continue;
            }
            let _ = writeln!(
                text,
                "{},{}",
                row.visit.hospital_number,
                row.event_time.to_rfc3339()
            );
            written += 1;
        }
        let name = match split {
            Split::Train => {
                summary.train_rows = written;
                TRAIN_ENTITIES
            }
            Split::Test => {
                summary.holdout_rows = Some(written);
                HOLDOUT_ENTITIES
            }
        };
        let path = dir.join(name);
        atomic::replace(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}
