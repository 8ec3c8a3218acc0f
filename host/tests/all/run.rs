//! `verge run`: the memoized pipeline on `verge init`'s sample repository.
//!
//! - the first run does every step; the second does none and reports the same ids;
//! - editing one value of the source reruns historical → verify but not apply;
//!   a comment in verge.toml reruns nothing; a changed model definition reruns
//!   apply and everything after it;
//! - `--force` recomputes every step and gets byte-identical ids (determinism);
//! - a memo entry whose output was deleted is not trusted: the step recomputes;
//! - the run's artifacts are the subcommands' artifacts (`verge historical`'s
//!   CSV, `verge materialize`'s snapshot);
//! - through the binary: the table, `cached` on the rerun, `--json`, a failing
//!   step exits 2 naming it and leaves no memo entry, a missing `[run]` explains
//!   itself.
//!
//! Most scenarios run the library in-process (the pipeline is a library; the
//! Wasm module is compiled once per process), a few go through the binary.
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use verge_core::ContentId;
use verge_host::pipeline::{self, Outcome, RunOptions, Step};

use crate::support::{Run, verge, wasm_path};

/// The `[run]` table `verge init` writes, where a run starts.
const RUN_TABLE_HEAD: &str = "\n[run]\n";

/// `verge -C dir ARGS` with the tests' module: (code, stdout, stderr).
fn verge_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Run {
        code,
        stdout,
        stderr,
    } = verge()
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("VERGE_WASM", wasm_path())
        .output()
        .unwrap()
        .into();
    (code, stdout, stderr)
}

/// `verge init`'s sample repository, whose `[run]` table `verge run` uses as is.
fn sample() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let (code, _, err) = verge_in(tmp.path(), &["init", "repo"]);
    assert_eq!(code, 0, "{err}");
    let text = fs::read_to_string(dir.join("verge.toml")).unwrap();
    let table = run_table(&text);
    assert!(
        table.contains("train_entities = \"entities.csv\""),
        "{table}"
    );
    assert!(table.contains("now = \"2021-06-06T12:00:00Z\""), "{table}");
    (tmp, dir)
}

/// The `[run]` table of `text`: from its header to the next table or the end.
fn run_table(text: &str) -> &str {
    let start = text
        .find(RUN_TABLE_HEAD)
        .expect("verge init writes a [run] table")
        + 1;
    let len = text[start + 1..]
        .find("\n[")
        .map_or(text.len() - start, |n| n + 2);
    &text[start..start + len]
}

fn run(dir: &Path, force: bool) -> Outcome {
    let options = RunOptions {
        force,
        wasm: Some(wasm_path()),
        ..RunOptions::default()
    };
    let outcome =
        pipeline::run(dir, &dir.join("verge.toml"), &options, &mut |_| {}).expect("verge run");
    assert_eq!(outcome.verify_failed, None);
    assert_eq!(
        outcome.steps.iter().map(|s| s.step).collect::<Vec<_>>(),
        Step::MODEL_RUN
    );
    outcome
}

fn cached(o: &Outcome) -> Vec<bool> {
    o.steps.iter().map(|s| s.cached).collect()
}

