//! `verge serve`'s server: the HTTP API of `docs/http.md` over a live,
//! atomically swappable pair, answered by the raw Wasm ABI module under
//! wasmtime (the very code the edge runs) or natively.
//!
//! | module | what it holds |
//! |---|---|
//! | [`http`] | what a handler sees: the request, the answer, the admission hook |
//! | [`net`] | hyper's HTTP/1.1 on tokio, with deadlines and connection limits |
//! | [`admin`] | the live pair and the admin routes that swap it |
//! | [`watch`] | live pickup: following the refs or the publish directory served |
//! | [`shards`] | a shard set served from a publish directory, each shard mapped and checked on first use |
//!
//! [`Server::bind`] checks the starting pair and binds the address; the caller
//! prints where it listens, then [`Server::run`] serves until the process stops.

pub mod admin;
pub mod http;
pub mod net;
pub mod shards;
pub mod watch;

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::{PublishedBundle, PublishedPair};
use verge_core::artifact::signature::{PublicKey, Signature};
use verge_core::artifact::{ArtifactKind, Header};
use verge_core::online::Deployment;

use crate::publish::PublishDir;
use crate::resolve::{Repository, Wanted};
use crate::store::apply::now;
use crate::wasm_runtime::{WasmModule, WasmRuntime};
use admin::{AdminConfig, Live, Served};
use http::{Answer, Request, error_body};
pub use net::NetLimits;

/// What to serve first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Bundles and a snapshot of a repository (path, id, prefix or ref each):
    /// one bundle is a pair, more a deployment over the one snapshot.
    Pair {
        /// Each bundle's spec, in order (the first is the one described).
        bundles: Vec<String>,
        /// The snapshot's spec.
        snapshot: String,
    },
    /// The pair a publish directory's manifest names; admin publishes and
    /// rollbacks are written back to it.
    PublishDir(PathBuf),
}

/// Which code answers requests.
#[derive(Debug, Clone)]
pub enum Engine {
    /// The native core.
    Native,
    /// One instance of this module per worker thread.
    Wasm(WasmModule),
}

/// Everything [`Server::bind`] needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The pair to start with.
    pub source: Source,
    /// The admin bearer token (`None`: the admin routes are off, 404).
    pub admin_token: Option<String>,
    /// Serve only pairs signed by this key.
    pub public_key: Option<PublicKey>,
    /// The address to listen on (port 0 picks a free port).
    pub addr: String,
    /// Request limits.
    pub limits: Limits,
    /// Worker threads.
    pub threads: usize,
    /// Native core or Wasm module.
    pub engine: Engine,
    /// Deadlines and connection limits.
    pub net: NetLimits,
}

/// Past this much linear memory a Wasm instance is rebuilt after its request.
pub const MAX_INSTANCE_MEMORY: usize = 256 << 20;

/// A bound server with its starting pair checked, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    live: Arc<Live>,
    options: ServeOptions,
    /// One loaded instance per thread (Wasm engine only), made before the
    /// caller announces the address, so a module that cannot load fails first.
    runtimes: Vec<WasmRuntime>,
    /// Problems that did not stop the server (e.g. a previous pair that can no
    /// longer be served, so rollback is off), for the caller to report.
    pub warnings: Vec<String>,
    /// What to follow for live pickup, and where its events go.
    watched: watch::Watched,
    events: Option<watch::Events>,
}

/// The starting pair: ids, deployment, each bundle's bytes, and the previous pair.
type Start = (
    PublishedPair,
    Deployment,
    Vec<Vec<u8>>,
    Option<(PublishedPair, Deployment, Vec<Vec<u8>>)>,
);

/// Answers through the Wasm instance; an ABI failure or trap is a 500 (the
/// runtime rebuilds a trapped instance on the next call).
fn wasm_answer(runtime: &mut WasmRuntime, request: &Request) -> Answer {
    match runtime.handle(&request.method, &request.path, &request.body, now()) {
        Ok(answer) => answer,
        Err(e) => (500, error_body(500, &format!("{e:#}"))),
    }
}

