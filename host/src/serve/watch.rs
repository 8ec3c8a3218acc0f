//! Live pickup: `verge serve` follows what it was started from.
//!
//! A server started `--from DIR` serves what `DIR/manifest.json` names, and one
//! started on refs (`--bundle model/NAME`, `--snapshot snapshot/latest`) serves
//! what those refs point at. Another process may move either at any time — a
//! `verge materialize`, `train` or `publish` — so a thread polls them every
//! [`POLL`] (a stat-sized read each: a ref file, or a manifest of a few hundred
//! bytes) and, when they name another pair, loads and checks it exactly as at
//! startup (signatures too, under `--public-key`), then swaps it in through
//! [`Live`], the same atomic swap the admin routes use: a request is answered
//! wholly by the old pair or wholly by the new one. A pair that fails its checks
//! is reported once and the served pair stays live.
//!
//! Polling rather than inotify: it works on every filesystem (network mounts,
//! containers' bind mounts), costs two small reads a fifth of a second, and
//! bounds the pickup delay at one poll plus the load.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use verge_core::ContentId;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::signature::PublicKey;

use super::admin::{Live, Served};
use crate::publish::PublishDir;
use crate::resolve::Repository;

/// How often the source is looked at.
pub const POLL: Duration = Duration::from_millis(200);

/// Where a server's pair comes from, to be followed.
#[derive(Debug, Clone)]
pub enum Watched {
    /// A publish directory's manifest.
    Dir(PublishDir),
    /// A repository's refs (or fixed ids: those never move).
    Refs {
        /// The repository.
        repo: Repository,
        /// Each bundle's spec, in the served order.
        bundles: Vec<String>,
        /// The snapshot's spec.
        snapshot: String,
    },
}

/// Receives one line per swap or refused pair, for the caller to log (the
/// library prints nothing itself).
#[derive(Clone)]
pub struct Events(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events(..)")
    }
}

/// What one look at the source found.
enum Look {
    /// Still the served pair (or nothing to follow).
    Same,
    /// Another pair, loaded, checked and swapped in; the line says which.
    Swapped(String),
}

/// Follows `watched` for `live` until the process ends.
pub fn spawn(
    live: Arc<Live>,
    watched: Watched,
    public_key: Option<PublicKey>,
    limits: Limits,
    events: Events,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("verge-watch".into())
        .spawn(move || {
            // The last failure reported, so a bad pair is said once, not every poll.
            let mut reported: Option<String> = None;
            loop {
                thread::sleep(POLL);
                match look(&live, &watched, public_key.as_ref(), limits) {
                    Ok(Look::Same) => {}
                    Ok(Look::Swapped(line)) => {
                        reported = None;
                        (events.0)(&line);
                    }
                    Err(e) => {
                        let line = format!("{e:#}; still serving the pair loaded before");
                        if reported.as_deref() != Some(line.as_str()) {
                            (events.0)(&line);
                            reported = Some(line);
                        }
                    }
                }
            }
        })
}

fn look(
    live: &Live,
    watched: &Watched,
    key: Option<&PublicKey>,
    limits: Limits,
) -> anyhow::Result<Look> {
    let served = live.current();
    match watched {
        Watched::Dir(dir) => {
            let Some(manifest) = dir.read_manifest()? else {
                return Ok(Look::Same);
            };
            if served.pair.same_artifacts(&manifest.current) {
                return Ok(Look::Same);
            }
            let (deployment, bundles) = dir.check_pair(&manifest.current, key)?;
            let candidate = Arc::new(Served {
                generation: 0,
                pair: manifest.current.clone(),
                api: Arc::new(Api::serving(deployment, limits)),
                bundles,
            });
            if !live.follow(&manifest, candidate) {
                return Ok(Look::Same);
            }
            Ok(Look::Swapped(swapped(
                &manifest.current,
                &format!("{}", dir.root().join("manifest.json").display()),
            )))
        }
        Watched::Refs {
            repo,
            bundles,
            snapshot,
        } => {
            let served_bundles: Vec<_> = served.pair.bundles().map(|b| b.id).collect();
            // A feature bundle is built from the definitions, not trained:
            // one built from other definitions than the head's is built again
            // from the head (which moves its ref, picked up below).
            for (spec, bundle) in bundles.iter().zip(served.api.deployment().bundles()) {
                if let Some(service) = spec.strip_prefix("service/") {
                    let built_from = bundle.contents().registry_id;
                    let head = repo.store().head_definitions()?.map(|(id, _)| id);
                    if head.is_some_and(|head| head != built_from) {
                        repo.feature_bundle_ref(service)?;
                    }
                }
            }
            let artifacts = repo.artifacts();
            let now_at = |spec: &str, served: ContentId| -> anyhow::Result<ContentId> {
                Ok(artifacts.get_ref(spec)?.unwrap_or(served))
            };
            let mut ids = Vec::with_capacity(bundles.len());
            for (spec, id) in bundles.iter().zip(&served_bundles) {
                ids.push(now_at(spec, *id)?);
            }
            let snapshot_id = now_at(snapshot, served.pair.snapshot)?;
            if ids == served_bundles && snapshot_id == served.pair.snapshot {
                return Ok(Look::Same);
            }
            let specs: Vec<String> = ids.iter().map(ContentId::to_string).collect();
            let (pair, deployment, bytes, _) =
                super::start_from_repo(repo, &specs, &snapshot_id.to_string(), key)?;
            let line = swapped(&pair, &format!("{} and {snapshot}", bundles.join(", ")));
            live.replace(Arc::new(Served {
                generation: 0,
                pair,
                api: Arc::new(Api::serving(deployment, limits)),
                bundles: bytes,
            }));
            Ok(Look::Swapped(line))
        }
    }
}

fn swapped(pair: &PublishedPair, from: &str) -> String {
    let bundles: Vec<String> = pair.bundles().map(|b| b.id.short()).collect();
    format!(
        "now serving bundle {} + snapshot {} (picked up from {from})",
        bundles.join(" + bundle "),
        pair.snapshot.short()
    )
}
