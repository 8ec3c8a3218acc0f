//! The join itself: for each entity row, the index of the winning source row of
//! one feature view. Source rows are grouped by key id with a counting sort, each
//! key's run is sorted by `(event_ts, created_ts, row)` (runs in parallel), and
//! each entity row then costs one binary search (rows in parallel) (and, with `filter_by_created`, a walk back past rows
//! created after its time). The rules are the module's parent's, restated there.

use anyhow::{Context as _, Result, anyhow, ensure};
use arrow_array::cast::AsArray as _;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, RecordBatch, TimestampMicrosecondArray, UInt32Array};
use rayon::prelude::*;
use verge_core::definition::{Definitions, FeatureView};

use super::HistoricalOptions;
use super::keys::{NO_KEY, key_ids};
use crate::source::{self, Origin, Target, convert_array};

/// The entity table's event times in µs (UTC); every row must have one.
pub(super) fn entity_times(entities: &RecordBatch, column: &str) -> Result<Vec<i64>> {
    let schema = entities.schema();
    let array = entities.column_by_name(column).ok_or_else(|| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        anyhow!(
            "the entity table has no column `{column}`; columns are: {} (pick the event-time column with the timestamp option)",
            names.join(", ")
        )
    })?;
    let origin = Origin {
        place: "entity table",
        column,
    };
    let times = convert_array(array, Target::Timestamp, origin, 0)?;
    source::require_no_nulls(times.as_ref(), origin, "the event timestamp")?;
    let times = times
        .as_primitive_opt::<TimestampMicrosecondType>()
        .context("internal: timestamps were not converted")?;
    Ok(times.values().to_vec())
}

/// A microsecond timestamp column of a loaded batch, by name.
fn batch_times<'b>(
    batch: &'b RecordBatch,
    view: &FeatureView,
    name: &str,
) -> Result<&'b TimestampMicrosecondArray> {
    batch
        .column_by_name(name)
        .with_context(|| {
            format!(
                "the batch for feature view `{}` has no column `{name}`",
                view.name
            )
        })?
        .as_primitive_opt::<TimestampMicrosecondType>()
        .with_context(|| {
            format!(
                "the batch for feature view `{}` has column `{name}` not as µs timestamps",
                view.name
            )
        })
}

/// For each entity row, the index of the winning source row of `view`, or null.
pub(super) fn join_view(
    defs: &Definitions,
    view: &FeatureView,
    batch: &RecordBatch,
    entities: &RecordBatch,
    times: &[i64],
    options: &HistoricalOptions,
) -> Result<UInt32Array> {
    let source = defs.source(&view.source).with_context(|| {
        format!(
            "feature view `{}` reads source `{}`, which is not declared",
            view.name, view.source
        )
    })?;
    ensure!(
        u32::try_from(batch.num_rows()).is_ok_and(|n| n < NO_KEY),
        "feature view `{}` has {} rows; the join handles fewer than 2^32",
        view.name,
        batch.num_rows()
    );
    let keys = defs.join_keys(view);
    let (src_keys, ent_keys, distinct) = key_ids(view, &keys, batch, entities)?;

    let event = batch_times(batch, view, &source.timestamp_field)?;
    let created = match &source.created_timestamp_field {
        Some(name) => Some(batch_times(batch, view, name)?),
        None => None,
    };
    let runs = Runs::sorted(&src_keys, distinct, event, created);
    let ttl = view.ttl.as_micros();
    let filter = options.filter_by_created && created.is_some();
    let winners: Vec<Option<u32>> = ent_keys
        .par_iter()
        .zip(times)
        .map(|(&k, &t)| runs.winner(k, t, ttl, filter))
        .collect();
    Ok(UInt32Array::from(winners))
}

/// A view's source rows grouped by key id, each key's run sorted by
/// `(event_ts, created_ts, row)`.
struct Runs {
    /// `offsets[k]..offsets[k + 1]` is key `k`'s run in the vectors below.
    offsets: Vec<u32>,
    /// The source row at each sorted position.
    order: Vec<u32>,
    /// The event time at each sorted position.
    event: Vec<i64>,
    /// The created time at each sorted position (empty without created times).
    created: Vec<i64>,
}

