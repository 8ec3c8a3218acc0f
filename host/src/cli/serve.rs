//! `verge serve`: the HTTP API of `docs/http.md` from the host, for local
//! development and for users without an edge platform; the server is
//! [`verge_host::serve::Server`].

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use verge_core::api::Limits;
use verge_core::artifact::signature::PublicKey;
use verge_host::materialize::LATEST;
use verge_host::serve::watch::Events;
use verge_host::serve::{Engine, NetLimits, ServeOptions, Server, Source};
use verge_host::wasm_runtime::WasmModule;

use super::{Ctx, ExitStatus};

/// Serve predictions and online features over HTTP.
///
/// Routes (docs/http.md): `POST /get-online-features`, `POST /predict`,
/// `GET /healthz`, `GET /version`; errors are JSON with the right status (400,
/// 404, 405, 413). With --admin-token-env, also `PUT /admin/artifacts` and
/// `POST /admin/rollback` (docs/publish.md): a new pair is checked (hash,
/// signature with --public-key, compatibility) and swapped in atomically; a
/// request never sees half of a swap, and a refused pair leaves the served one
/// live. Connections are served by hyper on tokio, with deadlines for heads
/// and bodies and a connection limit; SIGTERM or Ctrl-C stops it gracefully
/// (requests in flight finish). Each worker thread owns one instance of the
/// Wasm module built into verge (or `--wasm FILE`, or `$VERGE_WASM`);
/// `--native` runs the core directly instead. The module's compiled code is
/// cached in `~/.cache/verge/wasmtime` (`$VERGE_WASM_CACHE` moves it, `off`
/// turns it off), so only the first start compiles. Prints `listening on
/// http://ADDR` on stdout once ready.
///
/// Examples:
///   verge serve --bundle model/surgical_lesion
///   verge serve --bundle driver_activity         # a feature service, features only (no model)
///   verge serve --bundle surgical_lesion --bundle driver_activity   # a deployment: both, one snapshot
///   verge serve --all                             # every trained model and feature service, as `feast serve`
///   verge serve --bundle model/surgical_lesion --snapshot snapshot/latest --addr 0.0.0.0:8080 --native
///   VERGE_ADMIN_TOKEN=… verge serve --from site --admin-token-env VERGE_ADMIN_TOKEN --public-key "$PUB"
///   curl -s localhost:8080/predict -d '{"entities":{"hospital_number":[530101]}}'
#[derive(Debug, Args)]
pub struct Serve {
    /// The bundle: a path, an id or unique prefix, a ref (`model/NAME`,
    /// `service/NAME`), or a model or feature service by name. A feature
    /// service no model uses is served features only: its feature bundle is
    /// built from the registry head (`/predict` then answers 400). Repeat it
    /// to serve a deployment: every bundle over the one snapshot, each request
    /// naming its `feature_service` or `model`.
    #[arg(
        long,
        value_name = "B",
        required_unless_present_any = ["from", "all"],
        conflicts_with_all = ["from", "all"]
    )]
    pub bundle: Vec<String>,
    /// Serve everything the registry head can, as `feast serve` serves its
    /// registry: every trained model's bundle, and a feature bundle for every
    /// feature service no trained model serves. (Services declared later need
    /// a restart.)
    #[arg(long, conflicts_with = "from")]
    pub all: bool,
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
    /// Most cells in one request: entity rows × the columns held per row (join
    /// keys, features answered, model inputs read). Bounds a request's working
    /// memory, about a few hundred bytes a cell; more get 413.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_cells)]
    pub max_cells: usize,
    /// Largest request body in bytes (larger get 413 before being read).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Worker threads, and Wasm instances (each with its own copy of the
    /// artifacts). Connections are not threads: any number of clients, slow
    /// or idle, share them (at most 10,000 connections).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Seconds a client has to send a whole request head (idle keep-alive
    /// time included); slower connections are closed.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a whole body after its head (else 408).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Most open connections; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Do not follow the source: by default the server watches the refs it
    /// was started on (`snapshot/latest`, `model/NAME`) or the --from
    /// directory's manifest, and swaps in what they name within a second of a
    /// `materialize`, `train` or `publish`, atomically (logged on stderr).
    #[arg(long)]
    pub no_follow: bool,
    /// The Wasm module (default: `$VERGE_WASM`, else the one built into verge).
    #[arg(long, value_name = "FILE", conflicts_with = "native")]
    pub wasm: Option<PathBuf>,
}

impl Serve {
    /// Runs the server until SIGTERM or Ctrl-C.
    ///
    /// # Errors
    ///
    /// Unreadable, unsigned (with --public-key) or incompatible artifacts, an
    /// unreadable Wasm module, an unset admin token variable, an address that
    /// cannot be bound.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let public_key = match &self.public_key {
            Some(hex) => Some(PublicKey::parse_hex(hex).context(
                "--public-key must be 64 hex digits of an ed25519 public key (as `verge keygen` prints)",
            )?),
            None => None,
        };
        let admin_token = match &self.admin_token_env {
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.is_empty() => Some(token),
                _ => bail!(
                    "--admin-token-env {var}: the environment variable {var} is unset or empty; set it to the admin bearer token"
                ),
            },
            None => None,
        };
        let source = match &self.from {
            Some(dir) => Source::PublishDir(dir.clone()),
            None if self.all => Source::Pair {
                bundles: ctx.repository().every_bundle_ref()?,
                snapshot: self.snapshot.clone(),
            },
            None if self.bundle.is_empty() => {
                bail!(
                    "give --bundle (a model or feature service), --all, or --from DIR (a publish directory)"
                )
            }
            None => {
                let repo = ctx.repository();
                Source::Pair {
                    bundles: self
                        .bundle
                        .iter()
                        .map(|b| repo.bundle_spec(b))
                        .collect::<anyhow::Result<_>>()?,
                    snapshot: self.snapshot.clone(),
                }
            }
        };
        let (engine, mode) = if self.native {
            (Engine::Native, "native core".to_owned())
        } else {
            match &self.wasm {
                Some(path) => (
                    Engine::Wasm(WasmModule::load(path)?),
                    format!("Wasm module {} under wasmtime", path.display()),
                ),
                None => (
                    Engine::Wasm(WasmModule::configured()?),
                    format!("{} under wasmtime", WasmModule::configured_source()),
                ),
            }
        };
        let options = ServeOptions {
            source,
            admin_token,
            public_key,
            addr: self.addr.clone(),
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_entities: self.max_entities,
                max_cells: self.max_cells,
            },
            threads: usize::from(self.threads),
            engine,
            net: NetLimits {
                header_deadline: Duration::from_secs(self.header_timeout),
                body_deadline: Duration::from_secs(self.body_timeout),
                max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
                ..NetLimits::default()
            },
        };
        let mut server = Server::bind(&ctx.repository(), options)?;
        if !self.no_follow {
            server.follow_source(Events(Arc::new(|line: &str| {
                eprintln!("verge serve: {line}");
            })));
        }
        for warning in &server.warnings {
            ctx.note(&format!("verge serve: {warning}"));
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", server.local_addr()?)?;
        out.flush()?;
        drop(out);
        ctx.note(&format!(
            "verge serve: answering with the {mode}; stop with Ctrl-C"
        ));
        server.run()?;
        Ok(ExitStatus::Success)
    }
}
