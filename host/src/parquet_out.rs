//! Writing a batch as Parquet with its columns encoded on all cores.
//!
//! Encoding is most of the cost of writing a training set (100k rows × 20
//! float features: about 70 ms on one core, against 8 ms to `fsync` it), and
//! each column of a row group encodes on its own. So each row group's columns
//! are encoded on rayon's threads and appended in schema order, through the
//! low-level interface `parquet` provides for this
//! ([`ArrowColumnWriter`](parquet::arrow::arrow_writer::ArrowColumnWriter)).
//! The writer and its row-group split are `ArrowWriter`'s own, so the bytes
//! are those `ArrowWriter` writes with the same [`properties`], on any thread
//! count (a test holds them to it).

use std::io::Write;

use anyhow::{Context as _, Result};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

/// The writer properties for `schema`: `parquet`'s defaults, except that
/// float columns are written plain, without a dictionary.
///
/// Feature values are nearly all distinct, so a float column's dictionary is
/// as large as its values and the indices come on top of it (100k float64
/// values: about 970 KB with one, 800 KB without), and building it hashes
/// every value, the larger part of encoding a training set.
#[must_use]
pub fn properties(schema: &Schema) -> WriterProperties {
    schema
        .fields()
        .iter()
        .filter(|f| {
            matches!(
                f.data_type(),
                DataType::Float16 | DataType::Float32 | DataType::Float64
            )
        })
        .fold(WriterProperties::builder(), |props, f| {
            props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false)
        })
        .build()
}

/// Writes `batch` to `out` as one Parquet file, with [`properties`].
///
/// # Errors
///
/// A column `parquet` cannot encode, or a failed write.
pub fn write_parquet<W: Write + Send>(batch: &RecordBatch, out: W) -> Result<()> {
    let writer = ArrowWriter::try_new(out, batch.schema(), Some(properties(&batch.schema())))
        .context("starting the Parquet writer")?;
    let (mut file, factory) = writer
        .into_serialized_writer()
        .context("starting the Parquet writer")?;
    // ArrowWriter's split: row groups of at most this many rows. (A byte
    // limit, off by default, is not set by the default properties.)
    let group_rows = file
        .properties()
        .max_row_group_row_count()
        .unwrap_or(usize::MAX)
        .max(1);
    let schema = batch.schema();
    let mut start = 0;
    while start < batch.num_rows() {
        let len = group_rows.min(batch.num_rows() - start);
        let group = batch.slice(start, len);
        let writers = factory
            .create_column_writers(file.flushed_row_groups().len())
            .context("starting a Parquet row group")?;
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in schema.fields().iter().zip(group.columns()) {
            leaves.extend(
                compute_leaves(field, column)
                    .with_context(|| format!("encoding column `{}`", field.name()))?,
            );
        }
        let chunks: Vec<parquet::errors::Result<ArrowColumnChunk>> = writers
            .into_par_iter()
            .zip(leaves)
            .map(|(mut writer, leaf)| {
                writer.write(&leaf)?;
                writer.close()
            })
            .collect();
        let mut row_group = file.next_row_group().context("writing Parquet")?;
        for chunk in chunks {
            chunk
                .context("encoding a Parquet column")?
                .append_to_row_group(&mut row_group)
                .context("writing Parquet")?;
        }
        row_group.close().context("writing Parquet")?;
        start += len;
    }
    file.close().context("finishing the Parquet file")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        Array, BooleanArray, Float32Array, Float64Array, Int64Array, ListArray, StringArray,
        TimestampMicrosecondArray,
    };

    use super::*;

    fn batch(rows: usize) -> RecordBatch {
        let n = rows as i64;
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..n)) as Arc<dyn Array>,
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then_some(i as f64 / 3.0)),
                )) as _,
            ),
            (
                "y",
                Arc::new(Float32Array::from_iter((0..n).map(|i| Some(i as f32)))) as _,
            ),
            (
                "s",
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 3 != 0).then(|| format!("s{}", i % 17))),
                )) as _,
            ),
            (
                "b",
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))) as _,
            ),
            (
                "t",
                Arc::new(TimestampMicrosecondArray::from_iter_values(0..n).with_timezone("UTC"))
                    as _,
            ),
            (
                "l",
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                    (0..n).map(|i| (i % 4 != 0).then(|| vec![Some(i as i32), None])),
                )) as _,
            ),
        ])
        .unwrap()
    }

    fn arrow_writer_bytes(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let props = properties(&batch.schema());
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
        out
    }

    #[test]
    fn writes_the_bytes_arrow_writer_writes_on_any_thread_count() {
        for rows in [0, 1, 1000, 70_000] {
            let b = batch(rows);
            let want = arrow_writer_bytes(&b);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut got = Vec::new();
                pool.install(|| write_parquet(&b, &mut got)).unwrap();
                assert!(got == want, "{rows} rows, {threads} threads: bytes differ");
            }
        }
    }
}
