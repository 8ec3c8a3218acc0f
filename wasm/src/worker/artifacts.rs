//! Where the worker's bundle and snapshot come from, and the checks they pass
//! before a request may use them.
//!
//! The artifacts live behind a service binding (`ARTIFACTS`): locally a workerd
//! `disk` service over a directory, on Cloudflare a static-assets or R2-backed
//! worker. Both answer plain `GET`s, so one code path serves both. The layout is
//! the publish layout (`docs/worker.md`):
//!
//! ```text
//! manifest.json             {"bundle": id, "snapshot": id, "bundle_signature"?, "snapshot_signature"?, "previous"?}
//! bundles/<bundle id>.bin   a bundle, named by its content id (and <id>.sig, when signed)
//! snapshots/<snapshot id>.bin
//! ```
//!
//! The format and the checks are the core's
//! ([`verge_core::artifact::manifest`]), shared with `verge publish` and
//! `verge serve`; `docs/publish.md` describes them once.
//!
//! Artifact files are immutable and content-addressed; publishing writes the
//! new files first and replaces `manifest.json` last, so a reader that follows
//! the manifest always finds a complete pair. A pair is used only after its
//! header (magic, version, length, BLAKE3 hash) checks out, its id is the one
//! the manifest named (a mislabelled file is refused, not served), its
//! signatures verify when `PUBLIC_KEY` is set, and `Predictor::new` accepts
//! the bundle and snapshot together.

use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::signature::PublicKey;
use worker::js_sys::Uint8Array;
use worker::{Env, Fetcher, Method, RequestInit};

pub use verge_core::artifact::manifest::{
    MANIFEST_PATH, PublishManifest, PublishedPair as Pair, split_publish_body,
};

/// The service binding that serves (and, for the admin routes, stores) artifacts.
pub const BINDING: &str = "ARTIFACTS";

/// The variable holding the public key artifacts must be signed with.
pub const PUBLIC_KEY_VAR: &str = "PUBLIC_KEY";

/// Host part of the URLs sent to the binding. A service binding ignores the
/// host and routes on the path, so any name works; this one reads well in logs.
const ORIGIN: &str = "https://artifacts/";

/// A text binding (a variable or a secret), or `None` when it is absent,
/// `null` or not a string.
///
/// Not `Env::var` / `Env::secret`: workerd binds an unset `fromEnvironment`
/// variable as `null`, and workers-rs 0.8 then calls `constructor()` on it,
/// which throws inside Rust and leaves the isolate hung.
#[must_use]
pub fn text_binding(env: &Env, name: &str) -> Option<String> {
    let env: &wasm_bindgen::JsValue = env.as_ref();
    js_sys::Reflect::get(env, &name.into())
        .ok()
        .and_then(|v| v.as_string())
}

/// The public key pairs must be signed with: `None` when `PUBLIC_KEY` is
/// unset or empty (signatures are then not required).
///
/// # Errors
///
/// 503 when `PUBLIC_KEY` is set but is not a key: the worker then serves
/// nothing rather than serving unverified artifacts.
pub fn public_key(env: &Env) -> Result<Option<PublicKey>, ApiError> {
    let Some(text) = text_binding(env, PUBLIC_KEY_VAR) else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    PublicKey::parse_hex(&text).map(Some).ok_or_else(|| {
        unavailable(format!(
            "{PUBLIC_KEY_VAR} is set but is not an ed25519 public key (64 hex digits, as `verge keygen` prints); nothing is served until it is fixed"
        ))
    })
}

/// A 503: the worker has nothing (valid) to serve yet.
pub fn unavailable(message: String) -> ApiError {
    ApiError {
        status: 503,
        message,
    }
}

/// The `ARTIFACTS` binding.
///
/// # Errors
///
/// 503 when the worker was deployed without it.
pub fn binding(env: &Env) -> Result<Fetcher, ApiError> {
    env.service(BINDING).map_err(|e| {
        unavailable(format!(
            "the worker has no `{BINDING}` service binding ({e}); bind the artifact store as `{BINDING}`"
        ))
    })
}

/// Reads `path` from the binding; `Ok(None)` when it answers 404.
async fn get(store: &Fetcher, path: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let mut response = store
        .fetch(format!("{ORIGIN}{path}"), None)
        .await
        .map_err(|e| unavailable(format!("reading {path} from `{BINDING}` failed: {e}")))?;
    match response.status_code() {
        200 => response
            .bytes()
            .await
            .map(Some)
            .map_err(|e| unavailable(format!("reading {path} from `{BINDING}` failed: {e}"))),
        404 => Ok(None),
        status => Err(unavailable(format!(
            "reading {path} from `{BINDING}` answered HTTP {status}"
        ))),
    }
}

