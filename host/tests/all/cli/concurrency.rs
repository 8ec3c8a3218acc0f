//! Many `apply`s at once, and `apply`s killed at random moments.
//!
//! The registry's promise: every apply either lands in the history or reports a
//! conflict; no landed version is lost; every object decodes; a process killed at
//! any point leaves a registry that reads and accepts the next apply.

use std::process::{Child, Stdio};
use std::time::Duration;

use verge_test_kit::rng::Rng;

use crate::support::{Repo, Run, run_expect, verge};

const WRITERS: usize = 10;

/// Writes `verge-<i>.toml`, each a different change on top of the init template:
/// odd writers change a description, even ones also add a feature view.
fn variants(repo: &Repo, n: usize) -> Vec<String> {
    let base = repo.config();
    (0..n)
        .map(|i| {
            let mut text = base.replace("A patient of the clinic", &format!("writer {i}"));
            if i % 2 == 0 {
                text.push_str(&format!(
                    "\n[[feature_view]]\nname = \"extra_{i}\"\nentities = [\"horse\"]\nsource = \"vitals\"\nfields = [{{ name = \"pulse\", dtype = \"int64\" }}]\n"
                ));
            }
            let name = format!("verge-{i}.toml");
            repo.write(&name, &text);
            name
        })
        .collect()
}

fn spawn_apply(repo: &Repo, config: &str, extra: &[&str]) -> Child {
    verge()
        .arg("-C")
        .arg(&repo.path)
        .args(["--config", config, "apply", "-m", config])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts every writer before waiting for any, so they race.
fn race(repo: &Repo, configs: &[String], extra: &[&str]) -> Vec<Run> {
    let children: Vec<Child> = configs
        .iter()
        .map(|c| spawn_apply(repo, c, extra))
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().into())
        .collect()
}

#[test]
fn concurrent_applies_land_or_report_a_conflict() {
    let repo = Repo::init();
    let base = crate::support::printed_id(&run_expect(&repo.path, &["apply"], 0));
    let configs = variants(&repo, WRITERS);
    let runs = race(&repo, &configs, &[]);

    let history = repo.history();
    let mut landed = Vec::new();
    for (config, r) in configs.iter().zip(&runs) {
        match r.code {
            0 => {
                let id = crate::support::printed_id(r);
                assert!(
                    history.contains(&id),
                    "{config} printed {id} which is not in the history"
                );
                landed.push(id);
            }
            2 => assert!(
                r.stderr.contains("conflict: the registry moved from"),
                "{config} failed without a conflict:\n{}",
                r.stderr
            ),
            other => panic!("{config} exited {other}:\n{}", r.stderr),
        }
    }
    eprintln!(
        "{} of {WRITERS} applies landed, the rest reported conflicts",
        landed.len()
    );
    assert!(
        !landed.is_empty(),
        "at least the first writer under the lock wins"
    );
    // The chain is exactly the base plus every landed version: nothing lost, nothing extra.
    assert_eq!(history.len(), landed.len() + 1, "{history:?} vs {landed:?}");
    assert_eq!(history.last(), Some(&base));
    for id in &landed {
        assert!(history.contains(id));
    }
    // Losers may leave orphan objects; every object still decodes and hashes right.
    assert!(repo.check_every_object() >= history.len());
    run_expect(&repo.path, &["registry", "log"], 0);
}

/// Writes `verge-<i>.toml`, each adding its own feature service to the init
/// template: changes that do not touch each other.
fn own_services(repo: &Repo, n: usize) -> Vec<String> {
    let base = repo.config();
    (0..n)
        .map(|i| {
            let text = format!(
                "{base}\n[[feature_service]]\nname = \"own_{i}\"\nfeatures = [\"horse_vitals:pulse\"]\n"
            );
            let name = format!("verge-{i}.toml");
            repo.write(&name, &text);
            name
        })
        .collect()
}

/// Eight writers each add their own service with `--retry`: every one lands,
/// rebased onto the others, and the head holds all eight (none deleted the
/// previous writer's).
#[test]
fn concurrent_applies_with_retry_all_land() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    let configs = own_services(&repo, 8);
    let runs = race(&repo, &configs, &["--retry", "20"]);
    let history = repo.history();
    for (config, r) in configs.iter().zip(&runs) {
        assert_eq!(r.code, 0, "{config}:\n{}", r.stderr);
        assert!(history.contains(&crate::support::printed_id(r)));
    }
    assert_eq!(history.len(), 9);
    let head = repo.store().read_head().unwrap().unwrap().1.definitions;
    for i in 0..8 {
        assert!(
            head.feature_service(&format!("own_{i}")).is_some(),
            "service own_{i} was lost: {:?}",
            head.feature_services
                .iter()
                .map(|s| &s.name)
                .collect::<Vec<_>>()
        );
    }
    repo.check_every_object();
}

/// Writers that all change the same object (the entity's description) with
/// `--retry`: each lands on the head it read, or is told, with exit 1, which
/// object another version changed; nobody silently undoes a landed change.
#[test]
fn concurrent_edits_of_one_object_land_or_name_the_clash() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    let configs = variants(&repo, 8);
    let runs = race(&repo, &configs, &["--retry", "20"]);
    let history = repo.history();
    let mut landed = 0;
    for (config, r) in configs.iter().zip(&runs) {
        match r.code {
            0 => {
                assert!(history.contains(&crate::support::printed_id(r)));
                landed += 1;
            }
            1 => assert!(
                r.stderr.contains("[[entity]] horse") && r.stderr.contains("changed since"),
                "{config} exited 1 without naming the object:\n{}",
                r.stderr
            ),
            other => panic!("{config} exited {other}:\n{}", r.stderr),
        }
    }
    assert!(landed >= 1);
    assert_eq!(history.len(), landed + 1);
    repo.check_every_object();
}

#[test]
fn killed_applies_leave_a_readable_registry() {
    let repo = Repo::init();
    run_expect(&repo.path, &["apply"], 0);
    // Kill timings from a seed that is printed, so a failure replays.
    let mut rng = Rng::from_env(
        "VERGE_CRASH_SEED",
        "cli::concurrency::killed_applies_leave_a_readable_registry",
    );
    let template = repo.config();
    for i in 0..20 {
        repo.write(
            "verge.toml",
            &template.replace("A patient of the clinic", &format!("crash {i}")),
        );
        let mut child = spawn_apply(&repo, "verge.toml", &[]);
        std::thread::sleep(Duration::from_micros(rng.below(25_000)));
        // SIGKILL: no destructors, no cleanup, possibly mid-write or holding the lock.
        let _ = child.kill();
        child.wait().unwrap();

        // Whatever moment it died at, the registry reads completely.
        let history = repo.history();
        assert!(!history.is_empty(), "seed {}, round {i}", rng.seed());
        repo.check_every_object();
    }
    run_expect(&repo.path, &["registry", "log"], 0);
    let before = repo.history();
    repo.write(
        "verge.toml",
        &template.replace("A patient of the clinic", "after the crashes"),
    );
    let id = crate::support::printed_id(&run_expect(&repo.path, &["apply"], 0));
    let after = repo.history();
    assert_eq!(after[0], id);
    assert_eq!(&after[1..], &before[..], "seed {}", rng.seed());
}
