//! The same inputs give the same ids on every machine: two fresh repositories
//! from `verge init`, on different paths, with a different `HOME` (so another
//! compile cache) and another `TZ`, run `verge run` and report equal step keys,
//! step ids, bundles and snapshots, although their registry versions (which
//! record when each applied) differ. Editing one source value then changes
//! exactly the ids that depend on it.

use std::path::Path;

use serde_json::Value as Json;

use crate::support::{verge, wasm_path};

/// `verge init repo` under `root`, then `verge run --json` there, as a
/// machine with `home` and `tz` would: the report.
fn init_and_run(root: &Path, home: &Path, tz: &str) -> Json {
    let go = |dir: &Path, args: &[&str]| {
        let out = verge()
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("VERGE_WASM", wasm_path())
            .env("HOME", home)
            .env("TZ", tz)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    go(root, &["init", "repo"]);
    serde_json::from_str(&go(&root.join("repo"), &["run", "--json"])).unwrap()
}

fn step_ids(report: &Json) -> Vec<(String, String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["key"].as_str().unwrap().to_owned(),
                s["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn registry_head(repo: &Path) -> String {
    std::fs::read_to_string(repo.join(".verge/refs/main"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn two_machines_give_equal_ids_and_an_edit_moves_only_its_dependents() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let root_b = b.path().join("deeper/elsewhere");
    std::fs::create_dir_all(&root_b).unwrap();
    let first = init_and_run(a.path(), home_a.path(), "UTC");
    // Apply at another second, on another path, in another zone.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = init_and_run(&root_b, home_b.path(), "Asia/Tokyo");
    assert_ne!(
        registry_head(&a.path().join("repo")),
        registry_head(&root_b.join("repo")),
        "the registry versions record their apply times, like commits"
    );
    assert_eq!(step_ids(&first), step_ids(&second));
    for field in ["bundle", "snapshot", "registry"] {
        assert_eq!(first[field], second[field], "{field}");
    }
    assert_eq!(first["prediction"], second["prediction"]);

    // One value of one source row, in the second repository only.
    let vitals = root_b.join("repo/data/vitals.csv");
    let text = std::fs::read_to_string(&vitals).unwrap();
    assert!(text.contains("37.9,,6.8"));
    std::fs::write(&vitals, text.replacen("37.9,,6.8", "36.9,,6.8", 1)).unwrap();
    let out = verge()
        .arg("-C")
        .arg(root_b.join("repo"))
        .args(["run", "--json"])
        .env("VERGE_WASM", wasm_path())
        .env("HOME", home_b.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let edited: Json = serde_json::from_slice(&out.stdout).unwrap();
    let (before, after) = (step_ids(&first), step_ids(&edited));
    assert_eq!(after[0], before[0], "apply reads only the definitions");
    for (b, a) in before.iter().zip(&after).skip(1) {
        assert_ne!(b.2, a.2, "{} reads the source, so its id moves", a.0);
    }
    assert_eq!(first["registry"], edited["registry"]);
}

/// `verge apply --json` names the definitions id that artifacts carry, and
/// `verge train --now` pins `trained_at`, so two repositories applied at other
/// times train the same bundle, byte for byte.
#[test]
fn apply_reports_the_definitions_id_and_a_pinned_train_is_reproducible() {
    let mut bundles = Vec::new();
    for _ in 0..2 {
        let repo = crate::support::Repo::init();
        let applied = crate::support::run_expect(&repo.path, &["apply", "--json"], 0);
        let applied: Json = serde_json::from_str(&applied.stdout).unwrap();
        let trained = crate::support::run_expect(
            &repo.path,
            &[
                "train",
                "surgical_lesion",
                "--entities",
                "entities.csv",
                "--now",
                "2021-06-25T12:00:00Z",
                "--json",
            ],
            0,
        );
        let trained: Json = serde_json::from_str(&trained.stdout).unwrap();
        assert_eq!(trained["registry"], applied["definitions_id"], "{trained}");
        assert_ne!(applied["id"], applied["definitions_id"]);
        bundles.push(trained["bundle"].clone());
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(bundles[0], bundles[1]);
}