/// Reads `path`, which the manifest promises exists.
///
/// # Errors
///
/// 503 when the binding fails or the file is missing.
pub async fn get_required(store: &Fetcher, path: &str) -> Result<Vec<u8>, ApiError> {
    get(store, path).await?.ok_or_else(|| {
        unavailable(format!(
            "{path} is named by {MANIFEST_PATH} but missing from `{BINDING}`; publish the artifact files before the manifest"
        ))
    })
}

/// Reads and parses `manifest.json`; `Ok(None)` when nothing was published yet.
///
/// # Errors
///
/// 503 when the binding fails or the manifest is malformed.
pub async fn read_manifest(store: &Fetcher) -> Result<Option<PublishManifest>, ApiError> {
    let Some(bytes) = get(store, MANIFEST_PATH).await? else {
        return Ok(None);
    };
    PublishManifest::parse(&bytes)
        .map(Some)
        .map_err(|e| unavailable(e.to_string()))
}

/// The request limits from the `MAX_BODY_BYTES`, `MAX_ENTITIES` and
/// `MAX_CELLS` bindings (`verge serve --max-…`'s counterparts); an unset or
/// empty one keeps its default ([`Limits::default`]).
///
/// # Errors
///
/// 503 when one is set but is not a positive whole number: nothing is served
/// under limits other than those configured.
pub fn limits(env: &Env) -> Result<Limits, ApiError> {
    let defaults = Limits::default();
    let read = |name: &str, default: usize| positive_number(env, name, default);
    Ok(Limits {
        max_body_bytes: read("MAX_BODY_BYTES", defaults.max_body_bytes)?,
        max_entities: read("MAX_ENTITIES", defaults.max_entities)?,
        max_cells: read("MAX_CELLS", defaults.max_cells)?,
    })
}

/// The text binding `name` as a positive whole number, or `default` when it
/// is unset or empty.
///
/// # Errors
///
/// 503 when it is set but is not a positive whole number: nothing is served
/// under settings other than those configured.
pub fn positive_number(env: &Env, name: &str, default: usize) -> Result<usize, ApiError> {
    match text_binding(env, name) {
        Some(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                unavailable(format!(
                    "{name} is set to {text:?}, which is not a positive whole number; nothing is served until it is fixed"
                ))
            }),
        _ => Ok(default),
    }
}

/// Fetches the pair `pair` names, with its delta snapshots, and checks it
/// (a sharded pair: its bundles and first shard, [`super::shards::load`])
/// ([`Pair::check`]: headers, ids, signatures when `key` is set,
/// compatibility); the deltas are layered over the snapshot, newest row wins.
///
/// # Errors
///
/// 503 when a file is missing or fails a check; the message names the file.
pub async fn load(
    env: &Env,
    store: &Fetcher,
    pair: &Pair,
    key: Option<&PublicKey>,
    limits: Limits,
) -> Result<Api, ApiError> {
    if !pair.shards.is_empty() {
        // Shards are fetched as requests need them (`shards`), not here.
        return super::shards::load(env, store, pair, key, limits).await;
    }
    let mut bundles = Vec::new();
    for bundle in pair.bundles() {
        bundles.push(get_required(store, &bundle.path()).await?);
    }
    let snapshot = get_required(store, &pair.snapshot_path()).await?;
    let mut deltas = Vec::with_capacity(pair.deltas.len());
    for delta in &pair.deltas {
        deltas.push(get_required(store, &delta.path()).await?);
    }
    let deployment = pair
        .check(&bundles, snapshot, deltas, key)
        .map_err(|e| unavailable(format!("the published pair is refused: {e}")))?;
    Ok(Api::serving(deployment, limits))
}

/// Writes `bytes` to `path` through the binding (`PUT`).
///
/// # Errors
///
/// 500 when the store refuses the write.
pub async fn put(store: &Fetcher, path: &str, bytes: &[u8]) -> Result<(), ApiError> {
    let fail = |detail: String| ApiError {
        status: 500,
        message: format!("writing {path} to `{BINDING}` failed: {detail}"),
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Put)
        .with_body(Some(Uint8Array::from(bytes).into()));
    let response = store
        .fetch(format!("{ORIGIN}{path}"), Some(init))
        .await
        .map_err(|e| fail(e.to_string()))?;
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(fail(format!("HTTP {status} (is the store writable?)"))),
    }
}
