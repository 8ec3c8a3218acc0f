//! The browser package: `Runtime`, a wasm-bindgen class over the core.
//!
//! Pages load a bundle (and usually a snapshot) from bytes they fetched, then ask
//! for predictions, online features, or a score of values they already hold.
//! `addBundle` adds more bundles over the same snapshot — other models, feature
//! bundles of other services — and requests then name the one they want, as
//! they do over HTTP (`model`, `feature_service`):
//!
//! ```js
//! import init, { Runtime } from "./verge_wasm.js";
//! await init();
//! const rt = Runtime.load(bundleBytes, snapshotBytes);
//! const answer = rt.predict({ hospital_number: 530101 }); // POST /predict's answer
//! const p = answer.predictions[0];
//! console.log(p.label, p.probabilities, p.features.statuses);
//! // Only artifacts signed by a known key (signatures from manifest.json):
//! const trusted = Runtime.load(bundleBytes, snapshotBytes, {
//!   publicKey, bundleSignature: m.bundle_signature, snapshotSignature: m.snapshot_signature,
//! });
//! // A deployment: a second model and another service's features, one snapshot.
//! rt.addBundle(otherModelBytes);
//! rt.addBundle(vitalsBundleBytes);
//! rt.predict({ hospital_number: 530101 }, undefined, undefined, "gbm");
//! rt.getOnlineFeatures({ feature_service: "vitals", entities: { hospital_number: [530101] } });
//! ```
//!
//! Every answer is the JSON the HTTP API gives (`docs/http.md`), produced by
//! the core ([`verge_core::api::Api`], [`verge_core::api::score_json`],
//! [`verge_core::api::model_info`], [`verge_core::api::version`]) and handed
//! unchanged to `JSON.parse`, so a page sees exactly what the worker and
//! `verge serve` would send: one implementation, no browser-only variant to
//! drift. Loading and pairing is the layer the raw ABI shares
//! ([`crate::loaded`]); [`types`] holds the TypeScript shapes and `convert`
//! the crossings between JavaScript and JSON. Every failure —
//! bad bytes, a bad request, a missing snapshot — becomes a JS exception carrying
//! the core's message; nothing here panics (a panic would abort the instance).
//!
//! The package is built by `wasm/build-browser.sh` into `target/verge-browser-pkg/`.

mod convert;
pub mod types;

use js_sys::Uint8Array;
use serde_json::{Map, Value as Json, json};
use verge_core::api::{Api, key_to_json, score_json};
use verge_core::artifact::ArtifactKind;
use wasm_bindgen::prelude::*;

use crate::loaded::{self, Loaded};
use convert::{Trust, answer, from_js, js_error, read_now, to_body, to_js};
use types::{
    EntityRowArg, EntityRows, HttpAnswerValue, LimitsArg, LoadOptionsArg, ModelInfoValue, NowArg,
    OnlineFeaturesRequestArg, OnlineFeaturesResponseValue, OptionalBytes, PredictResponseValue,
    RequestRowArg, ScoreArg, ScoreResultValue, VersionInfoValue,
};

/// A loaded deployment: one or more bundles and, usually, a snapshot of
/// online features they all read.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Runtime {
    /// Always holds a bundle (the first is the one `describe` and `keys`
    /// use); paired into an API when a snapshot was given.
    loaded: Loaded,
}

const NO_SNAPSHOT: &str = "this runtime was loaded without a snapshot, so it has no online features: \
pass snapshot bytes to Runtime.load, or use score() with feature values you already have";

