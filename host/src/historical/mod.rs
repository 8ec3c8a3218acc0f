//! The point-in-time join that builds training sets (`verge historical`).
//!
//! Given an entity table — rows of join keys and an event time `t`, plus any other
//! columns such as labels — and a list of features, it returns the entity table
//! with one column per feature, holding for each row the value that was known at
//! `t`. The rules are DESIGN.md's "Semantics" section, restated:
//!
//! - for a row `(key, t)` and a feature view with `ttl`, the candidates are that
//!   key's source rows with `t - ttl <= event_ts <= t` (both ends inclusive; a ttl
//!   of zero means no lower bound); with `filter_by_created`, also `created_ts <= t`;
//! - the winner is the candidate with the greatest `(event_ts, created_ts)`. A
//!   source without a created-timestamp column compares equal on it; a null created
//!   timestamp compares lowest (and passes `filter_by_created`, which does nothing
//!   for a source without created timestamps). On a complete tie
//!   the row appearing **last** in the source wins — the latest write;
//! - the winner's values are returned as stored: a null stays null, nothing is
//!   filled in from older rows; with no candidate every field of the view is null;
//! - the output has exactly one row per input row, in input order, and carries every
//!   input column through unchanged, even when keys and timestamps repeat.
//!
//! # How it is fast
//!
//! Per feature view, source rows are grouped by key with a hash map from key to a
//! dense key id (integer keys are hashed as integers, never formatted), and each
//! group is sorted by `(event_ts, created_ts, row)`. Each entity row then costs one
//! hash lookup and one binary search for the last row with `event_ts <= t`; with
//! `filter_by_created` it walks back past rows created after `t`. The result is one
//! optional source-row index per entity row, and every feature column of the view
//! is gathered at once with Arrow's `take` (a null index gives a null value). No
//! per-cell [`Value`] is built on this path; on-demand features, which run the
//! core's expression evaluator row by row, are the only place values are boxed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Float32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use rustc_hash::FxBuildHasher;
use verge_core::definition::{
    Definitions, FeatureRef, FeatureView, Field, OnDemandFeatureView, ResolvedFeature,
};
use verge_core::{DType, Value};

use crate::source::{self, Origin, Target, convert_array, dtype_to_arrow};

/// Options of [`historical`].
///
/// | option | default | meaning |
/// |---|---|---|
/// | `timestamp_column` | `event_timestamp` | the entity table's event-time column |
/// | `full_feature_names` | `false` | name output columns `view__field` instead of `field` |
/// | `filter_by_created` | `false` | also require `created_ts <= t` of a candidate |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricalOptions {
    /// The entity table's event-time column: a timestamp of any unit or zone, a
    /// date, or RFC 3339 text.
    pub timestamp_column: String,
    /// Name output columns `view__field` rather than `field`.
    pub full_feature_names: bool,
    /// Only consider source rows created at or before the entity row's time.
    pub filter_by_created: bool,
}

impl Default for HistoricalOptions {
    fn default() -> Self {
        HistoricalOptions {
            timestamp_column: "event_timestamp".into(),
            full_feature_names: false,
            filter_by_created: false,
        }
    }
}

