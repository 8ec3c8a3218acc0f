//! A window's winners out of core, for a source that would not fit the
//! memory budget (`verge materialize --memory 2GiB`).
//!
//! The source is read a batch at a time; rows outside the window (which can
//! never win) are dropped, and the rest are spilled to the partition of their
//! key's hash ([`crate::source::partition`]). Each partition's winners are
//! picked by the same pass as in memory ([`super::columns::winners`]): all
//! rows of a key are in one partition, in source order, so ties go the same
//! way. The winning rows of all partitions make a batch with one row per key,
//! which the in-memory build then takes as the view's source: its winners are
//! those rows, so the snapshot has the in-memory bytes and id.

use std::path::Path;

use anyhow::{Context as _, Result};
use arrow_array::cast::AsArray as _;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{BooleanArray, RecordBatch, UInt32Array};
use verge_core::definition::{Definitions, FeatureView};

use super::columns::{Segment, winners};
use crate::source::memory::Memory;
use crate::source::partition::{BATCH_ROWS, Spill, count_for, key_columns, partition_of};
use crate::source::{estimate_bytes, read_feature_view_batches};
use crate::warnings::Warnings;

/// Bytes per candidate row the winner pass holds beside the rows: each row
/// tagged with its rank (event and created times, 16), its key (8 for an
/// integer, 16 for borrowed text) and where it is (8), then the per-key best.
/// A composite key adds a small vector per row, which this leaves to the
/// budget's slack.
const PICK_BYTES_PER_ROW: u64 = 64;

/// How many partitions picking `view`'s winners needs under `memory` beside
/// `fixed` bytes held throughout (1: none, in memory).
///
/// # Errors
///
/// As [`estimate_bytes`].
pub(super) fn partitions(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    fixed: u64,
    memory: Memory,
) -> Result<u32> {
    let estimate = estimate_bytes(defs, repo_root, view, &view.fields)?;
    let working = estimate.bytes + PICK_BYTES_PER_ROW * estimate.rows;
    Ok(count_for(working, fixed, memory))
}

/// One row per key of `view`'s source: the winner among its rows in `window`
/// (`[start, end]` µs), picked over `count` partitions, in the layout of
/// [`crate::source::read_source`].
///
/// # Errors
///
/// As reading the source and the in-memory pass; a partition cannot be
/// written or read back.
pub(super) fn window_winners(
    defs: &Definitions,
    repo_root: &Path,
    view: &FeatureView,
    window: (i64, i64),
    count: u32,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let source = defs.source(&view.source).with_context(|| {
        format!(
            "feature view `{}` reads source `{}`, which is not declared",
            view.name, view.source
        )
    })?;
    let keys = defs.join_keys(view);
    let event_name = source.timestamp_field.as_str();
    let mut spill: Option<Spill> = None;
    read_feature_view_batches(
        defs,
        repo_root,
        view,
        None,
        Some(window),
        BATCH_ROWS,
        warnings,
        &mut |batch| {
            if spill.is_none() {
                spill = Some(Spill::new(batch.schema(), count)?);
            }
            let spill = spill.as_mut().context("internal: no spill")?;
            let event = batch
                .column_by_name(event_name)
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
                .context("internal: no event time column")?;
            let inside: BooleanArray = event
                .values()
                .iter()
                .map(|&t| Some(window.0 <= t && t <= window.1))
                .collect();
            let batch = arrow_select::filter::filter_record_batch(&batch, &inside)
                .context("filtering by the window")?;
            let columns = key_columns(&batch, &keys)?;
            let parts = partition_of(&columns, batch.num_rows(), count);
            spill.add(&batch, &parts)
        },
    )?;
    let mut spill = spill.context("internal: the source gave no batch")?;
    spill.finish()?;
    let mut pieces = Vec::new();
    for p in 0..count {
        let batch = spill.read(p)?;
        if batch.num_rows() == 0 {
            continue;
        }
        let segment = Segment::from_batch(
            &batch,
            &view.name,
            &keys,
            &source.timestamp_field,
            source.created_timestamp_field.as_deref(),
            &view.fields,
            window,
        )?;
        let picks = winners(&[segment]).with_context(|| format!("feature view `{}`", view.name))?;
        let rows = UInt32Array::from(picks.iter().map(|p| p.row).collect::<Vec<_>>());
        pieces.push(
            arrow_select::take::take_record_batch(&batch, &rows)
                .context("taking a partition's winners")?,
        );
    }
    let schema = spill.schema();
    arrow_select::concat::concat_batches(&schema, &pieces).context("joining the winners")
}
