//! The UCI horse-colic files (dataset 47) as the SQLite source of `examples/horse-colic`.
//!
//! The Flyte + Feast example this project retells read a SQLite table `data` with
//! UCI attributes 1–24 under their UCI names ("surgery", "Age", "Hospital Number",
//! …, "surgical lesion") plus a `timestamp` column. That database was never
//! published, so it is rebuilt here from the UCI text files, deterministically:
//!
//! - **Rows.** Every row of the training file and of the test file is kept, in
//!   file order, including the 16 (training) and 3 (test) repeated hospital
//!   numbers: a repeated number is a horse that came back, and each visit is its
//!   own row. A `split` column (`train` / `test`) records where a row came from;
//!   verge ignores it, it is there for people reading the table.
//! - **Event time.** Training row `i` (0-based) happens at `start + i` minutes and
//!   test row `j` at `start + (n_train + j)` minutes (default start
//!   2021-06-25T00:00:00Z). Event times are therefore unique and increasing, a
//!   horse's later visit is later in time, and every test row is later than every
//!   training row.
//! - **Missing values** (`?`) are stored as SQL `NULL`, and every other value as an
//!   `INTEGER` (codes: the nominal and ordinal attributes) or a `REAL`
//!   (measurements). Flyte kept the `?` text; verge's SQLite reader would read that
//!   as null in numeric fields too, but a typed table lets any SQL tool
//!   (`AVG("pulse")`, `IS NULL`) see the data as it is.
//!
//! Why exact event times make training and holdout sets correct: an entity row
//! that asks for horse `h` at exactly the event time of one of its rows gets that
//! row back from the point-in-time join (it is the latest with `event_ts <= t`,
//! and any later visit is excluded because it is later than `t`). So
//! [`write_entities`] writes one entity row per training row (`train_entities.csv`)
//! and one per test row (`holdout_entities.csv`), and a model trained on the first
//! can never see a test row: every test row is later than every time the training
//! set asks about.
//!
//! Lines are split on whitespace (the files end most lines with a space); blank
//! lines are skipped. A row must have exactly 28 fields; columns 25–28 (lesion
//! codes and `cp_data`) are checked for presence and then dropped, as the Flyte
//! table does. Errors name the file, the line and the field.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use verge_core::Timestamp;

use crate::store::atomic;

/// Fields per row in the UCI files.
pub const UCI_FIELDS: usize = 28;

/// The event time of the first training row unless another is asked for: the day
/// of the Flyte example's training query (2021-06-25T16:36:27Z), so that query's
/// times fall within a one-day ttl of every row.
pub const DEFAULT_START: &str = "2021-06-25T00:00:00Z";

/// The table every row is written to: the Flyte example's name.
pub const TABLE: &str = "data";

/// The event-time column (text, RFC 3339 with `Z`).
pub const TIMESTAMP_COLUMN: &str = "timestamp";

/// The column naming the file a row came from (`train` or `test`).
pub const SPLIT_COLUMN: &str = "split";

/// The entity table for training, written by [`write_entities`].
pub const TRAIN_ENTITIES: &str = "train_entities.csv";

/// The entity table for the holdout (test) rows, written by [`write_entities`].
pub const HOLDOUT_ENTITIES: &str = "holdout_entities.csv";

/// Minutes between consecutive rows' event times.
const STEP_MICROS: i64 = 60 * 1_000_000;

/// How a column's values are read and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A nominal or ordinal code, or the hospital number: a whole number, `INTEGER`.
    Code,
    /// A measurement (temperature, pulse, pH, …): any finite number, `REAL`.
    Measurement,
}

/// One of the 24 kept UCI attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the database: the UCI / Flyte name, spaces and case kept.
    pub name: &'static str,
    /// The snake_case name a feature repository maps it to (`field_mapping`).
    pub field: &'static str,
    /// How values are read and stored.
    pub kind: Kind,
}

const fn code(name: &'static str, field: &'static str) -> Column {
    Column {
        name,
        field,
        kind: Kind::Code,
    }
}

