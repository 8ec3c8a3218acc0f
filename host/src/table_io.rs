//! Entity tables in, training sets out: CSV or Parquet chosen by file extension.
//!
//! An entity table is what a user hands `verge historical`: join keys, an event
//! timestamp per row, and whatever else they want carried through (labels, request
//! ids). Reading keeps every column. CSV columns get simple types: a column whose
//! non-empty values are all integers becomes `Int64`, all numbers `Float64`, all
//! `true`/`false` `Boolean`, anything else `Utf8`; an empty field is null. A
//! column of integers one of which is beyond int64's range is refused (with its
//! row and column) rather than read as lossy floats; so is a field that is not
//! valid UTF-8, and an entity table with no rows (only a header).
//!
//! Writing is atomic: the table goes to a temporary file in the destination's
//! directory, is flushed to disk, and is renamed over the destination, so a reader
//! (or a crash) never sees half a training set. CSV output spells timestamps as
//! RFC 3339 with `Z`, floats with Rust's shortest round-trip formatting, and nulls
//! as empty fields.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use verge_core::DType;

use crate::source::timestamp::{format_date, format_nanos};
use crate::source::{Origin, Target, convert_array, require_no_nulls};
use crate::warnings::Warnings;

/// The file formats tables are read from and written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// Apache Parquet (`.parquet` or `.pq`).
    Parquet,
}

impl TableFormat {
    /// The format a path's extension names.
    ///
    /// # Errors
    ///
    /// The extension is neither `.csv` nor `.parquet` / `.pq`.
    pub fn of(path: &Path) -> Result<TableFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(TableFormat::Csv),
            Some("parquet" | "pq") => Ok(TableFormat::Parquet),
            _ => bail!(
                "{}: cannot tell the table format; name the file `.csv` or `.parquet`",
                path.display()
            ),
        }
    }
}

/// Reads a whole table (CSV or Parquet, by extension), keeping every column.
///
/// # Errors
///
/// The file is missing or malformed, or its extension is unknown.
pub fn read_table(path: &Path) -> Result<RecordBatch> {
    match TableFormat::of(path)? {
        TableFormat::Csv => read_csv(path),
        TableFormat::Parquet => read_parquet(path),
    }
}

/// Reads an entity table and converts its `timestamp_column` to
/// `Timestamp(Microsecond, "UTC")` (from any timestamp unit or zone, a date, or
/// RFC 3339 text); every other column is kept as read.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("entities.csv");
/// std::fs::write(&path, "horse,event_timestamp,label\n1,2021-06-25T16:36:27Z,yes\n")?;
/// let mut warnings = verge_host::warnings::Warnings::default();
/// let table = verge_host::table_io::read_entity_table(&path, "event_timestamp", &mut warnings)?;
/// assert!(warnings.is_empty());
/// assert_eq!(table.num_rows(), 1);
/// assert_eq!(table.schema().field(0).data_type(), &arrow_schema::DataType::Int64);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// As [`read_table`]; the timestamp column is missing (the message lists the
/// columns), a timestamp is empty or cannot be read.
///
/// A column name given twice is a warning in `warnings`: every lookup by name
/// (join keys, the timestamp, the label) takes the first.
pub fn read_entity_table(
    path: &Path,
    timestamp_column: &str,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let batch = read_table(path)?;
    warn_duplicate_columns(path, &batch.schema(), warnings);
    if batch.num_rows() == 0 {
        // Without this, the first check to notice is a type check on a column
        // that has no values to guess a type from ("column is Utf8").
        bail!(
            "entity table {} has no rows, only a header; add at least one entity row (join keys and `{timestamp_column}`)",
            path.display()
        );
    }
    let schema = batch.schema();
    let index = schema.index_of(timestamp_column).map_err(|_| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        anyhow!(
            "entity table {} has no column `{timestamp_column}`; columns are: {} (pick the event-time column with the timestamp option)",
            path.display(),
            names.join(", ")
        )
    })?;
    let place = format!("entity table {}", path.display());
    let origin = Origin {
        place: &place,
        column: timestamp_column,
    };
    let converted = convert_array(batch.column(index), Target::Timestamp, origin, 0)?;
    require_no_nulls(converted.as_ref(), origin, "the event timestamp")?;
    let mut columns = batch.columns().to_vec();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    if let (Some(c), Some(f)) = (columns.get_mut(index), fields.get_mut(index)) {
        *f = Field::new(
            timestamp_column,
            converted.data_type().clone(),
            f.is_nullable(),
        );
        *c = converted;
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .with_context(|| format!("{place}: assembling the columns"))
}

/// Counts the columns whose name an earlier column already has.
fn warn_duplicate_columns(path: &Path, schema: &Schema, warnings: &mut Warnings) {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut repeated: Vec<&str> = Vec::new();
    let mut extra = 0;
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            extra += 1;
            if !repeated.contains(name) {
                repeated.push(name);
            }
        }
    }
    warnings.add(extra, || {
        format!(
            "entity table {}: {extra} {} an earlier column's name (`{}`); lookups by name use the first, the {} carried through as is; rename or remove {}",
            path.display(),
            if extra == 1 { "column repeats" } else { "columns repeat" },
            repeated.join("`, `"),
            if extra == 1 { "repeat is" } else { "repeats are" },
            if extra == 1 { "it" } else { "them" },
        )
    });
}