/// The detached signature beside an artifact file (`bundle.bin` → `bundle.sig`,
/// `bundles/<id>.bin` → `bundles/<id>.sig`), if there is one.
fn signature_beside(path: &Path) -> anyhow::Result<Option<Signature>> {
    let sig = path.with_extension("sig");
    match fs::read_to_string(&sig) {
        Ok(text) => Signature::parse_hex(&text)
            .map(Some)
            .with_context(|| format!("{} is not a signature (128 hex digits)", sig.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", sig.display())),
    }
}

/// A Wasm instance loaded with one generation of the served deployment.
fn wasm_instance(
    module: &WasmModule,
    limits: Limits,
    served: &Served,
) -> anyhow::Result<WasmRuntime> {
    let shards = served.api.deployment().primary().layers().shard_ids().len();
    if shards > 0 {
        // The ABI loads one snapshot per instance; a set is read natively,
        // each key from the shard that owns it.
        anyhow::bail!(
            "the published snapshot is a set of {shards} shards, which the Wasm engine cannot hold as one; serve it with --native"
        );
    }
    let mut runtime = module.instantiate()?;
    runtime.set_limits(limits)?;
    for (i, bundle) in served.bundles.iter().enumerate() {
        let loaded = if i == 0 {
            runtime.load_bundle(bundle)
        } else {
            runtime.add_bundle(bundle)
        };
        loaded.with_context(|| format!("the Wasm module refused bundle {}", i + 1))?;
    }
    runtime
        .load_snapshot(served.snapshot_bytes())
        .context("the Wasm module refused the snapshot")?;
    for delta in served.api.deployment().layers().deltas() {
        runtime
            .add_delta(delta.as_bytes())
            .context("the Wasm module refused the pushed rows' delta snapshot")?;
    }
    Ok(runtime)
}

impl Server {
    /// Checks the starting pair natively (the clearest errors, whatever the
    /// engine; signatures too when a key is trusted) and binds the address.
    ///
    /// # Errors
    ///
    /// Unreadable, unsigned (with a public key) or incompatible artifacts, an
    /// empty publish directory, an address that cannot be bound.
    pub fn bind(repo: &Repository, options: ServeOptions) -> anyhow::Result<Server> {
        let mut warnings = Vec::new();
        let key = options.public_key.as_ref();
        let ((pair, deployment, bundle_bytes, previous), dir, watched) = match &options.source {
            Source::PublishDir(path) => {
                let dir = PublishDir::new(path);
                let start = start_from_dir(&dir, key, &mut warnings)?;
                (start, Some(dir.clone()), watch::Watched::Dir(dir))
            }
            Source::Pair { bundles, snapshot } => (
                start_from_repo(repo, bundles, snapshot, key)?,
                None,
                watch::Watched::Refs {
                    repo: repo.clone(),
                    bundles: bundles.clone(),
                    snapshot: snapshot.clone(),
                },
            ),
        };
        let limits = options.limits;
        let live = Arc::new(Live::new(
            pair,
            Api::serving(deployment, limits),
            bundle_bytes,
            AdminConfig {
                token: options.admin_token.clone(),
                public_key: options.public_key,
                dir,
                limits,
                repo: matches!(options.source, Source::Pair { .. })
                    .then(|| repo.root().to_path_buf()),
            },
        ));
        if let Some((p, deployment, bundles)) = previous {
            live.set_previous(p, Api::serving(deployment, limits), bundles);
        }
        let mut runtimes = Vec::new();
        if let Engine::Wasm(module) = &options.engine {
            let first = live.current();
            for _ in 0..options.threads {
                runtimes.push(wasm_instance(module, limits, &first)?);
            }
        }
        let listener = TcpListener::bind(&options.addr)
            .with_context(|| format!("cannot listen on {} (--addr)", options.addr))?;
        Ok(Server {
            listener,
            live,
            options,
            runtimes,
            warnings,
            watched,
            events: None,
        })
    }

    /// The address the server listens on.
    ///
    /// # Errors
    ///
    /// When the socket cannot tell (it always can once bound).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Follows the source while serving (live pickup, [`watch`]): each swap
    /// or refused pair is told to `events` as one line.
    pub fn follow_source(&mut self, events: watch::Events) {
        self.events = Some(events);
    }

    /// The live pair, for swapping it from the same process.
    #[must_use]
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// Serves until the process is stopped.
    ///
    /// # Errors
    ///
    /// When a Wasm instance cannot be made for a worker thread.
    pub fn run(self) -> anyhow::Result<()> {
        let threads = self.options.threads;
        let limits = self.options.limits;
        let live = self.live;
        let admit: Arc<http::Admit> = {
            let live = Arc::clone(&live);
            let max = limits.max_body_bytes;
            Arc::new(move |r: &Request| live.admit(r, max))
        };
        let net = self.options.net;
        if let Some(events) = self.events {
            watch::spawn(
                Arc::clone(&live),
                self.watched,
                self.options.public_key,
                limits,
                events,
            )
            .context("cannot start the thread that follows the served source")?;
        }
        match self.options.engine {
            Engine::Native => {
                let handlers = (0..threads.max(1)).map(|_| native_handler(Arc::clone(&live)));
                net::run(self.listener, threads, admit, handlers.collect(), net)
            }
            Engine::Wasm(module) => {
                let module = Arc::new(module);
                let handlers = self.runtimes.into_iter().map(|runtime| {
                    wasm_handler(Arc::clone(&live), Arc::clone(&module), runtime, limits)
                });
                net::run(self.listener, threads, admit, handlers.collect(), net)
            }
        }
    }
}

/// Answers with the native core over the live pair.
fn native_handler(live: Arc<Live>) -> impl FnMut(&Request) -> Answer + Send + 'static {
    move |r: &Request| {
        if admin::push::is_write(r) {
            return live.handle_write(r);
        }
        if Live::is_admin(r) {
            return live.handle_admin(r);
        }
        let served = live.current();
        let api = match live.api_for(&served, &r.body) {
            Ok(api) => api,
            Err(answer) => return answer,
        };
        let response = api.handle(&r.method, &r.path, &r.body, now());
        (response.status, response.body)
    }
}

/// Answers with one Wasm instance, which moves to a swapped-in pair as a whole
/// on its next request, and is rebuilt when its linear memory has grown past
/// [`MAX_INSTANCE_MEMORY`] (Wasm memory never shrinks: one huge request would
/// otherwise keep its peak for the life of the process).
fn wasm_handler(
    live: Arc<Live>,
    module: Arc<WasmModule>,
    mut runtime: WasmRuntime,
    limits: Limits,
) -> impl FnMut(&Request) -> Answer + Send + 'static {
    let mut loaded = 0;
    move |r: &Request| {
        if admin::push::is_write(r) {
            return live.handle_write(r);
        }
        if Live::is_admin(r) {
            return live.handle_admin(r);
        }
        let served = live.current();
        if served.generation != loaded || runtime.memory_bytes() > MAX_INSTANCE_MEMORY {
            // A swap happened (or the instance grew): the instance moves to
            // the current pair as a whole, or keeps the old one and says why
            // (the pair was checked natively, so this is an out-of-memory or a
            // module bug).
            match wasm_instance(&module, limits, &served) {
                Ok(fresh) => {
                    runtime = fresh;
                    loaded = served.generation;
                }
                Err(e) => {
                    let message =
                        format!("loading the new pair into the Wasm instance failed: {e:#}");
                    return (503, error_body(503, &message));
                }
            }
        }
        wasm_answer(&mut runtime, r)
    }
}

