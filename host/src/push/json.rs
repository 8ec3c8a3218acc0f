//! Pushed rows as JSON: the `df` of Feast's `POST /push` and
//! `POST /write-to-online-store` bodies, a column-oriented object
//! (`{"driver_id": [1001, 1002], "conv_rate": [0.5, 0.7], ...}`, what
//! pandas' `DataFrame.to_dict(orient="list")` gives and Feast's server reads).
//!
//! Each cell goes through the same [`crate::source::Builder`] rules as a CSV
//! or SQLite cell (JSON `null` is null, numbers convert as numbers do, text
//! as text does, timestamps as RFC 3339 text), so a pushed value means what
//! it would mean in the batch source.

use anyhow::{Context as _, Result, bail};
use arrow_array::RecordBatch;
use arrow_schema::{Field as ArrowField, Schema};
use serde_json::{Map, Value as Json};
use verge_core::definition::{Definitions, FeatureView};

use crate::source::{Builder, Cell, Origin, Target, require_no_nulls};

/// The batch for `view` from the columns of `df`, in the layout of
/// [`crate::source::read_source`]; `place` names the request in messages.
///
/// # Errors
///
/// A missing column, columns of different lengths, a cell that does not
/// convert (named by row and column), a null event time or join key, or over
/// [`super::MAX_ROWS`] rows.
pub fn view_batch(
    defs: &Definitions,
    view: &FeatureView,
    df: &Map<String, Json>,
    place: &str,
) -> Result<RecordBatch> {
    let source = defs
        .source(&view.source)
        .with_context(|| format!("feature view `{}`: its source is not declared", view.name))?;
    let keys = defs.join_keys(view);
    let mut wanted: Vec<(String, Target)> = keys
        .iter()
        .map(|k| (k.name.clone(), Target::Value(k.dtype)))
        .collect();
    wanted.push((source.timestamp_field.clone(), Target::Timestamp));
    if let Some(c) = &source.created_timestamp_field {
        wanted.push((c.clone(), Target::Timestamp));
    }
    wanted.extend(
        view.fields
            .iter()
            .map(|f| (f.name.clone(), Target::Value(f.dtype))),
    );
    let mut rows = None;
    let mut columns = Vec::with_capacity(wanted.len());
    for (name, target) in &wanted {
        let Some(cells) = df.get(name) else {
            let present: Vec<&str> = df.keys().map(String::as_str).collect();
            bail!(
                "{place}: `df` has no column `{name}`; columns are: {}",
                present.join(", ")
            );
        };
        let Json::Array(cells) = cells else {
            bail!(
                "{place}: `df` column `{name}` is not an array; send {{\"{name}\": [value, ...]}}"
            );
        };
        if *rows.get_or_insert(cells.len()) != cells.len() {
            bail!(
                "{place}: `df` column `{name}` has {} values, other columns {}; give every column one value per row",
                cells.len(),
                rows.unwrap_or(0)
            );
        }
        if cells.len() > super::MAX_ROWS {
            bail!(
                "{place}: {} rows is over the limit of {} rows per push; push them in smaller batches",
                cells.len(),
                super::MAX_ROWS
            );
        }
        let origin = Origin {
            place,
            column: name,
        };
        let mut builder = Builder::new(*target, cells.len());
        for (row, cell) in cells.iter().enumerate() {
            // Arrays and objects (array and json fields) go in as their JSON
            // text, the text form a CSV cell of those types has.
            let nested;
            let cell = match cell {
                Json::Null => Cell::Null,
                Json::Bool(b) => Cell::Bool(*b),
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => n.as_u64().map_or_else(
                        || Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                        Cell::BigUInt,
                    ),
                },
                Json::String(s) => Cell::Text(s),
                other => {
                    nested = other.to_string();
                    Cell::Text(&nested)
                }
            };
            builder.push(cell).map_err(|m: String| origin.at(row, &m))?;
        }
        let array = builder.finish();
        if matches!(target, Target::Timestamp) && name == &source.timestamp_field {
            require_no_nulls(array.as_ref(), origin, "the event timestamp")?;
        }
        columns.push(array);
    }
    let schema = Schema::new(
        wanted
            .iter()
            .zip(&columns)
            .map(|((n, _), c)| ArrowField::new(n, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(schema.into(), columns)?;
    super::check_batch(place, &batch, keys.len())?;
    Ok(batch)
}