impl Runs {
    /// Groups the rows with a key and an event time by key, then sorts each run.
    ///
    /// Each row's `(event, created, row)` is gathered once next to its key, so the
    /// sort compares contiguous tuples instead of reaching into the columns, and
    /// the runs are sorted in parallel. The row number makes every tuple distinct,
    /// so an unstable sort gives exactly the order `(event, created, row)`: on
    /// equal times the later row sorts last and wins, whatever the thread count.
    fn sorted(
        src_keys: &[u32],
        distinct: usize,
        event: &TimestampMicrosecondArray,
        created: Option<&TimestampMicrosecondArray>,
    ) -> Runs {
        let (offsets, order) = group_by_key(src_keys, distinct, event);
        let ev = event.values();
        let cr = |row: u32| -> i64 {
            match created {
                // A null created time ranks lowest.
                Some(c) if c.is_valid(row as usize) => c.value(row as usize),
                _ => i64::MIN,
            }
        };
        let mut keyed: Vec<(u32, i64, i64, u32)> = order
            .par_iter()
            .map(|&r| {
                let k = src_keys.get(r as usize).copied().unwrap_or(NO_KEY);
                (k, ev.get(r as usize).copied().unwrap_or(i64::MIN), cr(r), r)
            })
            .collect();
        keyed
            .par_chunk_by_mut(|a, b| a.0 == b.0)
            .for_each(|run| run.sort_unstable());
        let sorted_cr = if created.is_some() {
            keyed.par_iter().map(|t| t.2).collect()
        } else {
            Vec::new()
        };
        Runs {
            offsets,
            order: keyed.par_iter().map(|t| t.3).collect(),
            event: keyed.par_iter().map(|t| t.1).collect(),
            created: sorted_cr,
        }
    }

    /// The winning source row for key id `k` at time `t`: the greatest
    /// `(event, created, row)` not after `t` (and, with `filter`, not created
    /// after `t`), if it is within `ttl` µs of `t` (a `ttl` of 0 has no bound).
    fn winner(&self, k: u32, t: i64, ttl: i64, filter: bool) -> Option<u32> {
        if k == NO_KEY {
            return None;
        }
        let lo = *self.offsets.get(k as usize)? as usize;
        let hi = *self.offsets.get(k as usize + 1)? as usize;
        let run = self.event.get(lo..hi)?;
        // Last row with event <= t is the greatest (event, created, row) not after t.
        let mut j = lo + run.partition_point(|&e| e <= t);
        if filter {
            while j > lo && self.created.get(j - 1).is_some_and(|&c| c > t) {
                j -= 1;
            }
        }
        if j == lo {
            return None;
        }
        let e = *self.event.get(j - 1)?;
        if ttl > 0 && e < t.saturating_sub(ttl) {
            return None;
        }
        self.order.get(j - 1).copied()
    }
}

/// Counting sort of the source rows that have a key and an event time by key id:
/// the run offsets (`distinct + 1` of them) and the rows in key order, each run
/// in row order.
fn group_by_key(
    src_keys: &[u32],
    distinct: usize,
    event: &TimestampMicrosecondArray,
) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; distinct + 1];
    for (row, &k) in src_keys.iter().enumerate() {
        if k != NO_KEY
            && event.is_valid(row)
            && let Some(slot) = offsets.get_mut(k as usize + 1)
        {
            *slot += 1;
        }
    }
    for k in 0..distinct {
        let prev = offsets.get(k).copied().unwrap_or(0);
        if let Some(slot) = offsets.get_mut(k + 1) {
            *slot += prev;
        }
    }
    let total = offsets.last().copied().unwrap_or(0) as usize;
    let mut fill = offsets.clone();
    let mut order = vec![0u32; total];
    for (row, &k) in src_keys.iter().enumerate() {
        if k != NO_KEY
            && event.is_valid(row)
            && let Some(at) = fill.get_mut(k as usize)
        {
            if let Some(slot) = order.get_mut(*at as usize) {
                // `row` < 2^32 - 1, checked by the caller.
                *slot = row as u32;
            }
            *at += 1;
        }
    }
    (offsets, order)
}
