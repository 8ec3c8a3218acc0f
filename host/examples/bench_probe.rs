//! verge's side of the verge-vs-Feast benchmark (`bench/run`): in-process online
//! reads and predictions (native core and the Wasm ABI module under wasmtime),
//! snapshot load time, and a small HTTP/1.1 load client used for BOTH `feast
//! serve` and `verge serve`, so the two servers see the same client.
//!
//! Subcommands (each prints nothing but errors; results go to `--out` as JSON):
//!
//! ```text
//! bench_probe bodies --keys N --batch B --count C --features f0,f1 [--now RFC3339] --out FILE.jsonl
//! bench_probe online --bundle B --snapshot S --bodies-1 F --bodies-100 F --predict-bodies F
//!                    --now SECS [--calls C] [--runs R] [--wasm PATH] --out FILE.json
//! bench_probe http --url http://127.0.0.1:PORT/PATH --bodies F [--calls C] [--runs R] --out FILE.json
//! bench_probe dump --snapshot S --keys N --features f0,f1 --out FILE.json
//! ```
//!
//! `dump` reads every key `0..N` from the snapshot, each at its own row's event
//! time (so the ttl cannot hide a value), for the materialization cross-check.
//!
//! Every loop is bounded by a call count and a time budget; the HTTP client only
//! accepts loopback addresses. Latencies are per call, wall clock, in
//! microseconds; a run reports p50/p99 and the result is the median of the runs'
//! figures (the samples of every run are kept, thinned, for the chart).
#![forbid(unsafe_code)]

use std::net::ToSocketAddrs as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};
use verge_core::api::{Api, Limits, get_online_features_json};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::FeatureRef;
use verge_core::online::{Predictor, get_online_features};
use verge_core::{KeyPart, Timestamp};

/// Longest any one measured loop may run, whatever `--calls` says.
const BUDGET: Duration = Duration::from_secs(60);
/// Calls made before measuring (caches, JIT in the server, connection set-up).
const WARMUP: usize = 200;
/// Samples kept per series for the chart.
const KEEP: usize = 4000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_probe: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `--flag value` pairs after the subcommand.
#[derive(Debug, Default)]
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Flags> {
        let mut out = Vec::new();
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                bail!("expected a --flag, found `{flag}`");
            };
            let value = args
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            out.push((name.to_owned(), value));
        }
        Ok(Flags(out))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn need(&self, name: &str) -> anyhow::Result<&str> {
        self.get(name)
            .with_context(|| format!("--{name} is required"))
    }
    fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        self.get(name).map_or(Ok(default), |v| {
            v.parse()
                .with_context(|| format!("--{name} `{v}` is not a whole number"))
        })
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args
        .next()
        .context("usage: bench_probe bodies|online|http --flag value ...")?;
    let flags = Flags::parse(args)?;
    match command.as_str() {
        "bodies" => bodies(&flags),
        "online" => online(&flags),
        "http" => http(&flags),
        "dump" => dump(&flags),
        other => bail!("unknown subcommand `{other}`; use bodies, online, http or dump"),
    }
}

/// xorshift64*, seeded: the same request bodies on every run and for both systems.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Writes `count` request bodies of `batch` known keys each, one JSON a line,
/// in Feast's `/get-online-features` shape (which `/predict` reads too).
fn bodies(flags: &Flags) -> anyhow::Result<()> {
    let keys = flags.number("keys", 1000)?;
    let batch = flags.number("batch", 1)?;
    let count = flags.number("count", 1000)?;
    let features: Vec<&str> = flags.get("features").map_or_else(Vec::new, |f| {
        f.split(',').filter(|s| !s.is_empty()).collect()
    });
    let mut rng = Rng(0x5eed ^ (batch << 20) ^ keys);
    let mut out = String::new();
    for _ in 0..count {
        let ids: Vec<u64> = (0..batch).map(|_| rng.below(keys)).collect();
        let mut body = json!({ "entities": { "driver_id": ids } });
        if !features.is_empty() {
            body["features"] = json!(features);
        }
        if let Some(now) = flags.get("now") {
            body["now"] = json!(now);
        }
        out.push_str(&serde_json::to_string(&body)?);
        out.push('\n');
    }
    let path = flags.need("out")?;
    std::fs::write(path, out).with_context(|| format!("writing {path}"))
}

fn read_bodies(path: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let out: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect();
    if out.is_empty() {
        bail!("{path} holds no request bodies; write some with `bench_probe bodies`");
    }
    Ok(out)
}

