//! The browser package: `Runtime`, a wasm-bindgen class over the core.
//!
//! Pages load a bundle (and usually a snapshot) from bytes they fetched, then ask
//! for predictions, online features, or a score of values they already hold:
//!
//! ```js
//! import init, { Runtime } from "./verge_wasm.js";
//! await init();
//! const rt = Runtime.load(bundleBytes, snapshotBytes);
//! const p = rt.predict({ hospital_number: 530101 });
//! console.log(p.label, p.probabilities, p.features.statuses);
//! // Only artifacts signed by a known key (signatures from manifest.json):
//! const trusted = Runtime.load(bundleBytes, snapshotBytes, {
//!   publicKey, bundleSignature: m.bundle_signature, snapshotSignature: m.snapshot_signature,
//! });
//! ```
//!
//! Every answer is the JSON the HTTP API gives (`docs/http.md`), produced by
//! [`verge_core::api::Api`] (or [`verge_core::api::score_json`]) and handed to
//! `JSON.parse`, so a page sees exactly what the worker and `verge serve` would
//! send: one implementation, no browser-only variant to drift. Every failure —
//! bad bytes, a bad request, a missing snapshot — becomes a JS exception carrying
//! the core's message; nothing here panics (a panic would abort the instance).
//!
//! The package is built by `wasm/build-browser.sh` into `target/verge-browser-pkg/`.

use js_sys::{Date, JSON};
use serde_json::{Map, Value as Json, json};
use verge_core::Timestamp;
use verge_core::api::{Api, Limits, Response, score_json};
use verge_core::artifact::signature::{PublicKey, Signature};
use verge_core::artifact::{ArtifactKind, Bundle, FORMAT_VERSION, ServiceFeature, Snapshot};
use verge_core::online::Predictor;
use verge_core::value::KeyPart;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A JSON scalar as the HTTP API prints it. */
export type JsonScalar = number | string | boolean | null;

/** Feast's feature statuses. */
export type FeatureStatus = "PRESENT" | "NULL_VALUE" | "NOT_FOUND" | "OUTSIDE_MAX_AGE";

/** One column of values with their statuses and event times (RFC 3339). */
export interface FeatureColumn {
  values: JsonScalar[];
  statuses: FeatureStatus[];
  event_timestamps: string[];
}

/** Join key name → value, e.g. `{ hospital_number: 530101 }`. */
export type EntityRow = Record<string, number | string>;

/** Request field name → value, for on-demand features. */
export type RequestRow = Record<string, JsonScalar>;

/** A classifier answers label, classes and probabilities; a regressor answers value. */
export interface PredictionFields {
  label?: JsonScalar;
  classes?: JsonScalar[];
  probabilities?: number[];
  value?: number | null;
}

/** `Runtime.predict`: one element of `POST /predict`'s `predictions`, plus ids. */
export interface PredictionResult extends PredictionFields {
  entity: EntityRow;
  /** The service's features in service order, as read and computed. */
  features: FeatureColumn;
  model: string;
  bundle_id: string;
  snapshot_id: string;
  registry_id: string;
  /** `view:field` of each feature, in service order. */
  feature_names: string[];
}

/** `Runtime.score`: the prediction fields of `POST /predict` plus ids. */
export interface ScoreResult extends PredictionFields {
  model: string;
  bundle_id: string;
  registry_id: string;
  feature_names: string[];
}

/** `POST /get-online-features` request (Feast's shape). */
export interface OnlineFeaturesRequest {
  /** `"view:field"` references; or give `feature_service`. */
  features?: string[];
  feature_service?: string;
  /** Join key → one value per entity row. */
  entities: Record<string, (number | string)[]>;
  /** Request field → one value per entity row. */
  request_context?: Record<string, JsonScalar[]>;
  full_feature_names?: boolean;
  /** Read time (RFC 3339); defaults to the clock. */
  now?: string;
}

/** `POST /get-online-features` response (Feast's shape). */
export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureColumn[];
}

/** `Runtime.version`: `GET /version`; snapshot fields are absent without a snapshot. */
export interface VersionInfo {
  model: string;
  feature_service: string;
  bundle_id: string;
  registry_id: string;
  snapshot_id?: string;
  snapshot_registry_id?: string;
  snapshot_window_end?: string;
  format_version: number;
  verge_version: string;
}

/** A named, typed field. */
export interface FieldInfo { name: string; dtype: string; }

/**
 * Options of `Runtime.load`. With `publicKey`, both artifacts must carry
 * signatures made by that key (`verge publish --sign-key`), or loading throws.
 */
