//! `verge serve`: the HTTP API of `docs/http.md` from the host, for local
//! development and for users without an edge platform. Answers come from
//! `Api::handle` — inside the raw Wasm ABI module under wasmtime by default (the
//! very code the edge runs), or natively with `--native`.

pub mod admin;
pub mod http;

use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::signature::{PublicKey, Signature};

use super::get_online_features::locate;
use super::{Ctx, ExitStatus};
use crate::materialize::LATEST;
use crate::publish::PublishDir;
use crate::wasm_runtime::{WasmModule, WasmRuntime};
use admin::{AdminConfig, Live, Served};
use http::{Answer, Request, error_body};

/// Serve predictions and online features over HTTP.
///
/// Routes (docs/http.md): `POST /get-online-features`, `POST /predict`,
/// `GET /healthz`, `GET /version`; errors are JSON with the right status (400,
/// 404, 405, 413). With --admin-token-env, also `PUT /admin/artifacts` and
/// `POST /admin/rollback` (docs/publish.md): a new pair is checked (hash,
/// signature with --public-key, compatibility) and swapped in atomically; a
/// request never sees half of a swap, and a refused pair leaves the served one
/// live. Each worker thread owns one instance of the Wasm module
/// (`$VERGE_WASM`, else the workspace build of `cargo build -p verge-wasm
/// --target wasm32-unknown-unknown --profile wasm`); `--native` runs the core
/// directly instead. Prints `listening on http://ADDR` on stdout once ready.
///
/// Examples:
///   verge serve --bundle model/surgical_lesion
///   verge serve --bundle model/surgical_lesion --snapshot snapshot/latest --addr 0.0.0.0:8080 --native
///   VERGE_ADMIN_TOKEN=… verge serve --from site --admin-token-env VERGE_ADMIN_TOKEN --public-key "$PUB"
///   curl -s localhost:8080/predict -d '{"entities":{"hospital_number":[530101]}}'
#[derive(Debug, Args)]
pub struct Serve {
    /// The model bundle: a path, an id or unique prefix, or a ref (`model/NAME`).
    #[arg(
        long,
        value_name = "B",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub bundle: Option<String>,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// Serve the pair a publish directory's manifest.json names (`verge
    /// publish --to DIR`); admin publishes and rollbacks are written back to it.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Turn on `PUT /admin/artifacts` and `POST /admin/rollback`, guarded by
    /// the bearer token in this environment variable (never on the command line).
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
    /// Serve only artifacts signed by this ed25519 public key (64 hex digits,
    /// from `verge keygen`); signatures come from the manifest, from `.sig`
    /// files beside --bundle/--snapshot, or with an admin upload.
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Run the native core instead of the Wasm module.
    #[arg(long)]
    pub native: bool,
    /// Most entity rows in one request (more get 413).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entities)]
    pub max_entities: usize,
    /// Largest request body in bytes (larger get 413 before being read).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Worker threads (each holds one Wasm instance with its own copy of the
    /// artifacts, and serves one connection at a time, keep-alive included:
    /// give more threads than concurrent clients, or admin requests queue).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// The Wasm module (default: `$VERGE_WASM`, else the workspace build).
    #[arg(long, value_name = "FILE", conflicts_with = "native")]
    pub wasm: Option<PathBuf>,
}

/// The request time: the wall clock, in µs.
fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Timestamp(micros)
}

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

/// A Wasm instance loaded with one generation of the served pair.
fn wasm_instance(
    module: &WasmModule,
    limits: Limits,
    served: &Served,
) -> anyhow::Result<WasmRuntime> {
    let mut runtime = module.instantiate()?;
    runtime.set_limits(limits)?;
    runtime
        .load_bundle(&served.bundle)
        .context("the Wasm module refused the bundle")?;
    runtime
        .load_snapshot(served.snapshot_bytes())
        .context("the Wasm module refused the snapshot")?;
    Ok(runtime)
}

