//! Reading a Spark job's Parquet output back: the part files of a result
//! directory as one batch, entity rows put back in input order by their
//! ordinal (refusing anything but exactly one row per entity row), and
//! columns converted to the declared types by the source readers' rules, so
//! a value means the same whichever engine produced it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail, ensure};
use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use arrow_schema::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use verge_core::DType;
use verge_core::definition::Field;

use crate::source::{Origin, Target, convert_array, dtype_to_arrow};

/// Every `*.parquet` part file in `dir`, in name order, as one batch (a batch
/// with no columns and no rows when Spark wrote no part file).
pub(super) fn read_dir(dir: &Path) -> Result<RecordBatch> {
    let mut parts: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("Spark wrote no output directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    let mut batches = Vec::new();
    for part in &parts {
        let file = std::fs::File::open(part)
            .with_context(|| format!("cannot open Spark's output {}", part.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .with_context(|| format!("cannot read Spark's output {}", part.display()))?;
        for batch in reader {
            batches.push(batch.with_context(|| format!("reading {}", part.display()))?);
        }
    }
    let Some(first) = batches.first() else {
        return Ok(RecordBatch::new_empty(Arc::new(Schema::empty())));
    };
    arrow_select::concat::concat_batches(&first.schema(), &batches)
        .context("joining Spark's output files")
}

/// For entity rows `0..n`, the row of `result` holding each (by its `o`
/// column): exactly one per entity row, or an error.
pub(super) fn by_ordinal(result: &RecordBatch, n: usize) -> Result<Option<UInt32Array>> {
    ensure!(
        result.num_rows() == n,
        "Spark returned {} rows for {n} entity rows; the join must give exactly one per entity row",
        result.num_rows()
    );
    if n == 0 {
        return Ok(None);
    }
    let o = result
        .column_by_name("o")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .context("Spark's output has no int64 column `o` (the entity row's ordinal)")?;
    let mut at = vec![u32::MAX; n];
    for (row, ordinal) in o.iter().enumerate() {
        let slot = ordinal
            .and_then(|v| usize::try_from(v).ok())
            .and_then(|v| at.get_mut(v));
        match slot {
            Some(s) if *s == u32::MAX => *s = u32::try_from(row).context("too many rows")?,
            _ => bail!(
                "Spark's output row {row} has ordinal {ordinal:?}: missing, out of range or repeated"
            ),
        }
    }
    Ok(Some(UInt32Array::from(at)))
}

/// Column `name` of `result` taken at `order` (all rows when `None`); an
/// empty column of `dtype` when the result is empty and has no columns.
pub(super) fn column(
    result: &RecordBatch,
    name: &str,
    dtype: DType,
    order: &Option<UInt32Array>,
) -> Result<ArrayRef> {
    let Some(c) = result.column_by_name(name) else {
        if result.num_rows() == 0 {
            return Ok(arrow_array::new_empty_array(&dtype_to_arrow(dtype)));
        }
        bail!("Spark's output has no column `{name}`");
    };
    match order {
        None => Ok(Arc::clone(c)),
        Some(order) => arrow_select::take::take(c.as_ref(), order, None)
            .with_context(|| format!("reordering Spark's column `{name}`")),
    }
}

/// `column` converted to `field`'s declared type (NaN becomes null, an
/// infinity is refused, ... as when a source is read).
pub(super) fn typed(column: &ArrayRef, field: &Field, place: &str) -> Result<ArrayRef> {
    convert_array(
        column,
        Target::Value(field.dtype),
        Origin {
            place,
            column: &field.name,
        },
        0,
    )
}

/// µs since the epoch (int64) as a UTC microsecond timestamp column.
pub(super) fn typed_times(column: &ArrayRef, place: &str) -> Result<ArrayRef> {
    let ints = column
        .as_primitive_opt::<Int64Type>()
        .with_context(|| format!("{place}: Spark's times are not int64 µs"))?;
    let times: TimestampMicrosecondArray = ints.unary(|v| v);
    Ok(Arc::new(times.with_timezone("UTC")) as ArrayRef)
}
