//! The pair an isolate serves, cached across requests and swapped atomically.
//!
//! Loading and checking a snapshot costs a fetch and a hash over its bytes, so
//! an isolate does it once per published pair, not per request. The cache holds
//! one `Arc<Api>`; a request clones it at the start and uses that clone to the
//! end, so a swap (replacing the `Arc`) can never hand one request half of the
//! old pair and half of the new one.
//!
//! Freshness: the manifest is re-read at most every `MANIFEST_TTL_MS`
//! milliseconds (default [`DEFAULT_TTL_MS`]); only one request per isolate does
//! that at a time while the others keep answering from the current pair, so a
//! publish costs the isolate one manifest read and one load, not a stampede.
//! A manifest that names a different pair (newer, or older for a rollback) is
//! loaded, checked (signatures too, when `PUBLIC_KEY` is set) and swapped in;
//! if it fails a check, the isolate keeps the pair it has and logs why. Loads carry a ticket, and a load finishing after a
//! later one never overwrites it, so out-of-order completions cannot roll the
//! isolate back.

use std::cell::RefCell;
use std::sync::Arc;

use verge_core::api::{Api, ApiError};
use worker::{Date, Env, console_error};

use super::artifacts::{self, Pair, PublishManifest};

/// How long a checked manifest is trusted when `MANIFEST_TTL_MS` is unset.
pub const DEFAULT_TTL_MS: f64 = 1000.0;

/// The pair being served and when its manifest was last checked.
#[derive(Debug, Default)]
struct State {
    /// What requests are answered with.
    serving: Option<(Pair, Arc<Api>)>,
    /// `Date.now()` of the last manifest check (ms).
    checked_at: f64,
    /// A request is re-reading the manifest; others should not.
    refreshing: bool,
    /// Tickets of loads: the next to hand out and the one installed.
    next_ticket: u64,
    installed_ticket: u64,
}

thread_local! {
    // A Wasm isolate is single-threaded: one `State` per isolate.
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Clears `refreshing` however the refresh ends.
struct RefreshGuard;

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        STATE.with_borrow_mut(|s| s.refreshing = false);
    }
}

fn ttl_ms(env: &Env) -> f64 {
    // An unset `fromEnvironment` binding reaches the worker as null, which `env.var`
    // cannot read without a JS exception; read it as optional text instead.
    artifacts::text_binding(env, "MANIFEST_TTL_MS")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .unwrap_or(DEFAULT_TTL_MS)
}

/// Installs `api` for `pair` unless a later load already installed something.
fn install(ticket: u64, pair: Pair, api: Arc<Api>) -> Arc<Api> {
    STATE.with_borrow_mut(|s| {
        if ticket > s.installed_ticket || s.serving.is_none() {
            s.installed_ticket = ticket;
            s.serving = Some((pair, api.clone()));
        }
        api
    })
}

/// Installs an already checked `api` (the admin route's pair) as newest.
pub fn install_checked(pair: Pair, api: Arc<Api>) {
    let ticket = STATE.with_borrow_mut(|s| {
        s.next_ticket += 1;
        s.next_ticket
    });
    install(ticket, pair, api);
}

/// Replaces the served `Api` of `pair` with one over more (or other) of its
/// shards; nothing changes when another pair is served by now.
pub fn install_shards(pair: &Pair, api: Arc<Api>) {
    STATE.with_borrow_mut(|s| {
        if let Some((served, current)) = s.serving.as_mut()
            && served == pair
        {
            *current = api;
        }
    });
}

/// The pair currently served in this isolate and its `Api`, if any (no I/O).
#[must_use]
pub fn serving() -> Option<(Pair, Arc<Api>)> {
    STATE.with_borrow(|s| s.serving.clone())
}

/// The pair currently served in this isolate, if any (no I/O).
#[must_use]
pub fn serving_pair() -> Option<Pair> {
    STATE.with_borrow(|s| s.serving.as_ref().map(|(pair, _)| pair.clone()))
}

/// The `Api` this request should use, refreshed from the manifest when due.
///
/// # Errors
///
/// 503 when nothing valid has ever been loaded in this isolate (no binding, no
/// manifest, or the named pair fails its checks).
pub async fn current(env: &Env) -> Result<Arc<Api>, ApiError> {
    let now = Date::now().as_millis() as f64;
    let ttl = ttl_ms(env);
    let (cached, ticket) = STATE.with_borrow_mut(|s| {
        let cached = s.serving.as_ref().map(|(_, api)| api.clone());
        let fresh = now - s.checked_at < ttl && now >= s.checked_at;
        if cached.is_some() && (fresh || s.refreshing) {
            return (cached, None);
        }
        // This request checks the manifest; later ones use `cached` meanwhile.
        s.refreshing = true;
        s.checked_at = now;
        s.next_ticket += 1;
        (cached, Some(s.next_ticket))
    });
    let Some(ticket) = ticket else {
        // Checked above: `cached` is set whenever no ticket was taken.
        return cached.ok_or_else(|| unavailable("no pair loaded".into()));
    };
    let _guard = RefreshGuard;
    match refresh(env, ticket).await {
        Ok(api) => Ok(api),
        Err(e) => match cached {
            // Keep serving what we have; the next check is a ttl away.
            Some(api) => {
                console_error!("verge: keeping the current pair: {}", e.message);
                Ok(api)
            }
            None => Err(e),
        },
    }
}

/// Reads the manifest and, when it names a pair other than the one served,
/// loads, checks and installs that pair.
async fn refresh(env: &Env, ticket: u64) -> Result<Arc<Api>, ApiError> {
    let store = artifacts::binding(env)?;
    let manifest: PublishManifest = artifacts::read_manifest(&store).await?.ok_or_else(|| {
        unavailable(format!(
            "nothing is published: `{}` has no {}; publish a bundle and a snapshot first",
            artifacts::BINDING,
            artifacts::MANIFEST_PATH
        ))
    })?;
    let pair = manifest.current;
    let same = STATE.with_borrow(|s| match &s.serving {
        Some((served, api)) if *served == pair => Some(api.clone()),
        _ => None,
    });
    if let Some(api) = same {
        return Ok(api);
    }
    let key = artifacts::public_key(env)?;
    let limits = artifacts::limits(env)?;
    let api = Arc::new(artifacts::load(env, &store, &pair, key.as_ref(), limits).await?);
    Ok(install(ticket, pair, api))
}

fn unavailable(message: String) -> ApiError {
    ApiError {
        status: 503,
        message,
    }
}
