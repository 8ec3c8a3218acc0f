//! Dense key ids for the join: every distinct join key of a feature view's source
//! rows gets a small integer, and each entity row is mapped onto the same ids, so
//! the join groups and looks up rows by integer instead of by formatted key.
//! Integer keys are hashed as integers, never formatted; a composite key is
//! numbered part by part. Each part is numbered on all cores (`dense_ids`).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;
use verge_core::DType;
use verge_core::definition::{FeatureView, Field};

use super::dense_ids::DenseIds;
use crate::source::{Origin, Target, convert_array, dtype_to_arrow};

/// Sentinel key id for a row whose key is null or unknown.
pub(super) const NO_KEY: u32 = u32::MAX;

/// Dense ids for the values of one join-key part.
enum PartIds<'a> {
    Int(DenseIds<i64>),
    Str(DenseIds<&'a str>),
}

impl PartIds<'_> {
    fn len(&self) -> usize {
        match self {
            PartIds::Int(ids) => ids.len(),
            PartIds::Str(ids) => ids.len(),
        }
    }
}

/// Assigns a dense id to each distinct value of `column` (`NO_KEY` for null).
fn source_part_ids(column: &ArrayRef) -> Result<(PartIds<'_>, Vec<u32>)> {
    if let Some(a) = column.as_primitive_opt::<Int64Type>() {
        let (ids, rows) = DenseIds::number(a.len(), |i| a.is_valid(i).then(|| a.value(i)))?;
        return Ok((PartIds::Int(ids), rows));
    }
    if let Some(a) = column.as_string_opt::<i32>() {
        let (ids, rows) = DenseIds::number(a.len(), |i| a.is_valid(i).then(|| a.value(i)))?;
        return Ok((PartIds::Str(ids), rows));
    }
    bail!(
        "join key column has type {}; the source reader gives int64 or string",
        column.data_type()
    )
}

/// An entity table's join-key column in the key's type (int64 or string),
/// refusing a column of an incompatible type. Every engine reads entity keys
/// through this one rule.
pub(crate) fn entity_key_column(column: &ArrayRef, key: &Field) -> Result<ArrayRef> {
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
    convert_array(column, Target::Value(key.dtype), origin, 0)
}

/// Looks up each entity row's value of one key part (`NO_KEY` when null or unseen).
fn entity_part_ids(ids: &PartIds<'_>, column: &ArrayRef, key: &Field) -> Result<Vec<u32>> {
    let column = entity_key_column(column, key)?;
    Ok(match ids {
        PartIds::Int(map) => {
            let a = column
                .as_primitive_opt::<Int64Type>()
                .context("internal: key not converted to int64")?;
            (0..a.len())
                .into_par_iter()
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .map(|v| v.and_then(|v| map.get(&v)).unwrap_or(NO_KEY))
                .collect()
        }
        PartIds::Str(map) => {
            let a = column
                .as_string_opt::<i32>()
                .context("internal: key not converted to string")?;
            (0..a.len())
                .into_par_iter()
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .map(|v| v.and_then(|v| map.get(&v)).unwrap_or(NO_KEY))
                .collect()
        }
    })
}

/// Dense key ids for source and entity rows over all join-key parts: the first
/// part's ids, then pairs `(ids so far, next part's id)` renumbered densely.
pub(super) fn key_ids(
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
        let distinct = map.len();
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
