//! Feast's real Python SDK as a client of `verge serve` (issue 13 §2), for
//! Feast 0.60.0 and 0.67.0, on the native core and on the Wasm module, and of
//! the Cloudflare Worker under workerd.
//!
//! For each version: a copy of `tests/feast/repo` is applied and materialized
//! by Feast itself (SQLite online store: the reference); `tests/feast/verge`
//! (the same definitions in `verge.toml`) is applied and materialized by verge
//! over the same data and window; ONE verge deployment per face is started,
//! as a Feast user configures one `path:` — `verge serve --bundle
//! driver_activity --bundle driver_odfv` (native, then Wasm), and a workerd
//! over `verge publish driver_activity driver_odfv --to DIR` — and
//! `tests/feast/sdk_client.py`, run with the version's venv Python, makes the
//! same calls through a `FeatureStore` whose `online_store` is `{type: remote,
//! path: <verge>}` and through Feast's own local store, with `.to_dict()` and
//! `.to_df()`. The two answers must be equal column by column, by name
//! (Feast's own column order changes between processes), values exactly
//! (floats as f64, ints as ints), and the pandas dtypes too; the only accepted
//! differences are in [`ALLOWED`].
//!
//! Then the calls that must fail ([`ERRORS`]): an unknown view, an unknown
//! field of a known view, an unknown feature service, an on-demand feature
//! without its request data, and a view that the SDK's registry has and the
//! deployment does not serve. Where the SDK sends the call, verge must answer
//! 4xx (Feast's client retries 429/5xx with backoff, ≈3 s, and hides the body),
//! the call must return within [`NO_RETRY`], and the exception must carry
//! verge's message; where the SDK refuses before sending, it must raise
//! exactly what Feast's own store raises.
//!
//! Needs `FEAST_PYTHON_0_60` and `FEAST_PYTHON_0_67` (the venvs' Pythons), which
//! `scripts/setup` installs and prints with `--print-env`; `scripts/test` sets
//! them and `VERGE_FEAST_REQUIRED=1`; the Worker part also needs `WORKERD_BIN`
//! (and the build tools of `examples/worker/build.sh`). Without a variable the
//! test (or its Worker part) says so loudly and passes, as the workerd tests
//! do, so a bare `cargo test` works; with `VERGE_FEAST_REQUIRED` set it fails
//! instead.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use verge_test_kit::cli::Verge;
use verge_test_kit::workerd::{Workerd, workerd_bin};

/// Every subprocess (Feast's CLI, verge, the SDK driver) is killed after this.
const STEP_LIMIT: Duration = Duration::from_secs(120);
/// Feast's `feast materialize` window and verge's: all of the 2026-01 data.
const WINDOW: (&str, &str) = ("2025-12-01T00:00:00", "2026-02-01T00:00:00");
/// A call that reached verge and came back 4xx returns well within this: a
/// 429/5xx would be retried three times with backoff (≈3.1 s, PROTOCOL.md).
const NO_RETRY: Duration = Duration::from_secs(2);
/// The calls `sdk_client.py` makes; each must be there and compared.
const CALLS: &[&str] = &[
    "plain_two_views",
    "int64_key_only",
    "string_key_only",
    "feature_service",
    "full_feature_names",
    "unknown_keys_only",
    "one_row",
    "rows_1000",
    "odfv_request_field",
    "odfv_full_feature_names",
    "odfv_rows_1000",
];

/// Differences by design: (Feast version or `*`, call, form `dict`/`df`,
/// column, why). An entry relaxes one thing only: there, an int from verge
/// may stand for Feast's float of exactly the same value; every value must
/// still be equal.
const ALLOWED: &[(&str, &str, &str, &str, &str)] = &[(
    // Feast 0.67's own store, with full_feature_names, hands back the pandas
    // column of the ODFV (int + NaN made it float64: 191.0) without casting it
    // to the declared Int64; without full names it gives 191, as does 0.60.
    // verge answers the declared type, as Feast's remote path then shows it.
    "0.67.0",
    "odfv_full_feature_names",
    "dict",
    "transformed_conv_rate__trips_plus_val",
    "Feast 0.67 skips the Int64 cast of an ODFV output under full_feature_names",
)];

