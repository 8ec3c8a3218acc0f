//! A bounded load test on loopback against a running verge HTTP face — the
//! Cloudflare Worker under workerd, or `verge serve` — with a new pair
//! published through the admin route halfway through. Run by hand, not in CI.
//!
//! For `--seconds` it keeps `--clients` keep-alive connections busy with
//! `POST /predict` requests (one entity each, or `--batch N`), and reports
//! throughput, p50/p99/max latency, errors, and the server's resident memory
//! sampled every half second (`--server-pid`). At `--publish-at` seconds it
//! pushes the pair in `--next DIR` (a `verge publish --to` directory) to
//! `PUT /admin/artifacts`, with the bearer token from `--token-env`.
//!
//! Every answer is checked byte for byte against what the native core answers
//! for the pair in `--site DIR` (served at the start) or the one in `--next`:
//! an answer from neither — a mixed pair, or anything else — is an error. Each
//! request carries a fixed `now`, so answers are deterministic.
//!
//! ```sh
//! cargo build --release -p verge-host --example load
//! # verge serve (Wasm under wasmtime; add --native for the native core):
//! VERGE_ADMIN_TOKEN=t verge -C repo serve --from site --admin-token-env VERGE_ADMIN_TOKEN --addr 127.0.0.1:8080 &
//! VERGE_ADMIN_TOKEN=t target/release/examples/load --url http://127.0.0.1:8080 \
//!     --site repo/site --next repo/next --server-pid $! --seconds 30 --clients 4
//! # The worker under workerd, serving the directory `site`:
//! VERGE_ADMIN_TOKEN=t "$WORKERD_BIN" serve examples/worker/config.capnp \
//!     --directory-path artifacts=repo/site --socket-addr http=127.0.0.1:8787 &
//! VERGE_ADMIN_TOKEN=t target/release/examples/load --url http://127.0.0.1:8787 \
//!     --site repo/site --next repo/next --server-pid $! --seconds 30 --clients 4
//! ```
//!
//! (With the worker, `--site` is rewritten by the admin route itself: keep a
//! copy of the first pair's directory to point `--site` at, or start from a
//! fresh copy each run; the example reads both directories before it starts.)
//!
//! Figures from one run each (2-core VM shared with other builds, load average
//! ~4.5; horse-colic model, 346-key snapshot, 4 clients, a signed pair
//! published at 15 s, `--public-key` / `PUBLIC_KEY` set):
//!
//! | server | req/s | p50 | p99 | max | errors | RSS |
//! |---|---:|---:|---:|---:|---:|---|
//! | `verge serve --threads 5` (Wasm) | 47 464 | 0.076 ms | 0.243 ms | 11.4 ms | 0 | 36.1 → 36.7 MiB |
//! | `verge serve --threads 5 --native` | 47 899 | 0.080 ms | 0.195 ms | 15.0 ms | 0 | 8.0 → 8.5 MiB |
//! | workerd (90 s) | 2 939 | 1.141 ms | 5.497 ms | 305 ms | 0 | 74 → 310 MiB in 20 s, then flat 307–319 MiB |
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::PublishedPair;
use verge_core::value::KeyPart;
use verge_core::{DType, Timestamp};
use verge_host::publish::PublishDir;
use verge_host::publish::push::{self, Endpoint};

const NOW: &str = "2021-07-05T12:00:00Z";

