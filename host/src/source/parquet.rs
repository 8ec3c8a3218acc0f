//! Parquet sources: typed columns, read column by column in parallel and converted.
//!
//! Only the wanted columns are decoded (a projection), and a column whose type
//! already matches the declared one is passed through without a copy, so reading
//! a large, well-typed file costs little more than decoding it. Each wanted
//! column is decoded by its own reader over the footer read once, on rayon's
//! threads; the columns come back in the order asked for, and the first failing
//! column in that order is the one reported, so the result does not depend on
//! the thread count.

use std::fs::File;
use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::ArrayRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use super::convert::{Origin, convert_array};
use super::{Wanted, concat_pieces};

/// Reads the wanted columns of the Parquet file at `path`.
pub(super) fn read(
    path: &Path,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    let opened = Opened::load(path, place)?;
    let indices = resolve(&opened.names)?;
    opened.read_columns(wanted, &indices)
}

/// A Parquet file whose footer has been read once: its column names and
/// types, and the metadata every column reader reuses.
pub(super) struct Opened<'a> {
    path: &'a Path,
    place: &'a str,
    metadata: ArrowReaderMetadata,
    /// Top-level column names, in file order.
    pub(super) names: Vec<String>,
}

impl<'a> Opened<'a> {
    /// Reads the footer of the file at `path` (`place` names it in errors).
    pub(super) fn load(path: &'a Path, place: &'a str) -> Result<Self> {
        let file =
            File::open(path).with_context(|| format!("{place}: cannot open {}", path.display()))?;
        let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
            .with_context(|| {
                format!("{place}: {} is not a readable Parquet file", path.display())
            })?;
        let names = metadata
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Ok(Opened {
            path,
            place,
            metadata,
            names,
        })
    }

    /// The Arrow type of top-level column `index`.
    pub(super) fn column_type(&self, index: usize) -> Option<&arrow_schema::DataType> {
        self.metadata
            .schema()
            .fields()
            .get(index)
            .map(|f| f.data_type())
    }

    /// The number of rows the footer records.
    pub(super) fn num_rows(&self) -> usize {
        usize::try_from(self.metadata.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// The uncompressed bytes, over all row groups, of the column chunks
    /// under the top-level columns whose name `pick` accepts.
    pub(super) fn uncompressed_bytes(&self, pick: impl Fn(&str) -> bool) -> u64 {
        let meta = self.metadata.metadata();
        meta.row_groups()
            .iter()
            .flat_map(|rg| rg.columns())
            .filter(|c| c.column_path().parts().first().is_some_and(|n| pick(n)))
            .map(|c| u64::try_from(c.uncompressed_size()).unwrap_or(0))
            .sum()
    }

    /// Decodes columns `indices` (one per `wanted`, in that order) on rayon's
    /// threads, converting each to its wanted type.
    pub(super) fn read_columns(
        &self,
        wanted: &[Wanted],
        indices: &[usize],
    ) -> Result<Vec<ArrayRef>> {
        let (path, place) = (self.path, self.place);
        let open =
            || File::open(path).with_context(|| format!("{place}: cannot open {}", path.display()));
        let columns: Vec<Result<ArrayRef>> = wanted
            .par_iter()
            .zip(indices)
            .map(|(w, &index)| {
                let name = self
                    .names
                    .get(index)
                    .map_or(w.name.as_str(), String::as_str);
                read_column(
                    open()?,
                    &self.metadata,
                    index,
                    w,
                    Origin {
                        place,
                        column: name,
                    },
                )
            })
            .collect();
        columns.into_iter().collect()
    }
}

impl Opened<'_> {
    /// Decodes columns `indices` (one per `wanted`) in batches of at most
    /// `batch_rows` rows, row group by row group, handing each batch's
    /// converted columns to `each` with its first data row; at least one
    /// batch (maybe empty) is handed over. Only one batch is decoded at a
    /// time, so memory stays near one batch whatever the file's size.
    pub(super) fn read_batches(
        &self,
        wanted: &[Wanted],
        indices: &[usize],
        batch_rows: usize,
        each: &mut dyn FnMut(Vec<ArrayRef>, usize) -> Result<()>,
    ) -> Result<()> {
        let (path, place) = (self.path, self.place);
        let file =
            File::open(path).with_context(|| format!("{place}: cannot open {}", path.display()))?;
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone());
        let mut projected: Vec<usize> = indices.to_vec();
        projected.sort_unstable();
        projected.dedup();
        let mask = ProjectionMask::roots(builder.parquet_schema(), projected.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .build()
            .with_context(|| format!("{place}: cannot read {}", path.display()))?;
        let mut row = 0usize;
        let mut handed = false;
        for batch in reader {
            let batch = batch.with_context(|| format!("{place}: decoding {}", path.display()))?;
            let columns = wanted
                .iter()
                .zip(indices)
                .map(|(w, &index)| {
                    let name = self
                        .names
                        .get(index)
                        .map_or(w.name.as_str(), String::as_str);
                    let column = projected
                        .binary_search(&index)
                        .ok()
                        .and_then(|at| batch.columns().get(at))
                        .with_context(|| {
                            format!("{place}: column `{name}` missing from a batch")
                        })?;
                    convert_array(
                        column,
                        w.target,
                        Origin {
                            place,
                            column: name,
                        },
                        row,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            each(columns, row)?;
            handed = true;
            row += batch.num_rows();
        }
        if !handed {
            let empty = wanted
                .iter()
                .map(|w| arrow_array::new_empty_array(&w.target.arrow_type()))
                .collect();
            each(empty, 0)?;
        }
        Ok(())
    }
}

/// Decodes top-level column `index` whole and converts it to `w`'s type.
fn read_column(
    file: File,
    metadata: &ArrowReaderMetadata,
    index: usize,
    w: &Wanted,
    origin: Origin<'_>,
) -> Result<ArrayRef> {
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    // One batch for the whole file when it fits: no per-batch pieces to concatenate,
    // so the peak stays near the size of the decoded column.
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(rows.clamp(1024, 1 << 24))
        .build()
        .with_context(|| format!("{}: cannot read column `{}`", origin.place, w.name))?;
    let mut pieces = Vec::new();
    let mut row = 0usize;
    for batch in reader {
        let batch =
            batch.with_context(|| format!("{}: decoding column `{}`", origin.place, w.name))?;
        let column = batch.columns().first().with_context(|| {
            format!("{}: column `{}` missing from a batch", origin.place, w.name)
        })?;
        pieces.push(convert_array(column, w.target, origin, row)?);
        row += batch.num_rows();
    }
    concat_pieces(&pieces, w.target, origin.place)
}
