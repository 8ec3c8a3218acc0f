//! The worker's named route handlers.
//!
//! The API routes are registered for every method and pass the method on to
//! [`Api::handle`], so a wrong method gets the API's own 405 JSON rather than
//! the router's plain-text one, and an unknown path its 404 JSON. Each handler
//! takes one `Arc<Api>` from [`cache::current`] and answers with it.
//!
//! `PUT /admin/artifacts` publishes a pair over HTTP: the body is a bundle
//! followed by a snapshot (both whole framed artifacts), their signatures in
//! the `x-verge-bundle-signature` / `x-verge-snapshot-signature` headers. It is
//! refused with 401 without `Authorization: Bearer <ADMIN_TOKEN>`, and with 404
//! when the worker has no `ADMIN_TOKEN` secret (the routes are off). The pair is
//! checked exactly as a pair read from the store (signatures too, when
//! `PUBLIC_KEY` is set), written to the store (files first, manifest last, the
//! previous pair kept in the manifest) and swapped in. `POST /admin/rollback`
//! checks the manifest's `previous` pair the same way and swaps back to it.

use std::sync::Arc;

use verge_core::Timestamp;
use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::signature::Signature;
use worker::{Date, Headers, Request, Response, RouteContext};

use super::artifacts::{self, Manifest, Pair};

/// Request header carrying the bundle's signature (as `verge publish --url` sends it).
pub const BUNDLE_SIGNATURE_HEADER: &str = "x-verge-bundle-signature";
/// Request header carrying the snapshot's signature.
pub const SNAPSHOT_SIGNATURE_HEADER: &str = "x-verge-snapshot-signature";
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

fn error(status: u16, message: String) -> ApiError {
    ApiError { status, message }
}

/// Checks the admin route is on, the method is `method`, and the bearer
/// token is right (before any body is read).
fn authorize(
    req: &Request,
    ctx: &RouteContext<()>,
    route: &str,
    method: &str,
) -> Result<(), ApiError> {
    let Some(token) = artifacts::text_binding(&ctx.env, "ADMIN_TOKEN").filter(|t| !t.is_empty())
    else {
        return Err(error(
            404,
            "the admin routes are off: the worker has no ADMIN_TOKEN secret".into(),
        ));
    };
    if req.method().to_string() != method {
        return Err(error(
            405,
            format!("{} is not allowed on {route}; use {method}", req.method()),
        ));
    }
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let expected = format!("Bearer {token}");
    if !same_secret(given.as_bytes(), expected.as_bytes()) {
        return Err(error(
            401,
            "send `Authorization: Bearer <ADMIN_TOKEN>` to use the admin routes".into(),
        ));
    }
    Ok(())
}

fn pair_json(p: &Pair) -> serde_json::Value {
    serde_json::json!({ "bundle_id": p.bundle.to_string(), "snapshot_id": p.snapshot.to_string() })
}

fn admin_answer(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "published": pair_json(&manifest.current),
        "previous": manifest.previous.as_ref().map(pair_json),
    }))
    .unwrap_or_default()
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

/// `POST /admin/rollback`: serves the manifest's `previous` pair again.
///
/// # Errors
///
/// As [`get_online_features`]; refusals are JSON (401, 404, 405, 409, 503).
pub async fn rollback(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    match try_rollback(req, ctx).await {
        Ok(body) => json_response(verge_core::api::Response { status: 200, body }),
        Err(e) => json_response(e.into_response()),
    }
}

/// The largest publish body: a pair must fit one edge KV value (25 MiB) each.
const MAX_PUBLISH_BYTES: usize = 50 << 20;

/// A signature sent with an upload, from its header.
fn signature_header(req: &Request, name: &str) -> Result<Option<Signature>, ApiError> {
    match req.headers().get(name).ok().flatten() {
        None => Ok(None),
        Some(text) => Signature::parse_hex(&text).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "the {name} header must be 128 hex digits (an ed25519 signature)"
            ))
        }),
    }
}

async fn try_publish(mut req: Request, ctx: RouteContext<()>) -> Result<Vec<u8>, ApiError> {
    authorize(&req, &ctx, "/admin/artifacts", "PUT")?;
    let key = artifacts::public_key(&ctx.env)?;
    let bundle_signature = signature_header(&req, BUNDLE_SIGNATURE_HEADER)?;
    let snapshot_signature = signature_header(&req, SNAPSHOT_SIGNATURE_HEADER)?;
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
    let (bundle, snapshot) =
        artifacts::split_publish_body(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (pair, predictor) = Pair::receive(
        bundle,
        snapshot.to_vec(),
        bundle_signature,
        snapshot_signature,
        key.as_ref(),
    )
    .map_err(|e| {
        ApiError::bad_request(format!(
            "the pair is refused and the served pair stays live: {e}"
        ))
    })?;
    let api = Api::new(predictor, Limits::default());
    let store = artifacts::binding(&ctx.env)?;
    let current = match artifacts::read_manifest(&store).await {
        Ok(Some(manifest)) => Some(manifest),
        // No (readable) manifest: what this isolate serves is the best
        // record of the pair being replaced.
        Ok(None) | Err(_) => cache::serving_pair().map(|current| Manifest {
            current,
            previous: None,
        }),
    };
    let manifest = Manifest::next(current.as_ref(), pair);
    // Files first, manifest last: a reader following the manifest always
    // finds both files (and their signatures).
    artifacts::put(&store, &pair.bundle_path(), bundle).await?;
    artifacts::put(&store, &pair.snapshot_path(), snapshot).await?;
    for (path, sig) in [
        (pair.bundle_signature_path(), pair.bundle_signature),
        (pair.snapshot_signature_path(), pair.snapshot_signature),
    ] {
        if let Some(sig) = sig {
            artifacts::put(&store, &path, format!("{sig}\n").as_bytes()).await?;
        }
    }
    artifacts::put(&store, artifacts::MANIFEST_PATH, &manifest.to_json()).await?;
    cache::install_checked(pair, Arc::new(api));
    Ok(admin_answer(&manifest))
}

async fn try_rollback(req: Request, ctx: RouteContext<()>) -> Result<Vec<u8>, ApiError> {
    authorize(&req, &ctx, "/admin/rollback", "POST")?;
    let key = artifacts::public_key(&ctx.env)?;
    let store = artifacts::binding(&ctx.env)?;
    let manifest = artifacts::read_manifest(&store).await?.ok_or_else(|| {
        error(
            409,
            "nothing is published, so there is nothing to roll back".into(),
        )
    })?;
    let back = manifest.rolled_back().ok_or_else(|| {
        error(
            409,
            format!(
                "{} records no previous pair to roll back to",
                artifacts::MANIFEST_PATH
            ),
        )
    })?;
    // The previous pair is checked exactly as a new one: a rollback to a
    // pair that no longer verifies is refused and the current pair stays.
    let api = artifacts::load(&store, back.current, key.as_ref()).await?;
    artifacts::put(&store, artifacts::MANIFEST_PATH, &back.to_json()).await?;
    cache::install_checked(back.current, Arc::new(api));
    Ok(admin_answer(&back))
}