/// A call of `sdk_client.py`'s `error_calls`, expected to raise on both stores.
struct ErrorCall {
    /// Feast version, or `*`.
    version: &'static str,
    call: &'static str,
    /// What Feast's own store raises (`module.Class` prefix of its text).
    feast_raises: &'static str,
    /// `Some(text)`: the SDK sends the call, verge answers 4xx, and the SDK's
    /// exception contains `text` of verge's message. `None`: the SDK raises
    /// before sending (no request), exactly what Feast's own store raises.
    verge_says: Option<&'static str>,
    /// Why the SDK's exception through verge differs from Feast's own, if so.
    why: &'static str,
}

/// Through verge, a refused call raises `builtins.RuntimeError` with verge's
/// body as text, not Feast's typed exception: verge's error body is
/// `{"error":{...}}`, not the JSON string of `{module, class, message}` from
/// which the SDK rebuilds a `feast.errors` class (PROTOCOL.md).
const UNTYPED: &str = "verge's error body is not Feast's error object: RuntimeError with the body";
/// Feast 0.60 checks names and request data against its registry and plans
/// every view itself, so these never reach the server.
const CLIENT_SIDE: &str = "0.60 raises in the SDK before sending, as its own store does";

const ERRORS: &[ErrorCall] = &[
    ErrorCall {
        version: "0.60.0",
        call: "unknown_view",
        feast_raises: "feast.errors.FeatureViewNotFoundException",
        verge_says: None,
        why: CLIENT_SIDE,
    },
    ErrorCall {
        version: "0.60.0",
        call: "unknown_field",
        feast_raises: "builtins.KeyError",
        verge_says: None,
        why: CLIENT_SIDE,
    },
    ErrorCall {
        version: "0.60.0",
        call: "unknown_feature_service",
        feast_raises: "feast.errors.FeatureServiceNotFoundException",
        verge_says: None,
        why: CLIENT_SIDE,
    },
    ErrorCall {
        version: "0.60.0",
        call: "odfv_without_request_data",
        feast_raises: "feast.errors.RequestDataNotFoundInEntityRowsException",
        verge_says: None,
        why: CLIENT_SIDE,
    },
    ErrorCall {
        version: "0.67.0",
        call: "unknown_view",
        feast_raises: "feast.errors.FeatureViewNotFoundException",
        verge_says: Some("unknown feature `nope:x`"),
        why: UNTYPED,
    },
    ErrorCall {
        version: "0.67.0",
        call: "unknown_field",
        // Feast's store raises a bare KeyError from its projection lookup.
        feast_raises: "builtins.KeyError",
        verge_says: Some("unknown feature `driver_hourly_stats:nope`"),
        why: UNTYPED,
    },
    ErrorCall {
        version: "0.67.0",
        call: "unknown_feature_service",
        feast_raises: "feast.errors.FeatureServiceNotFoundException",
        verge_says: Some("unknown feature service `nope`"),
        why: UNTYPED,
    },
    ErrorCall {
        version: "0.67.0",
        call: "odfv_without_request_data",
        feast_raises: "feast.errors.RequestDataNotFoundInEntityRowsException",
        verge_says: Some("needs request field `val_to_add`"),
        why: UNTYPED,
    },
    ErrorCall {
        // Only in the remote store's registry: both versions send it.
        version: "*",
        call: "view_verge_lacks",
        feast_raises: "feast.errors.FeatureViewNotFoundException",
        verge_says: Some("unknown feature `verge_lacks:x`"),
        why: UNTYPED,
    },
];

#[test]
fn feast_0_60_reads_verge_serve_as_its_own_store() {
    check_version("0.60.0", "FEAST_PYTHON_0_60");
}

#[test]
fn feast_0_67_reads_verge_serve_as_its_own_store() {
    check_version("0.67.0", "FEAST_PYTHON_0_67");
}

