//! A sharded deployment in one isolate: shards fetched as requests need them,
//! checked before use, and kept under a memory budget.
//!
//! A Worker isolate has 128 MB, Wasm memory included, so a snapshot of 10M
//! entities (about 1 GB) cannot be loaded whole. `verge publish` ships it as
//! shards of at most 25 MiB (a KV value's limit), named in order by the
//! manifest's `shards`. This isolate starts with shard 0 (whose schema every
//! shard shares), and before answering a request:
//!
//! 1. asks the core which shards the request's keys route to and are not
//!    loaded ([`Api::shards_to_load`]);
//! 2. fetches each from the `SHARDS` KV namespace (key `<shard id>.bin`), or
//!    from `ARTIFACTS` (`snapshots/<shard id>.bin`) when there is no `SHARDS`
//!    binding;
//! 3. checks it ([`Pair::check_shard`]: header, BLAKE3 hash, the id the
//!    manifest names for that index, the signature when `PUBLIC_KEY` is set);
//! 4. evicts the least recently used shards the request does not need until
//!    the estimate of what is held fits `SHARD_CACHE_BYTES` (default 64 MiB);
//! 5. answers from the shards held, each key read from the shard that owns it.
//!
//! A shard that is missing or fails a check is not kept: the request whose
//! keys it holds gets a 503 naming it, other requests are answered, and the
//! next request that needs it tries again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use verge_core::api::{Api, ApiError, Limits};
use verge_core::artifact::Bundle;
use verge_core::artifact::Snapshot;
use verge_core::artifact::signature::PublicKey;
use worker::{Env, Fetcher};

use super::artifacts::{self, Pair, unavailable};

/// The KV namespace binding shards are read from, when bound.
pub const SHARDS_BINDING: &str = "SHARDS";

/// The variable holding the cache budget in bytes.
pub const BUDGET_VAR: &str = "SHARD_CACHE_BYTES";

/// The budget when `SHARD_CACHE_BYTES` is unset: half an isolate's 128 MB,
/// leaving room for the shard being fetched (held twice while it is copied
/// into Wasm memory), the bundles and the requests.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

/// What a shard is counted as holding: its bytes, and the key index the
/// loader builds beside them (about this much per row).
const INDEX_BYTES_PER_ROW: usize = 24;

/// A loaded shard and when it was last needed.
#[derive(Debug)]
struct Held {
    snapshot: Arc<Snapshot>,
    cost: usize,
    used: u64,
}

/// The shards this isolate holds for the pair it serves.
#[derive(Debug)]
struct ShardState {
    pair: Pair,
    bundles: Vec<Bundle>,
    limits: Limits,
    /// `SHARD_CACHE_BYTES`, read once when the pair is loaded.
    budget: usize,
    held: BTreeMap<u32, Held>,
    clock: u64,
    /// How many shards this isolate has fetched (for `/version`-free
    /// observation in logs and benchmarks).
    fetches: u64,
}

thread_local! {
    static STATE: RefCell<Option<ShardState>> = const { RefCell::new(None) };
}

fn cost_of(snapshot: &Snapshot) -> usize {
    let rows: usize = snapshot.meta().views.iter().map(|v| v.rows as usize).sum();
    snapshot
        .as_bytes()
        .len()
        .saturating_add(rows.saturating_mul(INDEX_BYTES_PER_ROW))
}

/// Fetches shard `index` of `pair` and checks it.
async fn fetch(
    env: &Env,
    store: &Fetcher,
    pair: &Pair,
    index: u32,
    key: Option<&PublicKey>,
) -> Result<Arc<Snapshot>, ApiError> {
    let entry = pair.shards.get(index as usize).ok_or_else(|| {
        unavailable(format!(
            "shard {index} is not one of the {} the manifest names",
            pair.shards.len()
        ))
    })?;
    let bytes = match env.kv(SHARDS_BINDING) {
        Ok(kv) => {
            let name = format!("{}.bin", entry.id);
            kv.get(&name)
                .bytes()
                .await
                .map_err(|e| {
                    unavailable(format!(
                        "reading shard {index} ({name}) from `{SHARDS_BINDING}` failed: {e}"
                    ))
                })?
                .ok_or_else(|| {
                    unavailable(format!(
                        "shard {index} ({name}) is named by {} but missing from `{SHARDS_BINDING}`; upload every shard before the manifest",
                        artifacts::MANIFEST_PATH
                    ))
                })?
        }
        Err(_) => artifacts::get_required(store, &entry.path()).await?,
    };
    pair.check_shard(index, bytes, key).map_err(|e| {
        unavailable(format!(
            "shard {index} of {} is refused: {e}",
            pair.shards.len()
        ))
    })
}

/// The `Api` over the shards `state` holds.
fn api_of(state: &ShardState) -> Result<Arc<Api>, ApiError> {
    let loaded = state.held.values().map(|h| h.snapshot.clone()).collect();
    let deployment = state
        .pair
        .sharded_deployment(state.bundles.clone(), loaded)
        .map_err(|e| unavailable(format!("the published shards are refused: {e}")))?;
    Ok(Arc::new(Api::serving(deployment, state.limits)))
}

