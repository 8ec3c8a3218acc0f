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

use alloc::string::String;
use alloc::vec::Vec;

use super::json_out::JsonOut;
use super::request::decode::{Cell, Dups, decode_value};
use crate::DType;
use crate::artifact::{Bundle, FORMAT_VERSION, Snapshot};
use crate::online::Deployment;
use crate::value::Value;

/// `[{"dtype":…,"name":…},…]`.
fn fields<'a>(out: &mut JsonOut, fields: impl Iterator<Item = (&'a str, DType)>) {
    out.raw("[");
    for (i, (name, dtype)) in fields.enumerate() {
        out.comma(i);
        out.raw(r#"{"dtype":"#);
        out.string(dtype.name());
        out.raw(r#","name":"#);
        out.string(name);
        out.raw("}");
    }
    out.raw("]");
}

/// A string, or `null` for `None`.
fn string_or_null(out: &mut JsonOut, s: Option<&str>) {
    match s {
        Some(s) => out.string(s),
        None => out.raw("null"),
    }
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
/// face has a snapshot paired with it (so `predict` works). Members in sorted
/// key order, as every answer prints them.
#[must_use]
pub fn model_info(bundle: &Bundle, has_snapshot: bool) -> Vec<u8> {
    let c = bundle.contents();
    let classes = c
        .model
        .as_ref()
        .and_then(|m| m.pipeline.estimator().classes());
    let mut out = JsonOut::with_capacity(512);
    out.raw("{");
    out.key_name("bundle_id");
    out.id(&bundle.id());
    out.raw(",");
    out.key_name("classes");
    match classes {
        Some(cs) => {
            out.raw("[");
            for (i, class) in cs.iter().enumerate() {
                out.comma(i);
                out.value(class);
            }
            out.raw("]");
        }
        None => out.raw("null"),
    }
    out.raw(",");
    out.key_name("entity_keys");
    fields(
        &mut out,
        c.entity_keys.iter().map(|k| (k.name.as_str(), k.dtype)),
    );
    out.raw(",");
    out.key_name("feature_names");
    out.strings(c.features.iter().map(|f| f.name()));
    out.raw(",");
    out.key_name("feature_service");
    out.string(&c.service);
    out.raw(",");
    out.key_name("features");
    fields(&mut out, c.features.iter().map(|f| (f.name(), f.dtype())));
    out.raw(",");
    out.key_name("has_snapshot");
    out.raw(if has_snapshot { "true" } else { "false" });
    out.raw(",");
    out.key_name("model");
    string_or_null(&mut out, c.model_name());
    out.raw(",");
    out.key_name("outputs");
    out.uint(output_width(bundle) as u64);
    out.raw(",");
    out.key_name("registry_id");
    out.id(&c.registry_id);
    out.raw(",");
    out.key_name("request");
    fields(
        &mut out,
        c.request.iter().map(|k| (k.name.as_str(), k.dtype)),
    );
    out.raw("}");
    out.into_bytes()
}

/// `GET /version` for `bundles` (the first at the top level) and, when one
/// is loaded, `snapshot`.
#[must_use]
pub fn version(bundles: &[&Bundle], snapshot: Option<&Snapshot>) -> Vec<u8> {
    version_of(bundles, snapshot, snapshot.map(Snapshot::id))
}

/// `GET /version` for every bundle of `deployment` and its snapshot: the
/// first bundle's fields at the top (what a single-bundle face answers), and
/// each bundle under `bundles`.
#[must_use]
pub fn deployment_version(deployment: &Deployment) -> Vec<u8> {
    let bundles: Vec<&Bundle> = deployment.bundles().collect();
    let layers = deployment.primary().layers();
    version_of(&bundles, Some(deployment.snapshot()), Some(layers.id()))
}

/// `snapshot_id` is `snapshot`'s own, or its shard set's.
fn version_of(
    bundles: &[&Bundle],
    snapshot: Option<&Snapshot>,
    snapshot_id: Option<crate::ContentId>,
) -> Vec<u8> {
    let meta = snapshot.map(Snapshot::meta);
    let first = bundles.first().map(|b| b.contents());
    let id_or_null = |out: &mut JsonOut, id: Option<crate::ContentId>| match id {
        Some(id) => out.id(&id),
        None => out.raw("null"),
    };
    let mut out = JsonOut::with_capacity(256 + bundles.len() * 256);
    out.raw("{");
    out.key_name("bundle_id");
    id_or_null(&mut out, bundles.first().map(|b| b.id()));
    out.raw(",");
    out.key_name("bundles");
    out.raw("[");
    for (i, b) in bundles.iter().enumerate() {
        let c = b.contents();
        out.comma(i);
        out.raw("{");
        out.key_name("bundle_id");
        out.id(&b.id());
        out.raw(",");
        out.key_name("feature_service");
        out.string(&c.service);
        out.raw(",");
        out.key_name("model");
        string_or_null(&mut out, c.model_name());
        out.raw(",");
        out.key_name("registry_id");
        out.id(&c.registry_id);
        out.raw("}");
    }
    out.raw("],");
    out.key_name("feature_service");
    string_or_null(&mut out, first.map(|c| c.service.as_str()));
    out.raw(",");
    out.key_name("format_version");
    out.uint(u64::from(FORMAT_VERSION));
    out.raw(",");
    out.key_name("model");
    string_or_null(&mut out, first.and_then(|c| c.model_name()));
    out.raw(",");
    out.key_name("registry_id");
    id_or_null(&mut out, first.map(|c| c.registry_id));
    out.raw(",");
    out.key_name("snapshot_id");
    id_or_null(&mut out, snapshot_id);
    out.raw(",");
    out.key_name("snapshot_registry_id");
    id_or_null(&mut out, meta.map(|m| m.registry_id));
    out.raw(",");
    out.key_name("snapshot_window_end");
    match meta {
        Some(m) => out.time(m.window_end),
        None => out.raw("null"),
    }
    out.raw(",");
    out.key_name("verge_version");
    out.string(env!("CARGO_PKG_VERSION"));
    out.raw("}");
    out.into_bytes()
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
pub fn error_message(body: &[u8]) -> String {
    let message = match decode_value(body, Dups::LastWins) {
        Ok(Cell::Object(answer)) => match answer.get("error") {
            Some(Cell::Object(error)) => error
                .get("message")
                .and_then(Cell::as_str)
                .map(String::from),
            _ => None,
        },
        _ => None,
    };
    message.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
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
