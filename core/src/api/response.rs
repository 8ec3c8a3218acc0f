//! Rendering answers as JSON. Numbers print in their shortest round-trip form, so
//! every face prints the same bytes for the same values.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value as Json, json};

mod json_out;

use json_out::JsonOut;

use super::ApiError;
use super::request::{OnlineRequest, PredictRequest, Source};
use crate::online::{FeatureValue, Layered, Predictor, SnapshotRead};
use crate::pipeline::Prediction;
use crate::value::{KeyPart, Value};
use crate::{Error, Timestamp};

/// A value as JSON, exactly as every API answer prints it, as Feast's server
/// does: non-finite floats become null (JSON has no NaN), bytes are base64
/// (standard alphabet, padded), timestamps RFC 3339 strings, arrays JSON
/// arrays, and JSON features the JSON value itself (not a string holding it).
#[must_use]
pub fn value_to_json(value: &Value) -> Json {
    let float = |x: f64| serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number);
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int32(i) => Json::from(*i),
        Value::Int64(i) => Json::from(*i),
        Value::Float32(x) => float(f64::from(*x)),
        Value::Float64(x) => float(*x),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64_of(b)),
        Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        // Stored JSON was checked to parse when it was read and again at load.
        Value::Json(text) => serde_json::from_str(text).unwrap_or(Json::Null),
        Value::Array(a) => Json::Array(
            (0..a.len())
                .filter_map(|i| a.get(i))
                .map(|v| value_to_json(&v))
                .collect(),
        ),
    }
}

/// Base64 text (standard alphabet, padding optional) as bytes: how requests
/// and sources write a bytes value; `None` when it is not base64.
#[must_use]
pub fn bytes_from_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}

/// Bytes as base64, standard alphabet with padding (what Feast's server and
/// protobuf's JSON mapping write).
#[must_use]
pub fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An entity key part as JSON, exactly as every API answer prints it.
#[must_use]
pub fn key_to_json(part: &KeyPart) -> Json {
    match part {
        KeyPart::Int64(i) => Json::from(*i),
        KeyPart::String(s) => Json::String(s.clone()),
    }
}

/// Feast reports the epoch for values without a row.
fn timestamp_json(ts: Option<Timestamp>) -> Json {
    Json::String(ts.unwrap_or(Timestamp(0)).to_rfc3339())
}

fn to_bytes(json: &Json) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(json).map_err(|e| ApiError {
        status: 500,
        message: format!("cannot encode the answer: {e}"),
    })
}

pub(crate) fn online(
    predictor: &Predictor,
    request: &OnlineRequest,
    now: Timestamp,
) -> Result<Vec<u8>, ApiError> {
    online_from(
        Layered::Many(predictor.layers()),
        Some(predictor),
        request,
        now,
    )
}

