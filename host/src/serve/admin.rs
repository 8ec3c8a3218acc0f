//! What `verge serve` is serving, swapped atomically, and the admin routes that
//! swap it: `PUT /admin/artifacts` (publish a pair) and `POST /admin/rollback`.
//!
//! The served pair is one `Arc<Served>` behind a mutex held only to clone or
//! replace it (std's answer to `arc-swap`). A request clones the `Arc` once and
//! answers with that pair to the end, so a swap can never hand it half of the
//! old pair and half of the new one; the old pair is freed when its last
//! request finishes. Admin requests are serialised by a second mutex, and do
//! their expensive checks (hashing a snapshot, signatures, `Predictor::new`)
//! before taking the first, so serving never waits on a check.
//!
//! The routes behave as the worker's (`docs/publish.md`): 404 when the server
//! has no admin token, 401 without `Authorization: Bearer <token>` (compared in
//! constant time, and checked before the body is read), 400 for a pair that
//! fails its checks — the pair being served stays live — and 200 with
//! `{"published": {...}, "previous": {...} or null}`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::{PublishedPair, split_publish_body};
use verge_core::artifact::signature::{PublicKey, Signature};

use super::http::{Answer, Request, error_body};
use crate::publish::PublishDir;
use crate::publish::push::{BUNDLE_SIGNATURE_HEADER, SNAPSHOT_SIGNATURE_HEADER};

/// The largest publish body: a bundle and a snapshot that each fit an edge KV
/// value (25 MiB), as the worker allows.
pub const MAX_PUBLISH_BYTES: usize = 50 << 20;

/// One checked pair and everything needed to serve it.
#[derive(Debug)]
pub struct Served {
    /// Increases with every swap; a Wasm worker thread reloads its instance
    /// when the generation it loaded is not the current one.
    pub generation: u64,
    /// The ids (and signatures) of the pair.
    pub pair: PublishedPair,
    /// The native API over the pair (it also holds the snapshot's bytes).
    pub api: Arc<Api>,
    /// The bundle's bytes, for loading Wasm instances.
    pub bundle: Vec<u8>,
}

impl Served {
    /// The snapshot's bytes, for loading Wasm instances.
    #[must_use]
    pub fn snapshot_bytes(&self) -> &[u8] {
        self.api.predictor().snapshot().as_bytes()
    }
}

#[derive(Debug)]
struct Pairs {
    current: Arc<Served>,
    previous: Option<Arc<Served>>,
}

/// The admin configuration.
#[derive(Debug)]
pub struct AdminConfig {
    /// The bearer token; `None` turns the admin routes off (404).
    pub token: Option<String>,
    /// When set, pairs must be signed by this key.
    pub public_key: Option<PublicKey>,
    /// When set, publishes and rollbacks are also written to this publish
    /// directory (the one the server was started `--from`).
    pub dir: Option<PublishDir>,
    /// Limits for the APIs built over new pairs.
    pub limits: Limits,
}

/// The served pair, its predecessor, and the admin routes.
#[derive(Debug)]
pub struct Live {
    pairs: Mutex<Pairs>,
    admin: Mutex<()>,
    config: AdminConfig,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing holding these locks can panic midway through an update (they
    // only move `Arc`s), so a poisoned lock still guards consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Compares two byte strings in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(status: u16, message: &str) -> Answer {
    (status, error_body(status, message))
}

fn pair_json(p: &PublishedPair) -> Json {
    json!({"bundle_id": p.bundle.to_string(), "snapshot_id": p.snapshot.to_string()})
}

impl Live {
    /// Starts serving `pair` (already checked) through `api`.
    #[must_use]
    pub fn new(pair: PublishedPair, api: Api, bundle: Vec<u8>, config: AdminConfig) -> Live {
        Live {
            pairs: Mutex::new(Pairs {
                current: Arc::new(Served {
                    generation: 0,
                    pair,
                    api: Arc::new(api),
                    bundle,
                }),
                previous: None,
            }),
            admin: Mutex::new(()),
            config,
        }
    }

    /// Records the pair served before the current one (at startup, from a
    /// publish directory's manifest), so that a rollback can return to it.
    pub fn set_previous(&self, pair: PublishedPair, api: Api, bundle: Vec<u8>) {
        lock(&self.pairs).previous = Some(Arc::new(Served {
            generation: 0,
            pair,
            api: Arc::new(api),
            bundle,
        }));
    }

    /// The pair to answer one request with (an `Arc` clone under a short lock).
    #[must_use]
    pub fn current(&self) -> Arc<Served> {
        Arc::clone(&lock(&self.pairs).current)
    }

    /// Whether `request` goes to the admin routes rather than the API.
    #[must_use]
    pub fn is_admin(request: &Request) -> bool {
        request.path == "/admin" || request.path.starts_with("/admin/")
    }

    /// The [`super::http::Admit`] decision: API requests get `api_max` bytes;
    /// admin requests are refused (404 off, 401 unauthenticated) before their
    /// body is read, and otherwise get [`MAX_PUBLISH_BYTES`].
    ///
    /// # Errors
    ///
    /// The refusal to send instead of reading the body.
    pub fn admit(&self, request: &Request, api_max: usize) -> Result<usize, Answer> {
        if !Live::is_admin(request) {
            return Ok(api_max);
        }
        self.authorize(request)?;
        Ok(MAX_PUBLISH_BYTES)
    }