fn check_version(version: &str, var: &str) {
    let Some(python) = feast_python(var) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let feast_repo = feast_reference(&python, tmp.path());
    let verge_repo = verge_repo(tmp.path());
    let mut problems = Vec::new();
    for engine in engines() {
        let endpoint = Endpoint::start(&verge_repo, engine);
        let client = workspace().join("tests/feast/sdk_client.py");
        let mut cmd = Command::new(&python);
        cmd.arg(&client).arg(&feast_repo).arg(endpoint.url());
        let out = run_bounded(cmd, tmp.path(), &format!("sdk_client {engine:?}"));
        let answers: Json = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("sdk_client.py printed no JSON ({e}):\n{out}"));
        assert_eq!(answers["feast_version"], version, "the venv's Feast");
        check_reference(version, &answers);
        for d in compare(version, &answers) {
            problems.push(format!("{engine:?}: {d}"));
        }
        for d in check_errors(version, &answers) {
            problems.push(format!("{engine:?}: {d}"));
        }
        eprintln!(
            "Feast {version} on {engine:?}: {} calls compared, {} error calls checked",
            CALLS.len(),
            answers["errors"]
                .as_object()
                .map_or(0, serde_json::Map::len)
        );
        endpoint.stop_checked();
    }
    eprintln!("Feast {version}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        problems.is_empty(),
        "Feast {version} through verge differs from Feast's own store:\n  {}",
        problems.join("\n  ")
    );
}

/// The venv Python named by `var`; `None` (a loud skip) when unset, unless
/// `VERGE_FEAST_REQUIRED` is set (as in scripts/test), then a failure.
fn feast_python(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let msg = format!(
                "{var} is unset: run `eval \"$(scripts/setup --print-env)\"` first (scripts/setup \
                 installs the Feast venvs), or run scripts/test"
            );
            assert!(std::env::var_os("VERGE_FEAST_REQUIRED").is_none(), "{msg}");
            eprintln!("\n*** SKIPPING the Feast SDK test: {msg}. ***\n");
            None
        }
    }
}

/// verge serve's two engines, and the Worker when `WORKERD_BIN` is set (a
/// loud skip without it, a failure under `VERGE_FEAST_REQUIRED`).
fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::Native, Engine::Wasm];
    if workerd_bin().is_some() {
        engines.push(Engine::Worker);
    } else {
        assert!(
            std::env::var_os("VERGE_FEAST_REQUIRED").is_none(),
            "WORKERD_BIN is unset: the Feast SDK test needs it for the Worker (run \
             `eval \"$(scripts/setup --print-env)\"` and export it)"
        );
    }
    engines
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

// ---------------------------------------------------------------------------
// Setup: Feast's reference store and verge's repository over the same data

/// `tests/feast/repo` copied under `tmp/feast`, applied and materialized by Feast.
fn feast_reference(python: &Path, tmp: &Path) -> PathBuf {
    let repo = tmp.join("feast");
    copy_dir(&workspace().join("tests/feast/repo"), &repo);
    let feast = python.with_file_name("feast");
    let mut apply = Command::new(&feast);
    apply.arg("apply").current_dir(&repo);
    run_bounded(apply, tmp, "feast apply");
    let mut materialize = Command::new(&feast);
    materialize
        .args(["materialize", WINDOW.0, WINDOW.1])
        .current_dir(&repo);
    run_bounded(materialize, tmp, "feast materialize");
    repo
}

/// `tests/feast/verge/verge.toml` beside a copy of Feast's Parquet files,
/// applied and materialized by verge over Feast's window.
fn verge_repo(tmp: &Path) -> PathBuf {
    let repo = tmp.join("verge");
    copy_dir(
        &workspace().join("tests/feast/repo/data"),
        &repo.join("data"),
    );
    std::fs::copy(
        workspace().join("tests/feast/verge/verge.toml"),
        repo.join("verge.toml"),
    )
    .unwrap();
    let verge = Verge::find();
    let (from, to) = (format!("{}Z", WINDOW.0), format!("{}Z", WINDOW.1));
    for args in [
        &["apply", "-m", "feast twin"][..],
        &["materialize", &from, &to],
    ] {
        let mut cmd = verge.command();
        cmd.arg("-C").arg(&repo).args(args);
        run_bounded(cmd, tmp, &format!("verge {}", args[0]));
    }
    repo
}