/// Latency figures of one series, in microseconds.
#[derive(Debug)]
struct Series {
    p50: Vec<f64>,
    p99: Vec<f64>,
    calls: usize,
    samples: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// Runs `call` over the bodies (round robin) `runs` times of `calls` calls each
/// (after a warm-up), bounded by [`BUDGET`] per run.
fn measure(
    runs: usize,
    calls: usize,
    bodies: &[Vec<u8>],
    mut call: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<Series> {
    for i in 0..WARMUP.min(calls) {
        call(&bodies[i % bodies.len()])?;
    }
    let mut out = Series {
        p50: vec![],
        p99: vec![],
        calls: 0,
        samples: vec![],
    };
    let mut all = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut lat = Vec::with_capacity(calls);
        for i in 0..calls {
            let body = &bodies[i % bodies.len()];
            let t = Instant::now();
            call(body)?;
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            if started.elapsed() > BUDGET {
                break;
            }
        }
        out.calls += lat.len();
        all.extend_from_slice(&lat);
        lat.sort_by(f64::total_cmp);
        out.p50.push(percentile(&lat, 0.50));
        out.p99.push(percentile(&lat, 0.99));
    }
    let step = all.len().div_ceil(KEEP).max(1);
    out.samples = all.into_iter().step_by(step).collect();
    Ok(out)
}

fn series_json(s: &Series) -> Json {
    json!({
        "p50_us": median(&s.p50),
        "p99_us": median(&s.p99),
        "runs_p50_us": s.p50,
        "runs_p99_us": s.p99,
        "calls": s.calls,
        "samples_us": s.samples,
    })
}

fn ok_status(status: u16, body: &[u8], what: &str) -> anyhow::Result<()> {
    if status != 200 {
        bail!(
            "{what} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        );
    }
    Ok(())
}

/// The typed request of a body: feature refs and the `driver_id` column.
/// Join-key columns as the core's online reader takes them: name and values.
type EntityColumns = Vec<(String, Vec<KeyPart>)>;

fn typed(body: &[u8]) -> anyhow::Result<(Vec<FeatureRef>, EntityColumns)> {
    let json: Json = serde_json::from_slice(body).context("a request body is not JSON")?;
    let features = json["features"]
        .as_array()
        .context("a request body has no `features`")?
        .iter()
        .filter_map(Json::as_str)
        .filter_map(|f| f.split_once(':'))
        .map(|(view, field)| FeatureRef {
            view: view.into(),
            field: field.into(),
        })
        .collect();
    let keys = json["entities"]["driver_id"]
        .as_array()
        .context("a request body has no `entities.driver_id`")?
        .iter()
        .filter_map(Json::as_i64)
        .map(KeyPart::Int64)
        .collect();
    Ok((features, vec![("driver_id".to_owned(), keys)]))
}

fn read_file(path: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {path}"))
}

fn online(flags: &Flags) -> anyhow::Result<()> {
    let runs = usize::try_from(flags.number("runs", 3)?)?;
    let calls = usize::try_from(flags.number("calls", 5000)?)?;
    let now =
        Timestamp::from_secs(i64::try_from(flags.number("now", 0)?).context("--now is too large")?);
    let snapshot_bytes = read_file(flags.need("snapshot")?)?;
    let bundle_bytes = read_file(flags.need("bundle")?)?;
    let one = read_bodies(flags.need("bodies-1")?)?;
    let hundred = read_bodies(flags.need("bodies-100")?)?;
    let predict_bodies = read_bodies(flags.need("predict-bodies")?)?;

    // Snapshot load: parse + verify the hash, from bytes already in memory.
    let mut loads = Vec::new();
    for _ in 0..7 {
        let copy = snapshot_bytes.clone();
        let t = Instant::now();
        let s = Snapshot::load(copy).context("loading the snapshot")?;
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(s);
    }
    let snapshot = Snapshot::load(snapshot_bytes.clone()).context("loading the snapshot")?;
    let bundle = Bundle::load(&bundle_bytes).context("loading the bundle")?;
    let api = Api::new(
        Predictor::new(bundle, snapshot.clone()).context("pairing bundle and snapshot")?,
        Limits::default(),
    );

    let mut report = serde_json::Map::new();
    report.insert("snapshot_bytes".into(), json!(snapshot_bytes.len()));
    report.insert("bundle_bytes".into(), json!(bundle_bytes.len()));
    report.insert("snapshot_load_ms".into(), json!(median(&loads)));
    report.insert("snapshot_load_runs_ms".into(), json!(loads));

    for (name, set) in [("1", &one), ("100", &hundred)] {
        let json_series = measure(runs, calls, set, |body| {
            let r = get_online_features_json(&snapshot, body, now, Limits::default());
            ok_status(r.status, &r.body, "get_online_features_json")?;
            std::hint::black_box(r);
            Ok(())
        })?;
        report.insert(format!("native_json_{name}"), series_json(&json_series));
        let typed_bodies: Vec<_> = set.iter().map(|b| typed(b)).collect::<Result<_, _>>()?;
        let mut i = 0;
        let typed_series = measure(runs, calls, set, |_| {
            let (features, entities) = &typed_bodies[i % typed_bodies.len()];
            i += 1;
            let cols = get_online_features(&snapshot, features, entities, now)
                .context("get_online_features")?;
            std::hint::black_box(cols);
            Ok(())
        })?;
        report.insert(format!("native_typed_{name}"), series_json(&typed_series));
    }
    let predict = measure(runs, calls, &predict_bodies, |body| {
        let r = api.handle("POST", "/predict", body, now);
        ok_status(r.status, &r.body, "native /predict")?;
        std::hint::black_box(r);
        Ok(())
    })?;
    report.insert("native_predict_1".into(), series_json(&predict));

    match wasm(flags, &bundle_bytes, &snapshot_bytes) {
        Ok(Some((path, mut runtime, instantiate_ms, load_ms))) => {
            report.insert("wasm_module".into(), json!(path.display().to_string()));
            report.insert(
                "wasm_module_bytes".into(),
                json!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)),
            );
            report.insert("wasm_instantiate_ms".into(), json!(instantiate_ms));
            report.insert("wasm_load_artifacts_ms".into(), json!(load_ms));
            for (name, set) in [("1", &one), ("100", &hundred)] {
                let s = measure(runs, calls, set, |body| {
                    let (status, out) =
                        runtime.handle("POST", "/get-online-features", body, now)?;
                    ok_status(status, &out, "wasm /get-online-features")
                })?;
                report.insert(format!("wasm_json_{name}"), series_json(&s));
            }
            let s = measure(runs, calls, &predict_bodies, |body| {
                let (status, out) = runtime.handle("POST", "/predict", body, now)?;
                ok_status(status, &out, "wasm /predict")
            })?;
            report.insert("wasm_predict_1".into(), series_json(&s));
        }
        Ok(None) => {
            report.insert(
                "wasm_skipped".into(),
                json!("the Wasm ABI module is not built"),
            );
        }
        Err(e) => {
            report.insert("wasm_skipped".into(), json!(format!("{e:#}")));
        }
    }
    let out = flags.need("out")?;
    std::fs::write(out, serde_json::to_vec_pretty(&Json::Object(report))?)
        .with_context(|| format!("writing {out}"))
}

