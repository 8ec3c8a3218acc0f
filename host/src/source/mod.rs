//! Source readers: a declared [`Source`] (CSV, Parquet, a partitioned Parquet
//! dataset ([`dataset`]) or a SQLite table) read into
//! one Arrow [`RecordBatch`] with typed columns.
//!
//! Everything downstream (the point-in-time join, materialization, training) works
//! on the batch these readers produce, so the checks happen here, once, with
//! messages that name the source, its file, the row and the column:
//!
//! ```text
//! source `colic_records` (data/horse_colic.db, table data) has no column `pulse`; columns are: ...
//! source `colic_records` (data/colic.csv): row 12, column `pulse`: cannot read `fast` as float64
//! ```
//!
//! # The batch layout
//!
//! [`read_source`] returns columns in this order:
//!
//! | column | name | Arrow type |
//! |---|---|---|
//! | each join key | the key's name | `Int64` or `Utf8` (the key's type) |
//! | event time | `source.timestamp_field` | `Timestamp(Microsecond, "UTC")`, never null |
//! | created time, if declared | `source.created_timestamp_field` | `Timestamp(Microsecond, "UTC")`, may be null |
//! | each requested field | the field's name | the field's [`DType`] as Arrow |
//!
//! Names are looked up after `field_mapping` renames source columns to feature
//! names. Null markers and type conversions are described in [`convert`]: in short,
//! empty text and `?` are null in numeric columns, an empty CSV field is null in any
//! column, ints widen to floats, and float values become `int64` only when whole.
//! Non-finite numbers follow one rule in every source: NaN is null (missing, as
//! pandas and Arrow writers mean it), and an infinity (`inf`, `-Infinity`,
//! `1e400`, or a float64 beyond float32's range in a float32 field) is refused
//! with its row and column, so no snapshot or training set ever holds one.
//!
//! Two things are warned about (see [`crate::warnings`]) rather than refused:
//! rows whose join key is empty (or `?` in an int64 key), which every reader of
//! the batch skips, and `field_mapping` entries that name a column the source
//! does not have, which map nothing.

mod builder;
mod convert;
mod csv;
pub mod dataset;
pub mod found;
pub mod memory;
mod nested;
mod parquet;
pub(crate) mod partition;
mod postgres;
pub mod schema;
mod sqlite;
mod stream;
pub mod timestamp;

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field as ArrowField, Schema};
use verge_core::DType;
use verge_core::definition::{Definitions, FeatureView, Field, Source, SourceFormat};

use crate::warnings::Warnings;

pub(crate) use builder::Builder;
pub(crate) use convert::{Cell, Origin, convert_array, require_no_nulls};
pub use convert::{Target, dtype_to_arrow, timestamp_type};
pub(crate) use nested::json_text_at;
pub(crate) use stream::{estimate_bytes, read_feature_view_batches};

/// One column to read: its name after mapping and what to convert it to.
#[derive(Debug, Clone)]
struct Wanted {
    name: String,
    target: Target,
}

/// Reads the rows of `source` (its `path` taken relative to `repo_root`), keeping
/// the join keys `keys`, the event and created timestamps, and `fields`, each
/// converted to its declared type. See the module docs for the batch layout.
///
/// # Examples
///
/// ```
/// use verge_core::DType;
/// use verge_core::definition::{Field, Source, SourceFormat};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(
///     dir.path().join("stats.csv"),
///     "horse,ts,pulse_rate\n1,2021-06-25T16:36:27Z,66\n2,2021-06-26,?\n",
/// )?;
/// let source = Source {
///     name: "stats".into(),
///     path: "stats.csv".into(),
///     format: SourceFormat::Csv,
///     timestamp_field: "ts".into(),
///     created_timestamp_field: None,
///     field_mapping: vec![("pulse_rate".into(), "pulse".into())],
/// };
/// let mut warnings = verge_host::warnings::Warnings::default();
/// let batch = verge_host::source::read_source(
///     &source,
///     dir.path(),
///     &[Field::new("horse", DType::Int64)],
///     &[Field::new("pulse", DType::Float64)],
///     &mut warnings,
/// )?;
/// assert!(warnings.is_empty());
/// assert_eq!(batch.num_rows(), 2);
/// assert_eq!(batch.schema().field(2).name(), "pulse");
/// assert!(batch.column(2).is_null(1)); // `?` is null in a numeric column
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// The file cannot be opened or parsed; a column is missing (the message lists the
/// columns present); a value does not convert (the message names the row, column
/// and value); an event timestamp is empty.
pub fn read_source(
    source: &Source,
    repo_root: &Path,
    keys: &[Field],
    fields: &[Field],
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    read_source_window(source, repo_root, keys, fields, None, warnings)
}