/// Builds a point-in-time correct training set: `entities` with one column per
/// feature in `features` (in that order) appended. Feature views are read from
/// their sources under `repo_root` (see [`crate::source`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
/// use verge_core::{DType, Duration};
/// use verge_core::definition::*;
/// use verge_host::historical::{historical, HistoricalOptions};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(
///     dir.path().join("pulse.csv"),
///     "horse,ts,pulse\n1,2021-06-01T00:00:00Z,60\n1,2021-06-03T00:00:00Z,80\n",
/// )?;
/// let defs = Definitions {
///     entities: vec![Entity {
///         name: "horse".into(),
///         join_keys: vec![Field::new("horse", DType::Int64)],
///         description: String::new(),
///     }],
///     sources: vec![Source {
///         name: "pulse".into(),
///         path: "pulse.csv".into(),
///         format: SourceFormat::Csv,
///         timestamp_field: "ts".into(),
///         created_timestamp_field: None,
///         field_mapping: vec![],
///     }],
///     feature_views: vec![FeatureView {
///         name: "vitals".into(),
///         entities: vec!["horse".into()],
///         source: "pulse".into(),
///         ttl: Duration::from_days(1),
///         online: false,
///         fields: vec![Field::new("pulse", DType::Float64)],
///         description: String::new(),
///         owner: String::new(),
///         tags: vec![],
///     }],
///     ..Definitions::default()
/// };
/// let entities = RecordBatch::try_from_iter([
///     ("horse", Arc::new(Int64Array::from(vec![1, 1, 1])) as _),
///     ("event_timestamp", Arc::new(StringArray::from(vec![
///         "2021-06-01T12:00:00Z", // 60, twelve hours old
///         "2021-06-02T12:00:00Z", // 60 is 36 hours old: outside the 1-day ttl
///         "2021-06-03T00:00:00Z", // 80, exactly on time
///     ])) as _),
/// ])?;
/// let features = [FeatureRef::parse("vitals:pulse").unwrap()];
/// let out = historical(&defs, dir.path(), &entities, &features, &HistoricalOptions::default())?;
/// let pulse = out.column_by_name("pulse").unwrap();
/// assert_eq!(pulse.as_ref(), &Float64Array::from(vec![Some(60.0), None, Some(80.0)]) as &dyn Array);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// A feature is unknown or listed twice; an output name clashes with an input
/// column or another feature (the message names both); the entity table lacks the
/// timestamp, a join key or a request column, or has an empty or unreadable
/// timestamp; a join key column has an incompatible type; a source cannot be read
/// (see [`source::read_source`]); an on-demand expression fails on a row.
pub fn historical(
    defs: &Definitions,
    repo_root: &Path,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
) -> Result<RecordBatch> {
    historical_with(defs, entities, features, options, |view, fields| {
        source::read_feature_view(defs, repo_root, view, Some(fields))
    })
}