impl Runtime {
    /// The bundle `score` runs: the named model of the deployment, or the
    /// first bundle. Without a snapshot nothing is paired, so only the first
    /// bundle can be named.
    fn scoring_bundle(
        &self,
        model: Option<&str>,
    ) -> Result<&verge_core::artifact::Bundle, JsError> {
        let first = self.loaded.bundle().ok_or_else(|| js_error(NO_BUNDLE))?;
        let Some(name) = model else {
            return Ok(first);
        };
        // Scoring needs no snapshot: any loaded bundle of that model scores.
        let bundles = self.loaded.bundles();
        bundles
            .iter()
            .find(|b| b.contents().model_name() == Some(name))
            .ok_or_else(|| {
                let models: Vec<&str> = bundles
                    .iter()
                    .filter_map(|b| b.contents().model_name())
                    .collect();
                js_error(format!(
                    "unknown model `{name}`; loaded: {}",
                    models.join(", ")
                ))
            })
    }

    fn api(&self) -> Result<&Api, JsError> {
        self.loaded.api().ok_or_else(|| js_error(NO_SNAPSHOT))
    }

    /// One JS row of name → value as a one-row column object for the API.
    fn columns(json: Json, what: &str) -> Result<Map<String, Json>, JsError> {
        match json {
            Json::Object(map) => Ok(map
                .into_iter()
                .map(|(k, v)| (k, Json::Array(vec![v])))
                .collect()),
            _ => Err(js_error(format!(
                "{what} must be an object of name → value, e.g. {{\"hospital_number\": 530101}}"
            ))),
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
        let bundle = loaded::bundle(bundle).map_err(|e| js_error(e.to_string()))?;
        trust.check(ArtifactKind::Bundle, bundle.id())?;
        let mut loaded = Loaded::default();
        loaded
            .set_bundle(bundle)
            .map_err(|e| js_error(e.to_string()))?;
        let snapshot: JsValue = snapshot.into();
        if snapshot.is_undefined() || snapshot.is_null() {
            return Ok(Runtime { loaded });
        }
        let bytes = snapshot
            .dyn_ref::<Uint8Array>()
            .ok_or_else(|| js_error("the snapshot must be a Uint8Array"))?
            .to_vec();
        let snapshot = loaded::snapshot(bytes).map_err(|e| js_error(e.to_string()))?;
        trust.check(ArtifactKind::Snapshot, snapshot.id())?;
        loaded
            .set_snapshot(snapshot)
            .map_err(|e| js_error(e.to_string()))?;
        Ok(Runtime { loaded })
    }

    /// Adds a bundle over the runtime's snapshot (all bundles read the one
    /// snapshot): another model, or the feature bundle of another service. It takes the place of a loaded
    /// bundle of the same model (or, for a feature bundle, the same service);
    /// requests then pick a bundle by `model` (`predict`'s last argument) or
    /// `feature_service`, and `version` lists every bundle. With
    /// `options.publicKey`, `options.bundleSignature` must verify this bundle.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the core's message when the bundle is damaged or
    /// unsigned (given a public key), when the snapshot does not fit it, or
    /// when a request could not tell it from a loaded one; the runtime then
    /// keeps what it had.
    #[wasm_bindgen(js_name = addBundle)]
    pub fn add_bundle(&mut self, bundle: &[u8], options: LoadOptionsArg) -> Result<(), JsError> {
        let trust = Trust::read(&options.into())?;
        let bundle = loaded::bundle(bundle).map_err(|e| js_error(e.to_string()))?;
        trust.check(ArtifactKind::Bundle, bundle.id())?;
        self.loaded
            .add_bundle(bundle)
            .map_err(|e| js_error(e.to_string()))
    }

    /// Layers a delta snapshot over the loaded snapshot (and the deltas added
    /// before it): a published chain's `deltas`, oldest first. Per key the
    /// newest row `(event_ts, created_ts)` of any layer answers, the later
    /// layer on a tie (docs/publish.md, "Delta snapshots"). With
    /// `options.publicKey`, `options.snapshotSignature` must verify this delta.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the core's message when the delta is damaged or
    /// unsigned (given a public key), when no snapshot is loaded, or when it
    /// is of another shard or holds a view the snapshot does not hold in that
    /// shape; the runtime then keeps what it had.
    #[wasm_bindgen(js_name = addDelta)]
    pub fn add_delta(&mut self, delta: &[u8], options: LoadOptionsArg) -> Result<(), JsError> {
        let trust = Trust::read(&options.into())?;
        let delta = loaded::snapshot(delta.to_vec()).map_err(|e| js_error(e.to_string()))?;
        trust.check(ArtifactKind::Snapshot, delta.id())?;
        self.loaded
            .add_delta(delta)
            .map_err(|e| js_error(e.to_string()))
    }

    /// Whether a snapshot is loaded (`predict` and `getOnlineFeatures` need one).
    #[wasm_bindgen(getter, js_name = hasSnapshot)]
    pub fn has_snapshot(&self) -> bool {
        self.loaded.api().is_some()
    }

    /// Predicts for one entity: reads its features at `now` (default: the clock),
    /// computes on-demand features from `request`, runs the model.
    ///
    /// Returns the `POST /predict` answer for that one entity, unchanged: the
    /// ids and `feature_names`, and `predictions` with exactly one element.
    /// `model` is the body's `model`: which loaded model answers, needed only
    /// when `addBundle` loaded several.
    ///
    /// # Errors
    ///
    /// A JS `Error` with the API's message for a bad entity, request or time,
    /// an unknown model or none named among several, and when no snapshot is
    /// loaded.
    pub fn predict(
        &self,
        entity: EntityRowArg,
        request: RequestRowArg,
        now: NowArg,
        model: Option<String>,
    ) -> Result<PredictResponseValue, JsError> {
        let api = self.api()?;
        let now = read_now(&now.into())?;
        let entities = Self::columns(from_js(&entity.into(), "the entity")?, "the entity")?;
        let request: JsValue = request.into();
        let mut body = json!({ "entities": entities });
        if !request.is_undefined() && !request.is_null() {
            let what = "the request data";
            body["request_context"] = Json::Object(Self::columns(from_js(&request, what)?, what)?);
        }
        if let Some(model) = model {
            body["model"] = Json::String(model);
        }
        let body = to_body(&body, "the request")?;
        Ok(answer(api.handle("POST", "/predict", &body, now))?.unchecked_into())
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
        let body = to_body(&from_js(&request.into(), "the request")?, "the request")?;
        Ok(answer(api.handle("POST", "/get-online-features", &body, now))?.unchecked_into())
    }

    /// The HTTP API on the page, text in and text out: `method` and `path`
    /// as `verge serve` takes them (`POST /get-online-features`, `POST
    /// /predict`, `GET /version`, ...), `body` the request's JSON text. The
    /// answer is `{ status, body }`: the status `verge serve` would send and
    /// its body text byte for byte, errors included, so a JavaScript or
    /// TypeScript Worker answers exactly as the Rust one. It also keeps what
    /// parsed answers lose: an int64 beyond ±2^53 survives here, while
    /// [`Runtime::get_online_features`] and [`Runtime::predict`] round it to
    /// the nearest double, as `JSON.parse` does.
    ///
    /// # Errors
    ///
    /// A JS `Error` when no snapshot is loaded or `now` is not a time; an API
    /// error is an answer with its 4xx status, not a throw.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        body: &str,
        now: NowArg,
    ) -> Result<HttpAnswerValue, JsError> {
        let api = self.api()?;
        let now = read_now(&now.into())?;
        let response = api.handle(method, path, body.as_bytes(), now);
        let text = String::from_utf8(response.body)
            .map_err(|_| js_error(String::from("internal: the answer is not UTF-8")))?;
        let answer = js_sys::Object::new();
        let set = |key: &str, value: JsValue| js_sys::Reflect::set(&answer, &key.into(), &value);
        set("status", JsValue::from(response.status))
            .and_then(|_| set("body", JsValue::from(text)))
            .map_err(|_| js_error(String::from("internal: cannot build the answer")))?;
        Ok(answer.unchecked_into())
    }