export interface LoadOptions {
  /** ed25519 public key, 64 hex digits (as `verge keygen` prints it). */
  publicKey?: string;
  /** The bundle's signature, 128 hex digits (`bundle_signature` in manifest.json, or `bundles/<id>.sig`). */
  bundleSignature?: string;
  /** The snapshot's signature, 128 hex digits (`snapshot_signature` in manifest.json). */
  snapshotSignature?: string;
}

/** `Runtime.describe`: what the bundle expects and returns. */
export interface ModelInfo {
  model: string;
  feature_service: string;
  entity_keys: FieldInfo[];
  request: FieldInfo[];
  features: FieldInfo[];
  classes: JsonScalar[] | null;
  has_snapshot: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// A `Uint8Array` or nothing.
    #[wasm_bindgen(typescript_type = "Uint8Array | undefined | null")]
    pub type OptionalBytes;
    /// `LoadOptions | undefined | null`.
    #[wasm_bindgen(typescript_type = "LoadOptions | undefined | null")]
    pub type LoadOptionsArg;
    /// `EntityRow`.
    #[wasm_bindgen(typescript_type = "EntityRow")]
    pub type EntityRowArg;
    /// `RequestRow | undefined | null`.
    #[wasm_bindgen(typescript_type = "RequestRow | undefined | null")]
    pub type RequestRowArg;
    /// A read time.
    #[wasm_bindgen(typescript_type = "Date | string | number | undefined | null")]
    pub type NowArg;
    /// `OnlineFeaturesRequest`.
    #[wasm_bindgen(typescript_type = "OnlineFeaturesRequest")]
    pub type OnlineFeaturesRequestArg;
    /// Feature values.
    #[wasm_bindgen(typescript_type = "JsonScalar[] | Record<string, JsonScalar>")]
    pub type ScoreArg;
    /// `PredictionResult`.
    #[wasm_bindgen(typescript_type = "PredictionResult")]
    pub type PredictionResultValue;
    /// `OnlineFeaturesResponse`.
    #[wasm_bindgen(typescript_type = "OnlineFeaturesResponse")]
    pub type OnlineFeaturesResponseValue;
    /// `ScoreResult`.
    #[wasm_bindgen(typescript_type = "ScoreResult")]
    pub type ScoreResultValue;
    /// `VersionInfo`.
    #[wasm_bindgen(typescript_type = "VersionInfo")]
    pub type VersionInfoValue;
    /// `ModelInfo`.
    #[wasm_bindgen(typescript_type = "ModelInfo")]
    pub type ModelInfoValue;
    /// `EntityRow[]`.
    #[wasm_bindgen(typescript_type = "EntityRow[]")]
    pub type EntityRows;
}

/// What a runtime holds: a bundle paired with a snapshot, or a bundle alone.
#[derive(Debug)]
enum Loaded {
    /// Everything works.
    Paired(Api),
    /// Only `score`, `describe` and `version` work.
    BundleOnly(Bundle),
}

/// A loaded model: a bundle and, usually, a snapshot of online features.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Runtime {
    loaded: Loaded,
}

/// Formats any error as the `JsError` pages see.
fn js_error(message: impl AsRef<str>) -> JsError {
    JsError::new(message.as_ref())
}

/// JSON text → JS value, through the browser's own `JSON.parse`.
fn to_js(bytes: &[u8]) -> Result<JsValue, JsError> {
    let text = core::str::from_utf8(bytes)
        .map_err(|_| js_error("internal: the core answered with invalid UTF-8"))?;
    JSON::parse(text).map_err(|e| js_error(format!("internal: JSON.parse failed: {e:?}")))
}

/// JS value → JSON, through the browser's own `JSON.stringify`, so whatever a page
/// passes is read exactly as `fetch(..., {body: JSON.stringify(x)})` would send it.
fn from_js(value: &JsValue, what: &str) -> Result<Json, JsError> {
    if value.is_undefined() {
        return Err(js_error(format!("{what} is missing")));
    }
    let text = JSON::stringify(value)
        .map_err(|e| js_error(format!("{what} cannot be turned into JSON: {e:?}")))?;
    let text = text
        .as_string()
        .ok_or_else(|| js_error(format!("{what} cannot be turned into JSON")))?;
    serde_json::from_str(&text).map_err(|e| js_error(format!("{what} is not valid JSON: {e}")))
}

/// The API's answer, or its error message as an exception.
fn answer(response: Response) -> Result<JsValue, JsError> {
    if response.status == 200 {
        return to_js(&response.body);
    }
    Err(js_error(error_message(&response)))
}

