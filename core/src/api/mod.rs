//! The HTTP API's JSON, in one place for every face.
//!
//! The Cloudflare Worker, the browser runtime, the raw Wasm ABI, `verge serve` and
//! the CLI all answer requests by calling [`Api::handle`] (or the functions under
//! it), so the same request gives byte-identical JSON everywhere. The shapes follow
//! Feast's feature server; `docs/http.md` documents them.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /get-online-features` | `features` or `feature_service`, `entities` | Feast's `metadata.feature_names` + `results[]` |
//! | `POST /predict` | `entities`, optional `request_context` | one prediction per entity |
//! | `GET /healthz` | — | `{"status":"ok"}` |
//! | `GET /version` | — | bundle, snapshot and registry ids |
//!
//! Errors are `{"error": {"status": N, "message": "..."}}` with status 400 for a
//! bad request, 404 for an unknown route, 405 for a wrong method, 413 for a body
//! or batch over the limits, 421 for a key another shard owns, and 500 for a
//! failure inside verge.

pub mod admin;
mod info;
mod json_out;
mod pair_text;
mod request;
mod response;
mod score;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::artifact::Snapshot;
use crate::online::{Deployment, Predictor};
use crate::{Error, Timestamp};

pub use info::{deployment_version, error_message, model_info, output_width, version};
pub(crate) use pair_text::PairText;
pub use request::{OnlineRequest, PredictRequest};
pub use response::{base64_of, bytes_from_base64, key_to_json, value_to_json};
pub use score::score_json;

/// Limits on what one request may ask for.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `max_body_bytes` | 1 MiB | larger bodies get 413 before parsing |
/// | `max_entities` | 1000 | more entity rows in one request get 413 |
/// | `max_cells` | 200,000 | more cells (entity rows × the join keys, features answered and model inputs read per row) get 413 |
///
/// `max_cells` bounds one request's working memory, which grows with cells
/// rather than rows (a few hundred bytes each, answer JSON included:
/// `bench/serve-memory/run` measures it); the default keeps a request far below
/// the 256 MiB at which `verge serve` recycles a Wasm instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most entity rows in one request.
    pub max_entities: usize,
    /// Most cells (entity rows × columns held per row) in one request.
    pub max_cells: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_entities: 1000,
            max_cells: 200_000,
        }
    }
}

/// An HTTP answer: a status code and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// JSON body (UTF-8).
    pub body: Vec<u8>,
}

