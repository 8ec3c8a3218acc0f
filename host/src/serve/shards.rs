//! A sharded deployment served from a publish directory, each shard mapped
//! and checked the first time a request needs it.
//!
//! `verge publish --to DIR` ships a large snapshot as a set of shards
//! (`docs/publish.md`). Checking them all at start-up would hash and index the
//! whole snapshot before the first answer, and reading them would put all of
//! it in memory. Instead `verge serve --from DIR` starts with shard 0 (whose
//! schema every shard shares; [`crate::publish::PublishDir::check_pair`]
//! checks it and that the other files exist), and before answering a request:
//!
//! 1. asks the core which shards the request's keys route to and are not
//!    loaded ([`Api::shards_to_load`]);
//! 2. memory-maps each ([`crate::mmap`]) and checks it
//!    ([`PublishedPair::check_shard`]: header, BLAKE3 hash, the id the
//!    manifest names for that index, the signature with `--public-key`);
//! 3. answers from the shards loaded so far, each key read from the shard
//!    that owns it.
//!
//! So start-up costs one shard whatever the set's size, and resident memory
//! grows with the shards requests touch (their mapped pages and their key
//! indexes). A shard that is missing or fails its check is never served: the
//! request whose keys it holds gets a 503 naming it, other requests are
//! answered, and the next request that needs it tries again. The edge Worker
//! does the same with a memory budget (`wasm/src/worker/shards.rs`); a host
//! has the memory to keep every shard it has checked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::signature::PublicKey;

use super::admin::Served;
use super::http::Answer;
use crate::publish::PublishDir;

/// The shards of one served pair loaded so far, and how to load the rest.
#[derive(Debug)]
pub struct LazyShards {
    /// The generation of the [`Served`] pair these are shards of.
    generation: u64,
    dir: PublishDir,
    pair: PublishedPair,
    key: Option<PublicKey>,
    limits: Limits,
    /// The API over every shard loaded so far.
    api: Mutex<Arc<Api>>,
    /// Serialises loading, so two requests needing one shard load it once.
    loading: Mutex<()>,
    /// How many shards were mapped and checked (shard 0 at start included).
    loads: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are only ever replaced whole (an `Arc`, or nothing),
    // so a poisoned lock still guards a consistent value.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(message: String) -> Answer {
    let response = ApiError {
        status: 503,
        message,
    }
    .into_response();
    (response.status, response.body)
}

impl LazyShards {
    /// The loader for `served`, a pair whose set is read from `dir` with only
    /// the shards its API holds loaded; `None` when it is not a shard set.
    #[must_use]
    pub fn of(
        served: &Served,
        dir: &PublishDir,
        key: Option<&PublicKey>,
        limits: Limits,
    ) -> Option<LazyShards> {
        if served.pair.shards.is_empty() {
            return None;
        }
        let loaded = served
            .api
            .deployment()
            .primary()
            .layers()
            .loaded_shards()
            .count();
        Some(LazyShards {
            generation: served.generation,
            dir: dir.clone(),
            pair: served.pair.clone(),
            key: key.copied(),
            limits,
            api: Mutex::new(Arc::clone(&served.api)),
            loading: Mutex::new(()),
            loads: AtomicU64::new(loaded as u64),
        })
    }

    /// The generation of the served pair this loads shards for.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many shards have been mapped and checked.
    #[must_use]
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The API that can answer `body`: the one over the shards loaded so
    /// far, after loading those `body`'s keys need.
    ///
    /// # Errors
    ///
    /// A 503 naming each needed shard that is missing or fails its check
    /// (the shards that did check out are kept).
    pub fn ready(&self, body: &[u8]) -> Result<Arc<Api>, Answer> {
        let api = Arc::clone(&lock(&self.api));
        if api.shards_to_load(body).is_empty() {
            return Ok(api);
        }
        let _loading = lock(&self.loading);
        // Another request may have loaded them while this one waited.
        let api = Arc::clone(&lock(&self.api));
        let missing = api.shards_to_load(body);
        if missing.is_empty() {
            return Ok(api);
        }
        let mut loaded: Vec<_> = api
            .deployment()
            .primary()
            .layers()
            .loaded_shards()
            .cloned()
            .collect();
        let mut failures = Vec::new();
        for index in missing {
            match self.dir.load_shard(&self.pair, index, self.key.as_ref()) {
                Ok(shard) => {
                    loaded.push(shard);
                    self.loads.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        let bundles = api.deployment().bundles().cloned().collect();
        let deployment = self
            .pair
            .sharded_deployment(bundles, loaded)
            .map_err(|e| unavailable(format!("the published shards are refused: {e}")))?;
        let fresh = Arc::new(Api::serving(deployment, self.limits));
        *lock(&self.api) = Arc::clone(&fresh);
        if !failures.is_empty() {
            return Err(unavailable(format!(
                "the keys of this request are in shards that cannot be served: {}",
                failures.join("; ")
            )));
        }
        Ok(fresh)
    }
}