/// The `message` of an API error body (the whole body if it has none).
fn error_message(response: &Response) -> String {
    serde_json::from_slice::<Json>(&response.body)
        .ok()
        .and_then(|j| j["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&response.body).into_owned())
}

/// Reads `now`: a `Date`, milliseconds since the epoch, RFC 3339 text, or the clock.
fn read_now(now: &JsValue) -> Result<Timestamp, JsError> {
    if now.is_undefined() || now.is_null() {
        return millis_to_timestamp(Date::now());
    }
    if let Some(date) = now.dyn_ref::<Date>() {
        return millis_to_timestamp(date.get_time());
    }
    if let Some(ms) = now.as_f64() {
        return millis_to_timestamp(ms);
    }
    if let Some(text) = now.as_string() {
        return Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            js_error(format!(
                "`now` is not an RFC 3339 time: {text:?} (e.g. \"2021-07-05T12:00:00Z\")"
            ))
        });
    }
    Err(js_error(
        "`now` must be a Date, milliseconds since the epoch, or an RFC 3339 string",
    ))
}

fn millis_to_timestamp(ms: f64) -> Result<Timestamp, JsError> {
    // ±8.64e15 ms is the range of a JS Date; in µs it fits an i64 with room to spare.
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Err(js_error(format!("`now` is not a valid time: {ms}")));
    }
    Ok(Timestamp((ms * 1000.0).round() as i64))
}

/// What `Runtime.load`'s options ask to be verified.
struct Trust {
    key: Option<PublicKey>,
    bundle: Option<Signature>,
    snapshot: Option<Signature>,
}

impl Trust {
    /// Reads `LoadOptions` (absent: nothing to verify).
    fn read(options: &JsValue) -> Result<Trust, JsError> {
        if options.is_undefined() || options.is_null() {
            return Ok(Trust {
                key: None,
                bundle: None,
                snapshot: None,
            });
        }
        let options = from_js(options, "the load options")?;
        let text = |field: &str| -> Result<Option<String>, JsError> {
            match &options[field] {
                Json::Null => Ok(None),
                Json::String(s) => Ok(Some(s.clone())),
                other => Err(js_error(format!(
                    "options.{field} must be a hex string; found {other}"
                ))),
            }
        };
        let signature = |field: &str| -> Result<Option<Signature>, JsError> {
            text(field)?
                .map(|t| {
                    Signature::parse_hex(&t).ok_or_else(|| {
                        js_error(format!(
                            "options.{field} must be 128 hex digits (an ed25519 signature)"
                        ))
                    })
                })
                .transpose()
        };
        let key = text("publicKey")?
            .map(|t| {
                PublicKey::parse_hex(&t).ok_or_else(|| {
                    js_error(
                        "options.publicKey must be 64 hex digits of an ed25519 public key (as `verge keygen` prints it)",
                    )
                })
            })
            .transpose()?;
        Ok(Trust {
            key,
            bundle: signature("bundleSignature")?,
            snapshot: signature("snapshotSignature")?,
        })
    }

    /// With a public key, the artifact `id` of `kind` must be signed by it.
    fn check(&self, kind: ArtifactKind, id: verge_core::ContentId) -> Result<(), JsError> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        let signature = match kind {
            ArtifactKind::Snapshot => self.snapshot.as_ref(),
            _ => self.bundle.as_ref(),
        };
        key.verify(kind, id, signature)
            .map_err(|e| js_error(e.to_string()))
    }
}

const NO_SNAPSHOT: &str = "this runtime was loaded without a snapshot, so it has no online features: \
pass snapshot bytes to Runtime.load, or use score() with feature values you already have";

impl Runtime {
    fn api(&self) -> Result<&Api, JsError> {
        match &self.loaded {
            Loaded::Paired(api) => Ok(api),
            Loaded::BundleOnly(_) => Err(js_error(NO_SNAPSHOT)),
        }
    }

    fn bundle(&self) -> &Bundle {
        match &self.loaded {
            Loaded::Paired(api) => api.predictor().bundle(),
            Loaded::BundleOnly(bundle) => bundle,
        }
    }
}