/// A failed request: the status to answer with and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// A 400 with `message`.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    /// The error as a JSON response: `{"error":{"message":…,"status":…}}`.
    #[must_use]
    pub fn into_response(self) -> Response {
        let mut out = json_out::JsonOut::with_capacity(40 + self.message.len());
        out.raw(r#"{"error":{"message":"#);
        out.string(&self.message);
        out.raw(r#","status":"#);
        out.int(i64::from(self.status));
        out.raw("}}");
        Response {
            status: self.status,
            body: out.into_bytes(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::Request(_)
            | Error::Unknown { .. }
            | Error::Shape { .. }
            | Error::NoModel { .. } => 400,
            _ => 500,
        };
        ApiError {
            status,
            message: format!("{e}"),
        }
    }
}

/// `POST /get-online-features` against a snapshot alone, for callers without a
/// model bundle (`verge get-online-features --snapshot S --features ...`).
///
/// Same request shape and the same JSON as [`Api::handle`] gives for plain
/// snapshot features; `feature_service` and `request_context` need a bundle and
/// are refused with 400. `now` is the read time unless the body gives `"now"`.
///
/// # Examples
///
/// ```
/// use verge_core::api::{Limits, get_online_features_json};
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
/// use verge_core::definition::Field;
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
///
/// let mut view = ViewBuilder::new(
///     "vitals",
///     vec![Field::new("horse", DType::Int64)],
///     vec![Field::new("pulse", DType::Int64)],
///     Duration::ZERO,
///     false,
/// );
/// view.push_row(&EntityKey::single(KeyPart::Int64(7)), Timestamp::from_secs(0), None, &[Value::Int64(60)])?;
/// let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(0))
///     .with_view(view)
///     .finish()?;
/// let snapshot = Snapshot::load(bytes)?;
/// let body = br#"{"features": ["vitals:pulse"], "entities": {"horse": [7, 8]}}"#;
/// let answer = get_online_features_json(&snapshot, body, Timestamp::from_secs(0), Limits::default());
/// assert_eq!(answer.status, 200);
/// let text = String::from_utf8(answer.body).unwrap();
/// assert!(text.contains(r#""statuses":["PRESENT","NOT_FOUND"],"values":[60,null]"#), "{text}");
/// # Ok::<(), verge_core::Error>(())
/// ```
#[must_use]
pub fn get_online_features_json(
    snapshot: &Snapshot,
    body: &[u8],
    now: Timestamp,
    limits: Limits,
) -> Response {
    online_json(crate::online::Layered::One(snapshot), body, now, limits)
}

/// As [`get_online_features_json`], over a base snapshot and the deltas over
/// it: per key the newest row of any layer answers.
#[must_use]
pub fn get_online_features_layered_json(
    layers: &crate::online::Layers,
    body: &[u8],
    now: Timestamp,
    limits: Limits,
) -> Response {
    online_json(crate::online::Layered::Many(layers), body, now, limits)
}

fn online_json(
    layers: crate::online::Layered<'_>,
    body: &[u8],
    now: Timestamp,
    limits: Limits,
) -> Response {
    let result = if body.len() > limits.max_body_bytes {
        Err(ApiError {
            status: 413,
            message: format!(
                "request body is {} bytes; the limit is {}",
                body.len(),
                limits.max_body_bytes
            ),
        })
    } else {
        OnlineRequest::parse_for_layers(body, layers, limits).and_then(|request| {
            let now = request.now.unwrap_or(now);
            response::online_from(layers, None, &request, now)
        })
    };
    match result {
        Ok(body) => Response { status: 200, body },
        Err(e) => e.into_response(),
    }
}

/// The API over a deployment: one snapshot and the bundles served from it.
#[derive(Debug, Clone)]
pub struct Api {
    deployment: Deployment,
    limits: Limits,
}

impl Api {
    /// Serves one pair within `limits`.
    #[must_use]
    pub fn new(predictor: Predictor, limits: Limits) -> Self {
        Api::serving(Deployment::single(predictor), limits)
    }

    /// Serves every bundle of `deployment` within `limits`.
    #[must_use]
    pub fn serving(deployment: Deployment, limits: Limits) -> Self {
        Api { deployment, limits }
    }

    /// The deployment being served.
    #[must_use]
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The first pair being served (the only one on a single-bundle face).
    #[must_use]
    pub fn predictor(&self) -> &Predictor {
        self.deployment.primary()
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Answers one HTTP request. `now` is the request time, unless the body
    /// overrides it with `"now"` (RFC 3339), which tests and replays use.
    #[must_use]
    pub fn handle(&self, method: &str, path: &str, body: &[u8], now: Timestamp) -> Response {
        let path = path.split('?').next().unwrap_or(path);
        let result = match (method, path) {
            ("POST", "/get-online-features") => self.get_online_features(body, now),
            ("POST", "/predict") => self.predict(body, now),
            // `/health` is Feast's spelling, `/healthz` verge's.
            ("GET", "/healthz" | "/health") => Ok(br#"{"status":"ok"}"#.to_vec()),
            ("GET", "/version") => Ok(self.version()),
            (_, "/get-online-features" | "/predict" | "/healthz" | "/health" | "/version") => {
                Err(ApiError {
                    status: 405,
                    message: format!("{method} is not allowed on {path}"),
                })
            }
            _ => Err(ApiError {
                status: 404,
                message: format!(
                    "no route {path}; routes are POST /get-online-features, POST /predict, GET /healthz (or /health), GET /version"
                ),
            }),
        };
        match result {
            Ok(body) => Response { status: 200, body },
            Err(e) => e.into_response(),
        }
    }

    fn check_size(&self, body: &[u8]) -> Result<(), ApiError> {
        if body.len() > self.limits.max_body_bytes {
            return Err(ApiError {
                status: 413,
                message: format!(
                    "request body is {} bytes; the limit is {}",
                    body.len(),
                    self.limits.max_body_bytes
                ),
            });
        }
        Ok(())
    }

    /// `POST /get-online-features`: Feast's request and response.
    ///
    /// # Errors
    ///
    /// [`ApiError`] with 400 for malformed JSON, unknown features or entities of the
    /// wrong type, 413 over the limits.
    pub fn get_online_features(&self, body: &[u8], now: Timestamp) -> Result<Vec<u8>, ApiError> {
        self.check_size(body)?;
        let (predictor, request) = OnlineRequest::parse(body, &self.deployment, self.limits)?;
        let now = request.now.unwrap_or(now);
        response::online(predictor, &request, now)
    }

    /// `POST /predict`: one prediction per entity row.
    ///
    /// # Errors
    ///
    /// As [`Api::get_online_features`].
    pub fn predict(&self, body: &[u8], now: Timestamp) -> Result<Vec<u8>, ApiError> {
        self.check_size(body)?;
        let (predictor, request) = PredictRequest::parse(body, &self.deployment, self.limits)?;
        let now = request.now.unwrap_or(now);
        response::predict(predictor, &request, now)
    }

    #[cfg(feature = "shard-sets")]
    /// The shards of the snapshot's set that answering `body` (a
    /// `get-online-features` or `predict` body) needs and this deployment
    /// has not loaded: what a reader of a shard set fetches before
    /// [`Api::handle`]. Empty for an unsharded deployment, a body over the
    /// size limit, or one that does not decode (the answer is then an error
    /// that needs no shard).
    #[must_use]
    pub fn shards_to_load(&self, body: &[u8]) -> Vec<u32> {
        let mut needed = self.shards_needed(body);
        let missing: Vec<u32> = self
            .deployment
            .primary()
            .layers()
            .missing_shards()
            .collect();
        needed.retain(|shard| missing.contains(shard));
        needed
    }

    #[cfg(feature = "shard-sets")]
    /// Every shard of the snapshot's set that answering `body` reads,
    /// loaded or not, sorted (what a cache of shards counts as used); empty
    /// as for [`Api::shards_to_load`].
    #[must_use]
    pub fn shards_needed(&self, body: &[u8]) -> Vec<u32> {
        if self.check_size(body).is_err() {
            return Vec::new();
        }
        let layers = self.deployment.primary().layers();
        request::shards::needed(body, layers.base())
    }

    /// `GET /version`: the ids of what is being served.
    #[must_use]
    pub fn version(&self) -> Vec<u8> {
        deployment_version(&self.deployment)
    }
}
