//! `verge publish --to` of a sharded snapshot: after `materialize --shards`,
//! the manifest names every shard in order (the first being `snapshot`), the
//! published set reads exactly as the repository does, a republish writes
//! only the shards whose content changed, and pushed rows must be folded by
//! `materialize` first (exit 2 otherwise: a shard set takes no deltas).
use std::fs;
use std::path::Path;

use serde_json::{Value as Json, json};
use verge_core::artifact::manifest::PublishManifest;
use verge_core::artifact::shard_of;
use verge_core::online::set_id;
use verge_core::{EntityKey, KeyPart};

use crate::push::{pushable, repo_pulse};
use crate::serve_shards::{answer, bind};
use crate::support::run_expect;

const NOW: &str = "2021-06-05T12:00:00Z";
const IDS: [i64; 5] = [530101, 534817, 777, 5290409, 528904];
const HEADER: &str =
    "hospital_number,event_timestamp,created,rectal_temperature,pulse,total_protein,pain";

fn materialize_sharded(repo: &Path) {
    let window = ["2021-06-01T00:00:00Z", "2021-06-06T00:00:00Z"];
    run_expect(
        repo,
        &["materialize", window[0], window[1], "--shards", "3"],
        0,
    );
}

fn publish(repo: &Path) -> Json {
    let out = run_expect(repo, &["publish", "fresh", "--to", "site", "--json"], 0);
    let out: Json = serde_json::from_str(&out.stdout).unwrap();
    out["to"]["shipped"].clone()
}

fn manifest(site: &Path) -> PublishManifest {
    PublishManifest::parse(&fs::read(site.join("manifest.json")).unwrap()).unwrap()
}

/// The same features as `verge serve --from site --native` serves them,
/// and the `snapshot_id` its `/version` names.
fn site_pulse(root: &Path) -> (Json, Json) {
    let server = bind(root).unwrap();
    let body = json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": IDS}, "now": NOW});
    let (status, v) = answer(
        &server,
        "POST",
        "/get-online-features",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    let (_, version) = answer(&server, "GET", "/version", b"");
    (
        v["results"][1]["values"].clone(),
        version["snapshot_id"].clone(),
    )
}

#[test]
fn a_sharded_snapshot_publishes_shard_by_shard() {
    let repo = pushable();
    let (root, site) = (repo.path.as_path(), repo.path.join("site"));
    // The reference: the repository's own read of its whole snapshot.
    let whole = repo_pulse(root, &IDS);
    materialize_sharded(root);
    assert_eq!(
        publish(root),
        json!({"kind": "shards", "shards": 3, "written": 3})
    );
    let first = manifest(&site).current;
    assert_eq!(first.shards.len(), 3);
    assert_eq!(first.shards[0].id, first.snapshot);
    let (values, snapshot_id) = site_pulse(root);
    assert_eq!(values, whole);
    let ids: Vec<_> = first.shards.iter().map(|s| s.id).collect();
    assert_eq!(snapshot_id, json!(set_id(&ids).to_string()));

    // `verge serve --from` reads the set natively; the Wasm engine holds
    // one snapshot, so it is refused with the way out.
    let refused = run_expect(
        root,
        &["serve", "--from", "site", "--addr", "127.0.0.1:0"],
        2,
    );
    assert!(refused.stderr.contains("--native"), "{}", refused.stderr);

    // Nothing changed: every shard is already there.
    assert_eq!(
        publish(root),
        json!({"kind": "shards", "shards": 3, "written": 0})
    );

    // Pushed rows wait for a materialize: the set takes no deltas.
    let rows = [
        "530101,2021-06-05T10:00:00Z,2021-06-05T10:00:00Z,38.0,70,6.0,mild",
        "777,2021-06-05T11:00:00Z,,38.0,55,6.0,mild",
    ];
    fs::write(
        root.join("a.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    run_expect(root, &["push", "vitals_push", "a.csv"], 0);
    let refused = run_expect(root, &["publish", "fresh", "--to", "site"], 2);
    assert!(
        refused.stderr.contains("verge materialize"),
        "{}",
        refused.stderr
    );
    assert_eq!(manifest(&site).current, first);

    // Folded: only the shards holding the pushed keys are new.
    materialize_sharded(root);
    let owners: std::collections::BTreeSet<u32> = [530101, 777]
        .iter()
        .map(|&k| shard_of(&EntityKey::single(KeyPart::Int64(k)), 3))
        .collect();
    assert_eq!(
        publish(root),
        json!({"kind": "shards", "shards": 3, "written": owners.len()})
    );
    let (values, _) = site_pulse(root);
    assert_eq!(values[2], json!(55));
    assert_eq!(manifest(&site).previous, Some(first));
    // The same window materialized whole reads the same.
    run_expect(
        root,
        &[
            "materialize",
            "2021-06-01T00:00:00Z",
            "2021-06-06T00:00:00Z",
        ],
        0,
    );
    assert_eq!(values, repo_pulse(root, &IDS));
}
