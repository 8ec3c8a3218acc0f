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
//!
//! # All cores
//!
//! The Parquet columns are decoded one reader per column, the key runs sorted,
//! the entity rows searched and the columns gathered on rayon's threads (the
//! caller picks the pool: `verge historical --threads`). Every step keeps its
//! input order and reports the first failure in that order, and the sort breaks
//! every tie by row, so the result is the same for any thread count.

mod dense_ids;
mod join;
mod keys;
mod on_demand;
mod plan;
mod spill;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{Field as ArrowField, Schema};
use rayon::prelude::*;
use verge_core::definition::{Definitions, FeatureRef, FeatureView, Field};

use crate::source::memory::Memory;
use crate::source::{self, Origin, Target, convert_array, dtype_to_arrow};
use crate::spark::Engine;
use crate::warnings::Warnings;
use join::{entity_times, join_view};
pub(crate) use keys::entity_key_column;
use on_demand::on_demand;
use plan::{Plan, Resolved};

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
/// let mut warnings = verge_host::warnings::Warnings::default();
/// let options = HistoricalOptions::default();
/// let out = historical(&defs, dir.path(), &entities, &features, &options, &mut warnings)?;
/// assert!(warnings.is_empty());
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
///
/// The sources' warnings (source rows skipped for an empty join key, a
/// `field_mapping` that maps nothing) are added to `warnings`.
pub fn historical(
    defs: &Definitions,
    repo_root: &Path,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    historical_with(defs, entities, features, options, |view, fields| {
        source::read_feature_view(defs, repo_root, view, Some(fields), warnings)
    })
}

