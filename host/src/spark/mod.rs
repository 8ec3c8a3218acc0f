//! The Spark engine: `verge historical --engine spark` and `verge materialize
//! --engine spark` push the point-in-time join and the winner selection down
//! to a Spark cluster instead of reading every source onto this machine.
//!
//! verge stays the one owner of the rules. From the definitions it generates
//! Spark SQL ([`sql`]) that applies DESIGN.md's semantics — the inclusive
//! window `t - ttl <= event_ts <= t` (no lower bound for ttl 0), the winner by
//! `(event_ts, created_ts)` with a null created time lowest and the last row of
//! the file winning a complete tie — and ships it with a small driver script
//! ([`run::DRIVER`]) that only executes it and writes Parquet. verge then reads
//! that Parquet back and finishes with the same code as the native engine:
//! values are converted to the declared types by the source readers' rules,
//! entity rows are put back in input order by their ordinal, on-demand
//! features are computed by verge's core, and snapshots are built by
//! [`crate::materialize::build_snapshots`]. So both engines give the same
//! training set and the same snapshot id, which `host/tests/all/spark.rs`
//! checks against a real local Spark.
//!
//! What runs where, the SQL's shape, and how it scales: `docs/offline.md`.
//!
//! Everything a job reads or writes is staged in a fresh temporary directory
//! (removed afterwards); a failed job leaves no output behind.

mod config;
mod output;
mod run;
mod scan;
mod sql;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{Field as ArrowField, Schema};
use verge_core::DType;
use verge_core::definition::{Definitions, FeatureView, Field};

pub use config::{Engine, EngineFlags, SparkConfig};
use output::{read_dir, typed, typed_times};
use run::Query;

/// The staging directory of one job, removed when dropped.
fn staging(config: &SparkConfig) -> Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("verge-spark-");
        b
    };
    match &config.staging {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the staging directory {}", dir.display())
            })?;
            builder
                .tempdir_in(dir)
                .with_context(|| format!("cannot stage a Spark job in {}", dir.display()))
        }
        None => builder.tempdir().context("cannot stage a Spark job"),
    }
}

/// The point-in-time join of `views` (each with the fields to gather) for the
/// entity rows `entities` at `times`: per view, its fields' columns by name, in
/// the fields' declared types, one row per entity row in input order.
///
/// # Errors
///
/// An unsupported source ([`scan::scan`]), an entity key column of the wrong
/// type, a failed Spark job, or Spark output that is not one row per entity row.
pub(crate) fn join(
    config: &SparkConfig,
    defs: &Definitions,
    repo_root: &Path,
    views: &[(&FeatureView, Vec<Field>)],
    entities: &RecordBatch,
    times: &[i64],
    filter_by_created: bool,
) -> Result<Vec<Vec<(String, ArrayRef)>>> {
    let dir = staging(config)?;
    // The entity file: ordinal, time, and each distinct join-key part once.
    let mut key_parts: Vec<Field> = Vec::new();
    let mut joined = Vec::with_capacity(views.len());
    for (view, fields) in views {
        let scan = scan::scan(defs, repo_root, view, fields)?;
        let mut entity_keys = Vec::new();
        for key in defs.join_keys(view) {
            let at = match key_parts.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    key_parts.push(key.clone());
                    key_parts.len() - 1
                }
            };
            entity_keys.push(at);
        }
        joined.push(sql::JoinedView {
            scan,
            entity_keys,
            ttl_micros: view.ttl.as_micros(),
            filter_by_created,
        });
    }
    let n = entities.num_rows();
    let mut fields = vec![
        ArrowField::new("o", arrow_schema::DataType::Int64, false),
        ArrowField::new("t", arrow_schema::DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(Int64Array::from(times.to_vec())),
    ];
    for (i, key) in key_parts.iter().enumerate() {
        let column = entities.column_by_name(&key.name).ok_or_else(|| {
            let schema = entities.schema();
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            anyhow::anyhow!(
                "a feature view joins on `{}`, but the entity table has no such column; columns are: {}",
                key.name,
                names.join(", ")
            )
        })?;
        let column = crate::historical::entity_key_column(column, key)?;
        fields.push(ArrowField::new(
            format!("e{i}"),
            column.data_type().clone(),
            true,
        ));
        columns.push(column);
    }
    let entity_file = dir.path().join("entities.parquet");
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .context("assembling the entity file for Spark")?;
    crate::table_io::write_table(&batch, &entity_file)?;

    let out = dir.path().join("historical");
    let query = Query {
        sql: sql::historical(&entity_file.display().to_string(), &joined),
        out: out.clone(),
    };
    run::run(config, dir.path(), "verge historical", &[query])?;
    let result = read_dir(&out)?;
    let order = output::by_ordinal(&result, n)?;
    let mut views_out = Vec::with_capacity(views.len());
    for (i, (view, fields)) in views.iter().enumerate() {
        let place = format!("feature view `{}` (from Spark)", view.name);
        let mut cols = Vec::with_capacity(fields.len());
        for (j, f) in fields.iter().enumerate() {
            let column = output::column(&result, &format!("v{i}_{j}"), f.dtype, &order)?;
            cols.push((f.name.clone(), typed(&column, f, &place)?));
        }
        views_out.push(cols);
    }
    Ok(views_out)
}

