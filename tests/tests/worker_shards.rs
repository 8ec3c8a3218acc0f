//! A sharded deployment under the real Workers runtime: the Worker, built by
//! `examples/worker/build.sh` and served by `workerd` on 127.0.0.1 with
//! `examples/worker/config-kv.capnp`, reads a manifest naming a set of
//! shards, fetches each shard through the `SHARDS` Workers KV binding (workerd
//! speaks the KV protocol to a disk service holding `<id>.bin`) the first time
//! a request needs it, and keeps them under `SHARD_CACHE_BYTES`.
//!
//! - 1M entities in 8 shards, a cache budget of three: every answer equals
//!   the native core's over the whole set byte for byte, requests spanning
//!   shards included, and the Worker evicts and fetches again as it goes.
//! - Hostile shards (truncated, swapped, wrong hash, signed by another key):
//!   a request whose keys one of them holds gets a 503 naming the shard;
//!   requests needing only good shards are answered.
//!
//! Needs `WORKERD_BIN` (`scripts/test` sets it); without it the tests say so
//! loudly and pass.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use serde_json::json;
use verge_core::api::{Api, Limits};
use verge_core::artifact::manifest::{PublishManifest, PublishedPair, PublishedSnapshot};
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{ArtifactKind, Bundle, Snapshot, shard_of};
use verge_core::{ContentId, Timestamp};
use verge_test_kit::rng::Rng;
use verge_test_kit::tiny::{Tiny, key};
use verge_test_kit::workerd::{Workerd, workerd_bin};

const NOW: &str = "1970-01-11T00:00:00Z";

/// One workerd at a time in this binary (ports, and a 2-core machine).
static ONE: Mutex<()> = Mutex::new(());

