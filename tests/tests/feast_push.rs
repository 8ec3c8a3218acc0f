//! Feast's real SDK (0.67) pushing fresh values into `verge serve` (issue 14
//! §3, "Feast's SDK with the remote online store works against it").
//!
//! The real `feast init` writes the template repository and `feast apply`
//! writes its registry file, which the SDK plans every call with. verge
//! applies the port (tests/feast/template/verge.toml) beside the same Parquet
//! file, materializes it up to a few hours ago and serves the template's
//! `driver_activity_v3` (the view `driver_hourly_stats_fresh` over the push
//! source `driver_stats_push_source`) with the admin token. Then
//! tests/feast/push_client.py, a Feast client whose `feature_store.yaml` says
//! `online_store: {type: remote, path: URL}` and `auth: {type: kubernetes,
//! user_token: TOKEN}` (so the SDK sends `Authorization: Bearer TOKEN`, which
//! verge's write routes want), calls `store.push(..., to=PushMode.ONLINE)`,
//! `store.write_to_online_store(...)` and `store.get_online_features(...)`,
//! and reports what it read and every request it sent. This test judges it:
//! a newer push wins, a newer direct write wins over it, an older push does
//! not override, and a client without the token is refused (401) and the SDK
//! raises, with nothing changed.
//!
//! Feast 0.60's SDK cannot read the 0.67 template's registry (`32 is not a
//! valid ValueType`: the template's Struct fields), so only 0.67 runs here.
//!
//! Needs Feast 0.67.0 as tests/tests/feast_template.rs does: `FEAST_PYTHON_0_67`
//! or the venv scripts/feast-venv caches, else a loud skip (a failure under
//! `VERGE_FEAST_REQUIRED`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};
use verge_core::Timestamp;
use verge_test_kit::cli::Verge;
use verge_test_kit::process::{Background, run_bounded};
use verge_test_kit::workspace;

const VERSION: &str = "0.67.0";
const VAR: &str = "FEAST_PYTHON_0_67";
/// Every step (Feast's CLI takes ≈15 s a command here) is killed after this.
const STEP_LIMIT: Duration = Duration::from_secs(180);
/// Before the template's one fixed row (2021-04-12T07:00:00Z).
const START: &str = "2021-01-01T00:00:00Z";
/// The admin token `verge serve` is given, and the SDK sends.
const TOKEN: &str = "feast-push-token-7f3a";
/// The drivers push_client.py reads, in its order.
const DRIVERS: [i64; 3] = [1001, 1002, 1003];

/// `(conv_rate, acc_rate, avg_daily_trips)` of one driver.
type Row = (Json, Json, Json);

#[test]
fn feast_sdk_push_and_write_reach_verge_serve_newer_wins() {
    let Some(python) = feast_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let end = materialize_end(SystemTime::now());
    let repo = feast_init_and_apply(&python, tmp.path());
    verge_apply_and_materialize(&repo, tmp.path(), &end);

    let mut cmd = Verge::find().command();
    cmd.arg("-C").arg(&repo).arg("serve");
    cmd.args(["--bundle", "driver_activity_v3", "--addr", "127.0.0.1:0"]);
    cmd.args(["--admin-token-env", "VERGE_FEAST_PUSH_TOKEN"]);
    cmd.env("VERGE_FEAST_PUSH_TOKEN", TOKEN);
    let mut verge = Background::start(cmd, tmp.path(), "verge serve");
    let addr = verge.wait_for_line("listening on http://", STEP_LIMIT);

    let mut client = Command::new(&python);
    client
        .arg(workspace().join("tests/feast/push_client.py"))
        .arg(&repo)
        .arg(format!("http://{addr}"))
        .arg(TOKEN)
        .env("FEAST_USAGE", "False")
        .env("TZ", "UTC");
    let out = run_bounded(client, tmp.path(), "push_client.py", STEP_LIMIT);
    let report: Json = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("push_client.py printed no JSON ({e}):\n{out}"));
    assert_eq!(report["feast_version"], VERSION, "{report}");
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report["steps"]).unwrap()
    );

    check_reads(&report["steps"]);
    check_refusal(&report["steps"]);
    check_sent(&report["sent"]);
    assert!(verge.is_running(), "verge serve exited:\n{}", verge.logs());
}

/// The values read after each step: newer wins, older and refused change nothing.
fn check_reads(steps: &Json) {
    for name in ["push", "write", "older_push"] {
        assert_eq!(
            steps[name],
            json!({"returned": null}),
            "the SDK's `{name}` raised"
        );
    }
    let before = rows(steps, "before");
    let pushed_1001 = row(0.25, 0.75, 111);
    let pushed_1002 = row(0.5, 0.125, 222);
    let written_1002 = row(0.0625, 0.375, 333);
    for (i, r) in before.iter().enumerate() {
        // The materialized values: present, and unlike anything pushed, so a
        // read that ignored the pushes could not pass below.
        assert!(
            !r.0.is_null(),
            "driver {} has no materialized value",
            DRIVERS[i]
        );
        assert!(*r != pushed_1001 && *r != pushed_1002 && *r != written_1002);
    }
    let expect = |step: &str, want: [&Row; 3], why: &str| {
        let want: Vec<Row> = want.into_iter().cloned().collect();
        assert_eq!(rows(steps, step), want, "after `{step}`: {why}");
    };
    expect(
        "after_push",
        [&pushed_1001, &pushed_1002, &before[2]],
        "the push (newer than the materialized rows) wins for 1001 and 1002",
    );
    expect(
        "after_write",
        [&pushed_1001, &written_1002, &before[2]],
        "the direct write (newer than the push) wins for 1002",
    );
    expect(
        "after_older_push",
        [&pushed_1001, &written_1002, &before[2]],
        "a push older than the first one does not override 1001",
    );
    expect(
        "after_refused",
        [&pushed_1001, &written_1002, &before[2]],
        "the refused push changed nothing",
    );
}

