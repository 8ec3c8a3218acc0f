//! Live pickup: `verge serve` follows what it was started from. A
//! `materialize` that moves `snapshot/latest`, or a `publish` into the `--from`
//! directory, is served without a restart, while clients keep asking: every
//! answer is 200 and comes wholly from the old pair or wholly from the new one.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use verge_test_kit::http::{Answer, Client};

use crate::publish::{Server, published};
use crate::support::{Repo, run_expect};

const T0: &str = "2021-06-01T00:00:00Z";

fn snapshot_id(c: &Client) -> String {
    let Answer { status, body, .. } = c.get("/version");
    assert_eq!(status, 200);
    let v: Json = serde_json::from_slice(&body).unwrap();
    v["snapshot_id"].as_str().unwrap().to_owned()
}

/// Clients asking `/predict` until stopped; returns every answer's
/// `(status, snapshot_id)`.
fn hammer(server: &Server, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<(u16, String)>> {
    let c = Client::new(server.addr);
    std::thread::spawn(move || {
        let body = json!({"entities": {"hospital_number": [530101]}}).to_string();
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) && seen.len() < 100_000 {
            let Answer { status, body, .. } = c.send("POST", "/predict", &[], body.as_bytes());
            let id = serde_json::from_slice::<Json>(&body)
                .ok()
                .and_then(|j| j["snapshot_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            seen.push((status, id));
        }
        seen
    })
}

/// Waits (bounded) until the server answers with snapshot `want`.
fn wait_for(c: &Client, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while snapshot_id(c) != want {
        assert!(
            Instant::now() < deadline,
            "snapshot {want} was never picked up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_answers(seen: &[(u16, String)], old: &str, new: &str) {
    assert!(!seen.is_empty());
    for (status, id) in seen {
        assert_eq!(*status, 200);
        assert!(id == old || id == new, "an answer from snapshot {id}");
    }
    assert!(
        seen.iter().any(|(_, id)| id == new),
        "no answer from the new pair"
    );
}

#[test]
fn serve_follows_refs_and_publish_directories() {
    let repo = published();
    // Each round materializes a new window end, so a new snapshot id.
    let mut ends = ["04", "05", "06", "07"]
        .into_iter()
        .map(|day| format!("2021-06-{day}T00:00:00Z"));
    for (args, mode) in [
        (vec!["--bundle", "model/surgical_lesion"], "refs"),
        (vec!["--from", "site"], "dir"),
    ] {
        for engine in [&[][..], &["--native"][..]] {
            let mut all = args.clone();
            all.extend_from_slice(engine);
            let server = Server::start(&repo, &all, None).unwrap();
            let c = Client::new(server.addr);
            let old = snapshot_id(&c);
            let stop = Arc::new(AtomicBool::new(false));
            let load = hammer(&server, Arc::clone(&stop));
            // Another process moves what the server was started on.
            let end = ends.next().unwrap();
            run_expect(&repo.path, &["materialize", T0, &end], 0);
            if mode == "dir" {
                run_expect(
                    &repo.path,
                    // Whole snapshots, so the answers' snapshot_id moves.
                    &[
                        "publish",
                        "surgical_lesion",
                        "--to",
                        "site",
                        "--max-deltas",
                        "0",
                    ],
                    0,
                );
            }
            let new = repo_latest(&repo);
            assert_ne!(old, new);
            wait_for(&c, &new);
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            check_answers(&load.join().unwrap(), &old, &new);
            assert!(
                server.stderr().contains("now serving bundle"),
                "{}",
                server.stderr()
            );
        }
    }
}

/// The latest snapshot's id.
fn repo_latest(repo: &Repo) -> String {
    let r = run_expect(&repo.path, &["inspect", "snapshot/latest", "--json"], 0);
    let j: Json = serde_json::from_str(&r.stdout).unwrap();
    j["id"].as_str().unwrap().to_owned()
}