fn write_file(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// A tiny deployment's bundle and its snapshot cut into `count` shards.
struct Set {
    bundle: Vec<u8>,
    shards: Vec<Vec<u8>>,
    ids: Vec<ContentId>,
}

impl Set {
    fn new(entities: i64, count: u32) -> Set {
        let tiny = Tiny::many(0).with_entities(entities);
        let shards: Vec<Vec<u8>> = (0..count).map(|i| tiny.shard_bytes(i, count)).collect();
        let ids = shards
            .iter()
            .map(|b| Snapshot::load(b.clone()).unwrap().id())
            .collect();
        Set {
            bundle: tiny.bundle_bytes(),
            shards,
            ids,
        }
    }

    /// The native core over every shard: what the Worker must answer.
    fn native(&self) -> Api {
        let pair = self.pair(None);
        let bundles = pair.check_bundles(&[&self.bundle], None).unwrap();
        let loaded = (0..self.shards.len())
            .map(|i| {
                pair.check_shard(i as u32, self.shards[i].clone(), None)
                    .unwrap()
            })
            .collect();
        Api::serving(
            pair.sharded_deployment(bundles, loaded).unwrap(),
            Limits::default(),
        )
    }

    fn pair(&self, key: Option<&SigningKey>) -> PublishedPair {
        let bundle = Bundle::load(&self.bundle).unwrap().id();
        let mut pair = PublishedPair::unsigned(bundle, self.ids[0]);
        let sign = |id| key.map(|k| k.sign(ArtifactKind::Snapshot, id));
        pair.shards = self
            .ids
            .iter()
            .map(|&id| PublishedSnapshot {
                id,
                signature: sign(id),
            })
            .collect();
        pair.snapshot_signature = sign(self.ids[0]);
        pair.bundle_signature = key.map(|k| k.sign(ArtifactKind::Bundle, bundle));
        pair
    }

    /// Writes the bundle, each shard as `files[i]` (the real bytes unless
    /// replaced), then the manifest.
    fn publish(&self, store: &Path, files: &[Vec<u8>], key: Option<&SigningKey>) {
        let pair = self.pair(key);
        write_file(store, &pair.bundle_path(), &self.bundle);
        for (entry, bytes) in pair.shards.iter().zip(files) {
            write_file(store, &entry.path(), bytes);
        }
        let manifest = PublishManifest {
            current: pair,
            previous: None,
        };
        write_file(store, "manifest.json", &manifest.to_json());
    }
}

/// Polls `/healthz` until it answers 200 (bounded: 30 s).
fn wait_ready(w: &Workerd) {
    let c = w.client();
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        let a = c.get("/healthz");
        if a.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never ready: {a:?}\n{}",
            w.logs()
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
}

fn online_body(ids: &[i64]) -> Vec<u8> {
    json!({"features": ["stats:temp", "stats:pulse"], "entities": {"id": ids}, "now": NOW})
        .to_string()
        .into_bytes()
}

fn predict_body(ids: &[i64]) -> Vec<u8> {
    json!({"entities": {"id": ids}, "now": NOW})
        .to_string()
        .into_bytes()
}

/// `fetched=N held=M bytes=B` from the Worker's `x-verge-shards` header.
fn shard_stats(answer: &verge_test_kit::http::Answer) -> (u64, u64) {
    let text = answer
        .header("x-verge-shards")
        .unwrap_or_default()
        .to_string();
    let field = |name: &str| {
        text.split(' ')
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in x-verge-shards: {text:?}"))
    };
    (field("fetched="), field("held="))
}

#[test]
fn a_million_entities_in_shards_answer_as_the_native_core() {
    if workerd_bin().is_none() {
        return;
    }
    let _one = ONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("artifacts");
    let set = Set::new(1_000_000, 8);
    for bytes in &set.shards {
        // Each shard fits a KV value (25 MiB) with room to spare.
        assert!(bytes.len() < 25 << 20, "a shard of {} bytes", bytes.len());
    }
    set.publish(&store, &set.shards, None);
    let native = set.native();
    // Room for three of the eight shards.
    let budget = (set.shards[0].len() + 24 * 1_000_000 / 8) * 3 + (1 << 20);
    let w = Workerd::start_kv(
        &store,
        60_000,
        &[("VERGE_SHARD_CACHE_BYTES", &budget.to_string())],
    );
    wait_ready(&w);
    let c = w.client();
    let mut rng = Rng::new(16);
    let mut last = (0, 0);
    for round in 0..120 {
        // Mostly one shard's keys at a time, so the cache has to turn over,
        // and every fourth request across all shards, unknown keys included.
        let shard = (round / 3) % 8;
        let ids: Vec<i64> = if round % 4 == 3 {
            (0..100).map(|_| rng.below(1_000_100) as i64).collect()
        } else {
            (0..)
                .map(|_| rng.below(1_000_000) as i64)
                .filter(|&i| shard_of(&key(i), 8) == shard)
                .take(50)
                .collect()
        };
        for (path, body) in [
            ("/get-online-features", online_body(&ids)),
            ("/predict", predict_body(&ids)),
        ] {
            let got = c.send("POST", path, &[], &body);
            let want = native.handle("POST", path, &body, Timestamp(0));
            assert_eq!(
                (got.status, got.text()),
                (
                    want.status,
                    String::from_utf8_lossy(&want.body).into_owned()
                ),
                "round {round} {path}\n{}",
                w.logs()
            );
            last = shard_stats(&got);
            assert!(
                last.1 <= 3 || round % 4 == 3,
                "{last:?} held over the budget"
            );
        }
    }
    // Eight shards, three at a time: the Worker evicted and fetched again.
    assert!(last.0 > 8, "fetched only {} shards", last.0);
}

#[test]
fn hostile_shards_are_refused_for_the_keys_they_hold() {
    if workerd_bin().is_none() {
        return;
    }
    let _one = ONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let set = Set::new(4000, 5);
    let key = SigningKey::from_seed(&[7; 32]);
    let stranger = SigningKey::from_seed(&[8; 32]);
    let public = key.public_key().to_string();
    let owner_of = |i: i64| shard_of(&verge_test_kit::tiny::key(i), 5) as usize;
    let one_of = |shard: usize| (0..).find(|&i| owner_of(i) == shard).unwrap();
    let mut flipped = set.shards[3].clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let cases: Vec<(&str, usize, Vec<u8>, bool)> = vec![
        (
            "truncated",
            1,
            set.shards[1][..set.shards[1].len() / 2].to_vec(),
            false,
        ),
        ("swapped", 2, set.shards[4].clone(), false),
        ("wrong hash", 3, flipped, false),
        ("signed by another key", 4, set.shards[4].clone(), true),
    ];
    for (what, bad, bytes, foreign_signature) in cases {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("artifacts");
        let mut files = set.shards.clone();
        files[bad] = bytes;
        set.publish(&store, &files, Some(&key));
        if foreign_signature {
            // The manifest names the shard with a signature by another key.
            let mut pair = set.pair(Some(&key));
            pair.shards[bad].signature = Some(stranger.sign(ArtifactKind::Snapshot, set.ids[bad]));
            let manifest = PublishManifest {
                current: pair,
                previous: None,
            };
            write_file(&store, "manifest.json", &manifest.to_json());
        }
        let w = Workerd::start_kv(&store, 60_000, &[("VERGE_PUBLIC_KEY", &public)]);
        wait_ready(&w);
        let c = w.client();
        let native = set.native();
        let good = one_of(if bad == 1 { 2 } else { 1 });
        let body = online_body(&[good, one_of(0)]);
        let got = c.send("POST", "/get-online-features", &[], &body);
        let want = native.handle("POST", "/get-online-features", &body, Timestamp(0));
        assert_eq!(
            (got.status, got.text()),
            (200, String::from_utf8_lossy(&want.body).into_owned()),
            "{what}"
        );
        let refused = [
            ("/get-online-features", online_body(&[one_of(bad)])),
            ("/get-online-features", online_body(&[good, one_of(bad)])),
            ("/predict", predict_body(&[one_of(bad)])),
        ];
        for (path, body) in refused {
            let got = c.send("POST", path, &[], &body);
            let message = got.error_message();
            assert_eq!(got.status, 503, "{what}: {message}");
            assert!(
                message.contains(&format!("shard {bad} of 5")),
                "{what}: {message}"
            );
        }
        // The good shards still answer after the refusals: nothing crashed.
        let got = c.send("POST", "/get-online-features", &[], &online_body(&[good]));
        assert_eq!(got.status, 200, "{what}: {}\n{}", got.text(), w.logs());
    }
}
