//! The worker's named route handlers.
//!
//! The API routes are registered for every method and pass the method on to
//! [`Api::handle`], so a wrong method gets the API's own 405 JSON rather than
//! the router's plain-text one, and an unknown path its 404 JSON. Each handler
//! takes one `Arc<Api>` from [`cache::current`] and answers with it.
//!
//! `PUT /admin/artifacts` publishes a pair over HTTP and `POST /admin/rollback`
//! swaps back to the manifest's `previous` pair. Every rule of those routes —
//! which request goes where, the bearer token (404 without an `ADMIN_TOKEN`
//! secret, 401 before the body is read), the size limit, the signature
//! headers, the checks on the upload and the answer — is the core's
//! ([`verge_core::api::admin`]), shared with `verge serve`. What is left here
//! is I/O: reading the headers and the body, writing the store (files first,
//! manifest last, the previous pair kept in the manifest) and swapping the
//! isolate's pair.

use std::sync::Arc;

use verge_core::Timestamp;
use verge_core::api::admin::{self, AdminGuard, AdminRoute};
use verge_core::api::{Api, ApiError};
use worker::{Date, Headers, Request, Response, RouteContext};

use super::artifacts::{self, PublishManifest};

use super::cache;
/// The signature headers of an upload (the core's names, re-exported for callers).
pub use verge_core::api::admin::{BUNDLE_SIGNATURE_HEADER, SNAPSHOT_SIGNATURE_HEADER};

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
    let api = match super::shards::ready(&ctx.env, api, &body).await {
        Ok(api) => api,
        Err(e) => return json_response(e.into_response()),
    };
    let response = json_response(api.handle(&method, &path, &body, now()))?;
    if api.deployment().primary().layers().shard_ids().is_empty() {
        return Ok(response);
    }
    // What the shard cache did, for operators and the scale benchmark.
    let (fetches, held, bytes) = super::shards::stats();
    response.headers().set(
        "x-verge-shards",
        &format!("fetched={fetches} held={held} bytes={bytes}"),
    )?;
    Ok(response)
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

/// Asks the core whether this admin request may go on (before any body is
/// read), from the `ADMIN_TOKEN` secret and the request's line and header.
fn admit(req: &Request, ctx: &RouteContext<()>) -> Result<AdminRoute, ApiError> {
    let token = artifacts::text_binding(&ctx.env, "ADMIN_TOKEN");
    let guard = AdminGuard {
        token: token.as_deref(),
        enable_hint: "the worker has no ADMIN_TOKEN secret",
        token_source: "the worker's ADMIN_TOKEN secret",
    };
    let authorization = req.headers().get("authorization").ok().flatten();
    guard.admit(req.method().as_ref(), &req.path(), authorization.as_deref())
}

/// A request header's value, if present and readable.
fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// `PUT /admin/artifacts` and `POST /admin/rollback` (and any other path under
/// `/admin/`, which the core answers with 404 once the token is right).
///
/// # Errors
///
/// As [`get_online_features`]; refusals are JSON (401, 404, 405, 400, 409, 413, 503).
pub async fn admin_route(req: Request, ctx: RouteContext<()>) -> worker::Result<Response> {
    let outcome = match admit(&req, &ctx) {
        Ok(AdminRoute::Publish) => publish(req, ctx).await,
        Ok(AdminRoute::Rollback) => rollback(ctx).await,
        Err(e) => Err(e),
    };
    json_response(outcome.unwrap_or_else(ApiError::into_response))
}

/// Checks, stores and swaps in an uploaded pair.
async fn publish(
    mut req: Request,
    ctx: RouteContext<()>,
) -> Result<verge_core::api::Response, ApiError> {
    let key = artifacts::public_key(&ctx.env)?;
    let limits = artifacts::limits(&ctx.env)?;
    let bundle_signature = header(&req, BUNDLE_SIGNATURE_HEADER);
    let snapshot_signature = header(&req, SNAPSHOT_SIGNATURE_HEADER);
    // A declared length over the limit is refused before reading the body.
    if let Some(len) = header(&req, "content-length").and_then(|l| l.trim().parse().ok()) {
        admin::check_upload_len(len)?;
    }
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
    let upload = admin::receive(
        &body,
        bundle_signature.as_deref(),
        snapshot_signature.as_deref(),
        key.as_ref(),
    )?;
    let store = artifacts::binding(&ctx.env)?;
    let current = match artifacts::read_manifest(&store).await {
        Ok(Some(manifest)) => Some(manifest),
        // No (readable) manifest: what this isolate serves is the best
        // record of the pair being replaced.
        Ok(None) | Err(_) => cache::serving_pair().map(|current| PublishManifest {
            current,
            previous: None,
        }),
    };
    // The upload replaces its model's bundle (or its service's feature
    // bundle) and the snapshot; the deployment's other bundles stay, over the
    // new snapshot. What is served is read from this isolate when it is the
    // manifest's, else from the store.
    // A current deployment that no longer loads is replaced by the upload alone.
    let served = match (&current, cache::serving()) {
        (Some(m), Some((pair, api))) if pair == m.current => Some(api),
        (Some(m), _) => artifacts::load(&ctx.env, &store, &m.current, key.as_ref(), limits)
            .await
            .ok()
            .map(Arc::new),
        (None, _) => None,
    };
    let (pair, deployment) = match (&current, served) {
        (Some(m), Some(api)) => upload.merged_into(api.deployment(), &m.current)?,
        _ => (upload.pair.clone(), upload.deployment.clone()),
    };
    let api = Api::serving(deployment, limits);
    let manifest = PublishManifest::next(current.as_ref(), pair.clone());
    // Files first, manifest last: a reader following the manifest always
    // finds every file (and their signatures). Bundles kept from the served
    // deployment are in the store already.
    artifacts::put(&store, &upload.pair.bundle_path(), upload.bundle).await?;
    artifacts::put(&store, &pair.snapshot_path(), upload.snapshot).await?;
    for (path, sig) in [
        (
            upload.pair.bundle_signature_path(),
            upload.pair.bundle_signature,
        ),
        (pair.snapshot_signature_path(), pair.snapshot_signature),
    ] {
        if let Some(sig) = sig {
            artifacts::put(&store, &path, format!("{sig}\n").as_bytes()).await?;
        }
    }
    artifacts::put(&store, artifacts::MANIFEST_PATH, &manifest.to_json()).await?;
    cache::install_checked(pair, Arc::new(api));
    Ok(admin::answer(&manifest.current, manifest.previous.as_ref()))
}

/// Serves the manifest's `previous` pair again, checked as a new one.
async fn rollback(ctx: RouteContext<()>) -> Result<verge_core::api::Response, ApiError> {
    let key = artifacts::public_key(&ctx.env)?;
    let store = artifacts::binding(&ctx.env)?;
    let back = artifacts::read_manifest(&store)
        .await?
        .and_then(|m| m.rolled_back())
        .ok_or_else(admin::nothing_to_roll_back)?;
    // A rollback to a pair that no longer verifies is refused (503) and the
    // current pair stays.
    let limits = artifacts::limits(&ctx.env)?;
    let api = artifacts::load(&ctx.env, &store, &back.current, key.as_ref(), limits).await?;
    artifacts::put(&store, artifacts::MANIFEST_PATH, &back.to_json()).await?;
    cache::install_checked(back.current.clone(), Arc::new(api));
    Ok(admin::answer(&back.current, back.previous.as_ref()))
}