/// Copies a directory tree, leaving out Feast's state (`*.db`) and bytecode.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.ends_with(".db") || name_str == "__pycache__" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Runs `cmd` to completion within [`STEP_LIMIT`] (killed after it), output to
/// files in `tmp` (no pipe can fill up); panics with both outputs on a nonzero
/// exit or the time limit, else returns stdout.
fn run_bounded(mut cmd: Command, tmp: &Path, what: &str) -> String {
    let tag = what.replace(' ', "-");
    let (out_path, err_path) = (
        tmp.join(format!("{tag}.out")),
        tmp.join(format!("{tag}.err")),
    );
    // FEAST_USAGE=False: Feast sends no telemetry (there is no network here anyway).
    let mut child = cmd
        .env("FEAST_USAGE", "False")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let deadline = Instant::now() + STEP_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("{what} failed ({s}):\n--- stdout\n{out}\n--- stderr\n{err}"),
        None => {
            panic!("{what} was killed after {STEP_LIMIT:?}:\n--- stdout\n{out}\n--- stderr\n{err}")
        }
    }
}

// ---------------------------------------------------------------------------
// verge serve

#[derive(Debug, Clone, Copy)]
enum Engine {
    /// `verge serve --native`.
    Native,
    /// `verge serve` (the Wasm module).
    Wasm,
    /// The Cloudflare Worker under workerd, over `verge publish`'s layout.
    Worker,
}

/// The bundles of the one deployment every call goes to.
const BUNDLES: &[&str] = &["driver_activity", "driver_odfv"];

/// The deployment: a `verge serve` of [`BUNDLES`] or a workerd over their publish.
enum Endpoint {
    Serve(Server),
    Worker(Workerd),
}

impl Endpoint {
    fn start(repo: &Path, engine: Engine) -> Endpoint {
        match engine {
            Engine::Native | Engine::Wasm => Endpoint::Serve(Server::start(repo, engine)),
            Engine::Worker => Endpoint::Worker(start_worker(repo)),
        }
    }

    fn url(&self) -> String {
        match self {
            Endpoint::Serve(s) => s.url().to_owned(),
            Endpoint::Worker(w) => w.url(),
        }
    }

    fn stop_checked(self) {
        match self {
            Endpoint::Serve(s) => s.stop_checked(),
            Endpoint::Worker(mut w) => assert!(
                w.is_running(),
                "workerd exited during the test:\n{}",
                w.logs()
            ),
        }
    }
}

/// `verge publish driver_activity driver_odfv --to repo/publish` (both
/// feature bundles over the latest snapshot, in the layout the Worker reads),
/// served by one workerd with the admin routes off.
fn start_worker(repo: &Path) -> Workerd {
    let dir = repo.join("publish");
    let mut cmd = Verge::find().command();
    cmd.arg("-C")
        .arg(repo)
        .arg("publish")
        .args(BUNDLES)
        .arg("--to")
        .arg(&dir);
    run_bounded(cmd, repo, "verge publish");
    // The manifest never changes here: a long ttl keeps re-reads out of the way.
    let w = Workerd::start(&dir, 600_000, &[("VERGE_ADMIN_TOKEN", "")]);
    wait_healthy(&w);
    w
}

