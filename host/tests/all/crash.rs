//! Crashes and concurrency: `verge materialize`, `verge apply` and `verge
//! publish` SIGKILLed at random moments, and many `materialize`s racing on one
//! repository.
//!
//! After every kill the repository and the published directory must read and
//! agree with themselves: the registry head and every object decode, refs and
//! the materialization state name stored snapshots that verify, every stored
//! snapshot verifies, and the publish manifest names files that exist and pass
//! every check (hash, signature, compatibility). Rerunning the killed command
//! must then complete.
//!
//! The kill moments come from a seeded generator; the seed is printed, and
//! `VERGE_CRASH_SEED=<seed>` replays a run. `VERGE_CRASH_ROUNDS` sets the kills
//! per command (default 20).
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use verge_core::ContentId;
use verge_core::artifact::Snapshot;
use verge_core::artifact::manifest::PublishManifest;
use verge_core::artifact::signature::PublicKey;
use verge_host::artifacts::ArtifactStore;
use verge_host::materialize::{LATEST, State};
use verge_host::publish::PublishDir;
use verge_test_kit::rng::Rng;

use crate::support::{Repo, run_expect, verge};

pub(crate) fn rounds() -> usize {
    std::env::var("VERGE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn spawn(repo: &Path, args: &[&str]) -> Child {
    verge()
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// How long `args` takes when left alone (the window kills are drawn from).
pub(crate) fn duration_of(repo: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = spawn(repo, args).wait().unwrap();
    assert!(status.success(), "verge {args:?} failed when left alone");
    start.elapsed()
}

/// Starts `args` and SIGKILLs it after a random delay within `window` (it may
/// finish first). Returns whether it was killed before finishing.
pub(crate) fn kill_at_random(repo: &Path, args: &[&str], window: Duration, rng: &mut Rng) -> bool {
    let delay = Duration::from_micros(rng.below(window.as_micros() as u64 + 1));
    let mut child = spawn(repo, args);
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    // `Child::kill` is SIGKILL on Unix: no handler, no cleanup, no flush.
    let _ = child.kill();
    let _ = child.wait();
    !finished
}

/// The registry: the head and every object decode; the head's history is
/// whole.
pub(crate) fn check_registry(repo: &Repo) {
    repo.check_every_object();
    let store = repo.store();
    if let Some(head) = store.head().unwrap() {
        store.history(head).unwrap();
    }
}

/// Every stored snapshot verifies; the state and the refs name stored ones.
fn check_materialized(repo: &Repo) -> Option<ContentId> {
    let store = ArtifactStore::open(&repo.path);
    let dir = repo.path.join(".verge/artifacts");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "snapshot") {
                let bytes = std::fs::read(&path).unwrap();
                let snapshot =
                    Snapshot::load(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                assert_eq!(snapshot.id().to_string(), name, "{}", path.display());
            }
        }
    }
    let load = |id: ContentId, what: &str| {
        let path = store.path(id, verge_core::artifact::ArtifactKind::Snapshot);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{what} names {id}, which is not stored: {e}"));
        Snapshot::load(bytes).unwrap();
    };
    let state = State::load(&repo.path).unwrap();
    for id in &state.latest {
        load(ContentId::parse_hex(id).unwrap(), "materialize.json");
    }
    let latest = store.get_ref(LATEST).unwrap();
    if let Some(id) = latest {
        load(id, LATEST);
    }
    latest
}

