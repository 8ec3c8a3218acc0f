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
use crate::source::{Origin, Target, convert_array};

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
    let mut inputs: Vec<(ArrayRef, verge_core::DType)> = Vec::new();
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
        inputs.push((
            convert_array(column, Target::Value(r.dtype), origin, 0)?,
            r.dtype,
        ));
    }
    for s in &odfv.sources {
        let view = defs
            .feature_view(s)
            .with_context(|| format!("feature view `{s}` is not declared"))?;
        for f in &view.fields {
            let column = view_column(&view.name, &f.name)
                .with_context(|| format!("internal: `{}:{}` was not joined", view.name, f.name))?;
            inputs.push((Arc::clone(column), f.dtype));
        }
    }
    let mut outputs: Vec<Value> = Vec::with_capacity(entities.num_rows());
    let mut row_values: Vec<Value> = Vec::with_capacity(inputs.len());
    for row in 0..entities.num_rows() {
        row_values.clear();
        for (c, dtype) in &inputs {
            row_values.push(value_at(c.as_ref(), *dtype, row)?);
        }
        let value = out
            .program
            .eval(&row_values)
            .map_err(|e| anyhow!("entity row {}: {e}", row + 1))?;
        // The program's type was checked against the field's when it was
        // compiled; the cast only widens (an int64 result of a float64 field).
        let value = value.cast(out.dtype).ok_or_else(|| {
            anyhow!(
                "entity row {}: the expression gave {value:?}, which is not {}",
                row + 1,
                out.dtype
            )
        })?;
        outputs.push(value);
    }
    Ok(crate::arrow_values::array_of(out.dtype, &outputs))
}