/// Loads a sharded pair: its bundles and shard 0, which gives the schema.
///
/// # Errors
///
/// 503 when a file is missing or fails a check; the message names it.
pub async fn load(
    env: &Env,
    store: &Fetcher,
    pair: &Pair,
    key: Option<&PublicKey>,
    limits: Limits,
) -> Result<Api, ApiError> {
    let budget = artifacts::positive_number(env, BUDGET_VAR, DEFAULT_BUDGET)?;
    let mut bytes = Vec::new();
    for bundle in pair.bundles() {
        bytes.push(artifacts::get_required(store, &bundle.path()).await?);
    }
    let bundles = pair
        .check_bundles(&bytes, key)
        .map_err(|e| unavailable(format!("the published pair is refused: {e}")))?;
    let first = fetch(env, store, pair, 0, key).await?;
    let mut held = BTreeMap::new();
    held.insert(
        0,
        Held {
            cost: cost_of(&first),
            snapshot: first,
            used: 0,
        },
    );
    let state = ShardState {
        pair: pair.clone(),
        bundles,
        limits,
        budget,
        held,
        clock: 0,
        fetches: 1,
    };
    let api = api_of(&state)?;
    STATE.with_borrow_mut(|s| *s = Some(state));
    Ok(Arc::try_unwrap(api).unwrap_or_else(|shared| (*shared).clone()))
}

/// The `Api` that can answer `body`: `api` itself when it is not sharded or
/// holds every shard `body` needs, else one over the shards held after
/// fetching the missing ones (and evicting others over the budget).
///
/// # Errors
///
/// 503 when a needed shard cannot be fetched or fails its checks.
pub async fn ready(env: &Env, api: Arc<Api>, body: &[u8]) -> Result<Arc<Api>, ApiError> {
    if api.deployment().primary().layers().shard_ids().is_empty() {
        // Not a shard set: nothing to fetch, and no pair to look up.
        return Ok(api);
    }
    let Some(pair) = super::cache::serving_pair().filter(|p| !p.shards.is_empty()) else {
        return Ok(api);
    };
    let needed = api.shards_needed(body);
    let missing: Vec<u32> = {
        let layers = api.deployment().primary().layers();
        let absent: Vec<u32> = layers.missing_shards().collect();
        needed
            .iter()
            .copied()
            .filter(|s| absent.contains(s))
            .collect()
    };
    STATE.with_borrow_mut(|s| {
        if let Some(state) = s.as_mut().filter(|s| s.pair == pair) {
            state.clock += 1;
            let now = state.clock;
            for shard in &needed {
                if let Some(held) = state.held.get_mut(shard) {
                    held.used = now;
                }
            }
        }
    });
    if missing.is_empty() {
        return Ok(shrink(&pair, &needed).unwrap_or(api));
    }
    let store = artifacts::binding(env)?;
    let key = artifacts::public_key(env)?;
    let mut fetched = Vec::with_capacity(missing.len());
    let mut failure = None;
    for &index in &missing {
        match fetch(env, &store, &pair, index, key.as_ref()).await {
            Ok(shard) => fetched.push((index, shard)),
            // The shards that did check out are kept for the next request.
            Err(e) => {
                worker::console_error!("verge: {}", e.message);
                failure.get_or_insert(e);
            }
        }
    }
    let rebuilt = STATE.with_borrow_mut(|s| {
        let state = s.as_mut().filter(|s| s.pair == pair)?;
        state.clock += 1;
        let now = state.clock;
        for (index, snapshot) in fetched {
            state.fetches += 1;
            state.held.insert(
                index,
                Held {
                    cost: cost_of(&snapshot),
                    snapshot,
                    used: now,
                },
            );
        }
        evict(state, &needed);
        Some(api_of(state))
    });
    let api = match rebuilt {
        Some(rebuilt) => {
            let rebuilt = rebuilt?;
            super::cache::install_shards(&pair, rebuilt.clone());
            rebuilt
        }
        // Another pair was swapped in meanwhile; this request keeps the
        // `api` it started with.
        None => api,
    };
    match failure {
        Some(e) => Err(e),
        None => Ok(api),
    }
}

/// After a request that needed more shards than the budget holds: the `Api`
/// over what is left once the others are evicted, or `None` when nothing is
/// over the budget (the common case, which costs one sum).
fn shrink(pair: &Pair, needed: &[u32]) -> Option<Arc<Api>> {
    let api = STATE.with_borrow_mut(|s| {
        let state = s.as_mut().filter(|s| s.pair == *pair)?;
        let total: usize = state.held.values().map(|h| h.cost).sum();
        if total <= state.budget {
            return None;
        }
        evict(state, needed);
        api_of(state).ok()
    })?;
    super::cache::install_shards(pair, api.clone());
    Some(api)
}

/// Drops the least recently used shards `needed` does not include until the
/// held total fits the budget (shards a request needs stay, even over it).
fn evict(state: &mut ShardState, needed: &[u32]) {
    loop {
        let total: usize = state.held.values().map(|h| h.cost).sum();
        if total <= state.budget {
            return;
        }
        let victim = state
            .held
            .iter()
            .filter(|(index, _)| !needed.contains(index))
            .min_by_key(|(_, h)| h.used)
            .map(|(index, _)| *index);
        match victim {
            Some(index) => {
                state.held.remove(&index);
            }
            None => return,
        }
    }
}

/// How many shards this isolate has fetched and holds, and the bytes it
/// counts them as: `(fetches, held, bytes)`.
#[must_use]
pub fn stats() -> (u64, usize, usize) {
    STATE.with_borrow(|s| {
        s.as_ref().map_or((0, 0, 0), |s| {
            (
                s.fetches,
                s.held.len(),
                s.held.values().map(|h| h.cost).sum(),
            )
        })
    })
}
