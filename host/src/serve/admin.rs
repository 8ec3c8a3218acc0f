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
//! The routes' rules are the core's ([`verge_core::api::admin`]), the very
//! code the worker runs (`docs/publish.md`): 404 when the server has no admin
//! token, 401 without `Authorization: Bearer <token>` (compared in constant
//! time, and checked before the body is read), 404/405 for another route or
//! method, 413 over the size limit, 400 for a pair that fails its checks — the
//! pair being served stays live — and 200 with
//! `{"published": {...}, "previous": {...} or null}`. What is left here is
//! I/O: storing files and swapping the served pair.

pub mod push;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use verge_core::api::admin::{self, AdminGuard, AdminRoute};
use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::manifest::{PublishManifest, PublishedPair};
use verge_core::artifact::signature::PublicKey;

use super::http::{Answer, Request};
use super::shards::LazyShards;
use crate::publish::PublishDir;

/// The largest publish body (the core's limit, the worker's too).
pub use verge_core::api::admin::MAX_PUBLISH_BYTES;

/// One checked pair and everything needed to serve it.
#[derive(Debug)]
pub struct Served {
    /// Increases with every swap; a Wasm worker thread reloads its instance
    /// when the generation it loaded is not the current one.
    pub generation: u64,
    /// The ids (and signatures) of the pair.
    pub pair: PublishedPair,
    /// The native API over the deployment (it also holds the snapshot's bytes).
    pub api: Arc<Api>,
    /// Each bundle's bytes, in `pair`'s order, for loading Wasm instances.
    pub bundles: Vec<Vec<u8>>,
}

impl Served {
    /// The snapshot's bytes, for loading Wasm instances.
    #[must_use]
    pub fn snapshot_bytes(&self) -> &[u8] {
        self.api.deployment().snapshot().as_bytes()
    }

    /// The bytes of the bundle with content id `id`, if served here.
    #[must_use]
    pub fn bundle_bytes(&self, id: verge_core::ContentId) -> Option<&[u8]> {
        self.pair
            .bundles()
            .zip(&self.bundles)
            .find(|(b, _)| b.id == id)
            .map(|(_, bytes)| bytes.as_slice())
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
    /// The repository served, whose push log `POST /push` and
    /// `POST /write-to-online-store` write ([`push`]); `None` takes no writes.
    pub repo: Option<PathBuf>,
}

/// The served pair, its predecessor, and the admin routes.
#[derive(Debug)]
pub struct Live {
    pairs: Mutex<Pairs>,
    /// The shards loaded so far when the current pair is a shard set
    /// ([`super::shards`]), for the generation they were loaded for.
    shards: Mutex<Option<Arc<LazyShards>>>,
    admin: Mutex<()>,
    writes: Mutex<()>,
    config: AdminConfig,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing holding these locks can panic midway through an update (they
    // only move `Arc`s), so a poisoned lock still guards consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn refuse(status: u16, message: &str) -> Answer {
    reply(
        ApiError {
            status,
            message: message.into(),
        }
        .into_response(),
    )
}

fn reply(response: verge_core::api::Response) -> Answer {
    (response.status, response.body)
}

impl Live {
    /// Starts serving `pair` (already checked) through `api`.
    #[must_use]
    pub fn new(pair: PublishedPair, api: Api, bundles: Vec<Vec<u8>>, config: AdminConfig) -> Live {
        Live {
            pairs: Mutex::new(Pairs {
                current: Arc::new(Served {
                    generation: 0,
                    pair,
                    api: Arc::new(api),
                    bundles,
                }),
                previous: None,
            }),
            shards: Mutex::new(None),
            admin: Mutex::new(()),
            writes: Mutex::new(()),
            config,
        }
    }

    /// Records the pair served before the current one (at startup, from a
    /// publish directory's manifest), so that a rollback can return to it.
    pub fn set_previous(&self, pair: PublishedPair, api: Api, bundles: Vec<Vec<u8>>) {
        lock(&self.pairs).previous = Some(Arc::new(Served {
            generation: 0,
            pair,
            api: Arc::new(api),
            bundles,
        }));
    }

    /// The pair to answer one request with (an `Arc` clone under a short lock).
    #[must_use]
    pub fn current(&self) -> Arc<Served> {
        Arc::clone(&lock(&self.pairs).current)
    }

