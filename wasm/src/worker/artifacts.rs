//! Where the worker's bundle and snapshot come from, and the checks they pass
//! before a request may use them.
//!
//! The artifacts live behind a service binding (`ARTIFACTS`): locally a workerd
//! `disk` service over a directory, on Cloudflare a static-assets or R2-backed
//! worker. Both answer plain `GET`s, so one code path serves both. The layout is
//! the publish layout (`docs/worker.md`):
//!
//! ```text
//! manifest.json             {"bundle": "<64 hex>", "snapshot": "<64 hex>", "previous": {...}}
//! bundles/<bundle id>.bin   a bundle, named by its content id
//! snapshots/<snapshot id>.bin
//! ```
//!
//! Artifact files are immutable and content-addressed; publishing writes the
//! new files first and replaces `manifest.json` last, so a reader that follows
//! the manifest always finds a complete pair. A pair is used only after its
//! header (magic, version, length, BLAKE3 hash) checks out, its id is the one
//! the manifest named (a mislabelled file is refused, not served), and
//! `Predictor::new` accepts the bundle and snapshot together.

use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::{ArtifactKind, Bundle, HEADER_LEN, Header, Snapshot};
use verge_core::online::Predictor;
use verge_core::{ContentId, Error};
use worker::js_sys::Uint8Array;
use worker::{Env, Fetcher, Method, RequestInit};

/// The service binding that serves (and, for the admin route, stores) artifacts.
pub const BINDING: &str = "ARTIFACTS";

/// The pointer to the current pair, relative to the binding's root.
pub const MANIFEST_PATH: &str = "manifest.json";

/// Host part of the URLs sent to the binding. A service binding ignores the
/// host and routes on the path, so any name works; this one reads well in logs.
const ORIGIN: &str = "https://artifacts/";

/// The largest manifest read: it holds two ids, so anything bigger is not one.
const MAX_MANIFEST_BYTES: usize = 16 * 1024;

/// A bundle id and a snapshot id: what is (or is to be) served together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The bundle's content id.
    pub bundle: ContentId,
    /// The snapshot's content id.
    pub snapshot: ContentId,
}

impl Pair {
    /// Where the bundle lives in the layout.
    #[must_use]
    pub fn bundle_path(&self) -> String {
        format!("bundles/{}.bin", self.bundle)
    }

    /// Where the snapshot lives in the layout.
    #[must_use]
    pub fn snapshot_path(&self) -> String {
        format!("snapshots/{}.bin", self.snapshot)
    }

    fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "bundle": self.bundle.to_string(),
            "snapshot": self.snapshot.to_string(),
        })
    }

    fn from_json(value: &serde_json::Value, what: &str) -> Result<Pair, String> {
        let id = |field: &str| {
            let text = value.get(field).and_then(serde_json::Value::as_str);
            text.and_then(ContentId::parse_hex).ok_or_else(|| {
                format!("{what}.{field} must be a content id (64 hex digits); found {text:?}")
            })
        };
        Ok(Pair {
            bundle: id("bundle")?,
            snapshot: id("snapshot")?,
        })
    }
}

/// `manifest.json`: the pair to serve and, for rollback, the pair before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    /// The pair to serve.
    pub current: Pair,
    /// The pair served before `current`, if the publisher recorded it.
    pub previous: Option<Pair>,
}

impl Manifest {
    /// Parses `{"bundle": id, "snapshot": id, "previous": {"bundle": id, "snapshot": id}?}`.
    ///
    /// # Errors
    ///
    /// A message naming the field that is missing or not a 64-digit hex id.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("{MANIFEST_PATH} is not JSON: {e}"))?;
        let previous = match value.get("previous") {
            None | Some(serde_json::Value::Null) => None,
            Some(previous) => Some(Pair::from_json(previous, "manifest.previous")?),
        };
        Ok(Manifest {
            current: Pair::from_json(&value, "manifest")?,
            previous,
        })
    }

    /// The manifest as JSON, the shape [`Manifest::parse`] reads.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut value = self.current.to_json();
        if let (Some(previous), Some(map)) = (self.previous, value.as_object_mut()) {
            map.insert("previous".into(), previous.to_json());
        }
        serde_json::to_vec(&value).unwrap_or_default()
    }
}