#[wasm_bindgen]
impl Runtime {
    /// Loads a bundle and, optionally, a snapshot (or one shard of one).
    ///
    /// Both are checked before use: magic, format version, content hash, and that
    /// the snapshot holds every view the bundle reads, with the same shape. With
    /// `options.publicKey`, each artifact's signature (`options.bundleSignature`,
    /// `options.snapshotSignature`) must also verify with that key.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the core's message when either artifact is damaged,
    /// unsigned or signed by another key (given a public key), or they do not
    /// fit each other.
    pub fn load(
        bundle: &[u8],
        snapshot: OptionalBytes,
        options: LoadOptionsArg,
    ) -> Result<Runtime, JsError> {
        let trust = Trust::read(&options.into())?;
        let bundle =
            Bundle::load(bundle).map_err(|e| js_error(format!("cannot load the bundle: {e}")))?;
        trust.check(ArtifactKind::Bundle, bundle.id())?;
        let snapshot: JsValue = snapshot.into();
        if snapshot.is_undefined() || snapshot.is_null() {
            return Ok(Runtime {
                loaded: Loaded::BundleOnly(bundle),
            });
        }
        let bytes = snapshot
            .dyn_ref::<js_sys::Uint8Array>()
            .ok_or_else(|| js_error("the snapshot must be a Uint8Array"))?
            .to_vec();
        let snapshot = Snapshot::load(bytes)
            .map_err(|e| js_error(format!("cannot load the snapshot: {e}")))?;
        trust.check(ArtifactKind::Snapshot, snapshot.id())?;
        let predictor = Predictor::new(bundle, snapshot).map_err(|e| {
            js_error(format!(
                "the bundle and the snapshot do not fit each other: {e}"
            ))
        })?;
        Ok(Runtime {
            loaded: Loaded::Paired(Api::new(predictor, Limits::default())),
        })
    }

    /// Whether a snapshot is loaded (`predict` and `getOnlineFeatures` need one).
    #[wasm_bindgen(getter, js_name = hasSnapshot)]
    pub fn has_snapshot(&self) -> bool {
        matches!(self.loaded, Loaded::Paired(_))
    }