/// [`read_source`], where the caller needs only rows whose event time lies in
/// `window` (`[start, end]`, µs since the epoch, both inclusive): a database
/// source (PostgreSQL) is then asked for only those rows. File sources are
/// read whole either way, so the caller still filters by the window.
///
/// # Errors
///
/// As [`read_source`].
pub fn read_source_window(
    source: &Source,
    repo_root: &Path,
    keys: &[Field],
    fields: &[Field],
    window: Option<(i64, i64)>,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let wanted = wanted_columns(source, keys, fields);
    let path = repo_root.join(&source.path);
    let place = schema::place(source);
    let resolve = |present: &[String]| resolve_mapped(&place, source, present, &wanted, warnings);
    let columns = match &source.format {
        SourceFormat::Csv => csv::read(&path, &place, &wanted, resolve)?,
        SourceFormat::Parquet if dataset::is_dataset(repo_root, &source.path) => {
            dataset::read(repo_root, &source.path, &place, &wanted, resolve)?
        }
        SourceFormat::Parquet => parquet::read(&path, &place, &wanted, resolve)?,
        SourceFormat::Sqlite { table } => sqlite::read(&path, table, &place, &wanted, resolve)?,
        SourceFormat::Postgres {
            table,
            url,
            url_env,
        } => {
            let query = postgres::Query {
                url: url.as_deref(),
                url_env: url_env.as_deref(),
                table,
                window,
            };
            postgres::read(&query, &place, &wanted, resolve)?
        }
    };

    check_events(&place, source, keys.len(), &columns, 0)?;
    let skipped = null_key_rows(keys, &columns);
    warn_null_keys(&place, keys, skipped, warnings);
    assemble(&place, &wanted, columns)
}

/// The columns [`read_source`] reads, in the batch layout's order.
fn wanted_columns(source: &Source, keys: &[Field], fields: &[Field]) -> Vec<Wanted> {
    let mut wanted: Vec<Wanted> = keys
        .iter()
        .map(|k| Wanted {
            name: k.name.clone(),
            target: Target::Value(k.dtype),
        })
        .collect();
    wanted.push(Wanted {
        name: source.timestamp_field.clone(),
        target: Target::Timestamp,
    });
    if let Some(created) = &source.created_timestamp_field {
        wanted.push(Wanted {
            name: created.clone(),
            target: Target::Timestamp,
        });
    }
    wanted.extend(fields.iter().map(|f| Wanted {
        name: f.name.clone(),
        target: Target::Value(f.dtype),
    }));
    wanted
}

/// [`resolve_columns`], warning first about `field_mapping` entries that name
/// no column of the source.
fn resolve_mapped(
    place: &str,
    source: &Source,
    present: &[String],
    wanted: &[Wanted],
    warnings: &mut Warnings,
) -> Result<Vec<usize>> {
    let unmapped: Vec<&str> = source
        .field_mapping
        .iter()
        .filter(|(from, _)| !present.contains(from))
        .map(|(from, _)| from.as_str())
        .collect();
    warnings.add(unmapped.len(), || {
        format!(
            "{place}: {} field_mapping {} no column of the source (`{}`) and map nothing; fix the names or remove them",
            unmapped.len(),
            if unmapped.len() == 1 { "entry names" } else { "entries name" },
            unmapped.join("`, `")
        )
    });
    resolve_columns(place, source, present, wanted)
}

/// Refuses a null event time; `offset` is the data row of the columns' first row.
fn check_events(
    place: &str,
    source: &Source,
    keys: usize,
    columns: &[ArrayRef],
    offset: usize,
) -> Result<()> {
    let event = columns
        .get(keys)
        .with_context(|| format!("{place}: internal: the reader returned too few columns"))?;
    let origin = Origin {
        place,
        column: &source.timestamp_field,
    };
    if event.null_count() > 0
        && let Some(row) = (0..event.len()).find(|&i| event.is_null(i))
    {
        return Err(origin.at(
            offset + row,
            "the event timestamp is empty; every row needs one",
        ));
    }
    Ok(())
}

