//! examples/flyte/workflow.py under `pyflyte run` in local execution (issue 17
//! §2): Flyte's own cache, keyed on content ids, over verge's steps.
//!
//! Three runs, one private `HOME` (so flytekit's local cache, `~/.flyte`,
//! starts empty and is shared by the three runs only):
//! 1. in a copy of examples/horse-colic: every task executes;
//! 2. in a fresh copy at another path (no `.verge`): every cached task is a
//!    cache hit and no task body runs;
//! 3. in the first copy, one training row of the UCI data edited and the
//!    SQLite source rebuilt: `apply` stays cached (verge.toml did not change),
//!    every task that reads the source executes again.
//!
//! "Executed" is proved twice: flytekit's own log (`Checking cache for task
//! named workflow.X` followed by `Cache hit` or `Cache miss`) and the trace each
//! task body appends to `REPO/.verge/flyte-executed` when it runs.
//!
//! Needs `VERGE_FLYTE_PYTHON` (the flytekit venv's Python; `scripts/setup
//! --print-env` prints it). Without it the test says so loudly and passes;
//! with `VERGE_FLYTE_REQUIRED` set (scripts/test) it fails instead.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use verge_test_kit::cli::{Verge, built_bin};
use verge_test_kit::process::run_bounded;

/// One `pyflyte run` is killed after this (a first run takes seconds).
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// The workflow's cached tasks, in order.
const CACHED: [&str; 6] = [
    "apply",
    "historical",
    "train",
    "materialize",
    "build",
    "verify",
];
/// The files of the example the workflow reads (the rest is docs and code).
const EXAMPLE_FILES: [&str; 3] = ["verge.toml", "train_entities.csv", "holdout_entities.csv"];

fn workspace() -> PathBuf {
    verge_test_kit::workspace()
}