/// [`historical`] with the feature-view batches supplied by `load` instead of read
/// from files: `load(view, fields)` must return a batch in the layout of
/// [`source::read_source`] (join keys, then the source's event and created
/// timestamps by name, then at least `fields`). Useful for tests, benchmarks and
/// data already in memory.
///
/// # Errors
///
/// As [`historical`], plus whatever `load` returns, and a batch missing a column.
pub fn historical_with(
    defs: &Definitions,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
    mut load: impl FnMut(&FeatureView, &[Field]) -> Result<RecordBatch>,
) -> Result<RecordBatch> {
    let plan = Plan::new(defs, features)?;
    let entity_schema = entities.schema();

    // Output names, checked before any data is read.
    let mut names: Vec<String> = Vec::with_capacity(plan.outputs.len());
    for (r, _) in &plan.outputs {
        let name = if options.full_feature_names {
            format!("{}__{}", r.view, r.field)
        } else {
            r.field.clone()
        };
        if entity_schema.index_of(&name).is_ok() {
            bail!(
                "feature `{r}` would be written as column `{name}`, but the entity table already has a column `{name}`; rename that column or use full feature names (`view__field`)"
            );
        }
        if let Some(j) = names.iter().position(|n| *n == name) {
            let other = plan
                .outputs
                .get(j)
                .map(|(o, _)| o.to_string())
                .unwrap_or_default();
            bail!(
                "features `{other}` and `{r}` would both be written as column `{name}`; use full feature names (`view__field`)"
            );
        }
        names.push(name);
    }

    let times = entity_times(entities, &options.timestamp_column)?;

    // Join each feature view once; keep its gathered columns by field name.
    let mut joined: Vec<Vec<(String, ArrayRef)>> = Vec::with_capacity(plan.views.len());
    for (view, field_ix) in &plan.views {
        let fields: Vec<Field> = field_ix
            .iter()
            .filter_map(|&i| view.fields.get(i).cloned())
            .collect();
        let batch = load(view, &fields)?;
        let indices = join_view(defs, view, &batch, entities, &times, options)
            .with_context(|| format!("joining feature view `{}`", view.name))?;
        let mut columns = Vec::with_capacity(fields.len());
        for f in &fields {
            let column = batch.column_by_name(&f.name).with_context(|| {
                format!(
                    "the batch for feature view `{}` has no column `{}`",
                    view.name, f.name
                )
            })?;
            let want = dtype_to_arrow(f.dtype);
            let column = if column.data_type() == &want {
                Arc::clone(column)
            } else {
                let place = format!("feature view `{}`", view.name);
                convert_array(
                    column,
                    Target::Value(f.dtype),
                    Origin {
                        place: &place,
                        column: &f.name,
                    },
                    0,
                )?
            };
            let gathered = arrow_select::take::take(column.as_ref(), &indices, None)
                .with_context(|| format!("gathering `{}:{}`", view.name, f.name))?;
            columns.push((f.name.clone(), gathered));
        }
        joined.push(columns);
    }
    let view_column = |view: &str, field: &str| -> Option<&ArrayRef> {
        let at = plan.views.iter().position(|(v, _)| v.name == view)?;
        joined
            .get(at)?
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, c)| c)
    };

    // On-demand outputs, one per requested on-demand field.
    let mut fields: Vec<ArrowField> = entity_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = entities.columns().to_vec();
    for ((r, resolved), name) in plan.outputs.iter().zip(&names) {
        let column = match resolved {
            Resolved::View => view_column(&r.view, &r.field)
                .cloned()
                .with_context(|| format!("internal: `{r}` was not joined"))?,
            Resolved::OnDemand(odfv, field) => {
                on_demand(defs, odfv, *field, entities, &view_column)
                    .with_context(|| format!("computing on-demand feature `{r}`"))?
            }
        };
        fields.push(ArrowField::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .context("assembling the training set")
}

/// How a requested feature is produced.
#[derive(Debug)]
enum Resolved<'a> {
    /// Gathered from a feature view's join.
    View,
    /// Computed by an on-demand view's field (index into its fields).
    OnDemand(&'a OnDemandFeatureView, usize),
}

/// The requested outputs and the feature views (with the field indices) they need.
#[derive(Debug)]
struct Plan<'a> {
    outputs: Vec<(FeatureRef, Resolved<'a>)>,
    views: Vec<(&'a FeatureView, Vec<usize>)>,
}

impl<'a> Plan<'a> {
    fn new(defs: &'a Definitions, features: &[FeatureRef]) -> Result<Plan<'a>> {
        let mut plan = Plan {
            outputs: Vec::with_capacity(features.len()),
            views: Vec::new(),
        };
        for (i, r) in features.iter().enumerate() {
            if features.get(..i).is_some_and(|before| before.contains(r)) {
                bail!("feature `{r}` is listed twice");
            }
            match defs.resolve(r)? {
                ResolvedFeature::View { view, field } => {
                    plan.need(view, field);
                    plan.outputs.push((r.clone(), Resolved::View));
                }
                ResolvedFeature::OnDemand { view, field } => {
                    for s in &view.sources {
                        let source = defs.feature_view(s).with_context(|| {
                            format!("on-demand view `{}` reads feature view `{s}`, which is not declared", view.name)
                        })?;
                        for f in 0..source.fields.len() {
                            plan.need(source, f);
                        }
                    }
                    plan.outputs
                        .push((r.clone(), Resolved::OnDemand(view, field)));
                }
            }
        }
        Ok(plan)
    }

    fn need(&mut self, view: &'a FeatureView, field: usize) {
        match self.views.iter_mut().find(|(v, _)| v.name == view.name) {
            Some((_, fields)) => {
                if !fields.contains(&field) {
                    fields.push(field);
                }
            }
            None => self.views.push((view, vec![field])),
        }
    }
}

/// The entity table's event times in µs (UTC); every row must have one.
fn entity_times(entities: &RecordBatch, column: &str) -> Result<Vec<i64>> {
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

/// Sentinel key id for a row whose key is null or unknown.
const NO_KEY: u32 = u32::MAX;

/// Dense ids for the values of one join-key part.
enum PartIds<'a> {
    Int(HashMap<i64, u32, FxBuildHasher>),
    Str(HashMap<&'a str, u32, FxBuildHasher>),
}

/// Assigns a dense id to each distinct value of `column` (`NO_KEY` for null).
fn source_part_ids(column: &ArrayRef) -> Result<(PartIds<'_>, Vec<u32>)> {
    let mut ids = Vec::with_capacity(column.len());
    if let Some(a) = column.as_primitive_opt::<Int64Type>() {
        let mut map: HashMap<i64, u32, FxBuildHasher> = HashMap::default();
        for (i, &v) in a.values().iter().enumerate() {
            if a.is_null(i) {
                ids.push(NO_KEY);
                continue;
            }
            let next = u32::try_from(map.len()).context("more than 2^32 distinct keys")?;
            ids.push(*map.entry(v).or_insert(next));
        }
        return Ok((PartIds::Int(map), ids));
    }
    if let Some(a) = column.as_string_opt::<i32>() {
        let mut map: HashMap<&str, u32, FxBuildHasher> = HashMap::default();
        for v in a {
            match v {
                None => ids.push(NO_KEY),
                Some(s) => {
                    let next = u32::try_from(map.len()).context("more than 2^32 distinct keys")?;
                    ids.push(*map.entry(s).or_insert(next));
                }
            }
        }
        return Ok((PartIds::Str(map), ids));
    }
    bail!(
        "join key column has type {}; the source reader gives int64 or string",
        column.data_type()
    )
}

/// Looks up each entity row's value of one key part (`NO_KEY` when null or unseen).
fn entity_part_ids(ids: &PartIds<'_>, column: &ArrayRef, key: &Field) -> Result<Vec<u32>> {
    let is_int = matches!(
        column.data_type(),
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    );
    let is_text = matches!(
        column.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let compatible = match key.dtype {
        DType::Int64 => is_int,
        _ => is_int || is_text,
    };
    if !compatible {
        bail!(
            "join key `{}` is {} but the entity table's column `{}` is {}; convert the column",
            key.name,
            key.dtype,
            key.name,
            column.data_type()
        );
    }
    let origin = Origin {
        place: "entity table",
        column: &key.name,
    };
    let column = convert_array(column, Target::Value(key.dtype), origin, 0)?;
    Ok(match ids {
        PartIds::Int(map) => {
            let a = column
                .as_primitive_opt::<Int64Type>()
                .context("internal: key not converted to int64")?;
            a.iter()
                .map(|v| v.and_then(|v| map.get(&v).copied()).unwrap_or(NO_KEY))
                .collect()
        }
        PartIds::Str(map) => {
            let a = column
                .as_string_opt::<i32>()
                .context("internal: key not converted to string")?;
            a.iter()
                .map(|v| v.and_then(|v| map.get(v).copied()).unwrap_or(NO_KEY))
                .collect()
        }
    })
}

/// Dense key ids for source and entity rows over all join-key parts: the first
/// part's ids, then pairs `(ids so far, next part's id)` renumbered densely.
fn key_ids(
    view: &FeatureView,
    keys: &[Field],
    batch: &RecordBatch,
    entities: &RecordBatch,
) -> Result<(Vec<u32>, Vec<u32>, usize)> {
    let mut combined: Option<(Vec<u32>, Vec<u32>, usize)> = None;
    for key in keys {
        let source_column = batch.column_by_name(&key.name).with_context(|| {
            format!(
                "the batch for feature view `{}` has no join key column `{}`",
                view.name, key.name
            )
        })?;
        let entity_column = entities.column_by_name(&key.name).ok_or_else(|| {
            let schema = entities.schema();
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            anyhow!(
                "feature view `{}` joins on `{}`, but the entity table has no such column; columns are: {}",
                view.name,
                key.name,
                names.join(", ")
            )
        })?;
        let want = dtype_to_arrow(key.dtype);
        let source_column = if source_column.data_type() == &want {
            Arc::clone(source_column)
        } else {
            let place = format!("feature view `{}`", view.name);
            convert_array(
                source_column,
                Target::Value(key.dtype),
                Origin {
                    place: &place,
                    column: &key.name,
                },
                0,
            )?
        };
        let (map, src) = source_part_ids(&source_column)?;
        let ent = entity_part_ids(&map, entity_column, key)?;
        let distinct = match &map {
            PartIds::Int(m) => m.len(),
            PartIds::Str(m) => m.len(),
        };
        combined = Some(match combined {
            None => (src, ent, distinct),
            Some((prev_src, prev_ent, _)) => {
                let mut pairs: HashMap<(u32, u32), u32, FxBuildHasher> = HashMap::default();
                let mut src_ids = Vec::with_capacity(src.len());
                for (&a, &b) in prev_src.iter().zip(&src) {
                    if a == NO_KEY || b == NO_KEY {
                        src_ids.push(NO_KEY);
                    } else {
                        let next =
                            u32::try_from(pairs.len()).context("more than 2^32 distinct keys")?;
                        src_ids.push(*pairs.entry((a, b)).or_insert(next));
                    }
                }
                let ent_ids = prev_ent
                    .iter()
                    .zip(&ent)
                    .map(|(&a, &b)| pairs.get(&(a, b)).copied().unwrap_or(NO_KEY))
                    .collect();
                let n = pairs.len();
                (src_ids, ent_ids, n)
            }
        });
    }
    combined.with_context(|| format!("feature view `{}` has no join keys", view.name))
}

/// A microsecond timestamp column of a loaded batch, by name.
fn batch_times<'b>(
    batch: &'b RecordBatch,
    view: &FeatureView,
    name: &str,
) -> Result<&'b arrow_array::TimestampMicrosecondArray> {
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
fn join_view(
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

    // Counting sort by key id: offsets[k]..offsets[k + 1] is key k's run.
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
                // `row` < 2^32 - 1, checked above.
                *slot = row as u32;
            }
            *at += 1;
        }
    }
    drop(fill);

    // Sort each run by (event, created, row). Runs are in row order already and the
    // sort is stable, so equal (event, created) keep row order and the last wins.
    let ev = event.values();
    let cr = |row: u32| -> i64 {
        match created {
            // A null created time ranks lowest.
            Some(c) if c.is_valid(row as usize) => c.value(row as usize),
            _ => i64::MIN,
        }
    };
    let mut sorted_ev = vec![0i64; total];
    let mut sorted_cr = if created.is_some() {
        vec![0i64; total]
    } else {
        Vec::new()
    };
    for w in offsets.windows(2) {
        let (lo, hi) = (w[0] as usize, w[1] as usize);
        let Some(run) = order.get_mut(lo..hi) else {
            continue;
        };
        if run.len() > 1 {
            run.sort_by_key(|&r| (ev.get(r as usize).copied().unwrap_or(i64::MIN), cr(r)));
        }
        for (j, &r) in run.iter().enumerate() {
            if let Some(slot) = sorted_ev.get_mut(lo + j) {
                *slot = ev.get(r as usize).copied().unwrap_or(i64::MIN);
            }
            if let Some(slot) = sorted_cr.get_mut(lo + j) {
                *slot = cr(r);
            }
        }
    }

    let ttl = view.ttl.as_micros();
    let filter = options.filter_by_created && created.is_some();
    let winners: Vec<Option<u32>> = ent_keys
        .iter()
        .zip(times)
        .map(|(&k, &t)| {
            if k == NO_KEY {
                return None;
            }
            let lo = *offsets.get(k as usize)? as usize;
            let hi = *offsets.get(k as usize + 1)? as usize;
            let run = sorted_ev.get(lo..hi)?;
            // Last row with event <= t is the greatest (event, created, row) not after t.
            let mut j = lo + run.partition_point(|&e| e <= t);
            if filter {
                while j > lo && sorted_cr.get(j - 1).is_some_and(|&c| c > t) {
                    j -= 1;
                }
            }
            if j == lo {
                return None;
            }
            let e = *sorted_ev.get(j - 1)?;
            if ttl > 0 && e < t.saturating_sub(ttl) {
                return None;
            }
            order.get(j - 1).copied()
        })
        .collect();
    Ok(UInt32Array::from(winners))
}

/// The value of a joined, request or converted column at `row`, as the core's
/// [`Value`] (the one Arrow-to-core cell conversion; training uses it too).
///
/// # Errors
///
/// A column type the sources never produce.
pub fn value_at(array: &dyn Array, row: usize) -> Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float32 => Value::Float32(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        other => bail!("internal: unexpected column type {other}"),
    })
}