/// The pair a publish directory's manifest names, and its previous pair when
/// that still checks out (else a warning: rollback is off until the next publish).
fn start_from_dir(
    dir: &PublishDir,
    public_key: Option<&PublicKey>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Start> {
    let manifest = dir.read_manifest()?.with_context(|| {
        format!(
            "nothing is published in {}; run `verge publish MODEL --to {}` first",
            dir.root().display(),
            dir.root().display()
        )
    })?;
    let (deployment, bundle_bytes) = dir.check_pair(&manifest.current, public_key)?;
    let previous = manifest
        .previous
        .and_then(|p| match dir.check_pair(&p, public_key) {
            Ok((deployment, bundles)) => Some((p, deployment, bundles)),
            Err(e) => {
                warnings.push(format!(
                    "the previous pair in {} cannot be served, so rollback is off until the next publish: {e:#}",
                    dir.root().display()
                ));
                None
            }
        });
    Ok((manifest.current, deployment, bundle_bytes, previous))
}

/// A repository's bundles and snapshot, with the signatures beside their files.
pub(super) fn start_from_repo(
    repo: &Repository,
    bundles: &[String],
    snapshot: &str,
    public_key: Option<&PublicKey>,
) -> anyhow::Result<Start> {
    let mut read = Vec::with_capacity(bundles.len());
    for spec in bundles {
        read.push(repo.read(spec, Wanted::Bundle)?);
    }
    let (snapshot_path, snapshot_bytes) = repo.read(snapshot, Wanted::Snapshot)?;
    let mut named = Vec::with_capacity(read.len());
    for (path, bytes) in &read {
        named.push(PublishedBundle {
            id: Header::open(bytes, ArtifactKind::Bundle)
                .with_context(|| format!("loading bundle {}", path.display()))?
                .0
                .id,
            signature: public_key
                .map(|_| signature_beside(path))
                .transpose()?
                .flatten(),
        });
    }
    let mut named = named.into_iter();
    let first = named.next().context("give at least one bundle to serve")?;
    let pair = PublishedPair {
        bundle: first.id,
        snapshot: Header::open(&snapshot_bytes, ArtifactKind::Snapshot)
            .with_context(|| format!("loading snapshot {}", snapshot_path.display()))?
            .0
            .id,
        bundle_signature: first.signature,
        snapshot_signature: public_key
            .map(|_| signature_beside(&snapshot_path))
            .transpose()?
            .flatten(),
        more_bundles: named.collect(),
        deltas: Vec::new(),
        shards: Vec::new(),
    };
    let bundle_bytes: Vec<Vec<u8>> = read.into_iter().map(|(_, bytes)| bytes).collect();
    let deployment = pair
        .check(
            &bundle_bytes,
            snapshot_bytes,
            Vec::<Vec<u8>>::new(),
            public_key,
        )
        .with_context(|| {
            format!(
                "loading {} with snapshot {}",
                if bundles.len() == 1 {
                    format!("bundle {}", bundles[0])
                } else {
                    format!("bundles {}", bundles.join(", "))
                },
                snapshot_path.display()
            )
        })?;
    // Pushed rows not yet materialized are served over the snapshot; the pair
    // still names the snapshot the refs name (see `admin::push`).
    let deployment = match crate::push::delta::pending_delta(repo.root(), deployment.snapshot())? {
        Some(delta) => deployment.with_deltas(vec![Arc::new(delta)])?,
        None => deployment,
    };
    Ok((pair, deployment, bundle_bytes, None))
}