/// Polls the Worker's `/healthz` until it answers 200 (bounded by
/// [`STEP_LIMIT`]), so the SDK's first call meets a loaded pair.
fn wait_healthy(w: &Workerd) {
    let client = w.client();
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let a = client.get("/healthz");
        if a.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the Worker never got healthy: {a:?}\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `verge serve --bundle driver_activity --bundle driver_odfv`,
/// killed when dropped.
struct Server {
    child: Child,
    url: String,
    stderr: PathBuf,
}

impl Server {
    fn start(repo: &Path, engine: Engine) -> Server {
        let stderr = repo.join(format!("serve-{engine:?}.err"));
        let mut cmd = Verge::find().command();
        cmd.arg("-C").arg(repo).arg("serve");
        for bundle in BUNDLES {
            cmd.args(["--bundle", bundle]);
        }
        cmd.args(["--addr", "127.0.0.1:0"]);
        if let Engine::Native = engine {
            cmd.arg("--native");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        // The first stdout line says where it listens; read it on a thread so
        // a server that hangs before printing it is killed, not waited on.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(STEP_LIMIT).unwrap_or_default();
        let mut server = Server {
            child,
            url: String::new(),
            stderr,
        };
        match line.trim().strip_prefix("listening on ") {
            Some(url) => server.url = url.to_owned(),
            None => panic!(
                "verge serve {BUNDLES:?} ({engine:?}) did not start: {line:?}\n{}",
                server.stderr_text()
            ),
        }
        server
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops the server, insisting it was still up (a crash mid-test would
    /// otherwise show only as the SDK's connection error).
    fn stop_checked(mut self) {
        let exited = self.child.try_wait().unwrap();
        assert!(
            exited.is_none(),
            "verge serve exited during the test ({exited:?}):\n{}",
            self.stderr_text()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL: the wait is bounded by the kernel reaping it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Comparison

/// Feast's local answer to the plain call equals the one recorded in
/// `tests/feast/reference/VERSION.json` (PROTOCOL.md), so the comparison below
/// is against the right data, not two equally empty answers.
fn check_reference(version: &str, answers: &Json) {
    let path = workspace().join(format!("tests/feast/reference/{version}.json"));
    let recorded: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want = &recorded["reference"]["plain_two_views"]["ok"];
    let got = &answers["calls"]["plain_two_views"]["local"]["dict"];
    assert!(
        want.is_object() && !want.as_object().unwrap().is_empty(),
        "{} has no reference answer",
        path.display()
    );
    assert_eq!(
        columns(want),
        columns(got),
        "Feast {version}'s local store no longer gives the recorded answer"
    );
    for (name, values) in want.as_object().unwrap() {
        assert!(
            same_values(values, &got[name]),
            "Feast {version}'s local `{name}`: recorded {values}, now {}",
            got[name]
        );
    }
}

/// Every difference between the remote (verge) and local (Feast) answers not
/// in [`ALLOWED`], one line each.
fn compare(version: &str, answers: &Json) -> Vec<String> {
    let mut out = Vec::new();
    for &call in CALLS {
        let pair = &answers["calls"][call];
        let (local, remote) = (&pair["local"], &pair["remote"]);
        assert!(
            local.get("error").is_none() && local["dict"].is_object(),
            "call `{call}`: Feast's own store failed: {local}"
        );
        if let Some(e) = remote.get("error") {
            out.push(format!("{call}: the SDK raised {e}"));
            continue;
        }
        for form in ["dict", "df"] {
            let relaxed = |column: &str| allowed(version, call, form, column);
            for (column, text) in compare_form(&local[form], &remote[form], form == "df", &relaxed)
            {
                out.push(format!("{call} .to_{form}() `{column}`: {text}"));
            }
        }
    }
    out
}

/// Every way the [`ERRORS`] calls of `version` went other than expected, one
/// line each; also every error call of `sdk_client.py` must be in [`ERRORS`].
fn check_errors(version: &str, answers: &Json) -> Vec<String> {
    let mut out = Vec::new();
    let expected: Vec<&ErrorCall> = ERRORS
        .iter()
        .filter(|e| e.version == "*" || e.version == version)
        .collect();
    let made = answers["errors"].as_object().cloned().unwrap_or_default();
    for name in made.keys() {
        if !expected.iter().any(|e| e.call == name.as_str()) {
            out.push(format!("error call {name}: not in ERRORS for {version}"));
        }
    }
    for e in expected {
        let pair = &answers["errors"][e.call];
        let (local, remote) = (
            text(&pair["local"]["error"]),
            text(&pair["remote"]["error"]),
        );
        let statuses = pair["remote"]["statuses"].as_array().cloned();
        let seconds = pair["remote"]["seconds"].as_f64().unwrap_or(f64::INFINITY);
        let said = format!("{}: raised {remote:?}, answers {statuses:?}", e.call);
        if !local.starts_with(&format!("{}: ", e.feast_raises)) {
            out.push(format!(
                "{}: Feast's own store raised {local:?}, not {}",
                e.call, e.feast_raises
            ));
        }
        match e.verge_says {
            None if statuses.as_ref().is_none_or(|s| !s.is_empty()) || remote != local => {
                out.push(format!(
                    "{said}; expected no request and Feast's own {local:?} ({})",
                    e.why
                ))
            }
            None => {}
            Some(message) => {
                let four_xx = |s: &Json| s.as_u64().is_some_and(|s| (400..500).contains(&s));
                let sent_4xx = statuses
                    .as_ref()
                    .is_some_and(|s| !s.is_empty() && s.iter().all(four_xx));
                if !sent_4xx
                    || !remote.starts_with("builtins.RuntimeError: ")
                    || !remote.contains(message)
                {
                    out.push(format!(
                        "{said}; expected a 4xx and a RuntimeError with {message:?} ({})",
                        e.why
                    ));
                }
                if seconds >= NO_RETRY.as_secs_f64() {
                    out.push(format!(
                        "{said}; took {seconds:.2} s (retried?), not under {NO_RETRY:?}"
                    ));
                }
            }
        }
        eprintln!("  {version} {:<26} {seconds:.3} s  {remote}", e.call);
    }
    out
}

/// A JSON string's text, or `""` (a call that did not raise).
fn text(v: &Json) -> &str {
    v.as_str().unwrap_or_default()
}

/// (column, what differs) for one form of one call.
/// `relaxed(column)`: that column is in [`ALLOWED`].
fn compare_form(
    local: &Json,
    remote: &Json,
    is_df: bool,
    relaxed: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (lc, rc) = (columns(local), columns(remote));
    for c in lc.difference(&rc) {
        out.push((c.clone(), "missing from verge's answer".to_owned()));
    }
    for c in rc.difference(&lc) {
        out.push((c.clone(), "only in verge's answer".to_owned()));
    }
    for c in lc.intersection(&rc) {
        let (l, r) = (&local[c.as_str()], &remote[c.as_str()]);
        let (lv, rv) = if is_df {
            if l["dtype"] != r["dtype"] {
                out.push((
                    c.clone(),
                    format!("dtype {} vs Feast's {}", r["dtype"], l["dtype"]),
                ));
            }
            (&l["values"], &r["values"])
        } else {
            (l, r)
        };
        let equal = if relaxed(c) {
            same_values_by(lv, rv, same_number)
        } else {
            same_values(lv, rv)
        };
        if !equal {
            out.push((c.clone(), first_difference(lv, rv)));
        }
    }
    out
}

fn columns(form: &Json) -> BTreeSet<String> {
    form.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn allowed(version: &str, call: &str, form: &str, column: &str) -> bool {
    ALLOWED.iter().any(|&(v, c, f, col, _why)| {
        (v == "*" || v == version) && c == call && f == form && col == column
    })
}

fn same_values(a: &Json, b: &Json) -> bool {
    same_values_by(a, b, same)
}

fn same_values_by(a: &Json, b: &Json, eq: fn(&Json, &Json) -> bool) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(a), Some(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y)),
        _ => false,
    }
}

/// [`same`], except that an int equals a float of exactly its value (for
/// [`ALLOWED`] columns only).
fn same_number(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_f64() != y.is_f64() => {
            let (f, n) = if x.is_f64() { (x, y) } else { (y, x) };
            // Exact: the int must convert to the same f64 and back unchanged.
            let int = n.as_i64();
            matches!((f.as_f64(), int), (Some(f), Some(i)) if f == i as f64 && f as i64 == i)
        }
        _ => same(a, b),
    }
}

/// Exact equality: an int equals only the same int, a float only the same f64
/// (an int where Feast has a float, or the reverse, is a difference: the SDK's
/// Python values would have another type).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            (None, None) if x.is_f64() && y.is_f64() => x.as_f64() == y.as_f64(),
            _ => x.as_u64().is_some() && x.as_u64() == y.as_u64(),
        },
        _ => a == b,
    }
}

fn first_difference(local: &Json, remote: &Json) -> String {
    let (l, r) = (local.as_array(), remote.as_array());
    let (Some(l), Some(r)) = (l, r) else {
        return format!("verge {remote} vs Feast's {local}");
    };
    if l.len() != r.len() {
        return format!("{} rows vs Feast's {}", r.len(), l.len());
    }
    let i = (0..l.len()).find(|&i| !same(&l[i], &r[i])).unwrap_or(0);
    format!("row {i}: verge {} vs Feast's {}", r[i], l[i])
}
