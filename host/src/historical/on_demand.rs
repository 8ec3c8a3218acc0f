//! On-demand features of a training set: each on-demand field is computed row by
//! row by the core's expression evaluator from request columns of the entity table
//! and the joined feature-view columns, exactly as the edge computes it online.
//! This is the only place the join boxes cells into [`Value`]s.

use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use arrow_array::{ArrayRef, RecordBatch};
use verge_core::Value;
use verge_core::definition::{Definitions, OnDemandFeatureView};

use super::value_at;
use crate::source::{self, Origin, Target, convert_array};

/// Evaluates on-demand field `field` of `odfv` for every entity row.
pub(super) fn on_demand<'c>(
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