fn ids(o: &Outcome) -> Vec<ContentId> {
    o.steps.iter().map(|s| s.output).collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn steps_rerun_exactly_when_their_inputs_change() {
    let (_tmp, dir) = sample();

    let first = run(&dir, false);
    assert_eq!(
        cached(&first),
        [false; 6],
        "a fresh repository runs every step"
    );
    assert_eq!(first.steps[2].rows, Some(10), "10 training rows");

    let second = run(&dir, false);
    assert_eq!(cached(&second), [true; 6], "nothing changed, nothing runs");
    assert_eq!(ids(&second), ids(&first));

    // One value of one source row that both the training set and the snapshot hold.
    edit(&dir.join("data/vitals.csv"), "37.9,,6.8", "36.9,,6.8");
    let edited = run(&dir, false);
    assert_eq!(
        cached(&edited),
        [true, false, false, false, false, false],
        "the definitions did not change; everything that reads the source did"
    );
    assert_eq!(edited.registry, first.registry);
    for i in 1..6 {
        assert_ne!(
            edited.steps[i].output, first.steps[i].output,
            "{:?}",
            edited.steps[i].step
        );
    }

    // A comment is not a definition.
    edit(&dir.join("verge.toml"), "# A horse,", "# A patient horse,");
    assert_eq!(cached(&run(&dir, false)), [true; 6]);

    // A changed recipe is a new registry version: everything downstream reruns.
    edit(
        &dir.join("verge.toml"),
        "impute = \"mean\"",
        "impute = \"median\"",
    );
    let recipe = run(&dir, false);
    assert_eq!(cached(&recipe), [false; 6]);
    assert_ne!(recipe.registry, edited.registry);

    // --force recomputes every step and lands on the same bytes.
    let forced = run(&dir, true);
    assert_eq!(cached(&forced), [false; 6]);
    assert_eq!(ids(&forced), ids(&recipe), "reruns are deterministic");

    // A memo entry whose output is gone is not trusted.
    let bundle = dir
        .join(".verge/artifacts")
        .join(format!("{}.bundle", forced.bundle));
    fs::remove_file(&bundle).unwrap();
    let healed = run(&dir, false);
    assert_eq!(cached(&healed), [true, true, false, true, true, true]);
    assert_eq!(ids(&healed), ids(&forced));
    assert!(bundle.is_file());
}

#[test]
fn the_run_writes_what_the_subcommands_write() {
    let (_tmp, dir) = sample();
    let outcome = run(&dir, false);

    // `verge historical` writes byte for byte the training set the run keyed on.
    let (code, _, err) = verge_in(
        &dir,
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--service",
            "surgery_v1",
            "-o",
            "t.csv",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let csv = fs::read(dir.join("t.csv")).unwrap();
    let stored = dir
        .join(".verge/datasets")
        .join(format!("{}.csv", ContentId::of(&csv)));
    assert_eq!(fs::read(&stored).unwrap(), csv, "{}", stored.display());

    // `verge materialize` over the run's window gives the run's snapshot.
    let (code, out, err) = verge_in(
        &dir,
        &[
            "materialize",
            "2021-06-04T12:00:00Z",
            "2021-06-06T12:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), outcome.snapshot.to_string());

    // The refs point at the run's artifacts, and the edge pair is the run's pair.
    let manifest: Json =
        serde_json::from_slice(&fs::read(dir.join("dist/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["bundle"]["id"], outcome.bundle.to_string());
    assert_eq!(manifest["snapshot"]["id"], outcome.snapshot.to_string());
    let model_ref = fs::read_to_string(dir.join(".verge/refs/artifacts/model/surgical_lesion"));
    assert_eq!(model_ref.unwrap().trim(), outcome.bundle.to_string());

    // The seeded draw is reproducible and answered by the /predict code.
    let p =
        pipeline::predict_random(&dir, outcome.bundle, outcome.snapshot, 42, outcome.now).unwrap();
    let again =
        pipeline::predict_random(&dir, outcome.bundle, outcome.snapshot, 42, outcome.now).unwrap();
    assert_eq!(p, again);
    assert_eq!(p.response["bundle_id"], outcome.bundle.to_string());
    let probabilities = p.response["predictions"][0]["probabilities"]
        .as_array()
        .unwrap();
    let sum: f64 = probabilities.iter().map(|x| x.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9, "{probabilities:?}");
}

#[test]
fn the_binary_shows_steps_and_names_a_failing_one() {
    let (_tmp, dir) = sample();

    // Break the entity table before the first run: its key column is gone.
    // (A broken source now stops `apply` itself, by the schema check.)
    let entities = dir.join("entities.csv");
    let good = fs::read_to_string(&entities).unwrap();
    edit(&entities, "hospital_number,", "hospital,");
    let (code, out, err) = verge_in(&dir, &["run"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("step `historical` failed"), "{err}");
    assert!(
        out.contains("apply"),
        "the steps before it are shown: {out}"
    );
    let memo = dir.join(".verge/memo");
    let entries = fs::read_dir(&memo).map_or(0, Iterator::count);
    assert_eq!(
        entries, 1,
        "only apply finished, so only apply is remembered"
    );

    fs::write(&entities, good).unwrap();
    let (code, out, err) = verge_in(&dir, &["run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for step in Step::MODEL_RUN {
        assert!(out.contains(&format!("  {:<12} ", step.name())), "{out}");
    }
    assert!(out.contains("Prediction for hospital_number"), "{out}");
    assert!(out.contains("--seed 42"), "{out}");

    let (code, out, err) = verge_in(&dir, &["run", "--json", "--seed", "7"]);
    assert_eq!(code, 0, "{err}");
    let report: Json = serde_json::from_str(&out).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    assert!(steps.iter().all(|s| s["status"] == "cached"), "{out}");
    assert_eq!(report["prediction"]["seed"], 7);
    assert_eq!(
        report["prediction"]["request"]["now"],
        "2021-06-06T12:00:00Z"
    );

    // Without a [run] table the message shows one to copy.
    let config = dir.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, text.replace(run_table(&text), "")).unwrap();
    let (code, _, err) = verge_in(&dir, &["run"]);
    assert_eq!(code, 2);
    assert!(err.contains("no [run] table"), "{err}");
    assert!(err.contains("train_entities = "), "{err}");
}

/// `verge run | head -1`: a reader that goes away is not a failure, and
/// nothing panics (it used to: `println!` panics on a closed pipe).
#[test]
fn a_closed_stdout_is_not_a_failure() {
    let (_tmp, dir) = sample();
    let mut child = verge()
        .arg("-C")
        .arg(&dir)
        .arg("run")
        .env("VERGE_WASM", wasm_path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader leaves before the first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
