//! `verge serve`: the HTTP API of `docs/http.md` from the host, for local
//! development and for users without an edge platform. Answers come from
//! `Api::handle` — inside the raw Wasm ABI module under wasmtime by default (the
//! very code the edge runs), or natively with `--native`.

pub mod http;

use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};

use super::get_online_features::{locate, predictor};
use super::{Ctx, ExitStatus};
use crate::materialize::LATEST;
use crate::wasm_runtime::{WasmModule, WasmRuntime};
use http::{Answer, Request, error_body};

/// Serve predictions and online features over HTTP.
///
/// Routes (docs/http.md): `POST /get-online-features`, `POST /predict`,
/// `GET /healthz`, `GET /version`; errors are JSON with the right status (400,
/// 404, 405, 413). Each worker thread owns one instance of the Wasm module
/// (`$VERGE_WASM`, else the workspace build of `cargo build -p verge-wasm
/// --target wasm32-unknown-unknown --profile wasm`); `--native` runs the core
/// directly instead. Prints `listening on http://ADDR` on stdout once ready.
///
/// Examples:
///   verge serve --bundle model/surgical_lesion
///   verge serve --bundle model/surgical_lesion --snapshot snapshot/latest --addr 0.0.0.0:8080 --native
///   curl -s localhost:8080/predict -d '{"entities":{"hospital_number":[530101]}}'
#[derive(Debug, Args)]
pub struct Serve {
    /// The model bundle: a path, an id or unique prefix, or a ref (`model/NAME`).
    #[arg(long, value_name = "B")]
    pub bundle: String,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
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
    /// Worker threads (each holds one Wasm instance with its own copy of the artifacts).
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

impl Serve {
    /// Runs the server until the process is stopped.
    ///
    /// # Errors
    ///
    /// Unreadable or incompatible artifacts, a missing Wasm module, an address
    /// that cannot be bound.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let bundle_path = locate(ctx, &self.bundle, "bundle")?;
        let snapshot_path = locate(ctx, &self.snapshot, "snapshot")?;
        let bundle_bytes = fs::read(&bundle_path)
            .with_context(|| format!("cannot read {}", bundle_path.display()))?;
        let snapshot_bytes = fs::read(&snapshot_path)
            .with_context(|| format!("cannot read {}", snapshot_path.display()))?;
        let limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_entities: self.max_entities,
        };
        // Check the pair natively first: the clearest errors, whatever the mode.
        let bundle = Bundle::load(&bundle_bytes)
            .with_context(|| format!("loading bundle {}", bundle_path.display()))?;
        let snapshot = Snapshot::load(snapshot_bytes.clone())
            .with_context(|| format!("loading snapshot {}", snapshot_path.display()))?;
        let api = Arc::new(Api::new(predictor(bundle, snapshot)?, limits));
        let listener = TcpListener::bind(&self.addr)
            .with_context(|| format!("cannot listen on {} (--addr)", self.addr))?;
        let addr = listener.local_addr()?;
        let threads = usize::from(self.threads);
        let mode;
        if self.native {
            mode = "native core".to_string();
            announce(ctx, addr, &mode)?;
            http::run(&listener, threads, limits.max_body_bytes, |_| {
                let api = Arc::clone(&api);
                Ok(move |r: &Request| {
                    let response = api.handle(&r.method, &r.path, &r.body, now());
                    (response.status, response.body)
                })
            })?;
        } else {
            drop(api);
            let path = match &self.wasm {
                Some(p) => p.clone(),
                None => WasmModule::locate()?,
            };
            let module = WasmModule::load(&path)?;
            mode = format!("Wasm module {} under wasmtime", path.display());
            let mut runtimes = Vec::with_capacity(threads);
            for _ in 0..threads {
                let mut runtime = module.instantiate()?;
                runtime.set_limits(limits)?;
                runtime
                    .load_bundle(&bundle_bytes)
                    .context("the Wasm module refused the bundle")?;
                runtime
                    .load_snapshot(&snapshot_bytes)
                    .context("the Wasm module refused the snapshot")?;
                runtimes.push(runtime);
            }
            announce(ctx, addr, &mode)?;
            http::run(&listener, threads, limits.max_body_bytes, |_| {
                let mut runtime = runtimes.pop().context("one runtime per thread")?;
                Ok(move |r: &Request| wasm_answer(&mut runtime, r))
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