const fn measurement(name: &'static str, field: &'static str) -> Column {
    Column {
        name,
        field,
        kind: Kind::Measurement,
    }
}

/// UCI attributes 1–24 in file order, under the Flyte example's column names.
pub const COLUMNS: [Column; 24] = [
    code("surgery", "surgery"),
    code("Age", "age"),
    code("Hospital Number", "hospital_number"),
    measurement("rectal temperature", "rectal_temperature"),
    measurement("pulse", "pulse"),
    measurement("respiratory rate", "respiratory_rate"),
    code("temperature of extremities", "temperature_of_extremities"),
    code("peripheral pulse", "peripheral_pulse"),
    code("mucous membranes", "mucous_membranes"),
    code("capillary refill time", "capillary_refill_time"),
    code("pain", "pain"),
    code("peristalsis", "peristalsis"),
    code("abdominal distension", "abdominal_distension"),
    code("nasogastric tube", "nasogastric_tube"),
    code("nasogastric reflux", "nasogastric_reflux"),
    measurement("nasogastric reflux PH", "nasogastric_reflux_ph"),
    code("rectal examination", "rectal_examination"),
    code("abdomen", "abdomen"),
    measurement("packed cell volume", "packed_cell_volume"),
    measurement("total protein", "total_protein"),
    code("abdominocentesis appearance", "abdominocentesis_appearance"),
    measurement("abdomcentesis total protein", "abdomcentesis_total_protein"),
    code("outcome", "outcome"),
    code("surgical lesion", "surgical_lesion"),
];

/// Index in [`COLUMNS`] of "Hospital Number", the entity's join key.
const HOSPITAL_NUMBER: usize = 2;
/// Index in [`COLUMNS`] of "surgical lesion", the label.
const SURGICAL_LESION: usize = 23;

/// One value as read from a UCI file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A code column's value.
    Int(i64),
    /// A measurement column's value.
    Real(f64),
}

impl Number {
    /// The value as a float (codes widen exactly: they are small).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Real(x) => x,
        }
    }
}

/// One row of a UCI file: a horse's visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// 1-based line number in its file, for messages.
    pub line: usize,
    /// The join key (never missing: a row without one is an error).
    pub hospital_number: i64,
    /// Attributes 1–24 in [`COLUMNS`] order; `None` where the file has `?`.
    pub values: [Option<Number>; 24],
}

impl Visit {
    /// The label, 1 (surgical) or 2 (not), if the row has one.
    #[must_use]
    pub fn surgical_lesion(&self) -> Option<i64> {
        match self.values.get(SURGICAL_LESION).copied().flatten() {
            Some(Number::Int(i)) => Some(i),
            _ => None,
        }
    }

    /// The value of the column whose database name or field name is `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Number> {
        let index = COLUMNS
            .iter()
            .position(|c| c.name == name || c.field == name)?;
        self.values.get(index).copied().flatten()
    }
}

/// Parses the text of a UCI horse-colic file; `file` names it in errors.
///
/// # Examples
///
/// ```
/// use verge_host::example::horse_colic::{Number, parse_uci};
/// let line = "2 1 530101 38.50 66 28 3 3 ? 2 5 4 4 ? ? ? 3 5 45.00 8.40 ? ? 2 2 11300 00000 00000 2 \n";
/// let visits = parse_uci(line, "horse-colic.data")?;
/// assert_eq!(visits[0].hospital_number, 530101);
/// assert_eq!(visits[0].get("rectal temperature"), Some(Number::Real(38.5)));
/// assert_eq!(visits[0].get("mucous_membranes"), None); // `?`
/// assert_eq!(visits[0].surgical_lesion(), Some(2));
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// A non-blank line without exactly 28 fields, a code that is not a whole number,
/// a measurement that is not a finite number, or a missing hospital number; the
/// message names the file, the line and the field.
pub fn parse_uci(text: &str, file: &str) -> Result<Vec<Visit>> {
    let mut visits = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() != UCI_FIELDS {
            bail!(
                "{file}:{number}: {} fields, expected {UCI_FIELDS} (a horse-colic row is \
                 {UCI_FIELDS} values separated by spaces, `?` for a missing one)",
                fields.len()
            );
        }
        let mut values = [None; 24];
        for ((slot, column), (position, text)) in values
            .iter_mut()
            .zip(&COLUMNS)
            .zip(fields.iter().enumerate())
        {
            *slot = parse_value(text, column).map_err(|why| {
                anyhow::anyhow!(
                    "{file}:{number}: field {} (`{}`): {why}",
                    position + 1,
                    column.name
                )
            })?;
        }
        let hospital_number = match values.get(HOSPITAL_NUMBER).copied().flatten() {
            Some(Number::Int(h)) => h,
            _ => bail!(
                "{file}:{number}: field {} (`Hospital Number`) is missing; every row needs \
                 its horse's hospital number (the entity's join key)",
                HOSPITAL_NUMBER + 1
            ),
        };
        visits.push(Visit {
            line: number,
            hospital_number,
            values,
        });
    }
    Ok(visits)
}