    /// The API to answer a request for `body` with from `served` (the pair
    /// [`Live::current`] gave it): `served`'s own, or for a shard set served
    /// from a publish directory, the one over the shards loaded so far after
    /// loading those `body` needs.
    ///
    /// # Errors
    ///
    /// A 503 naming a needed shard that is missing or fails its check.
    pub fn api_for(&self, served: &Served, body: &[u8]) -> Result<Arc<Api>, Answer> {
        if served.pair.shards.is_empty() {
            return Ok(Arc::clone(&served.api));
        }
        let Some(dir) = &self.config.dir else {
            // Only a publish directory names shard sets; without one the
            // core answers 503 for keys in shards it does not hold.
            return Ok(Arc::clone(&served.api));
        };
        let lazy = {
            let mut held = lock(&self.shards);
            match held.as_ref() {
                Some(lazy) if lazy.generation() == served.generation => Arc::clone(lazy),
                // A request that took the pair just before a swap answers
                // from what it took, without unloading the newer set.
                Some(lazy) if lazy.generation() > served.generation => {
                    return Ok(Arc::clone(&served.api));
                }
                _ => {
                    let Some(fresh) = LazyShards::of(
                        served,
                        dir,
                        self.config.public_key.as_ref(),
                        self.config.limits,
                    ) else {
                        return Ok(Arc::clone(&served.api));
                    };
                    let fresh = Arc::new(fresh);
                    *held = Some(Arc::clone(&fresh));
                    fresh
                }
            }
        };
        lazy.ready(body)
    }

    /// How many shards of the served set have been mapped and checked so far
    /// (0 when the pair served is not a shard set).
    #[must_use]
    pub fn shard_loads(&self) -> u64 {
        if let Some(lazy) = lock(&self.shards).as_ref() {
            return lazy.loads();
        }
        let current = self.current();
        let layers = current.api.deployment().primary().layers();
        if layers.shard_ids().is_empty() {
            return 0;
        }
        layers.loaded_shards().count() as u64
    }

    /// Whether `request` goes to the admin routes rather than the API (the
    /// core's rule, query strings stripped).
    #[must_use]
    pub fn is_admin(request: &Request) -> bool {
        admin::is_admin_path(&request.path)
    }

    /// The [`super::http::Admit`] decision: API requests get `api_max` bytes;
    /// admin requests are refused (404 off, 401 unauthenticated, 404/405 for
    /// another route or method) before their body is read, and otherwise get
    /// [`MAX_PUBLISH_BYTES`].
    ///
    /// # Errors
    ///
    /// The refusal to send instead of reading the body.
    pub fn admit(&self, request: &Request, api_max: usize) -> Result<usize, Answer> {
        if push::is_write(request) {
            self.admit_write(request)?;
            return Ok(MAX_PUBLISH_BYTES);
        }
        if !Live::is_admin(request) {
            return Ok(api_max);
        }
        self.route(request)?;
        Ok(MAX_PUBLISH_BYTES)
    }

    /// The core's admin decision for `request`.
    fn route(&self, request: &Request) -> Result<AdminRoute, Answer> {
        let guard = AdminGuard {
            token: self.config.token.as_deref(),
            enable_hint: "start `verge serve` with --admin-token-env VAR",
            token_source: "the value of --admin-token-env",
        };
        guard
            .admit(
                &request.method,
                &request.path,
                request.header("authorization"),
            )
            .map_err(|e| reply(e.into_response()))
    }

    /// Answers an admin request.
    pub fn handle_admin(&self, request: &Request) -> Answer {
        match self.route(request) {
            Ok(AdminRoute::Publish) => self.publish(request),
            Ok(AdminRoute::Rollback) => self.rollback(),
            Err(answer) => answer,
        }
    }

    fn publish(&self, request: &Request) -> Answer {
        // Checked before any lock: hashing a large snapshot must not stall
        // requests, nor another admin call's swap.
        let upload = match admin::receive(
            &request.body,
            request.header(admin::BUNDLE_SIGNATURE_HEADER),
            request.header(admin::SNAPSHOT_SIGNATURE_HEADER),
            self.config.public_key.as_ref(),
        ) {
            Ok(upload) => upload,
            Err(e) => return reply(e.into_response()),
        };
        let _admin = lock(&self.admin);
        // The upload replaces its own model's bundle (or its service's feature
        // bundle) and the snapshot; the deployment's other bundles stay, over
        // the new snapshot.
        let current = self.current();
        let (pair, deployment) = match upload.merged_into(current.api.deployment(), &current.pair) {
            Ok(merged) => merged,
            Err(e) => return reply(e.into_response()),
        };
        // Every kept bundle is one the server holds; a missing one would be a
        // bug, refused rather than stored as an empty file.
        let bundles: Option<Vec<Vec<u8>>> = pair
            .bundles()
            .map(|b| {
                if b.id == upload.pair.bundle {
                    Some(upload.bundle.to_vec())
                } else {
                    current.bundle_bytes(b.id).map(<[u8]>::to_vec)
                }
            })
            .collect();
        let Some(bundles) = bundles else {
            return refuse(
                500,
                "internal: a bundle kept from the served deployment has no bytes; the served deployment stays live",
            );
        };
        let fresh = Arc::new(Served {
            generation: 0,
            pair: pair.clone(),
            api: Arc::new(Api::serving(deployment, self.config.limits)),
            bundles,
        });
        let Some(dir) = &self.config.dir else {
            return Live::push(lock(&self.pairs), fresh);
        };
        match dir.publish(&fresh.bundles, upload.snapshot, &[] as &[&[u8]], pair) {
            Ok(manifest) => self.adopt(&manifest, fresh),
            Err(e) => refuse(
                500,
                &format!("the pair could not be stored, and the served pair stays live: {e:#}"),
            ),
        }
    }

