//! What a source's columns hold, read cheaply for the schema check
//! ([`super::schema`]): a Parquet file's footer (never a row group), every
//! footer of a partitioned dataset (checked to agree) plus its partition
//! values, a SQLite
//! table's `PRAGMA table_info` plus a bounded sample of rows, a CSV header
//! plus a bounded sample of rows.
//!
//! Parquet columns carry a type, so the footer is the whole truth. CSV text and
//! SQLite cells do not (a SQLite `REAL` column may hold `?` as text), so for
//! them the first [`SAMPLE_ROWS`] rows are summarised as [`Seen`]: which kinds
//! of value appear. A sample can miss a bad value further down; the readers
//! still check every cell when `historical` or `materialize` reads the file.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use verge_core::definition::{Source, SourceFormat};

use super::timestamp::parse_timestamp;

/// Rows of a CSV file or SQLite table looked at by the check: enough to catch
/// a wrongly declared column, few enough that `plan` stays instant.
pub const SAMPLE_ROWS: usize = 1_000;

/// Which kinds of value a sample of a text or dynamic column holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Integers (text or SQLite INTEGER) other than 0 and 1.
    pub ints: bool,
    /// The integers 0 or 1.
    pub bits: bool,
    /// Whole floats such as `2.0`.
    pub whole_floats: bool,
    /// Floats with a fractional part.
    pub fractions: bool,
    /// Floats that float32 cannot hold as written (`0.123456789012`).
    pub wide_floats: bool,
    /// `true`/`false`/`yes`/`no`/`t`/`f` text.
    pub bool_words: bool,
    /// Text that reads as a timestamp.
    pub times: bool,
    /// Any other text.
    pub text: bool,
    /// SQLite BLOBs.
    pub blobs: bool,
}

impl Seen {
    /// Nothing but nulls (or no rows at all) in the sample.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Seen::default()
    }

    /// The widest kind seen, in verge's type words, for messages.
    #[must_use]
    pub fn name(&self) -> &'static str {
        if self.blobs {
            "blob"
        } else if self.text || self.bool_words {
            "string"
        } else if self.times {
            "timestamp text"
        } else if self.fractions || self.whole_floats {
            "float64"
        } else if self.ints || self.bits {
            "int64"
        } else {
            "nothing (all null)"
        }
    }

    fn float(&mut self, x: f64) {
        if !x.is_finite() {
            // NaN reads as null; an infinity is refused by the reader with its row.
            return;
        }
        if x.fract() == 0.0 {
            self.whole_floats = true;
        } else {
            self.fractions = true;
        }
        // Lossy when float32's shortest decimal differs from the value as written.
        let narrowed: f64 = (x as f32).to_string().parse().unwrap_or(f64::NAN);
        if narrowed != x {
            self.wide_floats = true;
        }
    }

    fn int(&mut self, i: i64) {
        if i == 0 || i == 1 {
            self.bits = true;
        } else {
            self.ints = true;
        }
    }

    fn text_value(&mut self, text: &str) {
        let t = text.trim();
        if matches!(t, "" | "?") {
            return;
        }
        if let Ok(i) = t.parse::<i64>() {
            self.int(i);
        } else if let Ok(x) = t.parse::<f64>() {
            self.float(x);
        } else if matches!(
            t.to_ascii_lowercase().as_str(),
            "true" | "false" | "t" | "f" | "yes" | "no"
        ) {
            self.bool_words = true;
        } else if parse_timestamp(t).is_some() {
            self.times = true;
        } else {
            self.text = true;
        }
    }
}

/// What one column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// A typed column (Parquet), from the file's footer.
    Arrow(DataType),
    /// A sampled column (CSV, SQLite), with SQLite's declared column type.
    Sample {
        /// The kinds of value in the sample.
        seen: Seen,
        /// SQLite's declared type (`INTEGER`, `TEXT`, ...), upper-cased; empty for CSV.
        declared: String,
    },
}

/// One column of a source, as the file names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name in the file (before `field_mapping`).
    pub name: String,
    /// What it holds.
    pub found: Found,
}

/// Reads what each column of `source` holds (see the module docs for how much
/// of the file is read).
///
/// # Errors
///
/// The file is missing or unreadable, or the SQLite table does not exist.
pub fn columns(source: &Source, repo_root: &Path, place: &str) -> Result<Vec<Column>> {
    let path = repo_root.join(&source.path);
    match &source.format {
        SourceFormat::Parquet if super::dataset::is_dataset(repo_root, &source.path) => {
            dataset_columns(repo_root, &source.path, place)
        }
        SourceFormat::Parquet => parquet_columns(&path, place),
        SourceFormat::Csv => csv_columns(&path, place),
        SourceFormat::Sqlite { table } => sqlite_columns(&path, table, place),
        SourceFormat::Postgres {
            table,
            url,
            url_env,
        } => super::postgres::columns(url.as_deref(), url_env.as_deref(), table, place),
    }
}

fn parquet_columns(path: &Path, place: &str) -> Result<Vec<Column>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("{place}: cannot open {}", path.display()))?;
    // Only the footer: the metadata (schema, row-group offsets) is all the
    // check needs, so a gigabyte file costs one small read at its end.
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .with_context(|| format!("{place}: {} is not a readable Parquet file", path.display()))?;
    Ok(meta
        .schema()
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            found: Found::Arrow(f.data_type().clone()),
        })
        .collect())
}