/// The publish directory: the manifest names files that pass every check,
/// for the current pair and the previous one.
fn check_published(site: &Path, key: &PublicKey) -> Option<PublishManifest> {
    let dir = PublishDir::new(site);
    let manifest = dir.read_manifest().unwrap()?;
    dir.check_pair(&manifest.current, Some(key)).unwrap();
    if let Some(previous) = &manifest.previous {
        dir.check_pair(previous, Some(key)).unwrap();
    }
    Some(manifest)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const DAYS: [(&str, &str); 5] = [
    ("2021-06-01T00:00:00Z", "2021-06-01T23:00:00Z"),
    ("2021-06-02T00:00:00Z", "2021-06-02T23:00:00Z"),
    ("2021-06-03T00:00:00Z", "2021-06-03T23:00:00Z"),
    ("2021-06-04T00:00:00Z", "2021-06-04T23:00:00Z"),
    ("2021-06-05T00:00:00Z", "2021-06-05T23:00:00Z"),
];

#[test]
fn killed_materializes_leave_a_readable_repository() {
    let mut rng = Rng::from_env(
        "VERGE_CRASH_SEED",
        "killed_materializes_leave_a_readable_repository",
    );
    let repo = Repo::init();
    run_expect(&repo.path, &["apply", "-m", "first"], 0);
    let window = duration_of(&repo.path, &["materialize", DAYS[0].0, DAYS[0].1]).mul_f64(1.3);
    let mut killed = 0;
    for _ in 0..rounds() {
        let (start, end) = DAYS[rng.below(DAYS.len() as u64) as usize];
        killed += usize::from(kill_at_random(
            &repo.path,
            &["materialize", start, end],
            window,
            &mut rng,
        ));
        check_registry(&repo);
        check_materialized(&repo);
    }
    println!("materialize: {killed} of {} runs killed midway", rounds());
    // Rerunning completes, and then the state and the ref agree.
    run_expect(&repo.path, &["materialize", DAYS[0].0, DAYS[4].1], 0);
    let latest = check_materialized(&repo).unwrap();
    let state = State::load(&repo.path).unwrap();
    assert_eq!(state.latest, vec![latest.to_string()]);
}

#[test]
fn killed_applies_leave_a_readable_registry() {
    let mut rng = Rng::from_env(
        "VERGE_CRASH_SEED",
        "killed_applies_leave_a_readable_registry",
    );
    let repo = Repo::init();
    let base = repo.config();
    let window = duration_of(&repo.path, &["apply", "-m", "base"]).mul_f64(1.3);
    let mut killed = 0;
    for i in 0..rounds() {
        // A new description each time, so every apply writes a new version.
        repo.write(
            "verge.toml",
            &base.replace("A patient of the clinic", &format!("version {i}")),
        );
        let before = repo.history();
        killed += usize::from(kill_at_random(
            &repo.path,
            &["apply", "-m", "killed"],
            window,
            &mut rng,
        ));
        check_registry(&repo);
        let after = repo.history();
        // The head either stayed or moved one step forward on top of it.
        assert!(
            after == before || after[1..] == before[..],
            "the history was rewritten: {before:?} → {after:?}"
        );
    }
    println!("apply: {killed} of {} runs killed midway", rounds());
    repo.write(
        "verge.toml",
        &base.replace("A patient of the clinic", "final"),
    );
    run_expect(&repo.path, &["apply", "-m", "final"], 0);
    check_registry(&repo);
}

#[test]
fn killed_publishes_leave_a_servable_directory() {
    let mut rng = Rng::from_env(
        "VERGE_CRASH_SEED",
        "killed_publishes_leave_a_servable_directory",
    );
    let repo = Repo::init();
    run_expect(&repo.path, &["apply", "-m", "first"], 0);
    run_expect(
        &repo.path,
        &["train", "surgical_lesion", "--entities", "entities.csv"],
        0,
    );
    let r = run_expect(&repo.path, &["keygen", "-o", "release.key"], 0);
    let key = PublicKey::parse_hex(r.stdout.trim()).unwrap();
    // Two snapshots to alternate between, so every publish moves the manifest.
    let mut snapshots = Vec::new();
    for (start, end) in [DAYS[0], (DAYS[0].0, DAYS[4].1)] {
        let r = run_expect(&repo.path, &["materialize", start, end], 0);
        snapshots.push(r.stdout.trim().to_string());
    }
    let publish = |snapshot: &str| {
        vec![
            "publish".to_string(),
            "surgical_lesion".into(),
            "--to".into(),
            "site".into(),
            "--sign-key".into(),
            "release.key".into(),
            "--snapshot".into(),
            snapshot.into(),
            // Whole snapshots, so each publish names the one it was given;
            // a delta publish writes in the same order (files, then manifest).
            "--max-deltas".into(),
            "0".into(),
        ]
    };
    let args = publish(&snapshots[0]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let window = duration_of(&repo.path, &args).mul_f64(1.3);
    let site = repo.path.join("site");
    let mut killed = 0;
    for i in 0..rounds() {
        let args = publish(&snapshots[i % 2]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = check_published(&site, &key);
        killed += usize::from(kill_at_random(&repo.path, &args, window, &mut rng));
        let after = check_published(&site, &key).unwrap();
        // Either nothing happened, or the whole publish did.
        if Some(&after) != before.as_ref() {
            assert_eq!(after.current.snapshot.to_string(), snapshots[i % 2]);
        }
    }
    println!("publish: {killed} of {} runs killed midway", rounds());
    for snapshot in &snapshots {
        let args = publish(snapshot);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_expect(&repo.path, &args, 0);
    }
    let m = check_published(&site, &key).unwrap();
    assert_eq!(m.current.snapshot.to_string(), snapshots[1]);
    assert_eq!(m.previous.unwrap().snapshot.to_string(), snapshots[0]);
}

/// Materializations of five different days at once, from five processes:
/// each one lands (none is lost to another's read-modify-write), so the end
/// state is what materializing the days one after another gives.
#[test]
fn concurrent_materializes_lose_nothing() {
    let racing = Repo::init();
    run_expect(&racing.path, &["apply", "-m", "first"], 0);
    // The reference: a copy of the repository (same registry version, so the
    // same snapshot ids) materialized one day after another.
    let reference = tempfile::tempdir().unwrap();
    copy_dir(&racing.path, reference.path());
    for (start, end) in DAYS {
        run_expect(reference.path(), &["materialize", start, end], 0);
    }
    let want = ArtifactStore::open(reference.path())
        .get_ref(LATEST)
        .unwrap()
        .unwrap();

    let children: Vec<Child> = DAYS
        .iter()
        .map(|(start, end)| {
            verge()
                .arg("-C")
                .arg(&racing.path)
                .args(["materialize", start, end])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check_registry(&racing);
    let got = check_materialized(&racing).unwrap();
    let state = State::load(&racing.path).unwrap();
    let windows = &state.views["horse_vitals"].windows;
    assert_eq!(windows.len(), DAYS.len(), "a window was lost: {windows:?}");
    for (start, end) in DAYS {
        assert!(
            windows
                .iter()
                .any(|(s, e)| (s.as_str(), e.as_str()) == (start, end)),
            "{start}..{end} is missing from {windows:?}"
        );
    }
    assert_eq!(state.latest, vec![got.to_string()]);
    assert_eq!(
        got, want,
        "racing materializations must end where sequential ones do"
    );
}