/// Without the token the SDK raises, quoting verge's 401 and what to send.
fn check_refusal(steps: &Json) {
    let error = steps["push_without_token"]["error"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "a push without the token did not raise: {}",
                steps["push_without_token"]
            )
        });
    eprintln!("the SDK's error without the token: {error}");
    for part in ["Error_code=401", "Authorization: Bearer <token>"] {
        assert!(
            error.contains(part),
            "`{part}` not in the SDK's error: {error}"
        );
    }
}

/// Every request the SDK sent: a push is a `/write-to-online-store` per view
/// of the push source (Feast's remote store has no client for `/push`), with
/// the token as a bearer; the client without a token sends no header.
fn check_sent(sent: &Json) {
    let sent = sent.as_array().unwrap();
    let writes: Vec<&Json> = sent
        .iter()
        .filter(|r| r["path"] != "/get-online-features")
        .collect();
    assert_eq!(writes.len(), 4, "one request per push or write: {sent:?}");
    for (i, w) in writes.iter().enumerate() {
        assert_eq!(w["path"], "/write-to-online-store", "{w}");
        assert_eq!(w["body"]["feature_view_name"], "driver_hourly_stats_fresh");
        let (auth, status) = if i == 3 {
            (Json::Null, 401)
        } else {
            (json!(format!("Bearer {TOKEN}")), 200)
        };
        assert_eq!((&w["authorization"], &w["status"]), (&auth, &json!(status)));
    }
    let reads = sent.len() - writes.len();
    assert_eq!(reads, 5, "one /get-online-features per read: {sent:?}");
}

/// The three features of each driver in a step's `to_dict()`.
fn rows(steps: &Json, step: &str) -> Vec<Row> {
    let dict = &steps[step]["dict"];
    assert_eq!(
        dict["driver_id"],
        json!(DRIVERS),
        "`{step}`: {}",
        steps[step]
    );
    let column = |name: &str| dict[name].as_array().unwrap().clone();
    let (conv, acc, trips) = (
        column("conv_rate"),
        column("acc_rate"),
        column("avg_daily_trips"),
    );
    (0..DRIVERS.len())
        .map(|i| (conv[i].clone(), acc[i].clone(), trips[i].clone()))
        .collect()
}

fn row(conv: f64, acc: f64, trips: i64) -> Row {
    (json!(conv), json!(acc), json!(trips))
}

/// The venv's Python, or `None` (a loud skip; a failure under
/// `VERGE_FEAST_REQUIRED`), as tests/tests/feast_template.rs finds it.
fn feast_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(VAR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("VERGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/verge")));
    let cached = cache.map(|c| c.join(format!("feast-{VERSION}/bin/python")));
    if let Some(python) = cached.filter(|p| p.is_file()) {
        eprintln!("{VAR} is unset: using the cached venv {}", python.display());
        return Some(python);
    }
    let msg = format!(
        "{VAR} is unset and scripts/feast-venv {VERSION} has not run: run `eval \"$(scripts/setup \
         --print-env)\"` first (scripts/setup installs the Feast venvs), or run scripts/test"
    );
    assert!(std::env::var_os("VERGE_FEAST_REQUIRED").is_none(), "{msg}");
    eprintln!("\n*** SKIPPING the Feast push test: {msg}. ***\n");
    None
}

/// Half past the hour three hours before `now`'s: the materialized rows end
/// there, inside the view's 1-day ttl and before every pushed row (minutes ago).
fn materialize_end(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let hour = i64::try_from(secs - secs % 3600).unwrap();
    Timestamp::from_secs(hour - 3 * 3600 + 1800).to_rfc3339()
}

/// `feast init` then `feast apply` (the registry file the SDK reads; Feast's
/// own online store is not used), without telemetry, in UTC.
fn feast_init_and_apply(python: &Path, tmp: &Path) -> PathBuf {
    let repo = tmp.join("verge_template/feature_repo");
    for (dir, args) in [
        (tmp, &["init", "verge_template"][..]),
        (repo.as_path(), &["apply"][..]),
    ] {
        let mut cmd = Command::new(python.with_file_name("feast"));
        cmd.args(args)
            .current_dir(dir)
            .env("FEAST_USAGE", "False")
            .env("TZ", "UTC");
        run_bounded(cmd, tmp, &format!("feast {}", args[0]), STEP_LIMIT);
    }
    assert!(
        repo.join("data/registry.db").is_file(),
        "feast apply wrote no registry"
    );
    repo
}

/// The port's `verge.toml` beside Feast's `data/`, applied and materialized.
fn verge_apply_and_materialize(repo: &Path, tmp: &Path, end: &str) {
    std::fs::copy(
        workspace().join("tests/feast/template/verge.toml"),
        repo.join("verge.toml"),
    )
    .unwrap();
    for args in [
        &["apply", "-m", "feast init template"][..],
        &["materialize", START, end],
    ] {
        let mut cmd = Verge::find().command();
        cmd.arg("-C").arg(repo).args(args);
        run_bounded(cmd, tmp, &format!("verge {}", args[0]), STEP_LIMIT);
    }
}