    fn authorize(&self, request: &Request) -> Result<(), Answer> {
        let Some(token) = &self.config.token else {
            return Err(refuse(
                404,
                "the admin routes are off: start `verge serve` with --admin-token-env VAR",
            ));
        };
        let given = request.header("authorization").unwrap_or_default();
        let mut expected = String::with_capacity(token.len() + 7);
        expected.push_str("Bearer ");
        expected.push_str(token);
        let ok = same_secret(given.as_bytes(), expected.as_bytes());
        drop(zeroize::Zeroizing::new(expected));
        if ok {
            Ok(())
        } else {
            Err(refuse(
                401,
                "send `Authorization: Bearer <token>` (the value of --admin-token-env) to use the admin routes",
            ))
        }
    }

    /// Answers an admin request.
    pub fn handle_admin(&self, request: &Request) -> Answer {
        if let Err(answer) = self.authorize(request) {
            return answer;
        }
        let (route, method) = (request.path.as_str(), request.method.as_str());
        match (route, method) {
            ("/admin/artifacts", "PUT") => self.publish(request),
            ("/admin/rollback", "POST") => self.rollback(),
            ("/admin/artifacts", _) => refuse(
                405,
                &format!("{method} is not allowed on /admin/artifacts; use PUT"),
            ),
            ("/admin/rollback", _) => refuse(
                405,
                &format!("{method} is not allowed on /admin/rollback; use POST"),
            ),
            _ => refuse(
                404,
                &format!(
                    "no admin route {route}; use PUT /admin/artifacts or POST /admin/rollback"
                ),
            ),
        }
    }

    fn signature(request: &Request, header: &str) -> Result<Option<Signature>, Answer> {
        match request.header(header) {
            None => Ok(None),
            Some(text) => Signature::parse_hex(text).map(Some).ok_or_else(|| {
                refuse(
                    400,
                    &format!("the {header} header must be 128 hex digits (an ed25519 signature)"),
                )
            }),
        }
    }

    fn publish(&self, request: &Request) -> Answer {
        let (bundle, snapshot) = match split_publish_body(&request.body) {
            Ok(parts) => parts,
            Err(e) => return refuse(400, &e.to_string()),
        };
        let signatures = Live::signature(request, BUNDLE_SIGNATURE_HEADER)
            .and_then(|b| Live::signature(request, SNAPSHOT_SIGNATURE_HEADER).map(|s| (b, s)));
        let (bundle_sig, snapshot_sig) = match signatures {
            Ok(sigs) => sigs,
            Err(answer) => return answer,
        };
        // Checked before any lock: hashing a large snapshot must not stall
        // requests, nor another admin call's swap.
        let checked = PublishedPair::receive(
            bundle,
            snapshot.to_vec(),
            bundle_sig,
            snapshot_sig,
            self.config.public_key.as_ref(),
        );
        let (pair, predictor) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                return refuse(
                    400,
                    &format!("the pair is refused and the served pair stays live: {e}"),
                );
            }
        };
        let _admin = lock(&self.admin);
        if let Some(dir) = &self.config.dir
            && let Err(e) = dir.publish(bundle, snapshot, pair)
        {
            return refuse(
                500,
                &format!("the pair could not be stored, and the served pair stays live: {e:#}"),
            );
        }
        let api = Arc::new(Api::new(predictor, self.config.limits));
        let mut pairs = lock(&self.pairs);
        let generation = pairs.current.generation + 1;
        let served = Arc::new(Served {
            generation,
            pair,
            api,
            bundle: bundle.to_vec(),
        });
        if !pairs.current.pair.same_artifacts(&pair) {
            pairs.previous = Some(Arc::clone(&pairs.current));
        }
        pairs.current = served;
        let answer = json!({
            "published": pair_json(&pair),
            "previous": pairs.previous.as_ref().map(|p| pair_json(&p.pair)),
        });
        drop(pairs);
        (200, serde_json::to_vec(&answer).unwrap_or_default())
    }

    fn rollback(&self) -> Answer {
        let _admin = lock(&self.admin);
        let Some(previous) = lock(&self.pairs).previous.clone() else {
            return refuse(409, "there is no previous pair to roll back to");
        };
        if let Some(dir) = &self.config.dir
            && let Err(e) = dir.rollback(self.config.public_key.as_ref())
        {
            return refuse(
                500,
                &format!("the rollback could not be stored, and the served pair stays live: {e:#}"),
            );
        }
        let mut pairs = lock(&self.pairs);
        let generation = pairs.current.generation + 1;
        let restored = Arc::new(Served {
            generation,
            pair: previous.pair,
            api: Arc::clone(&previous.api),
            bundle: previous.bundle.clone(),
        });
        let replaced = std::mem::replace(&mut pairs.current, restored);
        pairs.previous = Some(replaced);
        let answer = json!({
            "published": pair_json(&pairs.current.pair),
            "previous": pairs.previous.as_ref().map(|p| pair_json(&p.pair)),
        });
        drop(pairs);
        (200, serde_json::to_vec(&answer).unwrap_or_default())
    }
}
