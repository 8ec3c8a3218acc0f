//! `verge serve --from DIR --native` of a published shard set: it starts with
//! shard 0 alone, maps and checks each other shard the first time a request
//! needs it, answers exactly as the repository reads its whole snapshot, and
//! never serves a shard that fails its check (a 503 naming it, for the keys
//! it holds; the other keys are answered, and a repaired file is served).
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::{Value as Json, json};
use verge_core::api::Limits;
use verge_core::artifact::manifest::PublishManifest;
use verge_core::artifact::shard_of;
use verge_core::{EntityKey, KeyPart};
use verge_host::resolve::Repository;
use verge_host::serve::{Engine, NetLimits, ServeOptions, Server, Source};

use crate::push::{pushable, repo_pulse};
use crate::support::run_expect;

const NOW: &str = "2021-06-05T12:00:00Z";
const SHARDS: u32 = 3;

/// A repository whose latest snapshot is published to `site` as 3 shards,
/// and the reference: `horse_vitals:pulse` of every key as the repository
/// read its whole snapshot of the same window.
fn published() -> (crate::support::Repo, BTreeMap<i64, Json>) {
    let repo = pushable();
    let root = repo.path.as_path();
    // Thirty more horses, so that every shard holds some.
    let csv = root.join("data/vitals.csv");
    let mut rows = fs::read_to_string(&csv).unwrap();
    for id in 600_000..600_030 {
        rows.push_str(&format!(
            "{id},2021-06-02T08:00:00Z,2021-06-02T08:05:00Z,38.1,{},6.1,mild\n",
            40 + id % 50
        ));
    }
    fs::write(&csv, rows).unwrap();
    let window = ["2021-06-01T00:00:00Z", "2021-06-06T00:00:00Z"];
    run_expect(root, &["materialize", window[0], window[1]], 0);
    let keys = keys_of(root);
    let whole = repo_pulse(root, &keys);
    let reference = keys
        .iter()
        .zip(whole.as_array().unwrap())
        .map(|(&k, v)| (k, v.clone()))
        .collect();
    run_expect(
        root,
        &["materialize", window[0], window[1], "--shards", "3"],
        0,
    );
    run_expect(root, &["publish", "fresh", "--to", "site"], 0);
    (repo, reference)
}

fn keys_of(root: &Path) -> Vec<i64> {
    let csv = fs::read_to_string(root.join("data/vitals.csv")).unwrap();
    let keys: BTreeSet<i64> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect();
    keys.into_iter().collect()
}

/// `verge serve --from site --native` of the repository at `root`, bound
/// in-process (not run: requests are answered through its live pair).
pub(crate) fn bind(root: &Path) -> anyhow::Result<Server> {
    Server::bind(
        &Repository::new(root, root.join("verge.toml")),
        ServeOptions {
            source: Source::PublishDir(root.join("site")),
            admin_token: None,
            public_key: None,
            addr: "127.0.0.1:0".into(),
            limits: Limits::default(),
            threads: 1,
            engine: Engine::Native,
            net: NetLimits::default(),
        },
    )
}

fn body(ids: &[i64]) -> Vec<u8> {
    json!({"features": ["horse_vitals:pulse"], "entities": {"hospital_number": ids}, "now": NOW})
        .to_string()
        .into_bytes()
}

/// What the served set answers for `ids`: the status and the body.
fn served(server: &Server, ids: &[i64]) -> (u16, Json) {
    answer(server, "POST", "/get-online-features", &body(ids))
}

/// What `server` answers to one request, as the native handler does.
pub(crate) fn answer(server: &Server, method: &str, path: &str, body: &[u8]) -> (u16, Json) {
    let live = server.live();
    let (status, bytes) = match live.api_for(&live.current(), body) {
        Ok(api) => {
            let answer = api.handle(method, path, body, verge_core::time::Timestamp(0));
            (answer.status, answer.body)
        }
        Err(answer) => answer,
    };
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn shard(id: i64) -> u32 {
    shard_of(&EntityKey::single(KeyPart::Int64(id)), SHARDS)
}

/// A key in each shard.
fn key_per_shard(reference: &BTreeMap<i64, Json>) -> Vec<i64> {
    let mut keys: Vec<Option<i64>> = vec![None; SHARDS as usize];
    for &id in reference.keys() {
        keys[shard(id) as usize].get_or_insert(id);
    }
    keys.into_iter()
        .map(|k| k.expect("a key in every shard"))
        .collect()
}

fn expected(reference: &BTreeMap<i64, Json>, ids: &[i64]) -> Json {
    Json::Array(ids.iter().map(|id| reference[id].clone()).collect())
}

fn shard_file(root: &Path, index: usize) -> std::path::PathBuf {
    let manifest =
        PublishManifest::parse(&fs::read(root.join("site/manifest.json")).unwrap()).unwrap();
    root.join("site")
        .join(manifest.current.shards[index].path())
}

#[test]
fn shards_load_on_first_use_and_answer_as_the_whole_snapshot() {
    let (repo, reference) = published();
    let root = repo.path.as_path();
    let keys = key_per_shard(&reference);
    let server = bind(root).unwrap();
    // Start-up checked shard 0 and nothing else.
    assert_eq!(server.live().shard_loads(), 1);

    let mut touched = BTreeSet::from([0]);
    for &key in &keys {
        let (status, answer) = served(&server, &[key]);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][1]["values"], expected(&reference, &[key]));
        touched.insert(shard(key));
        assert_eq!(server.live().shard_loads(), touched.len() as u64);
    }
    // Loaded once: asking again maps nothing more, and one request across
    // every shard reads each key from its own.
    let (status, answer) = served(&server, &keys);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][1]["values"], expected(&reference, &keys));
    assert_eq!(server.live().shard_loads(), u64::from(SHARDS));
}

#[test]
fn a_bad_shard_is_a_503_for_its_keys_and_is_served_once_repaired() {
    let (repo, reference) = published();
    let root = repo.path.as_path();
    let keys = key_per_shard(&reference);
    let (first, bad) = (keys[0], keys[1]);
    let path = shard_file(root, 1);
    let good = fs::read(&path).unwrap();
    let other = fs::read(shard_file(root, 2)).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("a flipped byte", flipped),
        ("another shard's bytes", other),
    ] {
        fs::write(&path, &bytes).unwrap();
        let server = bind(root).unwrap();
        let (status, answer) = served(&server, &[first, bad]);
        assert_eq!(status, 503, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("shard 1 of 3"), "{what}: {answer}");
        // The keys of the good shards are still answered.
        let (status, answer) = served(&server, &[first]);
        assert_eq!(status, 200, "{what}: {answer}");
        // Repaired on disk: the next request that needs it maps it again.
        fs::write(&path, &good).unwrap();
        let (status, answer) = served(&server, &[first, bad]);
        assert_eq!(status, 200, "{what}: {answer}");
        assert_eq!(
            answer["results"][1]["values"],
            expected(&reference, &[first, bad])
        );
    }
}

#[test]
fn a_missing_shard_file_stops_start_up() {
    let (repo, _) = published();
    let root = repo.path.as_path();
    fs::remove_file(shard_file(root, 2)).unwrap();
    let err = format!("{:#}", bind(root).unwrap_err());
    assert!(err.contains("is missing; publish again"), "{err}");
    let out = run_expect(
        root,
        &[
            "serve",
            "--from",
            "site",
            "--native",
            "--addr",
            "127.0.0.1:0",
        ],
        2,
    );
    assert!(out.stderr.contains("is missing"), "{}", out.stderr);
}