type Loaded = (PathBuf, verge_host::wasm_runtime::WasmRuntime, f64, f64);

/// The ABI module under wasmtime, loaded with the pair; `None` when no module is built.
fn wasm(flags: &Flags, bundle: &[u8], snapshot: &[u8]) -> anyhow::Result<Option<Loaded>> {
    use verge_host::wasm_runtime::WasmModule;
    let (path, module) = match flags.get("wasm") {
        Some(p) if !Path::new(p).is_file() => return Ok(None),
        Some(p) => (PathBuf::from(p), WasmModule::load(Path::new(p))?),
        None => (
            PathBuf::from(WasmModule::configured_source()),
            WasmModule::configured()?,
        ),
    };
    let t = Instant::now();
    let mut runtime = module.instantiate()?;
    let instantiate_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    runtime.load_bundle(bundle)?;
    runtime.load_snapshot(snapshot)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(Some((path, runtime, instantiate_ms, load_ms)))
}

/// A keep-alive HTTP/1.1 client of one loopback server, as thin as a client
/// can be: each request is one `write` of head and body on a `TCP_NODELAY`
/// socket, each answer is read by its `Content-Length`. A general client
/// (ureq) spent about 30 µs a call of its own, which hid the servers' own
/// latency; both sides of a comparison go through this one.
#[derive(Debug)]
struct Client {
    addr: std::net::SocketAddr,
    host: String,
    path: String,
    conn: Option<std::io::BufReader<std::net::TcpStream>>,
    request: Vec<u8>,
}

impl Client {
    fn new(url: &str) -> anyhow::Result<Client> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("`{url}` is not an http:// URL"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to nothing"))?;
        if !addr.ip().is_loopback() {
            bail!("{addr} is not a loopback address; this client only talks to 127.0.0.1 or ::1");
        }
        Ok(Client {
            addr,
            host: host.to_owned(),
            path: format!("/{path}"),
            conn: None,
            request: Vec::new(),
        })
    }

