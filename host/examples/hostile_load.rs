//! Hostile clients against a running `verge serve`, on loopback, bounded in
//! time: the figures behind the goals the hostile-client tests
//! (`host/tests/all/hostile_http.rs`) hold as behaviour. `bench/serve-hostile`
//! runs it against the old and the new server in one go.
//!
//! 1. **Slow and idle connections.** `--slow N` connections are opened: half
//!    send a partial head and then a byte a second (slowloris), half send
//!    nothing. While they are open, `--probes P` new clients each open a fresh
//!    connection and `GET /healthz`; their latency (connect to answer) is
//!    reported, and a probe that gets no answer within 5 s is a failure.
//!    Every request of this program gives up after 5 s.
//! 2. **Keep-alive clients.** The slow connections are dropped; `--clients C`
//!    keep-alive clients `POST /predict` (`--body`) for `--seconds S`. Reported:
//!    requests per second, p50 / p99 / max latency, errors, and how many
//!    clients never got an answer.
//! 3. **Memory.** The server's resident set (`--server-pid`) before and after.
//!
//! ```sh
//! cargo build --release -p verge-host --example hostile_load
//! target/release/examples/hostile_load --url http://127.0.0.1:8080 --server-pid $PID \
//!     --body '{"entities":{"hospital_number":[534817]}}'
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

/// Longest the slow-connection phase may probe.
const PHASE_BUDGET: Duration = Duration::from_secs(30);

/// Parsed flags.
struct Options {
    addr: SocketAddr,
    server_pid: Option<u32>,
    slow: usize,
    probes: usize,
    clients: usize,
    seconds: u64,
    body: String,
}

fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        get(name).map_or(Ok(default), |v| {
            v.parse()
                .with_context(|| format!("{name} {v}: not a number"))
        })
    };
    let url = get("--url").context("--url http://127.0.0.1:PORT is required")?;
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .context("--url must be http://HOST:PORT")?
        .trim_end_matches('/')
        .parse()
        .context("--url must name an IP address and port")?;
    anyhow::ensure!(addr.ip().is_loopback(), "--url must be a loopback address");
    Ok(Options {
        addr,
        server_pid: get("--server-pid").map(|p| p.parse()).transpose()?,
        slow: usize::try_from(number("--slow", 1000)?)?,
        probes: usize::try_from(number("--probes", 200)?)?,
        clients: usize::try_from(number("--clients", 200)?)?,
        seconds: number("--seconds", 10)?.min(30),
        body: get("--body").unwrap_or_else(|| r#"{"entities":{"hospital_number":[1]}}"#.into()),
    })
}

/// A keep-alive client whose every request gives up after 5 s, so a server
/// that starves it cannot stretch a phase past its time.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Sends one request; its status, or `None` for a transport error or timeout.
fn send(
    agent: &ureq::Agent,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<u16> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .ok()?;
    let mut answer = agent.run(request).ok()?;
    answer.body_mut().read_to_vec().ok()?;
    Some(answer.status().as_u16())
}

/// Resident memory of `pid` in MiB, from /proc.
fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The `q` quantile of sorted latencies, in ms.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Phase 1: new clients while `slow` slow and idle connections are open.
fn slow_phase(o: &Options) -> serde_json::Value {
    let mut slow: Vec<TcpStream> = Vec::with_capacity(o.slow);
    for i in 0..o.slow {
        // A server that stops accepting fills its backlog: give up on it then.
        let Ok(mut s) = TcpStream::connect_timeout(&o.addr, Duration::from_secs(1)) else {
            break;
        };
        if i % 2 == 0 {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: load\r\nx-slow: ");
        }
        slow.push(s);
    }
    let opened = slow.len();
    let slow = Arc::new(Mutex::new(slow));
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let (slow, stop) = (Arc::clone(&slow), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (i, s) in slow.lock().unwrap().iter_mut().enumerate() {
                    if i % 2 == 0 {
                        let _ = s.write_all(b"a");
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let mut latencies = Vec::with_capacity(o.probes);
    let mut failed = 0usize;
    let budget = Instant::now() + PHASE_BUDGET;
    for _ in 0..o.probes {
        if Instant::now() > budget {
            failed += 1; // not even tried in the phase's time: counted as failed
            continue;
        }
        let started = Instant::now();
        // A fresh client is a fresh connection.
        match send(&client(), o.addr, "GET", "/healthz", b"") {
            Some(200) => latencies.push(started.elapsed()),
            _ => failed += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = trickle.join();
    latencies.sort();
    json!({
        "slow_connections_open": opened,
        "probes": o.probes,
        "probes_failed": failed,
        "probe_p50_ms": quantile(&latencies, 0.5),
        "probe_p99_ms": quantile(&latencies, 0.99),
        "probe_max_ms": latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
    })
}

/// Phase 2: keep-alive clients for `seconds`.
fn keep_alive_phase(o: &Options) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let per_client: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..o.clients)
            .map(|_| {
                scope.spawn(|| {
                    let agent = client();
                    let (mut latencies, mut errors) = (Vec::new(), 0usize);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match send(&agent, o.addr, "POST", "/predict", o.body.as_bytes()) {
                            Some(200) => latencies.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let starved = per_client.iter().filter(|(l, _)| l.is_empty()).count();
    let errors: usize = per_client.iter().map(|(_, e)| e).sum();
    let mut all: Vec<Duration> = per_client.into_iter().flat_map(|(l, _)| l).collect();
    all.sort();
    json!({
        "clients": o.clients,
        "seconds": o.seconds,
        "requests": all.len(),
        "req_per_s": all.len() as f64 / elapsed,
        "p50_ms": quantile(&all, 0.5),
        "p99_ms": quantile(&all, 0.99),
        "max_ms": all.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        "errors": errors,
        "clients_never_answered": starved,
    })
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let rss_before = rss_mib(o.server_pid);
    let slow = slow_phase(&o);
    let keep_alive = keep_alive_phase(&o);
    let report = json!({
        "rss_before_mib": rss_before,
        "slow": slow,
        "keep_alive": keep_alive,
        "rss_after_mib": rss_mib(o.server_pid),
    });
    println!("{report}");
    Ok(())
}
