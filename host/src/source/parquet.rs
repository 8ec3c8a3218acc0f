//! Parquet sources: typed columns, read batch by batch and converted.
//!
//! Only the wanted columns are decoded (a projection), and a column whose type
//! already matches the declared one is passed through without a copy, so reading
//! a large, well-typed file costs little more than decoding it.

use std::fs::File;
use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::ArrayRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::convert::{Origin, convert_array};
use super::{Wanted, concat_pieces};

/// Reads the wanted columns of the Parquet file at `path`.
pub(super) fn read(
    path: &Path,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    let file =
        File::open(path).with_context(|| format!("{place}: cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{place}: {} is not a readable Parquet file", path.display()))?;
    let arrow_schema = builder.schema().clone();
    let names: Vec<String> = arrow_schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let indices = resolve(&names)?;

    // Project to the wanted top-level columns; the reader returns them in schema
    // order, so remember where each wanted column lands.
    let mut projected: Vec<usize> = indices.clone();
    projected.sort_unstable();
    projected.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), projected.iter().copied());
    // One batch for the whole file when it fits: no per-batch pieces to concatenate,
    // so the peak stays near the size of the decoded columns.
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(rows.clamp(1024, 1 << 24))
        .build()
        .with_context(|| format!("{place}: cannot read {}", path.display()))?;

    let mut pieces: Vec<Vec<ArrayRef>> = vec![Vec::new(); wanted.len()];
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.with_context(|| format!("{place}: decoding {}", path.display()))?;
        for ((piece, &index), w) in pieces.iter_mut().zip(&indices).zip(wanted) {
            let at = projected.binary_search(&index).unwrap_or(0);
            let column = batch
                .columns()
                .get(at)
                .with_context(|| format!("{place}: column `{}` missing from a batch", w.name))?;
            let name = names.get(index).map_or(w.name.as_str(), String::as_str);
            piece.push(convert_array(
                column,
                w.target,
                Origin {
                    place,
                    column: name,
                },
                row,
            )?);
        }
        row += batch.num_rows();
    }
    pieces
        .iter()
        .zip(wanted)
        .map(|(p, w)| concat_pieces(p, w.target, place))
        .collect()
}