fn read_parquet(path: &Path) -> Result<RecordBatch> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let schema = builder.schema().clone();
    let reader = builder
        .build()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("decoding {}", path.display()))?;
    arrow_select::concat::concat_batches(&schema, &batches)
        .with_context(|| format!("{}: joining batches", path.display()))
}

/// What every non-empty value of a CSV column could be read as.
#[derive(Debug, Clone)]
struct Guess {
    int: bool,
    float: bool,
    bool: bool,
    /// Every value is written as an integer (`-?[0-9]+`), even if beyond int64.
    integral: bool,
    /// The first integer beyond int64's range: its 1-based data row and text as written.
    wide: Option<(usize, String)>,
}

impl Guess {
    fn see(&mut self, text: &str, row: usize) {
        let t = text.trim();
        let is_int = t.parse::<i64>().is_ok();
        self.int &= is_int;
        self.float &= t.parse::<f64>().is_ok();
        self.bool &= t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false");
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        let integral = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        self.integral &= integral;
        if integral && !is_int && self.wide.is_none() {
            self.wide = Some((row + 1, t.to_owned()));
        }
    }

    /// Refuses a column of integers one of which int64 cannot hold: read as
    /// float64 it would lose digits silently (and a join key would then be
    /// reported as a float column, far from the cause).
    fn check_range(&self, place: &str, column: &str) -> Result<()> {
        match &self.wide {
            Some((row, text)) if self.integral => bail!(
                "{place}: row {row}, column `{column}`: {text} is beyond int64's range ({} to {}); fix the value, or write the column with a decimal point if it is not an integer",
                i64::MIN,
                i64::MAX
            ),
            _ => Ok(()),
        }
    }
}

fn read_csv(path: &Path) -> Result<RecordBatch> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("cannot read the header row of {}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut builders: Vec<arrow_array::builder::StringBuilder> = headers
        .iter()
        .map(|_| arrow_array::builder::StringBuilder::new())
        .collect();
    let mut guesses = vec![
        Guess {
            int: true,
            float: true,
            bool: true,
            integral: true,
            wide: None,
        };
        headers.len()
    ];
    let mut seen_any = vec![false; headers.len()];
    let place = format!("table {}", path.display());
    // Bytes, not text: invalid UTF-8 is then reported with its row and column
    // instead of as a record-level CSV error.
    let mut record = csv::ByteRecord::new();
    let mut row = 0usize;
    while reader.read_byte_record(&mut record).with_context(|| {
        format!(
            "{}: CSV error after data row {row} (check quoting and field counts)",
            path.display()
        )
    })? {
        for (i, b) in builders.iter_mut().enumerate() {
            match record.get(i) {
                None | Some(b"") => b.append_null(),
                Some(bytes) => {
                    let text = std::str::from_utf8(bytes).map_err(|e| {
                        let column = headers.get(i).map_or("?", String::as_str);
                        anyhow!(
                            "{place}: row {}, column `{column}`: not valid UTF-8 (at byte {} of the field); save the file as UTF-8",
                            row + 1,
                            e.valid_up_to()
                        )
                    })?;
                    if let (Some(g), Some(s)) = (guesses.get_mut(i), seen_any.get_mut(i)) {
                        g.see(text, row);
                        *s = true;
                    }
                    b.append_value(text);
                }
            }
        }
        row += 1;
    }
    let mut fields = Vec::with_capacity(headers.len());
    let mut columns = Vec::with_capacity(headers.len());
    for (((name, b), g), seen) in headers
        .iter()
        .zip(&mut builders)
        .zip(&guesses)
        .zip(&seen_any)
    {
        g.check_range(&place, name)?;
        let text: ArrayRef = Arc::new(b.finish());
        let dtype = match (seen, g) {
            (false, _) => DType::String,
            (true, g) if g.int => DType::Int64,
            (true, g) if g.float => DType::Float64,
            (true, g) if g.bool => DType::Bool,
            _ => DType::String,
        };
        let column = convert_array(
            &text,
            Target::Value(dtype),
            Origin {
                place: &place,
                column: name,
            },
            0,
        )?;
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(row)),
    )
    .with_context(|| format!("{place}: assembling the columns"))
}

