//! From an entity table to a training set: rows of [`Value`]s in feature-service
//! order, plus one label per row.
//!
//! The features come from the point-in-time join ([`crate::historical`]), so a
//! model is trained on exactly what `verge historical` would write for the same
//! entity table. The label is looked up in two places, in this order:
//!
//! 1. a column of the entity table named like the label (the usual Feast layout:
//!    keys, event time, label), carried through the join unchanged;
//! 2. otherwise a field of a feature view named like the label, joined point in
//!    time like any feature. The views the service reads are searched first (in
//!    service order), then every other view by name. This is the horse-colic
//!    layout, where `surgical_lesion` is recorded with the vital signs.
//!
//! Rows whose label is null (a missing cell, or no row of the label's view in
//! the ttl window) cannot be learned from; they are dropped and counted in
//! [`TrainingSet::dropped_null_labels`] so the caller can say so.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use verge_core::definition::{Definitions, FeatureRef, FeatureService, ModelSpec, ResolvedFeature};
use verge_core::pipeline::ColumnMeta;
use verge_core::{ContentId, DType, Value};

use crate::historical::{HistoricalOptions, historical_with, value_at};
use crate::source::{self, Origin, Target, convert_array};

/// Where a model's label was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSource {
    /// A column of the entity table, carried through the join.
    EntityColumn,
    /// A field of this feature view, joined point in time.
    FeatureView(String),
}

impl std::fmt::Display for LabelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelSource::EntityColumn => f.write_str("the entity table"),
            LabelSource::FeatureView(v) => write!(f, "feature view `{v}`"),
        }
    }
}

/// A training set: one row of feature values and one label per kept entity row.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// The model's inputs: `view:field` names and declared types, in service order.
    pub columns: Vec<ColumnMeta>,
    /// Feature values, one `Vec` per row in `columns` order (nulls allowed).
    pub rows: Vec<Vec<Value>>,
    /// The label of each row; never null.
    pub labels: Vec<Value>,
    /// The label's name.
    pub label: String,
    /// Where the label came from.
    pub label_source: LabelSource,
    /// Entity rows dropped because their label was null.
    pub dropped_null_labels: usize,
}