/// Each of `windows`' views' winners per key over its window `(start, end)`
/// (µs), in the layout of [`crate::source::read_source`] (keys, event and
/// created times, then every field), computed by one Spark job.
///
/// # Errors
///
/// As [`join`], for the views' sources and the job.
pub(crate) fn winners(
    config: &SparkConfig,
    defs: &Definitions,
    repo_root: &Path,
    windows: &[(&FeatureView, i64, i64)],
) -> Result<BTreeMap<String, RecordBatch>> {
    let dir = staging(config)?;
    let mut queries = Vec::with_capacity(windows.len());
    let mut scans = Vec::with_capacity(windows.len());
    for (i, (view, start, end)) in windows.iter().enumerate() {
        let scan = scan::scan(defs, repo_root, view, &view.fields)?;
        queries.push(Query {
            sql: sql::materialize(&scan, *start, *end),
            out: dir.path().join(format!("view{i}")),
        });
        scans.push(scan);
    }
    run::run(config, dir.path(), "verge materialize", &queries)?;
    let mut out = BTreeMap::new();
    for ((view, _, _), query) in windows.iter().zip(&queries) {
        let source = defs
            .source(&view.source)
            .with_context(|| format!("feature view `{}`: source not declared", view.name))?;
        let result = read_dir(&query.out)?;
        let place = format!("feature view `{}` (from Spark)", view.name);
        // Winners come in any order; the snapshot sorts them by key.
        let all = None;
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (k, key) in defs.join_keys(view).iter().enumerate() {
            let c = output::column(&result, &format!("k{k}"), key.dtype, &all)?;
            columns.push(typed(&c, key, &place)?);
            fields.push(key.name.clone());
        }
        let ev = output::column(&result, "ev", DType::Int64, &all)?;
        columns.push(typed_times(&ev, &place)?);
        fields.push(source.timestamp_field.clone());
        if let Some(created) = &source.created_timestamp_field {
            let cr = output::column(&result, "cr", DType::Int64, &all)?;
            columns.push(typed_times(&cr, &place)?);
            fields.push(created.clone());
        }
        for (j, f) in view.fields.iter().enumerate() {
            let c = output::column(&result, &format!("c{j}"), f.dtype, &all)?;
            columns.push(typed(&c, f, &place)?);
            fields.push(f.name.clone());
        }
        let schema = Schema::new(
            fields
                .iter()
                .zip(&columns)
                .map(|(n, c)| ArrowField::new(n, c.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(Arc::new(schema), columns)
            .with_context(|| format!("{place}: assembling the winners"))?;
        out.insert(view.name.clone(), batch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
