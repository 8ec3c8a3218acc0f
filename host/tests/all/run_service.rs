//! `verge run --service`: a feature service served without a model, through
//! the binary, on `verge init`'s repository plus a service no model uses.
//!
//! - the steps are apply → bundle → materialize → build → verify (no
//!   historical, no train), a rerun is fully cached with the same ids, the
//!   build directory holds the feature bundle, and the drawn entity's features
//!   are shown with values and statuses (table and `--json`);
//! - `verge verify` passes on a feature bundle;
//! - `[run] service` and a repository without a `[run]` table or a model;
//! - the mistakes exit 2: an unknown service (naming the known ones),
//!   `--model` with `--service`, `[run]` with both, a model run without
//!   `train_entities`.
use std::fs;
use std::path::Path;

use serde_json::Value as Json;
use verge_core::artifact::Bundle;
use verge_host::pipeline::Step;

use crate::support::{Repo, Run, verge, wasm_path};

const SERVICE: &str = "\n[[feature_service]]\nname = \"vitals_only\"\nfeatures = [\"horse_vitals:pulse\", \"derived:fever\"]\n";

/// `verge -C dir ARGS` with the tests' Wasm module.
fn verge_in(dir: &Path, args: &[&str]) -> Run {
    verge()
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("VERGE_WASM", wasm_path())
        .output()
        .unwrap()
        .into()
}