/// Evaluates on-demand field `field` of `odfv` for every entity row.
fn on_demand<'c>(
    defs: &Definitions,
    odfv: &OnDemandFeatureView,
    field: usize,
    entities: &RecordBatch,
    view_column: &dyn Fn(&str, &str) -> Option<&'c ArrayRef>,
) -> Result<ArrayRef> {
    let out = odfv
        .fields
        .get(field)
        .context("internal: on-demand field index out of range")?;
    // Inputs in the program's schema order: request fields, then source-view fields.
    let mut inputs: Vec<ArrayRef> = Vec::new();
    for r in &odfv.request {
        let column = entities.column_by_name(&r.name).with_context(|| {
            format!(
                "on-demand view `{}` needs request field `{}` from the entity table, which has no such column",
                odfv.name, r.name
            )
        })?;
        let origin = Origin {
            place: "entity table",
            column: &r.name,
        };
        inputs.push(convert_array(column, Target::Value(r.dtype), origin, 0)?);
    }
    for s in &odfv.sources {
        let view = defs
            .feature_view(s)
            .with_context(|| format!("feature view `{s}` is not declared"))?;
        for f in &view.fields {
            let column = view_column(&view.name, &f.name)
                .with_context(|| format!("internal: `{}:{}` was not joined", view.name, f.name))?;
            inputs.push(Arc::clone(column));
        }
    }
    let mut builder = source::Builder::new(Target::Value(out.dtype), entities.num_rows());
    let mut row_values: Vec<Value> = Vec::with_capacity(inputs.len());
    for row in 0..entities.num_rows() {
        row_values.clear();
        for c in &inputs {
            row_values.push(value_at(c.as_ref(), row)?);
        }
        let value = out
            .program
            .eval(&row_values)
            .map_err(|e| anyhow!("entity row {}: {e}", row + 1))?;
        let cell = match &value {
            Value::Null => source::Cell::Null,
            Value::Bool(b) => source::Cell::Bool(*b),
            Value::Int64(i) => source::Cell::Int(*i),
            Value::Float32(x) => source::Cell::Float(f64::from(*x)),
            Value::Float64(x) => source::Cell::Float(*x),
            Value::String(s) => source::Cell::Text(s),
        };
        builder.push(cell).map_err(|m| {
            anyhow!(
                "entity row {}: the expression gave a value that is not {}: {m}",
                row + 1,
                out.dtype
            )
        })?;
    }
    Ok(builder.finish())
}
