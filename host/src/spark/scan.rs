//! A feature view's source as the generated SQL reads it ([`Scan`]): which
//! columns of the Parquet file hold the keys, the times and the values
//! (through `field_mapping`, as the native readers resolve them), checked
//! against the file's footer before any Spark job starts.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_schema::{DataType, TimeUnit};
use verge_core::DType;
use verge_core::definition::{Definitions, FeatureView, Field, SourceFormat};

use super::sql::Scan;
use crate::source::found::{self, Found};
use crate::source::{dataset, schema};

/// The scan of `view`'s source for its join keys and `fields`.
///
/// # Errors
///
/// The source is not one Parquet file (CSV, SQLite, PostgreSQL and
/// partitioned datasets are read by the native engine only), a column is
/// missing, the event or created time is not a timestamp or date column (or
/// is in nanoseconds, which Spark 3.5 cannot read), or a join key's column
/// cannot hold the key's type.
pub(crate) fn scan(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: &[Field],
) -> Result<Scan> {
    let source = defs.source(&view.source).with_context(|| {
        format!(
            "feature view `{}` reads source `{}`, which is not declared",
            view.name, view.source
        )
    })?;
    let place = schema::place(source);
    let is_file = matches!(source.format, SourceFormat::Parquet)
        && !dataset::is_dataset(repo_root, &source.path);
    if !is_file {
        bail!(
            "{place}: the spark engine reads single Parquet files; this source is {} (use the native engine, or convert it to Parquet)",
            match &source.format {
                SourceFormat::Parquet => "a partitioned Parquet dataset",
                SourceFormat::Csv => "a CSV file",
                SourceFormat::Sqlite { .. } => "a SQLite table",
                SourceFormat::Postgres { .. } => "a PostgreSQL table",
            }
        );
    }
    let columns = found::columns(source, repo_root, &place)?;
    // A wanted (post-mapping) name's column in the file, and its type.
    let find = |wanted: &str| -> Result<(String, DataType)> {
        for c in &columns {
            let mapped = source
                .field_mapping
                .iter()
                .find(|(from, _)| *from == c.name)
                .map_or(c.name.as_str(), |(_, to)| to.as_str());
            if mapped == wanted
                && let Found::Arrow(t) = &c.found
            {
                return Ok((c.name.clone(), t.clone()));
            }
        }
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "{place} has no column `{wanted}`; columns are: {}",
            names.join(", ")
        )
    };
    let time = |wanted: &str| -> Result<String> {
        let (name, t) = find(wanted)?;
        match t {
            DataType::Timestamp(TimeUnit::Nanosecond, _) => bail!(
                "{place}: column `{name}` holds nanosecond timestamps, which Spark 3.5 cannot read; write it in microseconds, or use the native engine"
            ),
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => Ok(name),
            other => bail!(
                "{place}: column `{name}` is {other}; the spark engine compares times of timestamp or date columns (use the native engine for text times)"
            ),
        }
    };
    let mut keys = Vec::new();
    for key in defs.join_keys(view) {
        let (name, t) = find(&key.name)?;
        let ok = if t.is_integer() {
            true
        } else {
            key.dtype == DType::String && matches!(t, DataType::Utf8 | DataType::LargeUtf8)
        };
        if !ok {
            bail!(
                "{place}: join key `{}` is {} but column `{name}` is {t}; the spark engine needs an integer or (for string keys) a text column",
                key.name,
                key.dtype
            );
        }
        keys.push((name, key.dtype));
    }
    let event = time(&source.timestamp_field)?;
    let created = match &source.created_timestamp_field {
        Some(c) => Some(time(c)?),
        None => None,
    };
    let values = fields
        .iter()
        .map(|f| find(&f.name).map(|(name, _)| name))
        .collect::<Result<_>>()?;
    let path = repo_root.join(&source.path);
    let path = std::path::absolute(&path)
        .with_context(|| format!("{place}: cannot make {} absolute", path.display()))?;
    Ok(Scan {
        path: path.display().to_string(),
        place,
        keys,
        event,
        created,
        values,
    })
}