/// `verge init`'s repository plus `vitals_only`, which no model uses.
fn repo_with_a_feature_service() -> Repo {
    let repo = Repo::init();
    let config = repo.path.join("verge.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(SERVICE);
    fs::write(&config, text).unwrap();
    repo
}

fn json_run(dir: &Path, args: &[&str]) -> Json {
    let r = verge_in(dir, args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn steps(report: &Json) -> Vec<(String, String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap().to_owned();
            (text("step"), text("status"), text("id"))
        })
        .collect()
}

#[test]
fn a_service_run_builds_verifies_and_shows_the_features() {
    let repo = repo_with_a_feature_service();
    let args = ["run", "--service", "vitals_only", "--json"];
    let first = json_run(&repo.path, &args);
    let names: Vec<String> = Step::SERVICE_RUN
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    let ran = steps(&first);
    assert_eq!(ran.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), names);
    assert!(ran.iter().all(|s| s.1 == "ran"), "{first}");
    assert_eq!(first["model"], Json::Null);
    assert_eq!(first["feature_service"], "vitals_only");
    assert_eq!(first["verify_failed"], Json::Null);

    let second = json_run(&repo.path, &args);
    let again = steps(&second);
    assert!(again.iter().all(|s| s.1 == "cached"), "{second}");
    let ids = |s: &[(String, String, String)]| s.iter().map(|s| s.2.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&ran), "a rerun reports the same ids");

    // The build directory holds the service's feature bundle, the one the ref names.
    let bundle = Bundle::load(&fs::read(repo.path.join("dist/bundle.bin")).unwrap()).unwrap();
    let c = bundle.contents();
    assert_eq!((c.service.as_str(), c.model_name()), ("vitals_only", None));
    assert_eq!(bundle.id().to_string(), first["bundle"]);
    let service_ref = repo.read(".verge/refs/artifacts/service/vitals_only");
    assert_eq!(service_ref.trim(), first["bundle"]);

    // The features of the drawn entity, by feature service, answered 200.
    let features = &first["features"];
    assert_eq!(features["route"], "/get-online-features");
    assert_eq!(features["request"]["feature_service"], "vitals_only");
    assert_eq!(
        features["response"]["metadata"]["feature_names"],
        serde_json::json!(["hospital_number", "pulse", "fever"])
    );
    assert_eq!(first["prediction"], Json::Null);

    // The table: the steps, and each feature with its value and status.
    let r = verge_in(&repo.path, &["run", "--service", "vitals_only"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for step in &names {
        assert!(r.stdout.contains(&format!("  {step:<12} ")), "{}", r.stdout);
    }
    for absent in ["historical", "train"] {
        assert!(
            !r.stdout.contains(&format!("  {absent:<12} ")),
            "{}",
            r.stdout
        );
    }
    assert!(
        r.stdout
            .contains("Features of `vitals_only` for hospital_number"),
        "{}",
        r.stdout
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    for feature in ["pulse", "fever"] {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{feature} ")))
            .unwrap_or_else(|| panic!("no line for {feature}: {}", r.stdout));
        assert!(
            ["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]
                .iter()
                .any(|s| line.ends_with(s)),
            "{line}"
        );
    }

    // `verge verify` on the feature bundle: the JSON routes, no binary prediction.
    let r = verge_in(&repo.path, &["verify", "--bundle", "service/vitals_only"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" 0 mismatches"), "{}", r.stdout);
}

/// A service that a model uses runs as a service too (features only), and
/// `[run] service` chooses it without a flag.
#[test]
fn run_service_from_the_table_and_a_models_service() {
    let repo = Repo::init();
    let config = repo.path.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "model = \"surgical_lesion\"\n",
            "service = \"surgery_v1\"\n",
        ),
    )
    .unwrap();
    let report = json_run(&repo.path, &["run", "--json"]);
    assert_eq!(report["model"], Json::Null);
    assert_eq!(report["feature_service"], "surgery_v1");
    let bundle = Bundle::load(&fs::read(repo.path.join("dist/bundle.bin")).unwrap()).unwrap();
    assert_eq!(bundle.contents().model_name(), None);
    assert_eq!(bundle.contents().features.len(), 5);
}

/// A repository of feature services only needs no `[run]` table.
#[test]
fn a_repository_without_models_or_run_table() {
    let repo = repo_with_a_feature_service();
    let config = repo.path.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    let model = text.find("[[model]]").unwrap();
    let service = text
        .find("\n[[feature_service]]\nname = \"vitals_only\"")
        .unwrap();
    // Drops [[model]], the comment and the [run] table (they sit between the two).
    fs::write(&config, format!("{}{}", &text[..model], &text[service..])).unwrap();
    assert!(!fs::read_to_string(&config).unwrap().contains("[run]"));
    let args = [
        "run",
        "--service",
        "vitals_only",
        "--now",
        "2021-06-06T12:00:00Z",
        "--json",
    ];
    let report = json_run(&repo.path, &args);
    assert_eq!(report["build_dir"], "dist");
    assert_eq!(report["feature_service"], "vitals_only");
    // Without a model a model run explains what it needs.
    let r = verge_in(&repo.path, &["run", "--model", "m"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no [[model]]"), "{}", r.stderr);
}

#[test]
fn a_service_run_refuses_mistakes_with_exit_2() {
    let repo = repo_with_a_feature_service();
    let r = verge_in(&repo.path, &["run", "--service", "nope"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("feature service `nope` is not declared"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("surgery_v1, vitals_only"), "{}", r.stderr);

    let r = verge_in(
        &repo.path,
        &[
            "run",
            "--model",
            "surgical_lesion",
            "--service",
            "vitals_only",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--service"), "{}", r.stderr);

    let config = repo.path.join("verge.toml");
    let text = fs::read_to_string(&config).unwrap();
    let both = text.replace(
        "model = \"surgical_lesion\"\n",
        "model = \"surgical_lesion\"\nservice = \"vitals_only\"\n",
    );
    fs::write(&config, both).unwrap();
    let r = verge_in(&repo.path, &["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("keep one"), "{}", r.stderr);

    // A model run still needs its entity table; a service run does not.
    fs::write(
        &config,
        text.replace("train_entities = \"entities.csv\"\n", ""),
    )
    .unwrap();
    let r = verge_in(&repo.path, &["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("missing field `train_entities`"),
        "{}",
        r.stderr
    );
    let r = verge_in(&repo.path, &["run", "--service", "vitals_only"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