/// The online answer from `snapshot`, with `predictor` for service features (a
/// request parsed without a bundle has none).
///
/// Written straight into one buffer ([`JsonOut`]): the bytes `serde_json`
/// gives for `{"metadata":{"feature_names":[…]},"results":[{"event_timestamps":
/// […],"statuses":[…],"values":[…]},…]}` (its maps sort their keys).
pub(crate) fn online_from(
    layers: Layered<'_>,
    predictor: Option<&Predictor>,
    request: &OnlineRequest,
    now: Timestamp,
) -> Result<Vec<u8>, ApiError> {
    let rows = &request.rows;
    // Service features come from one read per row, computed once and shared.
    let service_rows = if request
        .features
        .iter()
        .any(|f| matches!(f.source, Source::Service(_)))
    {
        let predictor = predictor.ok_or_else(|| ApiError {
            status: 500,
            message: "internal: a service feature without a bundle".into(),
        })?;
        let mut all = Vec::with_capacity(rows.len);
        for i in 0..rows.len {
            all.push(predictor.read(
                &rows.bundle_keys(predictor, i)?,
                &rows.request_row(i),
                now,
            )?);
        }
        all
    } else {
        Vec::new()
    };
    let mut snapshot_read = SnapshotRead::over(layers, &rows.keys, rows.len, now);
    let mut columns: Vec<Vec<FeatureValue>> = Vec::with_capacity(request.features.len());
    for requested in &request.features {
        let f = &requested.feature;
        columns.push(match requested.source {
            Source::Service(i) => service_rows
                .iter()
                .map(|r| r.get(i).cloned().unwrap_or(FeatureValue::NOT_FOUND))
                .collect(),
            Source::Snapshot(field) => snapshot_read.field(field).map_err(|missing| {
                ApiError::bad_request(format!(
                    "feature `{f}` needs join key `{}` in `entities`",
                    missing.key
                ))
            })?,
        });
    }
    let cells = (rows.keys.len() + columns.len()) * rows.len.max(1);
    let mut out = JsonOut::with_capacity(64 + cells * 40);
    out.raw(r#"{"metadata":{"feature_names":["#);
    let mut n = 0;
    for (name, _) in &rows.keys {
        out.comma(n);
        out.string(name);
        n += 1;
    }
    for requested in &request.features {
        let f = &requested.feature;
        out.comma(n);
        if request.full_feature_names {
            out.string(&format!("{}__{}", f.view, f.field));
        } else {
            out.string(&f.field);
        }
        n += 1;
    }
    out.raw(r#"]},"results":["#);
    let epoch = Timestamp(0);
    for (i, (_, parts)) in rows.keys.iter().enumerate() {
        out.comma(i);
        out.raw(r#"{"event_timestamps":["#);
        for j in 0..parts.len() {
            out.comma(j);
            out.time(epoch);
        }
        out.raw(r#"],"statuses":["#);
        for j in 0..parts.len() {
            out.comma(j);
            out.raw(r#""PRESENT""#);
        }
        out.raw(r#"],"values":["#);
        for (j, part) in parts.iter().enumerate() {
            out.comma(j);
            out.key(part);
        }
        out.raw("]}");
    }
    for (i, values) in columns.iter().enumerate() {
        out.comma(rows.keys.len() + i);
        column(&mut out, values);
    }
    out.raw("]}");
    Ok(out.into_bytes())
}

/// A column as a JSON value (for `/predict`'s per-row `features`).
fn column_json(values: &[FeatureValue]) -> Json {
    json!({
        "values": values.iter().map(|v| value_to_json(&v.value)).collect::<Vec<_>>(),
        "statuses": values.iter().map(|v| v.status.as_str()).collect::<Vec<_>>(),
        "event_timestamps": values.iter().map(|v| timestamp_json(v.event_ts)).collect::<Vec<_>>(),
    })
}

/// One feature's column: its values' event times (the epoch without a row),
/// statuses and values, in serde_json's key order.
fn column(out: &mut JsonOut, values: &[FeatureValue]) {
    out.raw(r#"{"event_timestamps":["#);
    for (j, v) in values.iter().enumerate() {
        out.comma(j);
        out.time(v.event_ts.unwrap_or(Timestamp(0)));
    }
    out.raw(r#"],"statuses":["#);
    for (j, v) in values.iter().enumerate() {
        out.comma(j);
        out.raw("\"");
        out.raw(v.status.as_str());
        out.raw("\"");
    }
    out.raw(r#"],"values":["#);
    for (j, v) in values.iter().enumerate() {
        out.comma(j);
        out.value(&v.value);
    }
    out.raw("]}");
}

pub(crate) fn prediction_json(prediction: &Prediction) -> Map<String, Json> {
    let mut out = Map::new();
    match prediction {
        Prediction::Classes {
            classes,
            probabilities,
            label,
        } => {
            out.insert(
                "label".into(),
                classes.get(*label).map_or(Json::Null, value_to_json),
            );
            out.insert(
                "classes".into(),
                Json::Array(classes.iter().map(value_to_json).collect()),
            );
            out.insert(
                "probabilities".into(),
                Json::Array(
                    probabilities
                        .iter()
                        .map(|p| value_to_json(&Value::Float64(*p)))
                        .collect(),
                ),
            );
        }
        Prediction::Value(v) => {
            out.insert("value".into(), value_to_json(&Value::Float64(*v)));
        }
    }
    out
}

/// Marks one prediction as unanswerable: `error` in place of the prediction fields.
fn row_error(item: &mut Map<String, Json>, row: usize, message: &str) {
    item.insert(
        "error".into(),
        Json::String(format!("row {row}: no prediction: {message}")),
    );
}

pub(crate) fn predict(
    predictor: &Predictor,
    request: &PredictRequest,
    now: Timestamp,
) -> Result<Vec<u8>, ApiError> {
    let rows = &request.rows;
    let contents = predictor.bundle().contents();
    // Refused before any row is read: a feature bundle cannot predict at all.
    let model = contents.require_model()?;
    let mut predictions = Vec::with_capacity(rows.len);
    for i in 0..rows.len {
        let keys = rows.bundle_keys(predictor, i)?;
        let mut item = Map::new();
        let entity: Map<String, Json> = contents
            .entity_keys
            .iter()
            .zip(&keys)
            .map(|(k, v)| (k.name.clone(), key_to_json(v)))
            .collect();
        item.insert("entity".into(), Json::Object(entity));
        // A row the arithmetic cannot answer (Error::Eval) fails alone: the others
        // were answered and are still right. Any other error is the request's
        // (a wrong type, a bad key) or verge's, and fails the batch as before.
        match predictor.read(&keys, &rows.request_row(i), now) {
            Ok(features) => {
                let values: Vec<Value> = features.iter().map(|f| f.value.clone()).collect();
                match predictor.score(&values) {
                    Ok(prediction) => item.extend(prediction_json(&prediction)),
                    Err(Error::Eval(message)) => row_error(&mut item, i, &message),
                    Err(e) => return Err(e.into()),
                }
                item.insert("features".into(), column_json(&features));
            }
            Err(Error::Eval(message)) => row_error(&mut item, i, &message),
            Err(e) => return Err(e.into()),
        }
        predictions.push(Json::Object(item));
    }
    to_bytes(&json!({
        "model": model.name,
        "bundle_id": format!("{}", predictor.bundle().id()),
        "snapshot_id": format!("{}", predictor.snapshot().id()),
        "registry_id": format!("{}", contents.registry_id),
        "feature_names": contents.features.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "predictions": predictions,
    }))
}