impl TrainingSet {
    /// BLAKE3 of the set's canonical bytes: what the model was trained on.
    ///
    /// The encoding is fixed and self-delimiting, so two sets hash equal exactly
    /// when they have the same columns (names and types), the same rows in the
    /// same order, and the same labels: a domain tag `verge-training-set/1`, the
    /// column count, each column as (length-prefixed UTF-8 name, type name), the
    /// label name, the row count, then per row every value followed by the label.
    /// A value is a tag byte (0 null, 1 bool, 2 int64, 3 float32, 4 float64,
    /// 5 string) and its little-endian payload (floats by their bits, strings
    /// length-prefixed). Lengths and counts are u64 little-endian.
    #[must_use]
    pub fn data_hash(&self) -> ContentId {
        let mut out = Vec::with_capacity(64 + self.rows.len() * (self.columns.len() + 1) * 9);
        put_bytes(&mut out, b"verge-training-set/1");
        put_len(&mut out, self.columns.len());
        for c in &self.columns {
            put_bytes(&mut out, c.name.as_bytes());
            put_bytes(&mut out, c.dtype.name().as_bytes());
        }
        put_bytes(&mut out, self.label.as_bytes());
        put_len(&mut out, self.rows.len());
        for (row, label) in self.rows.iter().zip(&self.labels) {
            for v in row {
                put_value(&mut out, v);
            }
            put_value(&mut out, label);
        }
        ContentId::of(&out)
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        Value::Int64(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float32(x) => {
            out.push(3);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Value::Float64(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            out.push(5);
            put_bytes(out, s.as_bytes());
        }
        // The tags above predate the types below, which take new ones, so
        // the data hashes of existing training sets stay what they were.
        Value::Int32(i) => {
            out.push(6);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Bytes(b) => {
            out.push(7);
            put_bytes(out, b);
        }
        Value::Timestamp(t) => {
            out.push(8);
            out.extend_from_slice(&t.0.to_le_bytes());
        }
        Value::Json(s) => {
            out.push(9);
            put_bytes(out, s.as_bytes());
        }
        Value::Array(a) => {
            out.push(10);
            put_len(out, a.len());
            for v in (0..a.len()).filter_map(|i| a.get(i)) {
                put_value(out, &v);
            }
        }
    }
}

/// Decides where the label of `spec` comes from for this entity table.
///
/// # Errors
///
/// When neither the entity table (`place` names it) nor any feature view has a
/// column or field named like the label; the message says where it looked.
pub fn label_source(
    defs: &Definitions,
    spec: &ModelSpec,
    entities: &RecordBatch,
    place: &str,
) -> Result<LabelSource> {
    let label = &spec.label;
    if entities.schema().index_of(label).is_ok() {
        return Ok(LabelSource::EntityColumn);
    }
    // The service's own views first, in service order, then the rest by name
    // (definitions are kept sorted), so the choice is deterministic.
    let mut candidates: Vec<&str> = Vec::new();
    if let Some(service) = defs.feature_service(&spec.feature_service) {
        for r in &service.features {
            if let Ok(ResolvedFeature::View { view, .. }) = defs.resolve(r)
                && !candidates.contains(&view.name.as_str())
            {
                candidates.push(&view.name);
            }
        }
    }
    for v in &defs.feature_views {
        if !candidates.contains(&v.name.as_str()) {
            candidates.push(&v.name);
        }
    }
    for name in &candidates {
        if let Some(view) = defs.feature_view(name)
            && view.fields.iter().any(|f| f.name == *label)
        {
            return Ok(LabelSource::FeatureView(view.name.clone()));
        }
    }
    let columns: Vec<String> = entities
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    bail!(
        "model `{}`: label `{label}` not found. Looked for a column `{label}` in {place} (columns: {}) and for a field `{label}` in every feature view ({}). Add the label column to the entity table, or declare it as a feature-view field",
        spec.name,
        columns.join(", "),
        if candidates.is_empty() {
            "none declared".to_owned()
        } else {
            candidates.join(", ")
        }
    )
}

/// Builds the training set of model `spec` for `entities` (read from `place`,
/// used in messages), joining features from the sources under `repo_root`;
/// the sources' warnings go to `warnings`.
///
/// # Errors
///
/// An unknown feature service; an entity table without rows; the label is
/// nowhere to be found (see [`label_source`]); the join fails (see [`crate::historical::historical`]); the
/// label column has a type that cannot be a label.
pub fn build(
    defs: &Definitions,
    repo_root: &Path,
    spec: &ModelSpec,
    entities: &RecordBatch,
    place: &str,
    options: &HistoricalOptions,
    warnings: &mut crate::warnings::Warnings,
) -> Result<TrainingSet> {
    build_with(defs, spec, entities, place, options, |view, fields| {
        source::read_feature_view(defs, repo_root, view, Some(fields), warnings)
    })
}

/// [`build`] with feature-view batches supplied by `load`, as
/// [`crate::historical::historical_with`] takes them.
///
/// # Errors
///
/// As [`build`], plus whatever `load` returns.
pub fn build_with(
    defs: &Definitions,
    spec: &ModelSpec,
    entities: &RecordBatch,
    place: &str,
    options: &HistoricalOptions,
    load: impl FnMut(
        &verge_core::definition::FeatureView,
        &[verge_core::definition::Field],
    ) -> Result<RecordBatch>,
) -> Result<TrainingSet> {
    let service = defs
        .feature_service(&spec.feature_service)
        .with_context(|| {
            format!(
                "model `{}` reads feature service `{}`, which is not in the registry",
                spec.name, spec.feature_service
            )
        })?;
    // Checked before the join: a header-only CSV has untyped (text) columns,
    // and a key-type complaint would hide the real problem.
    if entities.num_rows() == 0 {
        bail!(
            "model `{}`: {place} has no rows; give at least one entity row (join keys, event time and label)",
            spec.name
        );
    }
    let label_source = label_source(defs, spec, entities, place)?;
    let mut features = service.features.clone();
    let columns = feature_columns(defs, service)?;
    if let LabelSource::FeatureView(view) = &label_source {
        features.push(FeatureRef {
            view: view.clone(),
            field: spec.label.clone(),
        });
    }
    // Full names (`view__field`) so two views with a field of the same name do
    // not clash; columns are found by position anyway.
    let options = HistoricalOptions {
        full_feature_names: true,
        ..options.clone()
    };
    let joined = historical_with(defs, entities, &features, &options, load)
        .with_context(|| format!("joining the features of `{}` onto {place}", service.name))?;
    let n_entity = entities.num_columns();
    let n_rows = joined.num_rows();

    let label_column = match &label_source {
        LabelSource::EntityColumn => entities
            .column_by_name(&spec.label)
            .context("internal: the label column vanished")?,
        LabelSource::FeatureView(_) => joined
            .columns()
            .get(n_entity + columns.len())
            .context("internal: the joined label column is missing")?,
    };
    let labels_all = label_values(label_column.as_ref(), &spec.label, place)?;

    let feature_values = feature_values(&joined, n_entity, &columns, place)?;

    let mut rows = Vec::with_capacity(n_rows);
    let mut labels = Vec::with_capacity(n_rows);
    let mut dropped = 0;
    for (i, label) in labels_all.into_iter().enumerate() {
        if label.is_null() {
            dropped += 1;
            continue;
        }
        let row = feature_values
            .iter()
            .map(|c| c.get(i).cloned().unwrap_or(Value::Null))
            .collect();
        rows.push(row);
        labels.push(label);
    }
    Ok(TrainingSet {
        columns,
        rows,
        labels,
        label: spec.label.clone(),
        label_source,
        dropped_null_labels: dropped,
    })
}

/// The name and type of each feature of `service`, in order.
fn feature_columns(defs: &Definitions, service: &FeatureService) -> Result<Vec<ColumnMeta>> {
    let mut columns = Vec::with_capacity(service.features.len());
    for r in &service.features {
        let dtype = defs
            .resolve(r)
            .with_context(|| format!("feature service `{}`", service.name))?
            .dtype();
        columns.push(ColumnMeta::new(r.to_string(), dtype));
    }
    Ok(columns)
}

/// The joined feature columns (after the `n_entity` entity columns) as values
/// of their declared types, one vector per feature.
fn feature_values(
    joined: &RecordBatch,
    n_entity: usize,
    columns: &[ColumnMeta],
    place: &str,
) -> Result<Vec<Vec<Value>>> {
    let n_rows = joined.num_rows();
    let mut feature_values: Vec<Vec<Value>> = Vec::with_capacity(columns.len());
    for (j, meta) in columns.iter().enumerate() {
        let column = joined
            .columns()
            .get(n_entity + j)
            .with_context(|| format!("internal: joined column for `{}` is missing", meta.name))?;
        let origin = Origin {
            place,
            column: &meta.name,
        };
        let typed = convert_array(column, Target::Value(meta.dtype), origin, 0)?;
        feature_values.push(
            (0..n_rows)
                .map(|i| value_at(typed.as_ref(), meta.dtype, i))
                .collect::<Result<_>>()?,
        );
    }
    Ok(feature_values)
}

/// The label column as values: integers, floats, booleans and text keep their
/// type (narrower integers widen to int64, float32 stays float32).
fn label_values(array: &dyn Array, label: &str, place: &str) -> Result<Vec<Value>> {
    let dtype = match array.data_type() {
        DataType::Boolean => DType::Bool,
        DataType::Float32 => DType::Float32,
        DataType::Float16 | DataType::Float64 => DType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DType::String,
        DataType::Null => DType::String,
        t if t.is_integer() => DType::Int64,
        other => bail!(
            "label `{label}` in {place} has type {other}; a label must be integers, numbers, booleans or text"
        ),
    };
    let origin = Origin {
        place,
        column: label,
    };
    let array: std::sync::Arc<dyn Array> = arrow_array::make_array(array.to_data());
    let typed = convert_array(&array, Target::Value(dtype), origin, 0)?;
    (0..typed.len())
        .map(|i| value_at(typed.as_ref(), dtype, i))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set(rows: Vec<Vec<Value>>, labels: Vec<Value>) -> TrainingSet {
        TrainingSet {
            columns: vec![ColumnMeta::new("v:a", DType::Float64)],
            rows,
            labels,
            label: "y".into(),
            label_source: LabelSource::EntityColumn,
            dropped_null_labels: 0,
        }
    }

    #[test]
    fn data_hash_sees_every_value_and_type() {
        let base = set(
            vec![vec![Value::Float64(1.0)], vec![Value::Null]],
            vec![Value::Int64(0), Value::Int64(1)],
        );
        let h = base.data_hash();
        assert_eq!(h, base.clone().data_hash(), "deterministic");
        let mut other = base.clone();
        other.rows[1][0] = Value::Float64(0.0);
        assert_ne!(other.data_hash(), h, "null differs from 0");
        let mut other = base.clone();
        other.labels[1] = Value::Bool(true);
        assert_ne!(other.data_hash(), h, "label type matters");
        let mut other = base.clone();
        other.rows.swap(0, 1);
        other.labels.swap(0, 1);
        assert_ne!(other.data_hash(), h, "row order matters");
        let mut other = base;
        other.columns[0].name = "v:b".into();
        assert_ne!(other.data_hash(), h, "names matter");
    }

    #[test]
    fn label_types() {
        let ints = arrow_array::Int32Array::from(vec![Some(1), None]);
        assert_eq!(
            label_values(&ints, "y", "t").unwrap(),
            vec![Value::Int64(1), Value::Null]
        );
        let text = arrow_array::StringArray::from(vec!["yes"]);
        assert_eq!(
            label_values(&text, "y", "t").unwrap(),
            vec![Value::String("yes".into())]
        );
        let dates = arrow_array::Date32Array::from(vec![1]);
        let err = label_values(&dates, "y", "t").unwrap_err();
        assert!(format!("{err}").contains("label `y`"), "{err}");
    }
}