/// The batch of [`read_source`]'s layout from the wanted columns.
fn assemble(place: &str, wanted: &[Wanted], columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let schema = Schema::new(
        wanted
            .iter()
            .zip(&columns)
            .map(|(w, c)| ArrowField::new(&w.name, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(schema.into(), columns)
        .with_context(|| format!("{place}: assembling the columns"))
}

/// The rows with a null join-key part.
fn null_key_rows(keys: &[Field], columns: &[ArrayRef]) -> usize {
    let key_columns = columns.get(..keys.len()).unwrap_or_default();
    let rows = key_columns.first().map_or(0, |c| c.len());
    if key_columns.iter().all(|c| c.null_count() == 0) {
        0
    } else {
        (0..rows)
            .filter(|&i| key_columns.iter().any(|c| c.is_null(i)))
            .count()
    }
}

/// Warns of the `skipped` rows with a null join-key part (an empty field, or
/// `?` in an int64 key): the join and materialization skip them, so say how many.
fn warn_null_keys(place: &str, keys: &[Field], skipped: usize, warnings: &mut Warnings) {
    warnings.add(skipped, || {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        format!(
            "{place}: {skipped} {} an empty or `?` join key (`{}`) and {} skipped; fill in the key or remove the {}",
            if skipped == 1 { "row has" } else { "rows have" },
            names.join("`, `"),
            if skipped == 1 { "is" } else { "are" },
            if skipped == 1 { "row" } else { "rows" },
        )
    });
}

/// Reads the source of feature view `view` with its join keys and all its fields
/// (or only `fields`, when given), in the layout of [`read_source`], adding
/// its warnings to `warnings`.
///
/// # Errors
///
/// The view's source is not declared, or [`read_source`] fails.
pub fn read_feature_view(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: Option<&[Field]>,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    read_feature_view_window(defs, repo_root, view, fields, None, warnings)
}

/// [`read_feature_view`] for a caller that needs only event times in
/// `window` (see [`read_source_window`]: a database source is asked for only
/// those rows; the caller still filters).
///
/// # Errors
///
/// As [`read_feature_view`].
pub fn read_feature_view_window(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: Option<&[Field]>,
    window: Option<(i64, i64)>,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let source = defs.source(&view.source).with_context(|| {
        format!(
            "feature view `{}` reads source `{}`, which is not declared",
            view.name, view.source
        )
    })?;
    read_source_window(
        source,
        repo_root,
        &defs.join_keys(view),
        fields.unwrap_or(&view.fields),
        window,
        warnings,
    )
    .with_context(|| format!("reading feature view `{}`", view.name))
}

/// Maps each wanted (post-mapping) name to the index of a source column.
fn resolve_columns(
    place: &str,
    source: &Source,
    present: &[String],
    wanted: &[Wanted],
) -> Result<Vec<usize>> {
    let mapped: Vec<&str> = present
        .iter()
        .map(|c| {
            source
                .field_mapping
                .iter()
                .find(|(from, _)| from == c)
                .map_or(c.as_str(), |(_, to)| to.as_str())
        })
        .collect();
    wanted
        .iter()
        .map(|w| {
            if let Some(i) = mapped.iter().position(|m| *m == w.name) {
                return Ok(i);
            }
            let note = match source.field_mapping.iter().find(|(_, to)| *to == w.name) {
                Some((from, _)) => format!(" (mapped from `{from}`, which is not there either)"),
                None => String::new(),
            };
            let listed: Vec<String> = present
                .iter()
                .zip(&mapped)
                .map(|(p, m)| {
                    if p == m {
                        p.clone()
                    } else {
                        format!("{p} (as {m})")
                    }
                })
                .collect();
            bail!(
                "{place} has no column `{}`{note}; columns are: {}",
                w.name,
                listed.join(", ")
            )
        })
        .collect()
}

/// The declared DType of an Arrow column produced by these readers, if any.
#[must_use]
pub fn arrow_to_dtype(data_type: &arrow_schema::DataType) -> Option<DType> {
    use arrow_schema::DataType as D;
    Some(match data_type {
        D::Boolean => DType::Bool,
        D::Int64 => DType::Int64,
        D::Float32 => DType::Float32,
        D::Float64 => DType::Float64,
        D::Utf8 => DType::String,
        _ => return None,
    })
}

/// Concatenates per-batch pieces of one column (a reader reads in batches).
fn concat_pieces(pieces: &[ArrayRef], target: Target, place: &str) -> Result<ArrayRef> {
    match pieces {
        [] => Ok(arrow_array::new_empty_array(&target.arrow_type())),
        [one] => Ok(ArrayRef::clone(one)),
        many => {
            let refs: Vec<&dyn arrow_array::Array> = many.iter().map(AsRef::as_ref).collect();
            arrow_select::concat::concat(&refs).with_context(|| format!("{place}: joining batches"))
        }
    }
}