/// [`historical`] under a memory budget: a feature view whose source would
/// not fit in `memory` (beside the entity table and the output) is joined out
/// of core, its rows spilled by key hash to partitions in a temporary
/// directory and joined one partition at a time (see `docs/offline.md`). The
/// training set is the one [`historical`] builds, value for value; `None` is
/// [`historical`] itself.
///
/// # Errors
///
/// As [`historical`]; a partition cannot be written to or read back from the
/// temporary directory (which is removed either way).
pub fn historical_within(
    defs: &Definitions,
    repo_root: &Path,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
    memory: Option<Memory>,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let Some(memory) = memory else {
        return historical(defs, repo_root, entities, features, options, warnings);
    };
    build(defs, entities, features, options, |plan, times| {
        let mut joined = Vec::with_capacity(plan.views.len());
        for (view, field_ix) in &plan.views {
            let fields = planned_fields(view, field_ix);
            let count = spill::partitions(defs, repo_root, view, &fields, entities, memory)?;
            joined.push(if count > 1 {
                spill::join_view_spilled(
                    defs, repo_root, view, &fields, entities, times, options, count, warnings,
                )?
            } else {
                let batch =
                    source::read_feature_view(defs, repo_root, view, Some(&fields), warnings)?;
                join_one(defs, view, &fields, &batch, entities, times, options)?
            });
        }
        Ok(joined)
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
    load: impl FnMut(&FeatureView, &[Field]) -> Result<RecordBatch>,
) -> Result<RecordBatch> {
    build(defs, entities, features, options, |plan, times| {
        join_views(defs, plan, entities, times, options, load)
    })
}

/// [`historical`] on `engine`: the native join, or the same rules run by
/// Spark ([`crate::spark`]), whose result verge finishes exactly as it
/// finishes its own (types, input order, on-demand features). Both give the
/// same training set.
///
/// # Errors
///
/// As [`historical`]; with Spark, also an unsupported source or a failed job
/// (see [`crate::spark`]).
pub fn historical_on(
    engine: &Engine,
    defs: &Definitions,
    repo_root: &Path,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
    warnings: &mut Warnings,
) -> Result<RecordBatch> {
    let Engine::Spark(config) = engine else {
        return historical(defs, repo_root, entities, features, options, warnings);
    };
    build(defs, entities, features, options, |plan, times| {
        let views: Vec<(&FeatureView, Vec<Field>)> = plan
            .views
            .iter()
            .map(|(view, ix)| {
                let fields = ix
                    .iter()
                    .filter_map(|&i| view.fields.get(i).cloned())
                    .collect();
                (*view, fields)
            })
            .collect();
        crate::spark::join(
            config,
            defs,
            repo_root,
            &views,
            entities,
            times,
            options.filter_by_created,
        )
    })
}

/// The training set around a join: the plan and output names checked, the
/// entity times read, `join(plan, times)` giving each planned view's columns,
/// then the on-demand features and the assembled batch.
fn build(
    defs: &Definitions,
    entities: &RecordBatch,
    features: &[FeatureRef],
    options: &HistoricalOptions,
    join: impl FnOnce(&Plan<'_>, &[i64]) -> Result<Vec<Vec<(String, ArrayRef)>>>,
) -> Result<RecordBatch> {
    let plan = Plan::new(defs, features)?;
    let entity_schema = entities.schema();
    // Output names, checked before any data is read.
    let names = output_names(&plan, &entity_schema, options)?;
    let times = entity_times(entities, &options.timestamp_column)?;
    let joined = join(&plan, &times)?;
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

/// The output column name of each requested feature, refusing a name that clashes
/// with an entity column or another feature.
fn output_names(
    plan: &Plan<'_>,
    entity_schema: &Schema,
    options: &HistoricalOptions,
) -> Result<Vec<String>> {
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
    Ok(names)
}

/// Joins each feature view of `plan` once, giving its gathered columns by field
/// name (in the plan's view order).
fn join_views(
    defs: &Definitions,
    plan: &Plan<'_>,
    entities: &RecordBatch,
    times: &[i64],
    options: &HistoricalOptions,
    mut load: impl FnMut(&FeatureView, &[Field]) -> Result<RecordBatch>,
) -> Result<Vec<Vec<(String, ArrayRef)>>> {
    let mut joined: Vec<Vec<(String, ArrayRef)>> = Vec::with_capacity(plan.views.len());
    for (view, field_ix) in &plan.views {
        let fields = planned_fields(view, field_ix);
        let batch = load(view, &fields)?;
        joined.push(join_one(
            defs, view, &fields, &batch, entities, times, options,
        )?);
    }
    Ok(joined)
}

/// The fields of `view` at `field_ix`.
fn planned_fields(view: &FeatureView, field_ix: &[usize]) -> Vec<Field> {
    field_ix
        .iter()
        .filter_map(|&i| view.fields.get(i).cloned())
        .collect()
}

/// Joins one view's loaded `batch`, giving its gathered `fields` by name.
fn join_one(
    defs: &Definitions,
    view: &FeatureView,
    fields: &[Field],
    batch: &RecordBatch,
    entities: &RecordBatch,
    times: &[i64],
    options: &HistoricalOptions,
) -> Result<Vec<(String, ArrayRef)>> {
    let indices = join_view(defs, view, batch, entities, times, options)
        .with_context(|| format!("joining feature view `{}`", view.name))?;
    // Columns gathered in parallel; the first failure in field order is reported.
    let columns: Vec<Result<(String, ArrayRef)>> = fields
        .par_iter()
        .map(|f| Ok((f.name.clone(), gather(view, batch, f, &indices)?)))
        .collect();
    columns.into_iter().collect()
}

/// Field `f` of a view's loaded `batch`, in the field's type, taken at the
/// winning source row of each entity row (null where there is none).
fn gather(
    view: &FeatureView,
    batch: &RecordBatch,
    f: &Field,
    indices: &UInt32Array,
) -> Result<ArrayRef> {
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
    arrow_select::take::take(column.as_ref(), indices, None)
        .with_context(|| format!("gathering `{}:{}`", view.name, f.name))
}

pub use crate::arrow_values::value_at;