/// Writes `batch` to `path` as CSV or Parquet (by extension), atomically: the
/// data goes to a temporary file beside `path`, is synced, and is renamed over
/// `path`, so `path` holds either the old table or the whole new one.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.csv");
/// let batch = RecordBatch::try_from_iter([(
///     "x",
///     Arc::new(Float64Array::from(vec![Some(0.1), None])) as _,
/// )])?;
/// verge_host::table_io::write_table(&batch, &path)?;
/// assert_eq!(std::fs::read_to_string(&path)?, "x\n0.1\n\"\"\n");
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// The extension is unknown, a column has a type CSV output does not support, or
/// the file cannot be written.
pub fn write_table(batch: &RecordBatch, path: &Path) -> Result<()> {
    let format = TableFormat::of(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    match format {
        TableFormat::Csv => write_csv(batch, tmp.as_file())?,
        TableFormat::Parquet => crate::parquet_out::write_parquet(batch, tmp.as_file())?,
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("flushing the temporary file for {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("cannot move the new table into place at {}", path.display()))?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A column resolved once to a cell printer, so writing does no per-cell downcasts.
enum Printer<'a> {
    Bool(&'a arrow_array::BooleanArray),
    Int(Box<dyn Fn(usize) -> i128 + 'a>),
    F32(&'a arrow_array::Float32Array),
    F64(&'a arrow_array::Float64Array),
    Str(&'a StringArray),
    LargeStr(&'a arrow_array::LargeStringArray),
    /// Nanoseconds since the epoch.
    Time(Box<dyn Fn(usize) -> i128 + 'a>),
    Date(&'a arrow_array::Date32Array),
    /// Bytes, as base64 (the text form sources read back).
    Binary(&'a arrow_array::BinaryArray),
    /// Lists, structs and maps, as JSON text (arrays' text form).
    Json(&'a dyn Array),
}

fn printer<'a>(array: &'a dyn Array, name: &str) -> Result<Printer<'a>> {
    macro_rules! prim {
        ($t:ty) => {
            array
                .as_primitive_opt::<$t>()
                .with_context(|| format!("column `{name}`: unexpected array"))?
        };
    }
    macro_rules! int {
        ($t:ty) => {{
            let a = prim!($t);
            Printer::Int(Box::new(move |i| i128::from(a.value(i))))
        }};
    }
    macro_rules! time {
        ($t:ty, $scale:expr) => {{
            let a = prim!($t);
            Printer::Time(Box::new(move |i| i128::from(a.value(i)) * $scale))
        }};
    }
    Ok(match array.data_type() {
        DataType::Boolean => Printer::Bool(array.as_boolean()),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float32 => Printer::F32(prim!(Float32Type)),
        DataType::Float64 => Printer::F64(prim!(Float64Type)),
        DataType::Utf8 => Printer::Str(array.as_string()),
        DataType::LargeUtf8 => Printer::LargeStr(array.as_string()),
        DataType::Timestamp(TimeUnit::Second, _) => time!(TimestampSecondType, 1_000_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            time!(TimestampMillisecondType, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => time!(TimestampMicrosecondType, 1_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => time!(TimestampNanosecondType, 1),
        DataType::Date32 => Printer::Date(prim!(Date32Type)),
        DataType::Binary => Printer::Binary(array.as_binary()),
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(_, _) => {
            Printer::Json(array)
        }
        other => bail!(
            "column `{name}` has type {other}, which CSV output does not support; write `.parquet` instead"
        ),
    })
}

impl Printer<'_> {
    fn print(&self, i: usize, out: &mut String) {
        use std::fmt::Write as _;
        out.clear();
        let _ = match self {
            Printer::Bool(a) => write!(out, "{}", a.value(i)),
            Printer::Int(f) => write!(out, "{}", f(i)),
            Printer::F32(a) => write!(out, "{}", a.value(i)),
            Printer::F64(a) => write!(out, "{}", a.value(i)),
            Printer::Str(a) => write!(out, "{}", a.value(i)),
            Printer::LargeStr(a) => write!(out, "{}", a.value(i)),
            Printer::Time(f) => write!(out, "{}", format_nanos(f(i))),
            Printer::Date(a) => write!(out, "{}", format_date(i64::from(a.value(i)))),
            Printer::Binary(a) => write!(out, "{}", verge_core::api::base64_of(a.value(i))),
            Printer::Json(a) => write!(
                out,
                "{}",
                crate::source::json_text_at(*a, i).unwrap_or_default()
            ),
        };
    }
}

fn write_csv(batch: &RecordBatch, file: &File) -> Result<()> {
    let schema = batch.schema();
    let printers: Vec<(Printer<'_>, &dyn Array)> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| Ok((printer(c.as_ref(), f.name())?, c.as_ref())))
        .collect::<Result<_>>()?;
    let mut out = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 20, file));
    out.write_record(schema.fields().iter().map(|f| f.name().as_str()))
        .context("writing the CSV header")?;
    let mut cell = String::new();
    for row in 0..batch.num_rows() {
        for (p, array) in &printers {
            if array.is_null(row) {
                cell.clear();
            } else {
                p.print(row, &mut cell);
            }
            out.write_field(&cell).context("writing CSV")?;
        }
        out.write_record(None::<&[u8]>).context("writing CSV")?;
    }
    let mut inner = out
        .into_inner()
        .map_err(|e| anyhow!("finishing the CSV file: {}", e.error()))?;
    inner.flush().context("finishing the CSV file")?;
    Ok(())
}