    fn connect(&mut self) -> anyhow::Result<&mut std::io::BufReader<std::net::TcpStream>> {
        if self.conn.is_none() {
            let stream = std::net::TcpStream::connect(self.addr)
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(std::io::BufReader::with_capacity(64 * 1024, stream));
        }
        self.conn.as_mut().context("internal: no connection")
    }

    /// POSTs `body` and reads the whole answer: (status, body).
    fn post(&mut self, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        use std::io::{BufRead as _, Read as _, Write as _};
        self.request.clear();
        write!(
            self.request,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        let request = std::mem::take(&mut self.request);
        let conn = self.connect()?;
        conn.get_mut()
            .write_all(&request)
            .context("sending the request")?;
        let (mut status, mut length, mut close) = (0u16, None, false);
        let mut line = String::new();
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                bail!("the server closed the connection mid-answer");
            }
            let text = line.trim_end();
            if text.is_empty() {
                break;
            }
            if status == 0 {
                status = text
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .with_context(|| format!("not an HTTP status line: {text:?}"))?;
            } else if let Some((name, value)) = text.split_once(':') {
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse::<usize>().ok(),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    "transfer-encoding" => bail!("chunked answers are not read by this client"),
                    _ => {}
                }
            }
        }
        let mut out = vec![0; length.context("the answer has no Content-Length")?];
        conn.read_exact(&mut out).context("reading the answer")?;
        if close {
            self.conn = None;
        }
        self.request = request;
        Ok((status, out))
    }
}

fn http(flags: &Flags) -> anyhow::Result<()> {
    let runs = usize::try_from(flags.number("runs", 3)?)?;
    let calls = usize::try_from(flags.number("calls", 2000)?)?;
    let url = flags.need("url")?;
    let bodies = read_bodies(flags.need("bodies")?)?;
    let mut client = Client::new(url)?;
    let mut bytes = 0usize;
    let series = measure(runs, calls, &bodies, |body| {
        let (status, out) = client.post(body)?;
        ok_status(status, &out, url)?;
        bytes = out.len();
        Ok(())
    })?;
    let mut report = series_json(&series);
    report["url"] = json!(url);
    report["last_answer_bytes"] = json!(bytes);
    let out = flags.need("out")?;
    std::fs::write(out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {out}"))
}

/// Every key's materialized row: `{"driver_id": [...], "event_ts": [secs], "f0": [...], ...}`.
///
/// Each key is read twice: once to learn its row's event time, then at that time,
/// where the row is fresh by definition, so the stored values come back as stored.
fn dump(flags: &Flags) -> anyhow::Result<()> {
    let keys = flags.number("keys", 1000)?;
    let names: Vec<&str> = flags
        .need("features")?
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    let features: Vec<FeatureRef> = names
        .iter()
        .map(|f| FeatureRef {
            view: "stats".into(),
            field: (*f).into(),
        })
        .collect();
    let snapshot =
        Snapshot::load(read_file(flags.need("snapshot")?)?).context("loading the snapshot")?;
    let mut ids = Vec::new();
    let mut times = Vec::new();
    let mut columns: Vec<Vec<Json>> = vec![Vec::new(); features.len()];
    for key in 0..keys {
        let id = i64::try_from(key).context("key out of range")?;
        let entities = vec![("driver_id".to_owned(), vec![KeyPart::Int64(id)])];
        let first = get_online_features(&snapshot, &features[..1], &entities, Timestamp::MAX)
            .context("reading the snapshot")?;
        let Some(ts) = first
            .first()
            .and_then(|c| c.values.first())
            .and_then(|v| v.event_ts)
        else {
            continue;
        };
        let cols = get_online_features(&snapshot, &features, &entities, ts)
            .context("reading the snapshot")?;
        ids.push(id);
        times.push(ts.as_micros() / 1_000_000);
        for (out, col) in columns.iter_mut().zip(&cols) {
            let v = col.values.first().map_or(Json::Null, |v| match v.value {
                verge_core::Value::Float32(x) => json!(f64::from(x)),
                verge_core::Value::Float64(x) => json!(x),
                _ => Json::Null,
            });
            out.push(v);
        }
    }
    let mut report = serde_json::Map::new();
    report.insert("driver_id".into(), json!(ids));
    report.insert("event_ts".into(), json!(times));
    for (name, col) in names.iter().zip(columns) {
        report.insert((*name).to_owned(), Json::Array(col));
    }
    let out = flags.need("out")?;
    std::fs::write(out, serde_json::to_vec(&Json::Object(report))?)
        .with_context(|| format!("writing {out}"))
}