impl Serve {
    /// Runs the server until the process is stopped.
    ///
    /// # Errors
    ///
    /// Unreadable, unsigned (with --public-key) or incompatible artifacts, a
    /// missing Wasm module, an unset admin token variable, an address that
    /// cannot be bound.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_entities: self.max_entities,
        };
        let public_key = match &self.public_key {
            Some(hex) => Some(PublicKey::parse_hex(hex).context(
                "--public-key must be 64 hex digits of an ed25519 public key (as `verge keygen` prints)",
            )?),
            None => None,
        };
        let token = match &self.admin_token_env {
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.is_empty() => Some(token),
                _ => bail!(
                    "--admin-token-env {var}: the environment variable {var} is unset or empty; set it to the admin bearer token"
                ),
            },
            None => None,
        };
        let dir = self.from.as_deref().map(PublishDir::new);
        // The pair to start with, checked natively first (the clearest errors,
        // whatever the mode), signatures included when a key is trusted.
        let (pair, predictor, bundle_bytes, previous) = if let Some(dir) = &dir {
            let manifest = dir.read_manifest()?.with_context(|| {
                format!(
                    "nothing is published in {}; run `verge publish MODEL --to {}` first",
                    dir.root().display(),
                    dir.root().display()
                )
            })?;
            let predictor = dir.check_pair(&manifest.current, public_key.as_ref())?;
            let bundle_bytes = dir.read_pair(&manifest.current)?.0;
            // The previous pair, for rollback, if it still checks out.
            let previous = manifest.previous.and_then(|p| {
                match dir.check_pair(&p, public_key.as_ref()) {
                    Ok(predictor) => Some((p, predictor, dir.read_pair(&p).ok()?.0)),
                    Err(e) => {
                        ctx.note(&format!(
                            "verge serve: the previous pair in {} cannot be served, so rollback is off until the next publish: {e:#}",
                            dir.root().display()
                        ));
                        None
                    }
                }
            });
            (manifest.current, predictor, bundle_bytes, previous)
        } else {
            let spec = self
                .bundle
                .as_deref()
                .context("give --bundle (a model's bundle) or --from DIR (a publish directory)")?;
            let bundle_path = locate(ctx, spec, "bundle")?;
            let snapshot_path = locate(ctx, &self.snapshot, "snapshot")?;
            let bundle_bytes = fs::read(&bundle_path)
                .with_context(|| format!("cannot read {}", bundle_path.display()))?;
            let snapshot_bytes = fs::read(&snapshot_path)
                .with_context(|| format!("cannot read {}", snapshot_path.display()))?;
            let (mut pair, predictor) = PublishedPair::receive(
                &bundle_bytes,
                snapshot_bytes,
                signature_beside(&bundle_path)?,
                signature_beside(&snapshot_path)?,
                public_key.as_ref(),
            )
            .with_context(|| {
                format!(
                    "loading bundle {} with snapshot {}",
                    bundle_path.display(),
                    snapshot_path.display()
                )
            })?;
            if public_key.is_none() {
                (pair.bundle_signature, pair.snapshot_signature) = (None, None);
            }
            (pair, predictor, bundle_bytes, None)
        };
        let live = Arc::new(Live::new(
            pair,
            Api::new(predictor, limits),
            bundle_bytes,
            AdminConfig {
                token,
                public_key,
                dir,
                limits,
            },
        ));
        if let Some((p, predictor, bundle)) = previous {
            live.set_previous(p, Api::new(predictor, limits), bundle);
        }
        let listener = TcpListener::bind(&self.addr)
            .with_context(|| format!("cannot listen on {} (--addr)", self.addr))?;
        let addr = listener.local_addr()?;
        let threads = usize::from(self.threads);
        let admit: Arc<http::Admit> = {
            let live = Arc::clone(&live);
            let max = limits.max_body_bytes;
            Arc::new(move |r: &Request| live.admit(r, max))
        };
        if self.native {
            announce(ctx, addr, "native core")?;
            http::run(&listener, threads, &admit, |_| {
                let live = Arc::clone(&live);
                Ok(move |r: &Request| {
                    if Live::is_admin(r) {
                        return live.handle_admin(r);
                    }
                    let served = live.current();
                    let response = served.api.handle(&r.method, &r.path, &r.body, now());
                    (response.status, response.body)
                })
            })?;
        } else {
            let path = match &self.wasm {
                Some(p) => p.clone(),
                None => WasmModule::locate()?,
            };
            let module = Arc::new(WasmModule::load(&path)?);
            let mode = format!("Wasm module {} under wasmtime", path.display());
            let first = live.current();
            let mut runtimes = Vec::with_capacity(threads);
            for _ in 0..threads {
                runtimes.push(wasm_instance(&module, limits, &first)?);
            }
            drop(first);
            announce(ctx, addr, &mode)?;
            http::run(&listener, threads, &admit, |_| {
                let mut runtime = runtimes.pop().context("one runtime per thread")?;
                let mut loaded = 0;
                let (live, module) = (Arc::clone(&live), Arc::clone(&module));
                Ok(move |r: &Request| {
                    if Live::is_admin(r) {
                        return live.handle_admin(r);
                    }
                    let served = live.current();
                    if served.generation != loaded {
                        // A swap happened: this thread's instance moves to
                        // the new pair as a whole, or keeps the old one and
                        // says why (the pair was checked natively, so this
                        // is an out-of-memory or a module bug).
                        match wasm_instance(&module, limits, &served) {
                            Ok(fresh) => {
                                runtime = fresh;
                                loaded = served.generation;
                            }
                            Err(e) => {
                                return (
                                    503,
                                    error_body(
                                        503,
                                        &format!(
                                            "loading the new pair into the Wasm instance failed: {e:#}"
                                        ),
                                    ),
                                );
                            }
                        }
                    }
                    wasm_answer(&mut runtime, r)
                })
            })?;
        }
        Ok(ExitStatus::Success)
    }
}

/// Tells the caller (a person, or a test reading stdout) where to connect.
fn announce(ctx: &Ctx, addr: std::net::SocketAddr, mode: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    ctx.note(&format!(
        "verge serve: answering with the {mode}; stop with Ctrl-C"
    ));
    Ok(())
}
