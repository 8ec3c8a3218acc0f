//! Sources read piece by piece, for the out-of-core paths
//! ([`super::partition`]): a CSV file or a single Parquet file is decoded a
//! batch at a time (Parquet by row groups), so reading never holds more than
//! one batch; a partitioned dataset and the database sources are read whole
//! and then handed over in pieces. Every piece has the layout of
//! [`super::read_source`] and went through the same conversions and checks,
//! with row numbers counted from the start of the file; the warnings are the
//! whole read's.
//!
//! [`estimate_bytes`] says, before anything is decoded, about how much memory
//! a source's rows would take once read, which decides whether a job works in
//! memory or out of core.

use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::RecordBatch;
use verge_core::DType;
use verge_core::definition::{Definitions, FeatureView, Field, Source, SourceFormat};

use super::parquet::Opened;
use super::{
    Target, assemble, check_events, csv, dataset, null_key_rows, read_source_window,
    resolve_mapped, schema, wanted_columns, warn_null_keys,
};
use crate::warnings::Warnings;

/// What a source's rows would take in memory once read: bytes and rows, both
/// estimates (exact row counts for Parquet, guessed for CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Estimate {
    /// Decoded bytes of the wanted columns.
    pub(crate) bytes: u64,
    /// Rows.
    pub(crate) rows: u64,
}

/// The view's source, as [`super::read_feature_view_window`] reads it, handed
/// to `each` in batches of at most `batch_rows` rows, in source order (at
/// least one batch, maybe empty).
///
/// # Errors
///
/// As [`super::read_feature_view_window`], and whatever `each` returns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_feature_view_batches(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: Option<&[Field]>,
    window: Option<(i64, i64)>,
    batch_rows: usize,
    warnings: &mut Warnings,
    each: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let source = view_source(defs, view)?;
    let keys = defs.join_keys(view);
    let fields = fields.unwrap_or(&view.fields);
    read_batches(
        source, repo_root, &keys, fields, window, batch_rows, warnings, each,
    )
    .with_context(|| format!("reading feature view `{}`", view.name))
}

#[allow(clippy::too_many_arguments)]
fn read_batches(
    source: &Source,
    repo_root: &Path,
    keys: &[Field],
    fields: &[Field],
    window: Option<(i64, i64)>,
    batch_rows: usize,
    warnings: &mut Warnings,
    each: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let wanted = wanted_columns(source, keys, fields);
    let path = repo_root.join(&source.path);
    let place = schema::place(source);
    let mut skipped = 0usize;
    let mut handle = |columns: Vec<arrow_array::ArrayRef>, offset: usize| -> Result<()> {
        check_events(&place, source, keys.len(), &columns, offset)?;
        skipped += null_key_rows(keys, &columns);
        each(assemble(&place, &wanted, columns)?)
    };
    let streamed = match &source.format {
        SourceFormat::Csv => {
            let resolve =
                |present: &[String]| resolve_mapped(&place, source, present, &wanted, warnings);
            csv::read_batches(&path, &place, &wanted, resolve, batch_rows, &mut handle)?;
            true
        }
        SourceFormat::Parquet if !dataset::is_dataset(repo_root, &source.path) => {
            let opened = Opened::load(&path, &place)?;
            let indices = resolve_mapped(&place, source, &opened.names, &wanted, warnings)?;
            opened.read_batches(&wanted, &indices, batch_rows, &mut handle)?;
            true
        }
        _ => false,
    };
    if streamed {
        warn_null_keys(&place, keys, skipped, warnings);
        return Ok(());
    }
    // Not streamed: read whole (with its own checks and warnings), handed over in pieces.
    let batch = read_source_window(source, repo_root, keys, fields, window, warnings)?;
    let step = batch_rows.max(1);
    let mut at = 0;
    loop {
        let len = step.min(batch.num_rows() - at);
        each(batch.slice(at, len))?;
        at += len;
        if at >= batch.num_rows() {
            return Ok(());
        }
    }
}

/// About how much memory the rows of `view`'s source (its join keys, times
/// and `fields`) would take once read. Parquet files are sized from their
/// footers (fixed-width columns by type, text by its uncompressed size); CSV
/// files and SQLite databases by their size on disk, and a database server
/// or a dataset directory as zero (they are read in memory).
///
/// # Errors
///
/// The view's source is not declared, or a Parquet footer cannot be read.
pub(crate) fn estimate_bytes(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: &[Field],
) -> Result<Estimate> {
    let source = view_source(defs, view)?;
    let keys = defs.join_keys(view);
    let wanted = wanted_columns(source, &keys, fields);
    let path = repo_root.join(&source.path);
    let on_disk = || std::fs::metadata(&path).map_or(0, |m| if m.is_file() { m.len() } else { 0 });
    match &source.format {
        SourceFormat::Parquet if !dataset::is_dataset(repo_root, &source.path) => {
            let place = schema::place(source);
            let opened = Opened::load(&path, &place)?;
            let mapped = |name: &str| -> String {
                source
                    .field_mapping
                    .iter()
                    .find(|(from, _)| from == name)
                    .map_or(name, |(_, to)| to.as_str())
                    .to_owned()
            };
            let rows = opened.num_rows() as u64;
            let mut bytes = 0u64;
            for w in &wanted {
                bytes += match width(w.target) {
                    Some(width) => width * rows,
                    None => opened.uncompressed_bytes(|n| mapped(n) == w.name) + 4 * rows,
                };
            }
            Ok(Estimate { bytes, rows })
        }
        SourceFormat::Csv | SourceFormat::Sqlite { .. } => {
            let bytes = on_disk();
            // A guess at the row count: about 8 bytes of text per field.
            let rows = bytes / (8 * wanted.len().max(1) as u64);
            Ok(Estimate { bytes, rows })
        }
        _ => Ok(Estimate::default()),
    }
}

/// The bytes per row of a fixed-width column, `None` for a variable one.
fn width(target: Target) -> Option<u64> {
    match target {
        Target::Timestamp => Some(9),
        Target::Value(d) => match d {
            DType::Bool => Some(1),
            DType::Int32 | DType::Float32 => Some(5),
            DType::Int64 | DType::Float64 | DType::UnixTimestamp => Some(9),
            _ => None,
        },
    }
}

/// The declared source of `view`.
fn view_source<'d>(defs: &'d Definitions, view: &FeatureView) -> Result<&'d Source> {
    defs.source(&view.source).with_context(|| {
        format!(
            "feature view `{}` reads source `{}`, which is not declared",
            view.name, view.source
        )
    })
}