/// A dataset's columns: the first file's, checked against every other file's
/// footer, then one per partition key, summarised from the partition values.
fn dataset_columns(repo_root: &Path, path: &str, place: &str) -> Result<Vec<Column>> {
    let files = super::dataset::files(repo_root, path, place)?;
    let mut columns: Option<(String, Vec<Column>)> = None;
    for file in &files {
        let these = parquet_columns(&file.path, &format!("{place}, file {}", file.shown))?;
        let Some((first, expected)) = &columns else {
            columns = Some((file.shown.clone(), these));
            continue;
        };
        for c in expected {
            match these.iter().find(|t| t.name == c.name) {
                None => bail!(
                    "{place}: {} has no column `{}`, which {first} has; every file of a dataset needs the same columns",
                    file.shown,
                    c.name
                ),
                Some(t) if t.found != c.found => bail!(
                    "{place}: {}: column `{}` holds {} but {first} holds {}; every file of a dataset needs the same column types",
                    file.shown,
                    c.name,
                    arrow_name(&t.found),
                    arrow_name(&c.found)
                ),
                Some(_) => {}
            }
        }
        if let Some(extra) = these
            .iter()
            .find(|t| expected.iter().all(|c| c.name != t.name))
        {
            bail!(
                "{place}: {} has a column `{}` that {first} has not; every file of a dataset needs the same columns",
                file.shown,
                extra.name
            );
        }
    }
    let Some((_, mut columns)) = columns else {
        bail!("{place}: `{path}` holds no Parquet file");
    };
    let keys = files.first().map(|f| f.partitions.len()).unwrap_or(0);
    for k in 0..keys {
        let mut seen = Seen::default();
        let mut name = String::new();
        for file in &files {
            if let Some((key, value)) = file.partitions.get(k) {
                name.clone_from(key);
                if let Some(v) = value {
                    seen.text_value(v);
                }
            }
        }
        if columns.iter().any(|c| c.name == name) {
            bail!(
                "{place}: `{name}` is both a partition key and a column of the files; rename one"
            );
        }
        columns.push(Column {
            name,
            found: Found::Sample {
                seen,
                declared: String::new(),
            },
        });
    }
    Ok(columns)
}

fn arrow_name(found: &Found) -> String {
    match found {
        Found::Arrow(t) => t.to_string(),
        Found::Sample { seen, .. } => seen.name().to_owned(),
    }
}

fn csv_columns(path: &Path, place: &str) -> Result<Vec<Column>> {
    let (mut reader, headers) = super::csv::open(path, place)?;
    if headers.is_empty() {
        bail!(
            "{place}: {} is empty: a CSV source needs a header row naming its columns",
            path.display()
        );
    }
    let mut seen = vec![Seen::default(); headers.len()];
    let mut record = ::csv::ByteRecord::new();
    for row in 0..SAMPLE_ROWS {
        let more = reader.read_byte_record(&mut record).with_context(|| {
            format!("{place}: CSV error after data row {row} (check quoting and field counts)")
        })?;
        if !more {
            break;
        }
        for (s, bytes) in seen.iter_mut().zip(record.iter()) {
            // Invalid UTF-8 is named with its row by the reader; here it is text.
            match std::str::from_utf8(bytes) {
                Ok(text) => s.text_value(text),
                Err(_) => s.text = true,
            }
        }
    }
    Ok(headers
        .into_iter()
        .zip(seen)
        .map(|(name, seen)| Column {
            name,
            found: Found::Sample {
                seen,
                declared: String::new(),
            },
        })
        .collect())
}

fn sqlite_columns(path: &Path, table: &str, place: &str) -> Result<Vec<Column>> {
    if !path.is_file() {
        bail!("{place}: {} does not exist", path.display());
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("{place}: cannot open {}", path.display()))?;
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    let mut info = conn
        .prepare(&format!("PRAGMA table_info({quoted})"))
        .with_context(|| format!("{place}: cannot read the columns of table `{table}`"))?;
    let declared: Vec<(String, String)> = info
        .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .and_then(Iterator::collect)
        .with_context(|| format!("{place}: cannot read the columns of table `{table}`"))?;
    if declared.is_empty() {
        bail!("{place}: cannot read table `{table}` (does it exist?)");
    }
    // Every column is sampled, whatever its declared type: SQLite's affinity
    // is a preference, not a constraint (a REAL column may hold `?` as text).
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {quoted} LIMIT {SAMPLE_ROWS}"))
        .with_context(|| format!("{place}: cannot read table `{table}`"))?;
    let mut seen = vec![Seen::default(); stmt.column_count()];
    let mut rows = stmt
        .query([])
        .with_context(|| format!("{place}: querying table `{table}`"))?;
    while let Some(r) = rows
        .next()
        .with_context(|| format!("{place}: sampling table `{table}`"))?
    {
        for (i, s) in seen.iter_mut().enumerate() {
            match r.get_ref(i) {
                Ok(ValueRef::Null) | Err(_) => {}
                Ok(ValueRef::Integer(v)) => s.int(v),
                Ok(ValueRef::Real(x)) => s.float(x),
                Ok(ValueRef::Text(bytes)) => match std::str::from_utf8(bytes) {
                    Ok(text) => s.text_value(text),
                    Err(_) => s.text = true,
                },
                Ok(ValueRef::Blob(_)) => s.blobs = true,
            }
        }
    }
    Ok(declared
        .into_iter()
        .zip(seen)
        .map(|((name, decl), seen)| Column {
            name,
            found: Found::Sample {
                seen,
                declared: decl.to_ascii_uppercase(),
            },
        })
        .collect())
}
