//! The admin routes' rules: `PUT /admin/artifacts` (publish a pair) and
//! `POST /admin/rollback`, decided here once for every face that serves them.
//!
//! The Cloudflare Worker and `verge serve` both take these routes, and they
//! used to write the rules twice (and drifted: the worker checked the method
//! before the token, `verge serve` the token before the method). Now a face
//! only does I/O — reads the headers and the body, stores files, swaps the
//! served pair — and asks this module every question with an answer that must
//! not differ between faces:
//!
//! | question | answer here |
//! |---|---|
//! | is this an admin request? | [`is_admin_path`] (query strings stripped, as the API does) |
//! | may it go on, and to which route? | [`AdminGuard::admit`]: 404 when no token is configured, 401 for a wrong bearer token (compared in constant time, before any body is read), 404 for an unknown admin route, 405 for a wrong method |
//! | how large may the body be? | [`MAX_PUBLISH_BYTES`], checked by [`check_upload_len`] |
//! | is the upload a good pair? | [`receive`]: the size, the signature headers ([`BUNDLE_SIGNATURE_HEADER`], [`SNAPSHOT_SIGNATURE_HEADER`]), the framing, then every artifact check |
//! | what is the answer? | [`answer`]: `{"published": {...}, "previous": {...} or null}`; refusals are the API's error JSON ([`ApiError::into_response`]) |
//!
//! `docs/publish.md` describes the routes for callers.
//!
//! # Examples
//!
//! ```
//! use verge_core::api::admin::{AdminGuard, AdminRoute};
//!
//! let guard = AdminGuard {
//!     token: Some("s3cret"),
//!     enable_hint: "set ADMIN_TOKEN",
//!     token_source: "the ADMIN_TOKEN secret",
//! };
//! let route = guard.admit("POST", "/admin/rollback?now=1", Some("Bearer s3cret"));
//! assert_eq!(route, Ok(AdminRoute::Rollback));
//! assert_eq!(guard.admit("POST", "/admin/rollback", Some("Bearer nope")).unwrap_err().status, 401);
//! let off = AdminGuard { token: None, ..guard };
//! assert_eq!(off.admit("PUT", "/admin/artifacts", Some("Bearer s3cret")).unwrap_err().status, 404);
//! ```

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use super::{ApiError, Response};
use crate::artifact::manifest::{PublishedBundle, PublishedPair, split_publish_body};
use crate::artifact::signature::{PublicKey, Signature};
use crate::online::Deployment;

/// The route that publishes a pair (`PUT`).
pub const PUBLISH_PATH: &str = "/admin/artifacts";

/// The route that swaps back to the previous pair (`POST`).
pub const ROLLBACK_PATH: &str = "/admin/rollback";

/// The largest publish body: a bundle and a snapshot that each fit one edge
/// key-value value (25 MiB).
pub const MAX_PUBLISH_BYTES: usize = 50 << 20;

/// Request header carrying the bundle's signature (as `verge publish --url`
/// sends it): 128 hex digits.
pub const BUNDLE_SIGNATURE_HEADER: &str = "x-verge-bundle-signature";

/// Request header carrying the snapshot's signature.
pub const SNAPSHOT_SIGNATURE_HEADER: &str = "x-verge-snapshot-signature";

/// An admin route a request was admitted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    /// `PUT /admin/artifacts`: check, store and swap in the uploaded pair.
    Publish,
    /// `POST /admin/rollback`: swap back to the previous pair.
    Rollback,
}

/// Whether a request for `path` (with or without a query string) belongs to the
/// admin routes rather than the API.
///
/// # Examples
///
/// ```
/// use verge_core::api::admin::is_admin_path;
///
/// assert!(is_admin_path("/admin/artifacts?x=1"));
/// assert!(is_admin_path("/admin"));
/// assert!(!is_admin_path("/administrator"));
/// assert!(!is_admin_path("/predict"));
/// ```
#[must_use]
pub fn is_admin_path(path: &str) -> bool {
    let path = strip_query(path);
    path == "/admin" || path.starts_with("/admin/")
}