fn parse_value(text: &str, column: &Column) -> std::result::Result<Option<Number>, String> {
    if text == "?" {
        return Ok(None);
    }
    match column.kind {
        Kind::Code => text
            .parse::<i64>()
            .map(|i| Some(Number::Int(i)))
            .map_err(|_| format!("cannot read `{text}` as a whole-number code (or `?`)")),
        Kind::Measurement => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(Number::Real(x))),
            _ => Err(format!("cannot read `{text}` as a finite number (or `?`)")),
        },
    }
}

/// Reads and parses a UCI horse-colic file.
///
/// # Errors
///
/// The file cannot be read, or [`parse_uci`] fails.
pub fn read_uci(path: &Path) -> Result<Vec<Visit>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_uci(&text, &path.display().to_string())
}

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
fn ident(name: &str) -> String {
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
/// use verge_host::example::horse_colic::{Dataset, parse_uci, write_db};
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
fn fill(path: &Path, rows: &[Row<'_>], summary: &mut DbSummary) -> Result<()> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROW: &str =
        "2 1 530101 38.50 66 28 3 3 ? 2 5 4 4 ? ? ? 3 5 45.00 8.40 ? ? 2 2 11300 00000 00000 2 ";

    fn start() -> Timestamp {
        Timestamp::parse_rfc3339(DEFAULT_START).unwrap()
    }

    fn row_with(position: usize, value: &str) -> String {
        let mut fields: Vec<&str> = ROW.split_whitespace().collect();
        fields[position - 1] = value;
        fields.join(" ")
    }

    #[test]
    fn parses_codes_measurements_and_missing_values() {
        let v = &parse_uci(&format!("\n{ROW}\n\n"), "f").unwrap()[0];
        assert_eq!(v.line, 2);
        assert_eq!(v.hospital_number, 530_101);
        assert_eq!(v.get("surgery"), Some(Number::Int(2)));
        assert_eq!(v.get("pulse"), Some(Number::Real(66.0)));
        assert_eq!(v.get("total_protein"), Some(Number::Real(8.4)));
        assert_eq!(v.get("nasogastric reflux PH"), None);
        assert_eq!(v.get("no such column"), None);
        assert_eq!(v.values.iter().filter(|x| x.is_none()).count(), 6);
        assert_eq!(v.surgical_lesion(), Some(2));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let short = ROW
            .rsplit_once(' ')
            .unwrap()
            .0
            .trim_end()
            .rsplit_once(' ')
            .unwrap()
            .0;
        let err = parse_uci(&format!("{ROW}\n{short}\n"), "bad.data").unwrap_err();
        assert_eq!(
            err.to_string().split(" (").next().unwrap(),
            "bad.data:2: 27 fields, expected 28"
        );

        let err = parse_uci(&row_with(8, "3.5"), "bad.data")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("bad.data:1: field 8 (`peripheral pulse`): cannot read `3.5`"),
            "{err}"
        );

        let err = parse_uci(&row_with(4, "nan"), "x").unwrap_err().to_string();
        assert!(err.contains("field 4 (`rectal temperature`)"), "{err}");
        assert!(err.contains("finite number"), "{err}");

        let err = parse_uci(&row_with(3, "?"), "x").unwrap_err().to_string();
        assert!(
            err.starts_with("x:1: field 3 (`Hospital Number`) is missing"),
            "{err}"
        );
    }

    #[test]
    fn event_times_are_unique_and_test_rows_come_last() {
        let two = format!("{ROW}\n{ROW}\n");
        let dataset = Dataset {
            start: start(),
            train: parse_uci(&two, "a").unwrap(),
            test: parse_uci(ROW, "b").unwrap(),
        };
        let rows = dataset.rows().unwrap();
        let times: Vec<String> = rows.iter().map(|r| r.event_time.to_rfc3339()).collect();
        assert_eq!(
            times,
            [
                "2021-06-25T00:00:00Z",
                "2021-06-25T00:01:00Z",
                "2021-06-25T00:02:00Z"
            ]
        );
        assert_eq!(rows[2].split, Split::Test);

        let late = Dataset {
            start: Timestamp::from_micros(i64::MAX - 1),
            ..dataset
        };
        assert!(late.rows().unwrap_err().to_string().contains("row 2"));
    }

    #[test]
    fn database_holds_typed_values_nulls_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/colic.db");
        let dataset = Dataset {
            start: start(),
            train: parse_uci(ROW, "a").unwrap(),
            test: parse_uci(&row_with(3, "42"), "b").unwrap(),
        };
        let summary = write_db(&dataset, &db).unwrap();
        assert_eq!(
            (summary.train_rows, summary.test_rows, summary.nulls),
            (1, 1, 12)
        );
        // Writing again replaces the file rather than appending to it.
        write_db(&dataset, &db).unwrap();
        let conn = Connection::open(&db).unwrap();
        let rows: Vec<(i64, f64, Option<f64>, String, String, String)> = conn
            .prepare(
                "SELECT \"Hospital Number\", \"total protein\", \"nasogastric reflux PH\", \
                 typeof(\"pulse\"), timestamp, split FROM data ORDER BY timestamp",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            (
                530_101,
                8.4,
                None,
                "real".into(),
                "2021-06-25T00:00:00Z".into(),
                "train".into()
            )
        );
        assert_eq!((rows[1].0, rows[1].5.as_str()), (42, "test"));
        let names: Vec<String> = conn
            .prepare("SELECT * FROM data")
            .unwrap()
            .column_names()
            .map(str::to_owned)
            .collect();
        assert_eq!(names.len(), 26);
        assert_eq!(names[2], "Hospital Number");
        assert_eq!(names[24..], ["timestamp", "split"]);
        // Only the database is left in the directory: no temporary or journal files.
        let files: Vec<_> = std::fs::read_dir(db.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn entity_files_ask_for_each_labelled_row_at_its_own_time() {
        let dir = tempfile::tempdir().unwrap();
        let unlabelled = row_with(24, "?");
        let dataset = Dataset {
            start: start(),
            train: parse_uci(&format!("{ROW}\n{unlabelled}\n{ROW}\n"), "a").unwrap(),
            test: parse_uci(ROW, "b").unwrap(),
        };
        let summary = write_entities(&dataset, dir.path()).unwrap();
        assert_eq!(
            summary,
            EntitySummary {
                train_rows: 2,
                holdout_rows: Some(1),
                unlabelled: 1
            }
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(TRAIN_ENTITIES)).unwrap(),
            "hospital_number,event_timestamp\n530101,2021-06-25T00:00:00Z\n530101,2021-06-25T00:02:00Z\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(HOLDOUT_ENTITIES)).unwrap(),
            "hospital_number,event_timestamp\n530101,2021-06-25T00:03:00Z\n"
        );

        let no_test = tempfile::tempdir().unwrap();
        let dataset = Dataset {
            test: Vec::new(),
            ..dataset
        };
        assert_eq!(
            write_entities(&dataset, no_test.path())
                .unwrap()
                .holdout_rows,
            None
        );
        assert!(!no_test.path().join(HOLDOUT_ENTITIES).exists());
    }
}
