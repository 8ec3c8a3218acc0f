//! The two descriptive answers every face returns unchanged: model info (what
//! a bundle expects and returns) and `GET /version` (the ids being served).
//!
//! They used to be written per face: the raw ABI's `verge_model_info` and the
//! browser's `describe()` had two schemas, and the browser built its own
//! `/version` when no snapshot was loaded. Here each has one shape, built by
//! one function, so a page, a Wasm host, the worker and `verge serve` cannot
//! disagree about a field's name or presence.
//!
//! Shapes (`docs/http.md`):
//!
//! - model info: `model`, `feature_service`, `bundle_id`, `registry_id`,
//!   `feature_names` (`view:field`, service order), `features`
//!   (`{name, dtype}`, service order), `entity_keys` and `request`
//!   (`{name, dtype}`), `classes` (null for a regressor), `outputs` (floats per
//!   row the batch paths write), `has_snapshot`;
//! - version: `model`, `feature_service`, `bundle_id`, `snapshot_id`,
//!   `registry_id`, `snapshot_registry_id`, `snapshot_window_end`,
//!   `bundles` (each bundle's `model`, `feature_service`, `bundle_id`,
//!   `registry_id`; the top-level ones are the first bundle's),
//!   `format_version`, `verge_version`; the three snapshot fields are `null`
//!   when only a bundle is loaded, so the keys are always the same.

use alloc::string::ToString;
use alloc::vec::Vec;

use serde_json::{Value as Json, json};

use super::value_to_json;
use crate::DType;
use crate::artifact::{Bundle, FORMAT_VERSION, Snapshot};
use crate::online::Deployment;
use crate::value::Value;

fn field(name: &str, dtype: DType) -> Json {
    json!({ "name": name, "dtype": dtype.name() })
}

/// Floats per row the batch paths write for `bundle`: the class count, or 1
/// for a regressor.
#[must_use]
pub fn output_width(bundle: &Bundle) -> usize {
    bundle
        .contents()
        .model
        .as_ref()
        .and_then(|m| m.pipeline.estimator().classes())
        .map_or(1, <[Value]>::len)
}

/// What `bundle` expects and returns, as JSON; `has_snapshot` says whether the
/// face has a snapshot paired with it (so `predict` works).
#[must_use]
pub fn model_info(bundle: &Bundle, has_snapshot: bool) -> Vec<u8> {
    let c = bundle.contents();
    let classes = c
        .model
        .as_ref()
        .and_then(|m| m.pipeline.estimator().classes())
        .map(|cs| cs.iter().map(value_to_json).collect::<Vec<_>>());
    let body = json!({
        "model": c.model_name(),
        "feature_service": c.service,
        "bundle_id": bundle.id().to_string(),
        "registry_id": c.registry_id.to_string(),
        "feature_names": c.features.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "features": c.features.iter().map(|f| field(f.name(), f.dtype())).collect::<Vec<_>>(),
        "entity_keys": c.entity_keys.iter().map(|k| field(&k.name, k.dtype)).collect::<Vec<_>>(),
        "request": c.request.iter().map(|k| field(&k.name, k.dtype)).collect::<Vec<_>>(),
        "classes": classes,
        "outputs": output_width(bundle),
        "has_snapshot": has_snapshot,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `GET /version` for `bundles` (the first at the top level) and, when one
/// is loaded, `snapshot`.
#[must_use]
pub fn version(bundles: &[&Bundle], snapshot: Option<&Snapshot>) -> Vec<u8> {
    version_of(bundles, snapshot)
}

/// `GET /version` for every bundle of `deployment` and its snapshot: the
/// first bundle's fields at the top (what a single-bundle face answers), and
/// each bundle under `bundles`.
#[must_use]
pub fn deployment_version(deployment: &Deployment) -> Vec<u8> {
    let bundles: Vec<&Bundle> = deployment.bundles().collect();
    version_of(&bundles, Some(deployment.snapshot()))
}

fn version_of(bundles: &[&Bundle], snapshot: Option<&Snapshot>) -> Vec<u8> {
    let meta = snapshot.map(Snapshot::meta);
    let listed: Vec<Json> = bundles
        .iter()
        .map(|b| {
            let c = b.contents();
            json!({
                "model": c.model_name(),
                "feature_service": c.service,
                "bundle_id": b.id().to_string(),
                "registry_id": c.registry_id.to_string(),
            })
        })
        .collect();
    let first = bundles.first().map(|b| b.contents());
    let body = json!({
        "model": first.and_then(|c| c.model_name()),
        "feature_service": first.map(|c| c.service.as_str()),
        "bundle_id": bundles.first().map(|b| b.id().to_string()),
        "snapshot_id": snapshot.map(|s| s.id().to_string()),
        "registry_id": first.map(|c| c.registry_id.to_string()),
        "snapshot_registry_id": meta.map(|m| m.registry_id.to_string()),
        "snapshot_window_end": meta.map(|m| m.window_end.to_rfc3339()),
        "bundles": listed,
        "format_version": FORMAT_VERSION,
        "verge_version": env!("CARGO_PKG_VERSION"),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `message` of an API answer's error body (`{"error": {"message": ..}}`),
/// or the whole body as text when it has none: what a face shows a person
/// when a request fails.
///
/// # Examples
///
/// ```
/// use verge_core::api::{ApiError, error_message};
///
/// let r = ApiError::bad_request("no such feature").into_response();
/// assert_eq!(error_message(&r.body), "no such feature");
/// assert_eq!(error_message(b"plain text"), "plain text");
/// ```
#[must_use]
pub fn error_message(body: &[u8]) -> alloc::string::String {
    serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|j| j["error"]["message"].as_str().map(ToString::to_string))
        .unwrap_or_else(|| alloc::string::String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_fall_back_to_the_body() {
        let r = super::super::ApiError {
            status: 413,
            message: "too big".into(),
        }
        .into_response();
        assert_eq!(error_message(&r.body), "too big");
        assert_eq!(error_message(br#"{"error": {}}"#), r#"{"error": {}}"#);
        assert_eq!(error_message(b"\xff"), "\u{fffd}");
    }
}
