//! The join out of core, for a source that would not fit the memory budget
//! (`verge historical --memory 2GiB`).
//!
//! The source is read a batch at a time ([`crate::source::read_feature_view_batches`])
//! and each row is spilled to the partition of its key's hash
//! ([`crate::source::partition`]); the entity rows are split by the same hash.
//! All rows of a key meet in one partition, in source order, so the exact
//! in-memory join ([`super::join::join_view`]) run on each partition in turn
//! picks the same winners, ties included; the gathered columns are then put
//! back in entity-row order. The training set is therefore the in-memory one,
//! byte for byte. What stays in memory: the entity table, the output columns,
//! and one partition with its join.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{Field as ArrowField, Schema};
use verge_core::definition::{Definitions, FeatureView, Field};

use super::HistoricalOptions;
use super::join::join_view;
use super::keys::entity_key_column;
use crate::source::memory::Memory;
use crate::source::partition::{
    BATCH_ROWS, Spill, count_for, key_columns, partition_of, rows_by_partition,
};
use crate::source::{self, read_feature_view_batches};
use crate::warnings::Warnings;

/// Bytes per source row the join holds beside the rows themselves: key ids,
/// the sorted `(key, event, created, row)` tuples and the runs.
const JOIN_BYTES_PER_ROW: u64 = 64;

/// How many partitions the join of `view` needs under `memory` (1: none, join
/// in memory), when `entities` and an output of `fields` columns are held too.
///
/// # Errors
///
/// As [`source::estimate_bytes`].
pub(super) fn partitions(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: &[Field],
    entities: &RecordBatch,
    memory: Memory,
) -> Result<u32> {
    let estimate = source::estimate_bytes(defs, repo_root, view, fields)?;
    let working = estimate.bytes + JOIN_BYTES_PER_ROW * estimate.rows;
    let output = entities.num_rows() as u64 * 9 * fields.len() as u64;
    let fixed = entities.get_array_memory_size() as u64 + output;
    Ok(count_for(working, fixed, memory))
}

/// Joins `view` partition by partition (`count` of them), giving its gathered
/// columns by field name, as [`super::join_views`] does in memory.
///
/// # Errors
///
/// As the in-memory join; a partition cannot be written or read back.
#[allow(clippy::too_many_arguments)]
pub(super) fn join_view_spilled(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: &[Field],
    entities: &RecordBatch,
    times: &[i64],
    options: &HistoricalOptions,
    count: u32,
    warnings: &mut Warnings,
) -> Result<Vec<(String, ArrayRef)>> {
    let keys = defs.join_keys(view);
    let spill = spill_source(defs, repo_root, view, fields, &keys, count, warnings)?;
    let ent_keys = entity_keys(view, &keys, entities)?;
    let key_refs: Vec<&ArrayRef> = ent_keys.columns().iter().collect();
    let ent_parts = partition_of(&key_refs, entities.num_rows(), count);
    let ent_rows = rows_by_partition(&ent_parts, count);

    // Per field, the gathered column of each partition's entity rows.
    let mut pieces: Vec<Vec<ArrayRef>> = vec![Vec::new(); fields.len()];
    let mut slot = vec![usize::MAX; count as usize];
    for (p, rows) in ent_rows.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let batch = spill.read(p as u32)?;
        let idx = UInt32Array::from(rows.clone());
        let sub = arrow_select::take::take_record_batch(&ent_keys, &idx)
            .context("taking a partition's entity rows")?;
        let sub_times: Vec<i64> = rows
            .iter()
            .map(|&r| times.get(r as usize).copied().unwrap_or(i64::MIN))
            .collect();
        let indices = join_view(defs, view, &batch, &sub, &sub_times, options)
            .with_context(|| format!("joining feature view `{}`", view.name))?;
        for (f, out) in fields.iter().zip(&mut pieces) {
            out.push(super::gather(view, &batch, f, &indices)?);
        }
        if let Some(s) = slot.get_mut(p) {
            *s = pieces.first().map_or(0, |v| v.len() - 1);
        }
    }
    drop(spill);

    // Back in entity-row order: row i is the next unused row of its partition.
    let mut next = vec![0usize; count as usize];
    let order: Vec<(usize, usize)> = ent_parts
        .iter()
        .map(|&p| {
            let p = p as usize;
            let at = next.get(p).copied().unwrap_or(0);
            if let Some(n) = next.get_mut(p) {
                *n += 1;
            }
            (slot.get(p).copied().unwrap_or(0), at)
        })
        .collect();
    fields
        .iter()
        .zip(pieces)
        .map(|(f, parts)| {
            let refs: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
            let column = arrow_select::interleave::interleave(&refs, &order)
                .with_context(|| format!("reassembling `{}:{}`", view.name, f.name))?;
            Ok((f.name.clone(), column))
        })
        .collect()
}

/// The view's source read batch by batch into `count` partitions by key.
fn spill_source(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fields: &[Field],
    keys: &[Field],
    count: u32,
    warnings: &mut Warnings,
) -> Result<Spill> {
    let mut spill: Option<Spill> = None;
    read_feature_view_batches(
        defs,
        repo_root,
        view,
        Some(fields),
        None,
        BATCH_ROWS,
        warnings,
        &mut |batch| {
            if spill.is_none() {
                spill = Some(Spill::new(batch.schema(), count)?);
            }
            let spill = spill.as_mut().context("internal: no spill")?;
            let columns = key_columns(&batch, keys)?;
            let parts = partition_of(&columns, batch.num_rows(), count);
            spill.add(&batch, &parts)
        },
    )?;
    let mut spill = spill.context("internal: the source gave no batch")?;
    spill.finish()?;
    Ok(spill)
}

/// The entity table's join-key columns, in the keys' types, as a batch.
fn entity_keys(view: &FeatureView, keys: &[Field], entities: &RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(keys.len());
    let mut columns = Vec::with_capacity(keys.len());
    for key in keys {
        let column = entities.column_by_name(&key.name).ok_or_else(|| {
            let schema = entities.schema();
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            anyhow!(
                "feature view `{}` joins on `{}`, but the entity table has no such column; columns are: {}",
                view.name,
                key.name,
                names.join(", ")
            )
        })?;
        let column = entity_key_column(column, key)?;
        fields.push(ArrowField::new(&key.name, column.data_type().clone(), true));
        columns.push(column);
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
        .context("internal: assembling the entity keys")
}
