//! The worker's named route handlers.
//!
//! The API routes are registered for every method and pass the method on to
//! [`Api::handle`], so a wrong method gets the API's own 405 JSON rather than
//! the router's plain-text one, and an unknown path its 404 JSON. Each handler
//! takes one `Arc<Api>` from [`cache::current`] and answers with it.
//!
//! `PUT /admin/artifacts` publishes a pair over HTTP: the body is a bundle
//! followed by a snapshot (both whole framed artifacts). It is refused with 401
//! without `Authorization: Bearer <ADMIN_TOKEN>`, and with 404 when the worker
//! has no `ADMIN_TOKEN` secret (the route is off). The pair is checked exactly
//! as a pair read from the store, written to the store (files first, manifest
//! last, the previous pair kept in the manifest for rollback) and swapped in.

use std::sync::Arc;

use verge_core::Timestamp;
use verge_core::api::{Api, ApiError};
use worker::{Date, Headers, Request, Response, RouteContext};

use super::artifacts::{self, Manifest, Pair};
use super::cache;

/// Turns an API answer into a workers-rs response with a JSON content type.
///
/// # Errors
///
/// Only if the runtime refuses to build a response.
pub fn json_response(answer: verge_core::api::Response) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::from_bytes(answer.body)?
        .with_status(answer.status)
        .with_headers(headers))
}

/// The request time: `Date.now()` in microseconds.
fn now() -> Timestamp {
    Timestamp::from_micros((Date::now().as_millis() as i64).saturating_mul(1000))
}

/// Answers through `Api::handle` with the request's method, path and body.
async fn answer(mut req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    let api: Arc<Api> = match cache::current(&ctx.env).await {
        Ok(api) => api,
        Err(e) => return json_response(e.into_response()),
    };
    let method = req.method().to_string();
    let path = req.path();
    let body = if method == "GET" || method == "HEAD" {
        Vec::new()
    } else {
        match req.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return json_response(
                    ApiError::bad_request(format!("could not read the request body: {e}"))
                        .into_response(),
                );
            }
        }
    };
    json_response(api.handle(&method, &path, &body, now()))
}

/// `POST /get-online-features`: Feast's request and response.
///
/// # Errors
///
/// Only if the runtime refuses to build a response; API errors are JSON.
pub async fn get_online_features(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    answer(req, ctx).await
}

/// `POST /predict`: one prediction per entity row, with the pair's ids.
///
/// # Errors
///
/// As [`get_online_features`].
pub async fn predict(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    answer(req, ctx).await
}

/// `GET /healthz`: `{"status":"ok"}` once a checked pair is loaded, 503 before.
///
/// # Errors
///
/// As [`get_online_features`].
pub async fn healthz(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    answer(req, ctx).await
}

/// `GET /version`: bundle, snapshot and registry ids being served.
///
/// # Errors
///
/// As [`get_online_features`].
pub async fn version(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    answer(req, ctx).await
}

/// Any other path: the API's 404 JSON.
///
/// # Errors
///
/// As [`get_online_features`].
pub async fn fallback(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    answer(req, ctx).await
}

/// Compares two byte strings in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `PUT /admin/artifacts`: checks, stores and swaps in a new pair.
///
/// # Errors
///
/// As [`get_online_features`]; refusals are JSON (401, 404, 405, 400, 413).
pub async fn publish(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    match try_publish(req, ctx).await {
        Ok(body) => json_response(verge_core::api::Response { status: 200, body }),
        Err(e) => json_response(e.into_response()),
    }
}

/// The largest publish body: a pair must fit one edge KV value (25 MiB) each.
const MAX_PUBLISH_BYTES: usize = 50 << 20;

async fn try_publish(mut req: Request, ctx: RouteContext<()>) -> Result<Vec<u8>, ApiError> {
    let error = |status: u16, message: String| ApiError { status, message };
    let Ok(token) = ctx.env.secret("ADMIN_TOKEN").map(|t| t.to_string()) else {
        return Err(error(
            404,
            "the admin route is off: the worker has no ADMIN_TOKEN secret".into(),
        ));
    };
    if req.method().to_string() != "PUT" {
        return Err(error(
            405,
            format!(
                "{} is not allowed on /admin/artifacts; use PUT",
                req.method()
            ),
        ));
    }
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let expected = format!("Bearer {token}");
    if token.is_empty() || !same_secret(given.as_bytes(), expected.as_bytes()) {
        return Err(error(
            401,
            "send `Authorization: Bearer <ADMIN_TOKEN>` to publish".into(),
        ));
    }
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
    if body.len() > MAX_PUBLISH_BYTES {
        return Err(error(
            413,
            format!(
                "the body is {} bytes; the limit is {MAX_PUBLISH_BYTES}",
                body.len()
            ),
        ));
    }
    let (bundle, snapshot) = artifacts::split_publish_body(&body)?;
    let api = artifacts::check_pair(None, bundle, snapshot.to_vec())?;
    let pair = Pair {
        bundle: api.predictor().bundle().id(),
        snapshot: api.predictor().snapshot().id(),
    };
    let store = artifacts::binding(&ctx.env)?;
    let previous = match artifacts::read_manifest(&store).await {
        Ok(Some(manifest)) if manifest.current != pair => Some(manifest.current),
        Ok(Some(manifest)) => manifest.previous,
        Ok(None) | Err(_) => cache::serving_pair().filter(|p| *p != pair),
    };
    // Files first, manifest last: a reader following the manifest always
    // finds both files.
    artifacts::put(&store, &pair.bundle_path(), bundle).await?;
    artifacts::put(&store, &pair.snapshot_path(), snapshot).await?;
    let manifest = Manifest {
        current: pair,
        previous,
    };
    artifacts::put(&store, artifacts::MANIFEST_PATH, &manifest.to_json()).await?;
    cache::install_checked(pair, Arc::new(api));
    let previous = previous.map(|p| {
        serde_json::json!({ "bundle_id": p.bundle.to_string(), "snapshot_id": p.snapshot.to_string() })
    });
    Ok(serde_json::to_vec(&serde_json::json!({
        "published": { "bundle_id": pair.bundle.to_string(), "snapshot_id": pair.snapshot.to_string() },
        "previous": previous,
    }))
    .unwrap_or_default())
}