    /// Predicts for one entity: reads its features at `now` (default: the clock),
    /// computes on-demand features from `request`, runs the model.
    ///
    /// Returns one element of `POST /predict`'s `predictions` plus `model`,
    /// `bundle_id`, `snapshot_id`, `registry_id` and `feature_names`.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the API's message for a bad entity, request or time, and
    /// when no snapshot is loaded.
    pub fn predict(
        &self,
        entity: EntityRowArg,
        request: RequestRowArg,
        now: NowArg,
    ) -> Result<PredictionResultValue, JsError> {
        let api = self.api()?;
        let now = read_now(&now.into())?;
        let columns = |json: Json, what: &str| -> Result<Map<String, Json>, JsError> {
            match json {
                Json::Object(map) => Ok(map
                    .into_iter()
                    .map(|(k, v)| (k, Json::Array(vec![v])))
                    .collect()),
                _ => Err(js_error(format!(
                    "{what} must be an object of name → value, e.g. {{\"hospital_number\": 530101}}"
                ))),
            }
        };
        let entities = columns(from_js(&entity.into(), "the entity")?, "the entity")?;
        let request: JsValue = request.into();
        let mut body = json!({ "entities": entities });
        if !request.is_undefined() && !request.is_null() {
            body["request_context"] = Json::Object(columns(
                from_js(&request, "the request data")?,
                "the request data",
            )?);
        }
        let body = serde_json::to_vec(&body)
            .map_err(|e| js_error(format!("internal: cannot encode the request: {e}")))?;
        let response = api.handle("POST", "/predict", &body, now);
        if response.status != 200 {
            return Err(js_error(error_message(&response)));
        }
        let Ok(Json::Object(mut all)) = serde_json::from_slice::<Json>(&response.body) else {
            return Err(js_error("internal: /predict answered with a non-object"));
        };
        let Some(Json::Object(mut out)) = all
            .get_mut("predictions")
            .and_then(|p| p.as_array_mut())
            .and_then(|p| p.pop())
        else {
            return Err(js_error("internal: /predict answered without a prediction"));
        };
        for key in [
            "model",
            "bundle_id",
            "snapshot_id",
            "registry_id",
            "feature_names",
        ] {
            if let Some(v) = all.remove(key) {
                out.insert(key.into(), v);
            }
        }
        let bytes = serde_json::to_vec(&Json::Object(out))
            .map_err(|e| js_error(format!("internal: cannot encode the answer: {e}")))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// `POST /get-online-features`: Feast's request in, Feast's response out. The
    /// read time is `request.now` if given, else `now`, else the clock.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the API's message for a bad request, and when no snapshot
    /// is loaded.
    #[wasm_bindgen(js_name = getOnlineFeatures)]
    pub fn get_online_features(
        &self,
        request: OnlineFeaturesRequestArg,
        now: NowArg,
    ) -> Result<OnlineFeaturesResponseValue, JsError> {
        let api = self.api()?;
        let now = read_now(&now.into())?;
        let body = from_js(&request.into(), "the request")?;
        let body = serde_json::to_vec(&body)
            .map_err(|e| js_error(format!("internal: cannot encode the request: {e}")))?;
        Ok(answer(api.handle("POST", "/get-online-features", &body, now))?.unchecked_into())
    }

    /// Runs the model on feature values the page already has: an array in service
    /// order, or an object keyed by `view:field` (or a bare field name when
    /// unambiguous; left-out features are missing and imputed). Works without a
    /// snapshot.
    ///
    /// # Errors
    ///
    /// A JS `Error` for a wrong count, an unknown feature or a value of the wrong type.
    pub fn score(&self, features: ScoreArg) -> Result<ScoreResultValue, JsError> {
        let json = from_js(&features.into(), "the features")?;
        let body = serde_json::to_vec(&json)
            .map_err(|e| js_error(format!("internal: cannot encode the features: {e}")))?;
        let bytes = score_json(self.bundle(), &body).map_err(|e| js_error(e.message))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// `GET /version`: model, bundle, snapshot and registry ids. Without a
    /// snapshot, the snapshot fields are left out.
    ///
    /// # Errors
    ///
    /// Only if the answer cannot be encoded (a bug).
    pub fn version(&self) -> Result<VersionInfoValue, JsError> {
        let bytes = match &self.loaded {
            Loaded::Paired(api) => api.version(),
            Loaded::BundleOnly(bundle) => {
                let c = bundle.contents();
                serde_json::to_vec(&json!({
                    "model": c.model,
                    "feature_service": c.service,
                    "bundle_id": format!("{}", bundle.id()),
                    "registry_id": format!("{}", c.registry_id),
                    "format_version": FORMAT_VERSION,
                    "verge_version": env!("CARGO_PKG_VERSION"),
                }))
                .map_err(|e| js_error(format!("internal: {e}")))?
            }
        };
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// What the bundle expects and returns: join keys, request fields, features
    /// (service order, with types) and classes — enough to build a form.
    ///
    /// # Errors
    ///
    /// Only if the answer cannot be encoded (a bug).
    pub fn describe(&self) -> Result<ModelInfoValue, JsError> {
        let c = self.bundle().contents();
        let field =
            |name: &str, dtype: verge_core::DType| json!({"name": name, "dtype": dtype.name()});
        let features: Vec<Json> = c
            .features
            .iter()
            .map(|f| match f {
                ServiceFeature::View { name, dtype, .. }
                | ServiceFeature::OnDemand { name, dtype, .. } => field(name, *dtype),
            })
            .collect();
        let classes = c.pipeline.estimator().classes().map(|cs| {
            cs.iter()
                .map(verge_core::api::value_to_json)
                .collect::<Vec<_>>()
        });
        let body = json!({
            "model": c.model,
            "feature_service": c.service,
            "entity_keys": c.entity_keys.iter().map(|k| field(&k.name, k.dtype)).collect::<Vec<_>>(),
            "request": c.request.iter().map(|k| field(&k.name, k.dtype)).collect::<Vec<_>>(),
            "features": features,
            "classes": classes,
            "has_snapshot": self.has_snapshot(),
        });
        let bytes = serde_json::to_vec(&body).map_err(|e| js_error(format!("internal: {e}")))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// Entity rows present in the snapshot (join key name → value), from the table
    /// of the bundle's first view, in snapshot order, at most `limit` of them
    /// (default 1000) — for pickers and demos.
    ///
    /// # Errors
    ///
    /// A JS `Error` when no snapshot is loaded.
    pub fn keys(&self, limit: Option<u32>) -> Result<EntityRows, JsError> {
        let api = self.api()?;
        let predictor = api.predictor();
        let contents = predictor.bundle().contents();
        let snapshot = predictor.snapshot();
        let limit = limit.unwrap_or(1000) as usize;
        let mut rows = Vec::new();
        if let Some(view) = contents.views.first()
            && let Some(table) = snapshot.table_index(&view.name)
            && let Some(t) = snapshot.table(table)
        {
            for row in 0..t.rows().min(limit) {
                let Some(key) = snapshot.key(table, row) else {
                    continue;
                };
                let entity: Map<String, Json> = view
                    .join_keys
                    .iter()
                    .zip(key.parts())
                    .map(|(k, part)| {
                        let v = match part {
                            KeyPart::Int64(i) => Json::from(*i),
                            KeyPart::String(s) => Json::String(s.clone()),
                        };
                        (k.name.clone(), v)
                    })
                    .collect();
                rows.push(Json::Object(entity));
            }
        }
        let bytes = serde_json::to_vec(&Json::Array(rows))
            .map_err(|e| js_error(format!("internal: {e}")))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }
}
