//! Scoring feature values the caller already has, as JSON.
//!
//! A page or a worker sometimes holds the model's inputs itself (a form the user
//! filled in, values from its own store) and needs only the model. This runs the
//! bundle's fitted pipeline on those values and answers with the same prediction
//! fields `POST /predict` gives (`label`, `classes`, `probabilities`, or `value`),
//! rendered by the same code, so a score and a prediction over equal features are
//! byte-identical. It needs no snapshot.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::ApiError;
use super::json_out::JsonOut;
use super::request::cell_to_value;
use super::request::decode::{Cell, Dups, decode_value};
use crate::artifact::{Bundle, ServiceFeature};
use crate::pipeline::Prediction;
use crate::value::{DType, Value};

/// The declared type of a service feature.
fn feature_dtype(feature: &ServiceFeature) -> DType {
    match feature {
        ServiceFeature::View { dtype, .. } | ServiceFeature::OnDemand { dtype, .. } => *dtype,
    }
}

/// The part of `view:field` after the colon.
fn short_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, field)| field)
}

fn convert(cell: &Cell<'_>, feature: &ServiceFeature) -> Result<Value, ApiError> {
    let dtype = feature_dtype(feature);
    cell_to_value(cell, dtype).ok_or_else(|| {
        let mut shown = cell.to_text();
        if shown.len() > 40 {
            shown = format!("{}…", shown.chars().take(40).collect::<String>());
        }
        ApiError::bad_request(format!(
            "feature `{}` is {dtype}; got {shown}",
            feature.name()
        ))
    })
}

/// The service-ordered row from an array (service order) or an object (by name).
fn row_from(cell: &Cell<'_>, features: &[ServiceFeature]) -> Result<Vec<Value>, ApiError> {
    match cell {
        Cell::Array(items) => {
            if items.len() != features.len() {
                return Err(ApiError::bad_request(format!(
                    "expected {} feature values in service order ({}), got {}",
                    features.len(),
                    names(features),
                    items.len()
                )));
            }
            items
                .iter()
                .zip(features)
                .map(|(item, feature)| convert(item, feature))
                .collect()
        }
        Cell::Object(map) => {
            let mut row: Vec<Option<Value>> = features.iter().map(|_| None).collect();
            for (key, item) in map {
                // `view:field` always matches; a bare `field` only when one feature has it.
                let exact = features.iter().position(|f| f.name() == key);
                let position = exact.or_else(|| {
                    let mut hits = features
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| short_name(f.name()) == key);
                    match (hits.next(), hits.next()) {
                        (Some((i, _)), None) => Some(i),
                        _ => None,
                    }
                });
                let Some(i) = position else {
                    return Err(ApiError::bad_request(format!(
                        "unknown or ambiguous feature `{key}`; the model takes: {}",
                        names(features)
                    )));
                };
                let (Some(slot), Some(feature)) = (row.get_mut(i), features.get(i)) else {
                    continue;
                };
                if slot.is_some() {
                    return Err(ApiError::bad_request(format!(
                        "feature `{}` is given twice",
                        feature.name()
                    )));
                }
                *slot = Some(convert(item, feature)?);
            }
            // A feature not given is missing, as an online read that found nothing:
            // the fitted imputer fills it, exactly as in training.
            Ok(row.into_iter().map(|v| v.unwrap_or(Value::Null)).collect())
        }
        _ => Err(ApiError::bad_request(
            "features must be an array in service order or an object of feature name → value",
        )),
    }
}

fn names(features: &[ServiceFeature]) -> String {
    features
        .iter()
        .map(ServiceFeature::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `bundle`'s pipeline on feature values given as JSON: an array in service
/// order, or an object keyed by `view:field` (or by a bare field name when only one
/// feature has it; features left out count as missing and are imputed).
///
/// Answers `{"model", "bundle_id", "registry_id", "feature_names"}` plus the
/// prediction fields of `POST /predict` (`label`, `classes`, `probabilities`, or
/// `value` for a regressor).
///
/// # Errors
///
/// [`ApiError`] with 400 for malformed JSON, a wrong count, an unknown feature or a
/// value of the wrong type, and the pipeline's own errors (400 for a bad shape).
///
/// # Examples
///
/// A bundle takes a model to build; `core/tests/online.rs` shows one. Given one:
///
/// ```no_run
/// # fn demo(bundle: &verge_core::artifact::Bundle) -> Result<(), verge_core::api::ApiError> {
/// let answer = verge_core::api::score_json(bundle, br#"{"rectal_temperature": 38.5}"#)?;
/// let json: serde_json::Value = serde_json::from_slice(&answer).unwrap();
/// assert!(json["probabilities"].is_array());
/// # Ok(()) }
/// ```
pub fn score_json(bundle: &Bundle, features: &[u8]) -> Result<Vec<u8>, ApiError> {
    // A key given twice keeps its last value, as this route has always read it.
    let cell = decode_value(features, Dups::LastWins)?;
    let contents = bundle.contents();
    let row = row_from(&cell, &contents.features)?;
    let model = contents.require_model()?;
    let prediction = model.pipeline.predict(&row)?;
    // Members in sorted key order, as `POST /predict`'s prediction fields.
    let mut out = JsonOut::with_capacity(256 + contents.features.len() * 32);
    out.raw("{");
    out.key_name("bundle_id");
    out.id(&bundle.id());
    out.raw(",");
    let classes = match &prediction {
        Prediction::Classes {
            classes,
            probabilities,
            label,
        } => Some((classes, probabilities, classes.get(*label))),
        Prediction::Value(_) => None,
    };
    if let Some((classes, _, _)) = classes {
        out.key_name("classes");
        out.raw("[");
        for (i, c) in classes.iter().enumerate() {
            out.comma(i);
            out.value(c);
        }
        out.raw("],");
    }
    out.key_name("feature_names");
    out.strings(contents.features.iter().map(|f| f.name()));
    out.raw(",");
    if let Some((_, _, label)) = classes {
        out.key_name("label");
        match label {
            Some(c) => out.value(c),
            None => out.raw("null"),
        }
        out.raw(",");
    }
    out.key_name("model");
    out.string(&model.name);
    out.raw(",");
    if let Some((_, probabilities, _)) = classes {
        out.key_name("probabilities");
        out.raw("[");
        for (i, p) in probabilities.iter().enumerate() {
            out.comma(i);
            out.float(*p);
        }
        out.raw("],");
    }
    out.key_name("registry_id");
    out.id(&contents.registry_id);
    if let Prediction::Value(v) = prediction {
        out.raw(",");
        out.key_name("value");
        out.float(v);
    }
    out.raw("}");
    Ok(out.into_bytes())
}