    /// Sets the request limits (`verge serve --max-*`'s counterparts,
    /// `docs/http.md`): `{maxBodyBytes, maxEntities, maxCells}`, each
    /// optional (a left-out one keeps its value). Requests over them are
    /// refused with the API's 413 message, as on every face.
    ///
    /// # Errors
    ///
    /// A JS `Error` for a limit that is not a positive whole number.
    #[wasm_bindgen(js_name = setLimits)]
    pub fn set_limits(&mut self, limits: LimitsArg) -> Result<(), JsError> {
        let json = from_js(&limits.into(), "the limits")?;
        let mut next = self.loaded.limits();
        for (field, slot) in [
            ("maxBodyBytes", &mut next.max_body_bytes),
            ("maxEntities", &mut next.max_entities),
            ("maxCells", &mut next.max_cells),
        ] {
            match &json[field] {
                Json::Null => {}
                value => {
                    *slot = value
                        .as_u64()
                        .filter(|n| *n > 0)
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| {
                            js_error(format!(
                                "limits.{field} must be a positive whole number; found {value}"
                            ))
                        })?;
                }
            }
        }
        self.loaded.set_limits(next);
        Ok(())
    }

    /// Runs the model on feature values the page already has: an array in service
    /// order, or an object keyed by `view:field` (or a bare field name when
    /// unambiguous; left-out features are missing and imputed). Works without a
    /// snapshot. `model` picks one of the models loaded (`Runtime.load`'s or
    /// one `addBundle` added, snapshot or not); without it the first bundle
    /// scores.
    ///
    /// # Errors
    ///
    /// A JS `Error` for a wrong count, an unknown feature or a value of the
    /// wrong type, and for an unknown model.
    pub fn score(
        &self,
        features: ScoreArg,
        model: Option<String>,
    ) -> Result<ScoreResultValue, JsError> {
        let body = to_body(&from_js(&features.into(), "the features")?, "the features")?;
        let bundle = self.scoring_bundle(model.as_deref())?;
        let bytes = score_json(bundle, &body).map_err(|e| js_error(e.message))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// `GET /version`: model, bundle, snapshot and registry ids, the first
    /// bundle's at the top and every bundle under `bundles` (the snapshot
    /// fields are null without a snapshot).
    ///
    /// # Errors
    ///
    /// Only if the answer cannot be parsed (a bug).
    pub fn version(&self) -> Result<VersionInfoValue, JsError> {
        let bytes = self.loaded.version().ok_or_else(|| js_error(NO_BUNDLE))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// What the first bundle (the one `Runtime.load` took) expects and
    /// returns — the core's model info, the same
    /// JSON as the raw ABI's `verge_model_info`: join keys, request fields,
    /// features (service order, with types), classes — enough to build a form.
    ///
    /// # Errors
    ///
    /// Only if the answer cannot be parsed (a bug).
    pub fn describe(&self) -> Result<ModelInfoValue, JsError> {
        let bytes = self
            .loaded
            .model_info()
            .ok_or_else(|| js_error(NO_BUNDLE))?;
        Ok(to_js(&bytes)?.unchecked_into())
    }

    /// Entity rows present in the snapshot (join key name → value), from the table
    /// of the first bundle's first view, in snapshot order, at most `limit` of them
    /// (default 1000) — for pickers and demos.
    ///
    /// # Errors
    ///
    /// A JS `Error` when no snapshot is loaded.
    pub fn keys(&self, limit: Option<u32>) -> Result<EntityRows, JsError> {
        let predictor = self.api()?.predictor();
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
                    .map(|(k, part)| (k.name.clone(), key_to_json(part)))
                    .collect();
                rows.push(Json::Object(entity));
            }
        }
        let bytes = to_body(&Json::Array(rows), "the keys")?;
        Ok(to_js(&bytes)?.unchecked_into())
    }
}

/// A runtime always holds a bundle (`load` refuses without one); this is the
/// message should that ever not hold, instead of a panic.
const NO_BUNDLE: &str = "internal: the runtime holds no bundle";