fn strip_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Compares two byte strings in time independent of where they differ (the
/// length is not secret: it only says how long the token is).
#[must_use]
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A face's admin configuration, as far as the decision needs it.
///
/// | field | meaning |
/// |---|---|
/// | `token` | the bearer token; `None` or empty turns the routes off (404) |
/// | `enable_hint` | how to turn the routes on, for the 404's message |
/// | `token_source` | where the token is configured, for the 401's message |
#[derive(Debug, Clone, Copy)]
pub struct AdminGuard<'a> {
    /// The bearer token, if the routes are on.
    pub token: Option<&'a str>,
    /// What to do to turn the routes on (e.g. "start `verge serve` with --admin-token-env VAR").
    pub enable_hint: &'a str,
    /// Where the token comes from (e.g. "the worker's ADMIN_TOKEN secret").
    pub token_source: &'a str,
}

impl AdminGuard<'_> {
    /// Decides whether an admin request may go on, from its method, path and
    /// `Authorization` header alone, so a face calls it before reading any body.
    ///
    /// The order is fixed so that nothing about the routes is revealed to a
    /// caller without the token: off (404), then the token (401), then the route
    /// (404) and the method (405).
    ///
    /// # Errors
    ///
    /// The refusal to answer with instead of reading the body.
    pub fn admit(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<AdminRoute, ApiError> {
        let Some(token) = self.token.filter(|t| !t.is_empty()) else {
            return Err(error(
                404,
                format!("the admin routes are off: {}", self.enable_hint),
            ));
        };
        // The scheme is public; only the token is compared in constant time.
        let given = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            return Err(error(
                401,
                format!(
                    "send `Authorization: Bearer <token>` with the admin token ({}) to use the admin routes",
                    self.token_source
                ),
            ));
        }
        let path = strip_query(path);
        let (route, allowed) = match path {
            PUBLISH_PATH => (AdminRoute::Publish, "PUT"),
            ROLLBACK_PATH => (AdminRoute::Rollback, "POST"),
            _ => {
                return Err(error(
                    404,
                    format!(
                        "no admin route {path}; use PUT {PUBLISH_PATH} or POST {ROLLBACK_PATH}"
                    ),
                ));
            }
        };
        if method != allowed {
            return Err(error(
                405,
                format!("{method} is not allowed on {path}; use {allowed}"),
            ));
        }
        Ok(route)
    }
}

fn error(status: u16, message: alloc::string::String) -> ApiError {
    ApiError { status, message }
}

/// Refuses a publish body over [`MAX_PUBLISH_BYTES`] (413). A face that knows
/// the length before reading (a `Content-Length`) checks it then.
///
/// # Errors
///
/// 413 naming the length and the limit.
pub fn check_upload_len(len: usize) -> Result<(), ApiError> {
    if len > MAX_PUBLISH_BYTES {
        return Err(error(
            413,
            format!("the body is {len} bytes; the limit is {MAX_PUBLISH_BYTES}"),
        ));
    }
    Ok(())
}

/// Reads a signature header's value (absent: unsigned).
///
/// # Errors
///
/// 400 when the value is not 128 hex digits.
pub fn signature_header(name: &str, value: Option<&str>) -> Result<Option<Signature>, ApiError> {
    value
        .map(|text| {
            Signature::parse_hex(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the {name} header must be 128 hex digits (an ed25519 signature)"
                ))
            })
        })
        .transpose()
}

/// A checked upload: the two artifacts' bytes (for the face to store), their
/// ids and signatures, and the pair ready to serve.
#[derive(Debug)]
pub struct Upload<'a> {
    /// The bundle's bytes, a slice of the body.
    pub bundle: &'a [u8],
    /// The snapshot's bytes, a slice of the body.
    pub snapshot: &'a [u8],
    /// Their ids and the signatures sent with them.
    pub pair: PublishedPair,
    /// The two, checked and paired.
    pub deployment: Deployment,
}

