//! Crossing between JavaScript and the core: JSON both ways through the
//! browser's own `JSON`, read times, and the trust options of `Runtime.load`.
//!
//! Values go through `JSON.stringify` / `JSON.parse` rather than a
//! hand-written converter, so whatever a page passes is read exactly as
//! `fetch(..., {body: JSON.stringify(x)})` would send it to the worker.

use js_sys::{Date, JSON};
use serde_json::Value as Json;
use verge_core::Timestamp;
use verge_core::api::{Response, error_message};
use verge_core::artifact::ArtifactKind;
use verge_core::artifact::signature::{PublicKey, Signature};
use wasm_bindgen::prelude::*;

/// Formats any error as the `JsError` pages see.
pub(crate) fn js_error(message: impl AsRef<str>) -> JsError {
    JsError::new(message.as_ref())
}

/// JSON text → JS value, through the browser's own `JSON.parse`.
pub(crate) fn to_js(bytes: &[u8]) -> Result<JsValue, JsError> {
    let text = core::str::from_utf8(bytes)
        .map_err(|_| js_error("internal: the core answered with invalid UTF-8"))?;
    JSON::parse(text).map_err(|e| js_error(format!("internal: JSON.parse failed: {e:?}")))
}

/// JS value → JSON, through the browser's own `JSON.stringify`.
pub(crate) fn from_js(value: &JsValue, what: &str) -> Result<Json, JsError> {
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

/// JSON value → request bytes for the core.
pub(crate) fn to_body(json: &Json, what: &str) -> Result<Vec<u8>, JsError> {
    serde_json::to_vec(json).map_err(|e| js_error(format!("internal: cannot encode {what}: {e}")))
}

/// The API's answer unchanged, or its error message (the core's
/// [`error_message`]) as an exception.
pub(crate) fn answer(response: Response) -> Result<JsValue, JsError> {
    if response.status == 200 {
        return to_js(&response.body);
    }
    Err(js_error(error_message(&response.body)))
}

/// Reads `now`: a `Date`, milliseconds since the epoch, RFC 3339 text, or the clock.
pub(crate) fn read_now(now: &JsValue) -> Result<Timestamp, JsError> {
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
pub(crate) struct Trust {
    key: Option<PublicKey>,
    bundle: Option<Signature>,
    snapshot: Option<Signature>,
}

impl Trust {
    /// Reads `LoadOptions` (absent: nothing to verify).
    pub(crate) fn read(options: &JsValue) -> Result<Trust, JsError> {
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
    pub(crate) fn check(
        &self,
        kind: ArtifactKind,
        id: verge_core::ContentId,
    ) -> Result<(), JsError> {
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