    fn rollback(&self) -> Answer {
        let _admin = lock(&self.admin);
        let Some(dir) = &self.config.dir else {
            let mut pairs = lock(&self.pairs);
            let Some(previous) = pairs.previous.take() else {
                return reply(admin::nothing_to_roll_back().into_response());
            };
            pairs.previous = Some(Arc::clone(&pairs.current));
            return Live::swap(pairs, previous);
        };
        // The directory is the record: another process may have published or
        // rolled back since this server last wrote it, so the rollback is
        // decided from the manifest on disk, under its lock, not from memory.
        match dir.try_rollback(self.config.public_key.as_ref()) {
            Ok(Some((manifest, (deployment, bundles)))) => {
                let restored = Arc::new(Served {
                    generation: 0,
                    pair: manifest.current.clone(),
                    api: Arc::new(Api::serving(deployment, self.config.limits)),
                    bundles,
                });
                self.adopt(&manifest, restored)
            }
            Ok(None) => reply(admin::nothing_to_roll_back().into_response()),
            Err(e) => refuse(
                500,
                &format!("the rollback could not be stored, and the served pair stays live: {e:#}"),
            ),
        }
    }

    /// Serves what a publish directory's `manifest` names (read by
    /// [`super::watch`] after another process wrote it), `candidate` being its
    /// current pair as loaded and checked. Serialised with the admin routes.
    ///
    /// Returns `false`, serving nothing new, when the directory's manifest is
    /// no longer `manifest`: an admin route (or another publisher) moved it
    /// while the candidate was being checked, and adopting the stale one would
    /// serve a pair the directory no longer names. The next poll sees the
    /// manifest as it is.
    pub fn follow(&self, manifest: &PublishManifest, candidate: Arc<Served>) -> bool {
        let _admin = lock(&self.admin);
        if let Some(dir) = &self.config.dir {
            // Under the admin lock, every admin write is already on disk.
            if !matches!(dir.read_manifest(), Ok(Some(now)) if now == *manifest) {
                return false;
            }
        }
        let _ = self.adopt(manifest, candidate);
        true
    }

    /// Serves `next` (loaded and checked), keeping the pair it replaces as the
    /// previous one (for a rollback). Serialised with the admin routes.
    pub fn replace(&self, next: Arc<Served>) {
        let _admin = lock(&self.admin);
        let _ = Live::push(lock(&self.pairs), next);
    }

    /// Serves `next`, the pair it replaces becoming the previous one (unless
    /// they are the same pair), and answers with both.
    fn push(mut pairs: MutexGuard<'_, Pairs>, next: Arc<Served>) -> Answer {
        if !pairs.current.pair.same_artifacts(&next.pair) {
            pairs.previous = Some(Arc::clone(&pairs.current));
        }
        Live::swap(pairs, next)
    }

    /// Serves `next` as `pair`'s artifacts under a new generation, so Wasm
    /// threads reload.
    fn set_current(pairs: &mut Pairs, pair: PublishedPair, next: &Served) {
        let generation = pairs.current.generation + 1;
        pairs.current = Arc::new(Served {
            generation,
            pair,
            api: Arc::clone(&next.api),
            bundles: next.bundles.clone(),
        });
    }

    /// Serves `next` with `pairs.previous` as it stands, and answers with both.
    fn swap(mut pairs: MutexGuard<'_, Pairs>, next: Arc<Served>) -> Answer {
        Live::set_current(&mut pairs, next.pair.clone(), &next);
        reply(admin::answer(
            &pairs.current.pair,
            pairs.previous.as_ref().map(|p| &p.pair),
        ))
    }

    /// Serves what `manifest` (just written to the publish directory) names:
    /// its current pair (the one already served if it is the same, else
    /// `candidate`), and as previous whichever pair in memory it names. The
    /// answer is the manifest's, so the server, its answer and the directory
    /// always agree.
    fn adopt(&self, manifest: &PublishManifest, candidate: Arc<Served>) -> Answer {
        let mut pairs = lock(&self.pairs);
        let known = [
            Some(&pairs.current),
            Some(&candidate),
            pairs.previous.as_ref(),
        ];
        let find = |pair: &PublishedPair| {
            known
                .iter()
                .flatten()
                .find(|s| s.pair.same_artifacts(pair))
                .map(|s| Arc::clone(s))
        };
        // A rollback in the directory needs no other memory than this: the
        // previous pair is kept only when it is already loaded.
        let previous = manifest.previous.as_ref().and_then(find);
        let current = find(&manifest.current).unwrap_or(candidate);
        pairs.previous = previous;
        if !pairs.current.pair.same_artifacts(&manifest.current) {
            Live::set_current(&mut pairs, manifest.current.clone(), &current);
        }
        drop(pairs);
        reply(admin::answer(&manifest.current, manifest.previous.as_ref()))
    }
}