#[derive(Debug)]
struct Options {
    url: String,
    site: PathBuf,
    next: PathBuf,
    seconds: f64,
    publish_at: f64,
    clients: usize,
    batch: usize,
    server_pid: Option<u32>,
    token_env: String,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        url: String::new(),
        site: PathBuf::new(),
        next: PathBuf::new(),
        seconds: 30.0,
        publish_at: f64::NAN,
        clients: 4,
        batch: 1,
        server_pid: None,
        token_env: "VERGE_ADMIN_TOKEN".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => o.url = value()?,
            "--site" => o.site = value()?.into(),
            "--next" => o.next = value()?.into(),
            "--seconds" => o.seconds = value()?.parse()?,
            "--publish-at" => o.publish_at = value()?.parse()?,
            "--clients" => o.clients = value()?.parse()?,
            "--batch" => o.batch = value()?.parse()?,
            "--server-pid" => o.server_pid = Some(value()?.parse()?),
            "--token-env" => o.token_env = value()?,
            _ => bail!("unknown flag {flag}; see the header of host/examples/load.rs"),
        }
    }
    if o.url.is_empty() || o.site.as_os_str().is_empty() || o.next.as_os_str().is_empty() {
        bail!("give --url, --site and --next (see host/examples/load.rs)");
    }
    if o.publish_at.is_nan() {
        o.publish_at = o.seconds / 2.0;
    }
    Ok(o)
}

/// A pair read from a publish directory, with its bytes and native API.
struct Loaded {
    pair: PublishedPair,
    bundle: Vec<u8>,
    snapshot: Vec<u8>,
    api: Api,
}

fn load(dir: &std::path::Path) -> anyhow::Result<Loaded> {
    let d = PublishDir::new(dir);
    let m = d
        .read_manifest()?
        .with_context(|| format!("nothing published in {}", dir.display()))?;
    let files = d.read_pair(&m.current)?;
    let (bundles, snapshot) = (files.bundles, files.snapshot.to_vec());
    // The push below sends one bundle with the snapshot: the first.
    let bundle = bundles.into_iter().next().unwrap_or_default();
    let api = Api::serving(d.check_pair(&m.current, None)?.0, Limits::default());
    Ok(Loaded {
        pair: m.current,
        bundle,
        snapshot,
        api,
    })
}

/// Request bodies over the snapshot's keys, with plausible request data.
fn bodies(api: &Api, batch: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let predictor = api.predictor();
    let contents = predictor.bundle().contents();
    let snapshot = predictor.snapshot();
    let view = contents.views.first().context("the bundle reads no view")?;
    let table = snapshot
        .table_index(&view.name)
        .context("the snapshot lacks the bundle's view")?;
    let rows = snapshot.table(table).map_or(0, |t| t.rows());
    if rows == 0 {
        bail!("the snapshot has no rows");
    }
    let mut out = Vec::new();
    for start in (0..rows).step_by(batch.max(1)).take(256) {
        let mut entities: Map<String, Json> = Map::new();
        for row in start..(start + batch).min(rows) {
            let key = snapshot.key(table, row).context("a row without a key")?;
            for (field, part) in view.join_keys.iter().zip(key.parts()) {
                let v = match part {
                    KeyPart::Int64(i) => Json::from(*i),
                    KeyPart::String(s) => Json::String(s.clone()),
                };
                entities
                    .entry(field.name.clone())
                    .or_insert_with(|| Json::Array(vec![]))
                    .as_array_mut()
                    .context("a column")?
                    .push(v);
            }
        }
        let n = entities
            .values()
            .next()
            .and_then(Json::as_array)
            .map_or(0, Vec::len);
        let request: Map<String, Json> = contents
            .request
            .iter()
            .map(|f| {
                let v = match f.dtype {
                    DType::Float64 | DType::Float32 => json!(37.5),
                    DType::Int64 | DType::Int32 => json!(1),
                    DType::Bool => json!(false),
                    DType::String | DType::Bytes => json!("eA=="),
                    DType::UnixTimestamp => json!("2024-01-01T00:00:00Z"),
                    DType::Json => json!({"x": 1}),
                    DType::Array(_) => json!([]),
                };
                (f.name.clone(), Json::Array(vec![v; n]))
            })
            .collect();
        out.push(serde_json::to_vec(
            &json!({"entities": entities, "request_context": request, "now": NOW}),
        )?);
    }
    Ok(out)
}

/// A keep-alive connection: the test kit's client (ureq), the one HTTP client
/// verge's tests and benches use.
struct Conn {
    http: verge_test_kit::http::Client,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        Conn {
            http: verge_test_kit::http::Client::new(addr),
        }
    }

    fn post(&mut self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), ureq::Error> {
        let answer =
            self.http
                .try_send("POST", path, &[("content-type", "application/json")], body)?;
        Ok((answer.status, answer.body))
    }
}