impl Upload<'_> {
    /// The deployment this upload makes of `current` (served as
    /// `current_pair`): the uploaded snapshot under every bundle, the uploaded
    /// bundle in place of the one it replaces ([`Deployment::replaces`]: the
    /// same model, or the feature bundle of the same service) or else after
    /// the others. Bundles kept keep their recorded signatures.
    ///
    /// # Errors
    ///
    /// 400 when a kept bundle does not fit the new snapshot (the served
    /// deployment stays live).
    pub fn merged_into(
        &self,
        current: &Deployment,
        current_pair: &PublishedPair,
    ) -> Result<(PublishedPair, Deployment), ApiError> {
        let Some(new) = self.deployment.bundles().next() else {
            return Ok((self.pair.clone(), self.deployment.clone()));
        };
        let served = current
            .bundles()
            .cloned()
            .zip(current_pair.bundles())
            .collect();
        let (bundles, published): (Vec<_>, Vec<_>) =
            Deployment::place(served, (new.clone(), self.first_bundle()), |(b, _)| b)
                .into_iter()
                .unzip();
        let deployment =
            Deployment::new(alloc::sync::Arc::clone(self.deployment.shared_snapshot()), bundles)
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "the pair is refused and the served deployment stays live: the bundles served beside it do not fit: {e}"
                    ))
                })?;
        let mut pair = self.pair.clone();
        let mut named = published.into_iter();
        if let Some(first) = named.next() {
            (pair.bundle, pair.bundle_signature) = (first.id, first.signature);
        }
        pair.more_bundles = named.collect();
        Ok((pair, deployment))
    }

    fn first_bundle(&self) -> PublishedBundle {
        PublishedBundle {
            id: self.pair.bundle,
            signature: self.pair.bundle_signature,
        }
    }
}

/// Checks a `PUT /admin/artifacts` body (a bundle followed by a snapshot, both
/// whole framed artifacts) with the values of the two signature headers:
/// the size, the headers, the framing, each artifact's header and hash, the
/// signatures when `key` is set, and that the two fit together.
///
/// # Errors
///
/// 413 over [`MAX_PUBLISH_BYTES`]; 400 for a bad signature header, a body that
/// is not two artifacts, or a pair that fails a check (the message says the
/// served pair stays live).
pub fn receive<'a>(
    body: &'a [u8],
    bundle_signature: Option<&str>,
    snapshot_signature: Option<&str>,
    key: Option<&PublicKey>,
) -> Result<Upload<'a>, ApiError> {
    check_upload_len(body.len())?;
    let bundle_signature = signature_header(BUNDLE_SIGNATURE_HEADER, bundle_signature)?;
    let snapshot_signature = signature_header(SNAPSHOT_SIGNATURE_HEADER, snapshot_signature)?;
    let (bundle, snapshot) =
        split_publish_body(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (pair, deployment) = PublishedPair::receive(
        bundle,
        snapshot.to_vec(),
        bundle_signature,
        snapshot_signature,
        key,
    )
    .map_err(|e| {
        ApiError::bad_request(format!(
            "the pair is refused and the served pair stays live: {e}"
        ))
    })?;
    Ok(Upload {
        bundle,
        snapshot,
        pair,
        deployment,
    })
}

/// The 409 for a rollback with nowhere to go.
#[must_use]
pub fn nothing_to_roll_back() -> ApiError {
    error(
        409,
        "there is no previous pair to roll back to (publish a second pair first)".into(),
    )
}

