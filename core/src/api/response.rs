//! Rendering answers as JSON, written straight into one buffer by
//! [`JsonOut`] in the bytes `serde_json` gives for the same tree (members in
//! sorted key order). Numbers print in their shortest round-trip form, so
//! every face prints the same bytes for the same values.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value as Json;

use super::ApiError;
use super::json_out::JsonOut;
use super::request::{OnlineRequest, PredictRequest, Source};
use crate::online::{FeatureValue, Layered, Predictor, SnapshotRead};
use crate::pipeline::{PredictionView, Scratch};
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

/// A prediction's members, in sorted key order among the answer's others:
/// `classes` (before `entity`), then `label` and `probabilities` (after
/// `features`), or `value` (last).
struct PredictionOut<'a>(PredictionView<'a>);

impl PredictionOut<'_> {
    /// `"classes":[…],` for a classifier, nothing for a regressor.
    fn classes(&self, out: &mut JsonOut) {
        if let PredictionView::Classes { classes, .. } = self.0 {
            out.key_name("classes");
            out.raw("[");
            for (i, c) in classes.iter().enumerate() {
                out.comma(i);
                out.value(c);
            }
            out.raw("],");
        }
    }

    /// `,"label":…,"probabilities":[…]` for a classifier, nothing for a regressor.
    fn label(&self, out: &mut JsonOut) {
        if let PredictionView::Classes {
            classes,
            probabilities,
            label,
        } = self.0
        {
            out.raw(",");
            out.key_name("label");
            match classes.get(label) {
                Some(c) => out.value(c),
                None => out.raw("null"),
            }
            out.raw(",");
            out.key_name("probabilities");
            out.raw("[");
            for (i, p) in probabilities.iter().enumerate() {
                out.comma(i);
                out.float(*p);
            }
            out.raw("]");
        }
    }

    /// `,"value":x` for a regressor, nothing for a classifier.
    fn value(&self, out: &mut JsonOut) {
        if let PredictionView::Value(v) = self.0 {
            out.raw(",");
            out.key_name("value");
            out.float(v);
        }
    }
}

/// One element of `predictions`: `{classes?, entity, error?, features?,
/// label?, probabilities?, value?}`.
fn prediction_item(
    out: &mut JsonOut,
    predictor: &Predictor,
    keys: &[KeyPart],
    row: usize,
    answer: Result<(Vec<FeatureValue>, Result<PredictionView<'_>, String>), String>,
) {
    let contents = predictor.bundle().contents();
    out.raw("{");
    let prediction = match &answer {
        Ok((_, Ok(p))) => Some(PredictionOut(*p)),
        _ => None,
    };
    if let Some(p) = &prediction {
        p.classes(out);
    }
    out.key_name("entity");
    out.raw("{");
    // Members sorted by name, as serde_json's map prints them.
    let order = &predictor.pair_text().entity_order;
    // `keys` holds one part per entity key, in the bundle's order.
    let members = order
        .iter()
        .filter_map(|&k| Some((contents.entity_keys.get(k)?, keys.get(k)?)));
    for (i, (key, part)) in members.enumerate() {
        out.comma(i);
        out.key_name(&key.name);
        out.key(part);
    }
    out.raw("}");
    let message = match &answer {
        Err(m) | Ok((_, Err(m))) => Some(m),
        Ok((_, Ok(_))) => None,
    };
    if let Some(message) = message {
        out.raw(",");
        out.key_name("error");
        out.string(&format!("row {row}: no prediction: {message}"));
    }
    if let Ok((features, _)) = &answer {
        out.raw(",");
        out.key_name("features");
        column(out, features);
    }
    if let Some(p) = &prediction {
        p.label(out);
        p.value(out);
    }
    out.raw("}");
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
    let text = predictor.pair_text();
    let head = text.predict_head.as_deref().unwrap_or_default();
    // Per row: the entity, three members per feature (a time, a status and
    // a value) and the prediction; sized so a one-entity answer never regrows.
    let per_row = 160 + contents.features.len() * 64;
    let mut out = JsonOut::with_capacity(head.len() + text.predict_tail.len() + rows.len * per_row);
    out.raw(head);
    // One set of buffers for every row: the model's inputs and its stages'.
    let mut values: Vec<Value> = Vec::with_capacity(contents.features.len());
    let mut scratch = Scratch::new();
    for i in 0..rows.len {
        let keys = rows.bundle_keys(predictor, i)?;
        // A row the arithmetic cannot answer (Error::Eval) fails alone: the others
        // were answered and are still right. Any other error is the request's
        // (a wrong type, a bad key) or verge's, and fails the batch as before.
        let answer = match predictor.read(&keys, &rows.request_row(i), now) {
            Ok(features) => {
                values.clear();
                values.extend(features.iter().map(|f| f.value.clone()));
                match model.pipeline.predict_into(&values, &mut scratch) {
                    Ok(prediction) => Ok((features, Ok(prediction))),
                    Err(Error::Eval(message)) => Ok((features, Err(message))),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Error::Eval(message)) => Err(message),
            Err(e) => return Err(e.into()),
        };
        out.comma(i);
        prediction_item(&mut out, predictor, &keys, i, answer);
    }
    out.raw(&text.predict_tail);
    Ok(out.into_bytes())
}