/// The venv's `pyflyte`, or `None` (after saying why) when the venv is not set.
fn pyflyte() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("VERGE_FLYTE_PYTHON") else {
        let msg = "VERGE_FLYTE_PYTHON is not set (scripts/setup --print-env): Flyte test skipped";
        assert!(std::env::var_os("VERGE_FLYTE_REQUIRED").is_none(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return None;
    };
    let bin = Path::new(&python).parent().unwrap().join("pyflyte");
    assert!(
        bin.is_file(),
        "no pyflyte beside VERGE_FLYTE_PYTHON ({})",
        bin.display()
    );
    Some(bin)
}

/// A copy of the example at `dir`: its inputs, and the SQLite source built from `data`.
fn copy_example(dir: &Path, data: &str) {
    let example = workspace().join("examples/horse-colic");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    for f in EXAMPLE_FILES {
        std::fs::copy(example.join(f), dir.join(f)).unwrap();
    }
    std::fs::copy(
        example.join("data/horse-colic.test"),
        dir.join("data/horse-colic.test"),
    )
    .unwrap();
    write_source(dir, data);
}

/// Writes `data` as the UCI training file and rebuilds `data/horse_colic.db` from it.
fn write_source(dir: &Path, data: &str) {
    std::fs::write(dir.join("data/horse-colic.data"), data).unwrap();
    let _ = std::fs::remove_file(dir.join("data/horse_colic.db"));
    let mut prepare = Command::new(built_bin("horse-colic-prepare"));
    prepare.current_dir(dir).args([
        "--data",
        "data/horse-colic.data",
        "--test",
        "data/horse-colic.test",
        "-o",
        "data/horse_colic.db",
    ]);
    run_bounded(prepare, dir, "horse-colic-prepare", Duration::from_secs(60));
}

/// What one run did: per cached task, whether flytekit's log says it was a hit,
/// and the task bodies that left a trace.
#[derive(Debug)]
struct Ran {
    hit: BTreeMap<String, bool>,
    traced: Vec<String>,
    seconds: f64,
}

/// `pyflyte run workflow.py horse_colic --repo REPO` with `home` as HOME.
fn run(pyflyte: &Path, home: &Path, repo: &Path, logs: &Path, what: &str) -> Ran {
    let trace = repo.join(".verge/flyte-executed");
    let _ = std::fs::remove_file(&trace);
    let verge = Verge::find();
    let path = format!(
        "{}:{}",
        verge.path().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(pyflyte);
    cmd.current_dir(repo)
        .env("HOME", home)
        .env("PATH", path)
        .env("VERGE_BIN", verge.path())
        .env("FLYTE_SDK_LOGGING_LEVEL", "20") // INFO: the cache's hit / miss lines
        .env("COLUMNS", "10000") // rich would wrap a log line mid-name otherwise
        .arg("run")
        .arg(workspace().join("examples/flyte/workflow.py"))
        .args(["horse_colic", "--repo"])
        .arg(repo);
    let started = Instant::now();
    let out = run_bounded(cmd, logs, what, RUN_LIMIT);
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.contains("Verified("),
        "{what}: no workflow output:\n{out}"
    );
    let traced = std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    Ran {
        hit: cache_lines(&out, what),
        traced,
        seconds,
    }
}

/// Per task, hit (true) or miss (false), from flytekit's log: the first `Cache
/// hit` / `Cache miss` after `Checking cache for task named workflow.TASK`.
fn cache_lines(out: &str, what: &str) -> BTreeMap<String, bool> {
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut hit = BTreeMap::new();
    let marker = "Checking cache for task named workflow.";
    for (at, _) in flat.match_indices(marker) {
        let rest = &flat[at + marker.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let h = rest.find("Cache hit");
        let m = rest.find("Cache miss");
        let is_hit = match (h, m) {
            (Some(h), Some(m)) => h < m,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => panic!("{what}: no hit or miss after the check of {name}:\n{out}"),
        };
        assert!(
            hit.insert(name.clone(), is_hit).is_none(),
            "{what}: {name} checked twice"
        );
    }
    assert_eq!(
        hit.keys().cloned().collect::<Vec<_>>().len(),
        CACHED.len(),
        "{what}: flytekit checked the cache of {:?}, expected {CACHED:?}:\n{out}",
        hit.keys()
    );
    hit
}

/// The tasks of `ran` that executed, per flytekit and per the trace; both must agree.
fn executed(ran: &Ran, what: &str) -> Vec<String> {
    let by_log: Vec<String> = CACHED
        .iter()
        .filter(|t| !ran.hit[**t])
        .map(|t| (*t).to_owned())
        .collect();
    assert_eq!(
        by_log, ran.traced,
        "{what}: flytekit's misses and the executed trace differ"
    );
    by_log
}

/// Edits one measurement of the first training row: its rectal temperature
/// (UCI attribute 4, a feature of the view) `38.50` becomes `39.50`.
fn edit_one_row(data: &str) -> String {
    let (first, rest) = data.split_once('\n').unwrap();
    let mut cells: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(
        cells[3], "38.50",
        "the first row of horse-colic.data changed: {first}"
    );
    cells[3] = "39.50";
    format!("{}\n{rest}", cells.join(" "))
}

#[test]
fn flyte_cache_follows_content_ids() {
    let Some(pyflyte) = pyflyte() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    let data =
        std::fs::read_to_string(workspace().join("examples/horse-colic/data/horse-colic.data"))
            .unwrap();
    let (one, two) = (
        tmp.path().join("one/horse-colic"),
        tmp.path().join("elsewhere/two"),
    );
    copy_example(&one, &data);
    copy_example(&two, &data);

    let first = run(&pyflyte, &home, &one, &logs, "first run");
    assert_eq!(
        executed(&first, "first run"),
        CACHED.map(str::to_owned),
        "first run"
    );

    let fresh = run(&pyflyte, &home, &two, &logs, "fresh copy");
    assert_eq!(
        executed(&fresh, "fresh copy"),
        Vec::<String>::new(),
        "fresh copy"
    );

    write_source(&one, &edit_one_row(&data));
    let edited = run(&pyflyte, &home, &one, &logs, "one row edited");
    let expected: Vec<String> = CACHED[1..].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        executed(&edited, "one row edited"),
        expected,
        "one row edited"
    );

    eprintln!(
        "flyte: first run {:.1} s, fresh copy {:.1} s, one row edited {:.1} s",
        first.seconds, fresh.seconds, edited.seconds
    );
}