/// The answer of both routes once the swap is done: the pair now served and
/// the one before it (`null` when there is none).
///
/// # Examples
///
/// ```
/// use verge_core::ContentId;
/// use verge_core::api::admin::answer;
/// use verge_core::artifact::manifest::PublishedPair;
///
/// let a = PublishedPair::unsigned(ContentId([1; 32]), ContentId([2; 32]));
/// let r = answer(&a, None);
/// assert_eq!(r.status, 200);
/// let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
/// assert_eq!(json["published"]["bundle_id"], "01".repeat(32));
/// assert!(json["previous"].is_null());
/// ```
#[must_use]
pub fn answer(published: &PublishedPair, previous: Option<&PublishedPair>) -> Response {
    let pair = |p: &PublishedPair| {
        let ids: Vec<_> = p.bundles().map(|b| b.id.to_string()).collect();
        serde_json::json!({
            "bundle_id": p.bundle.to_string(),
            "snapshot_id": p.snapshot.to_string(),
            "bundle_ids": ids,
        })
    };
    let body = serde_json::json!({
        "published": pair(published),
        "previous": previous.map(pair),
    });
    Response {
        status: 200,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ContentId;
    use alloc::vec::Vec;

    const GUARD: AdminGuard<'static> = AdminGuard {
        token: Some("tok"),
        enable_hint: "turn it on",
        token_source: "the test token",
    };

    fn status(r: Result<AdminRoute, ApiError>) -> u16 {
        r.map_or_else(|e| e.status, |_| 200)
    }

    #[test]
    fn routes_methods_and_query_strings() {
        let auth = Some("Bearer tok");
        assert_eq!(
            GUARD.admit("PUT", "/admin/artifacts", auth),
            Ok(AdminRoute::Publish)
        );
        assert_eq!(
            GUARD.admit("PUT", "/admin/artifacts?sign=1", auth),
            Ok(AdminRoute::Publish)
        );
        assert_eq!(
            GUARD.admit("POST", "/admin/rollback", auth),
            Ok(AdminRoute::Rollback)
        );
        let e = GUARD.admit("GET", "/admin/artifacts", auth).unwrap_err();
        assert_eq!(e.status, 405);
        assert!(e.message.contains("use PUT"), "{}", e.message);
        assert_eq!(status(GUARD.admit("PUT", "/admin/rollback", auth)), 405);
        assert_eq!(status(GUARD.admit("POST", "/admin/nope", auth)), 404);
        assert_eq!(status(GUARD.admit("POST", "/admin", auth)), 404);
    }

    #[test]
    fn off_then_token_then_route() {
        let off = AdminGuard {
            token: None,
            ..GUARD
        };
        let empty = AdminGuard {
            token: Some(""),
            ..GUARD
        };
        for guard in [off, empty] {
            let e = guard
                .admit("PUT", "/admin/artifacts", Some("Bearer "))
                .unwrap_err();
            assert_eq!(e.status, 404);
            assert!(e.message.contains("off") && e.message.contains("turn it on"));
        }
        // Without the token, neither an unknown route nor a wrong method is revealed.
        for (method, path) in [("GET", "/admin/artifacts"), ("POST", "/admin/nope")] {
            for auth in [
                None,
                Some("Bearer to"),
                Some("Bearer tok2"),
                Some("Bearer tox"),
                Some("bearer tok"),
                Some("tok"),
                Some("Basic tok"),
            ] {
                let e = GUARD.admit(method, path, auth).unwrap_err();
                assert_eq!(e.status, 401, "{auth:?}");
                assert!(e.message.contains("the test token"), "{}", e.message);
            }
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
        assert!(same_secret(b"", b""));
    }

    #[test]
    fn uploads_are_checked_in_order() {
        assert_eq!(check_upload_len(MAX_PUBLISH_BYTES), Ok(()));
        let e = check_upload_len(MAX_PUBLISH_BYTES + 1).unwrap_err();
        assert_eq!(e.status, 413);
        assert!(e.message.contains(&format!("{MAX_PUBLISH_BYTES}")));
        let big = Vec::from([0u8; 16]);
        let e = receive(&big, Some("zz"), None, None).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains(BUNDLE_SIGNATURE_HEADER), "{}", e.message);
        let e = receive(&big, None, Some("00"), None).unwrap_err();
        assert!(
            e.message.contains(SNAPSHOT_SIGNATURE_HEADER),
            "{}",
            e.message
        );
        let e = receive(b"junk", None, None, None).unwrap_err();
        assert_eq!(e.status, 400);
        let sig = "ab".repeat(64);
        assert!(signature_header("h", Some(&sig)).unwrap().is_some());
        assert_eq!(signature_header("h", None), Ok(None));
    }

    #[test]
    fn answers_name_both_pairs() {
        let a = PublishedPair::unsigned(ContentId([1; 32]), ContentId([2; 32]));
        let b = PublishedPair::unsigned(ContentId([3; 32]), ContentId([4; 32]));
        let r = answer(&b, Some(&a));
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "published": {"bundle_id": "03".repeat(32), "snapshot_id": "04".repeat(32), "bundle_ids": ["03".repeat(32)]},
                "previous": {"bundle_id": "01".repeat(32), "snapshot_id": "02".repeat(32), "bundle_ids": ["01".repeat(32)]},
            })
        );
        assert_eq!(nothing_to_roll_back().status, 409);
    }
}
