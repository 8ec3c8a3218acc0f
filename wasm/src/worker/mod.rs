//! The Cloudflare Worker: verge's HTTP API served from workerd / Cloudflare.
//!
//! A thin `#[event(fetch)]` builds a [`Router`] whose named handlers all answer
//! through [`verge_core::api::Api::handle`], so the worker's JSON is
//! byte-identical to every other face (`verge serve`, the browser runtime, the
//! raw ABI). The worker adds only what an edge isolate needs around that call:
//!
//! - [`artifacts`]: where the bundle and snapshot come from (a service binding
//!   named `ARTIFACTS` serving the publish layout: `manifest.json` naming the
//!   current pair, and the content-addressed files it names), and the checks
//!   they pass before use (header magic, version and hash, the id the manifest
//!   promised, and bundle/snapshot compatibility through `Predictor::new`);
//! - [`cache`]: the per-isolate copy of the pair being served, re-checked
//!   against the manifest at most every `MANIFEST_TTL_MS` milliseconds and
//!   swapped by replacing one `Arc<Api>`: a request clones that `Arc` once and
//!   keeps it for its whole life, so it never sees half of a swap;
//! - [`routes`]: the named handlers, plus `PUT /admin/artifacts` for publishing
//!   a new pair over HTTP and `POST /admin/rollback`, behind a bearer token
//!   (the routes' rules are the core's, [`verge_core::api::admin`], shared with
//!   `verge serve`).
//!
//! Nothing here panics on external input (a panic kills the isolate): every
//! failure, including ones inside workers-rs, becomes a JSON error response of
//! the same shape the API uses, `{"error": {"status": N, "message": "..."}}`.
//!
//! Bindings and variables (see `examples/worker/config.capnp`):
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `ARTIFACTS` | service binding | serves `manifest.json`, `bundles/<id>.bin`, `snapshots/<id>.bin`; accepts `PUT` for the admin route |
//! | `MANIFEST_TTL_MS` | text | how long a checked manifest is trusted; default 1000 |
//! | `ADMIN_TOKEN` | secret | bearer token for `PUT /admin/artifacts` and `POST /admin/rollback`; the routes are off without it |
//! | `SHARDS` | KV namespace | a sharded snapshot's shards, key `<shard id>.bin` ([`shards`]); without it shards come from `ARTIFACTS` |
//! | `SHARD_CACHE_BYTES` | text | the shard cache's budget in bytes; default 64 MiB |
//! | `PUBLIC_KEY` | text | ed25519 public key (64 hex); when set, only pairs signed by it are served or accepted |

pub mod artifacts;
pub mod cache;
pub mod routes;
pub mod shards;

use verge_core::api::ApiError;
use worker::{Context, Env, Request, Response, Router, event};

/// The worker's entry point: routes one request and never returns an error to
/// the runtime (which would answer with an opaque 500).
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let router = Router::new()
        .on_async("/get-online-features", routes::get_online_features)
        .on_async("/predict", routes::predict)
        .on_async("/healthz", routes::healthz)
        // Feast's spelling of the same route.
        .on_async("/health", routes::healthz)
        .on_async("/version", routes::version)
        .on_async("/admin", routes::admin_route)
        .on_async("/admin/*path", routes::admin_route)
        .or_else_any_method_async("/", routes::fallback)
        .or_else_any_method_async("/*path", routes::fallback);
    match router.run(req, env).await {
        Ok(response) => Ok(response),
        Err(e) => routes::json_response(
            ApiError {
                status: 500,
                message: format!("the worker failed: {e}"),
            }
            .into_response(),
        ),
    }
}