/// A 503: the worker has nothing (valid) to serve yet.
fn unavailable(message: String) -> ApiError {
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
async fn get_required(store: &Fetcher, path: &str) -> Result<Vec<u8>, ApiError> {
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
pub async fn read_manifest(store: &Fetcher) -> Result<Option<Manifest>, ApiError> {
    let Some(bytes) = get(store, MANIFEST_PATH).await? else {
        return Ok(None);
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(unavailable(format!(
            "{MANIFEST_PATH} is {} bytes; a manifest is two ids, at most {MAX_MANIFEST_BYTES} bytes",
            bytes.len()
        )));
    }
    Manifest::parse(&bytes).map(Some).map_err(unavailable)
}

/// Fetches the pair `manifest` names and checks it (see [`check_pair`]).
///
/// # Errors
///
/// 503 when a file is missing or fails a check; the message names the file.
pub async fn load(store: &Fetcher, pair: Pair) -> Result<Api, ApiError> {
    let bundle = get_required(store, &pair.bundle_path()).await?;
    let snapshot = get_required(store, &pair.snapshot_path()).await?;
    check_pair(Some(pair), &bundle, snapshot).map_err(|e| unavailable(e.message))
}

/// Checks a bundle and a snapshot and pairs them into an [`Api`].
///
/// The loaders check magic, format version, length and BLAKE3 hash; `expected`
/// (the ids a manifest promised) must match the hashes; and `Predictor::new`
/// must accept the two together (every view the bundle reads is in the
/// snapshot with the same shape).
///
/// # Errors
///
/// 400 naming the artifact that failed and why.
pub fn check_pair(
    expected: Option<Pair>,
    bundle: &[u8],
    snapshot: Vec<u8>,
) -> Result<Api, ApiError> {
    let bad = |what: &str, e: Error| ApiError::bad_request(format!("the {what} is refused: {e}"));
    let bundle = Bundle::load(bundle).map_err(|e| bad("bundle", e))?;
    let snapshot = Snapshot::load(snapshot).map_err(|e| bad("snapshot", e))?;
    if let Some(expected) = expected {
        for (what, want, got) in [
            ("bundle", expected.bundle, bundle.id()),
            ("snapshot", expected.snapshot, snapshot.id()),
        ] {
            if want != got {
                return Err(ApiError::bad_request(format!(
                    "the {what} file named {want} holds {got}; the artifact store is corrupt or mislabelled"
                )));
            }
        }
    }
    let predictor = Predictor::new(bundle, snapshot).map_err(|e| bad("bundle/snapshot pair", e))?;
    Ok(Api::new(predictor, Limits::default()))
}

/// Splits a publish body, `bundle ‖ snapshot` (each a whole framed artifact),
/// using the length in each header.
///
/// # Errors
///
/// 400 when either part is missing, truncated, not the right kind, or when
/// bytes follow the snapshot.
pub fn split_publish_body(body: &[u8]) -> Result<(&[u8], &[u8]), ApiError> {
    let bad = |what: &str, e: Error| {
        ApiError::bad_request(format!(
            "the body must be a bundle followed by a snapshot; the {what} header is refused: {e}"
        ))
    };
    let framed_len = |bytes: &[u8], kind: ArtifactKind, what: &str| {
        let header = Header::peek(bytes, kind).map_err(|e| bad(what, e))?;
        usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(HEADER_LEN))
            .filter(|&len| len <= bytes.len())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the {what} claims {} payload bytes but the body holds only {}",
                    header.payload_len,
                    bytes.len().saturating_sub(HEADER_LEN)
                ))
            })
    };
    let bundle_len = framed_len(body, ArtifactKind::Bundle, "bundle")?;
    let (bundle, rest) = body.split_at(bundle_len);
    let snapshot_len = framed_len(rest, ArtifactKind::Snapshot, "snapshot")?;
    if snapshot_len != rest.len() {
        return Err(ApiError::bad_request(format!(
            "{} bytes follow the snapshot; send exactly a bundle then a snapshot",
            rest.len() - snapshot_len
        )));
    }
    Ok((bundle, rest))
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