/// Resident memory of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The process's start time (field 22 of /proc/PID/stat): changes on restart.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19).map(str::to_owned)
}

#[derive(Default)]
struct ClientReport {
    latencies_us: Vec<u32>,
    errors: Vec<String>,
    first_b: Option<Duration>,
    last_a: Option<Duration>,
    answers: [u64; 2],
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let a = load(&o.site)?;
    let b = load(&o.next)?;
    if a.pair.same_artifacts(&b.pair) {
        bail!("--site and --next hold the same pair; publish another snapshot to --next");
    }
    let bodies = Arc::new(bodies(&a.api, o.batch)?);
    let now = Timestamp::parse_rfc3339(NOW).context("NOW")?;
    let expected: Arc<Vec<[Vec<u8>; 2]>> = Arc::new(
        bodies
            .iter()
            .map(|body| {
                [
                    a.api.handle("POST", "/predict", body, now).body,
                    b.api.handle("POST", "/predict", body, now).body,
                ]
            })
            .collect(),
    );
    let addr = o
        .url
        .strip_prefix("http://")
        .context("--url must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_string();
    // The server must be serving the first pair when the run starts.
    let mut probe = Conn::new(&addr);
    let (status, got) = probe.post("/predict", &bodies[0])?;
    if status != 200 || got != expected[0][0] {
        bail!(
            "the server is not serving the pair in {} (HTTP {status}): {}",
            o.site.display(),
            String::from_utf8_lossy(&got)
        );
    }
    let token = std::env::var(&o.token_env)
        .with_context(|| format!("set the admin token in {}", o.token_env))?;
    let start_marker = o.server_pid.and_then(start_time);

    println!(
        "load: {} for {} s, {} keep-alive clients, {} entit{} per request, publishing {}+{} at {} s",
        o.url,
        o.seconds,
        o.clients,
        o.batch,
        if o.batch == 1 { "y" } else { "ies" },
        b.pair.bundle.short(),
        b.pair.snapshot.short(),
        o.publish_at
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();

    let clients: Vec<_> = (0..o.clients)
        .map(|c| {
            let (stop, sent, bodies, expected, addr) = (
                stop.clone(),
                sent.clone(),
                bodies.clone(),
                expected.clone(),
                addr.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = Conn::new(&addr);
                let mut r = ClientReport {
                    latencies_us: Vec::with_capacity(1 << 20),
                    ..ClientReport::default()
                };
                let mut i = c * 7;
                while !stop.load(Ordering::Relaxed) {
                    let k = i % bodies.len();
                    i += 1;
                    let t = Instant::now();
                    let answer = conn.post("/predict", &bodies[k]);
                    let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                    r.latencies_us.push(us);
                    sent.fetch_add(1, Ordering::Relaxed);
                    let at = begin.elapsed();
                    match answer {
                        Ok((200, body)) if body == expected[k][0] => {
                            r.answers[0] += 1;
                            r.last_a = Some(at);
                        }
                        Ok((200, body)) if body == expected[k][1] => {
                            r.answers[1] += 1;
                            r.first_b.get_or_insert(at);
                        }
                        Ok((status, body)) => r.errors.push(format!(
                            "HTTP {status} at {:.3} s: {}",
                            at.as_secs_f64(),
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        )),
                        Err(e) => r
                            .errors
                            .push(format!("I/O at {:.3} s: {e}", at.as_secs_f64())),
                    }
                }
                r
            })
        })
        .collect();

    // RSS sampler.
    let rss: Arc<Mutex<Vec<(f64, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let sampler = o.server_pid.map(|pid| {
        let (stop, rss) = (stop.clone(), rss.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    rss.lock()
                        .unwrap()
                        .push((begin.elapsed().as_secs_f64(), kib));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    });

    // The publish, mid-run.
    std::thread::sleep(Duration::from_secs_f64(o.publish_at));
    let endpoint = Endpoint::parse(&o.url)?;
    let publish_start = begin.elapsed();
    let published = push::push(&endpoint, &token, &b.bundle, &b.snapshot, &b.pair);
    let publish_end = begin.elapsed();
    std::thread::sleep(Duration::from_secs_f64((o.seconds - o.publish_at).max(0.0)));
    stop.store(true, Ordering::Relaxed);
    let elapsed = begin.elapsed();
    let reports: Vec<ClientReport> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    if let Some(s) = sampler {
        s.join().unwrap();
    }

    let mut all: Vec<u32> = reports
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    all.sort_unstable();
    let q = |f: f64| {
        let i = ((all.len() as f64 * f) as usize).min(all.len().saturating_sub(1));
        f64::from(all.get(i).copied().unwrap_or(0)) / 1000.0
    };
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.errors).collect();
    let answers = reports.iter().fold([0u64; 2], |acc, r| {
        [acc[0] + r.answers[0], acc[1] + r.answers[1]]
    });
    let first_b = reports.iter().filter_map(|r| r.first_b).min();
    let last_a = reports.iter().filter_map(|r| r.last_a).max();
    let rss = rss.lock().unwrap().clone();
    let restarted = o.server_pid.is_some() && o.server_pid.and_then(start_time) != start_marker;

    println!(
        "requests:   {} in {:.1} s = {:.0} req/s",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency:    p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        q(0.50),
        q(0.99),
        q(0.999),
        q(1.0)
    );
    println!("errors:     {}", errors.len());
    for e in errors.iter().take(10) {
        println!("  {e}");
    }
    println!(
        "answers:    {} from the first pair, {} from the published pair, {} from neither",
        answers[0],
        answers[1],
        errors.len()
    );
    match &published {
        Ok(answer) => println!(
            "publish:    {:.3} s → {:.3} s ({:.0} ms): {}",
            publish_start.as_secs_f64(),
            publish_end.as_secs_f64(),
            (publish_end - publish_start).as_secs_f64() * 1000.0,
            answer
        ),
        Err(e) => println!("publish:    FAILED: {e:#}"),
    }
    println!(
        "swap:       first new-pair answer at {}, last old-pair answer at {}",
        first_b.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
        last_a.map_or("never".into(), |t| format!("{:.3} s", t.as_secs_f64())),
    );
    if !rss.is_empty() {
        let kib: Vec<u64> = rss.iter().map(|(_, k)| *k).collect();
        let (min, max) = (kib.iter().min().unwrap(), kib.iter().max().unwrap());
        let before: Vec<u64> = rss
            .iter()
            .filter(|(t, _)| *t < publish_start.as_secs_f64())
            .map(|(_, k)| *k)
            .collect();
        let after: Vec<u64> = rss
            .iter()
            .filter(|(t, _)| *t > publish_end.as_secs_f64() + 2.0)
            .map(|(_, k)| *k)
            .collect();
        println!(
            "server RSS: {} samples, min {:.1} MiB, max {:.1} MiB; before publish {:.1}..{:.1} MiB, settled after {:.1}..{:.1} MiB",
            kib.len(),
            *min as f64 / 1024.0,
            *max as f64 / 1024.0,
            before.iter().min().copied().unwrap_or(0) as f64 / 1024.0,
            before.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
            after.iter().min().copied().unwrap_or(0) as f64 / 1024.0,
            after.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
        );
        let series: Vec<String> = rss
            .iter()
            .step_by(4)
            .map(|(t, k)| format!("{t:.0}s:{:.1}", *k as f64 / 1024.0))
            .collect();
        println!("            every 2 s (MiB): {}", series.join(" "));
    }
    println!(
        "restarts:   {}",
        if restarted {
            "THE SERVER RESTARTED"
        } else {
            "none"
        }
    );
    if !errors.is_empty() || published.is_err() || restarted || answers[1] == 0 {
        bail!("the run failed: see above");
    }
    Ok(())
}
