//! The Cloudflare Worker under the real runtime: builds it with
//! `examples/worker/build.sh`, serves it with `workerd serve` on 127.0.0.1, and
//! holds every answer to the bytes `Api::handle` gives natively on the same
//! artifacts. Also: artifacts swapped while requests run (every answer from one
//! whole pair; the new pair appears), bad manifests refused without an outage,
//! the admin publish and rollback routes, signed pairs under `PUBLIC_KEY`,
//! and (ignored by default) load figures.
//!
//! Needs `WORKERD_BIN` (and the tools `build.sh` takes from `scripts/setup
//! --print-env`); `scripts/test` sets them. Without `WORKERD_BIN` the tests say
//! so loudly and pass, so a bare `cargo test` still works.
//!
//! Run the load figures with:
//! `cargo test -p verge-tests --release --test worker -- --ignored --nocapture load_figures`
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant};

use serde_json::{Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::ArtifactKind;
use verge_core::artifact::manifest::{PublishManifest, PublishedPair};
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{Bundle, Snapshot, SnapshotBuilder};
use verge_core::online::{Deployment, Predictor};
use verge_core::{ContentId, Timestamp};
use verge_test_kit::http::{Answer, Client};
use verge_test_kit::tiny::{self, Tiny};
use verge_test_kit::workerd::{self as kit_workerd, workerd_bin};

const ADMIN_TOKEN: &str = "test-token-7f3a";
/// Entities in the snapshots: enough for 100-entity batches of real rows.
const ENTITIES: i64 = tiny::MANY;
/// The `now` every timed request carries, so workerd and native agree.
const NOW: &str = "1970-01-11T00:00:00Z";

// ---------------------------------------------------------------------------
// Artifacts

/// A bundle + snapshot pair and the native API over it.
struct Pair {
    bundle: Vec<u8>,
    snapshot: Vec<u8>,
    bundle_id: String,
    snapshot_id: String,
    api: Api,
}

fn pair(variant: u32) -> Pair {
    // The kit's tiny deployment with 2000 horses: some with null pulse, some
    // stale at `NOW`; `variant` shifts the data so ids differ.
    let tiny = Tiny::many(variant);
    let bundle = tiny.bundle_bytes();
    let snapshot = tiny.snapshot_bytes();
    let b = Bundle::load(&bundle).unwrap();
    let s = Snapshot::load(snapshot.clone()).unwrap();
    let (bundle_id, snapshot_id) = (b.id().to_string(), s.id().to_string());
    let api = Api::new(Predictor::new(b, s).unwrap(), Limits::default());
    Pair {
        bundle,
        snapshot,
        bundle_id,
        snapshot_id,
        api,
    }
}

/// Writes a pair in the publish layout: files first, then the manifest by
/// rename (atomic), exactly as a publisher must.
fn publish(dir: &Path, p: &Pair) {
    write_file(dir, &format!("bundles/{}.bin", p.bundle_id), &p.bundle);
    write_file(
        dir,
        &format!("snapshots/{}.bin", p.snapshot_id),
        &p.snapshot,
    );
    let manifest = json!({"bundle": p.bundle_id, "snapshot": p.snapshot_id});
    write_file(dir, "manifest.json", manifest.to_string().as_bytes());
}

fn write_file(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

// ---------------------------------------------------------------------------
// workerd

/// A running `workerd serve` (the kit's), with the admin token set.
///
/// One at a time per test binary: two servers picking free ports at once can
/// pick the same one, and on a 2-core machine parallel servers would also
/// distort the swap timing and the load figures.
struct Workerd {
    inner: kit_workerd::Workerd,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Workerd {
    fn start(artifacts: &Path, ttl_ms: u32) -> Workerd {
        Workerd::start_with(artifacts, ttl_ms, &[])
    }

    /// As [`Workerd::start`], with extra environment (e.g. `VERGE_PUBLIC_KEY`);
    /// an empty value removes the variable instead.
    fn start_with(artifacts: &Path, ttl_ms: u32, env: &[(&str, &str)]) -> Workerd {
        static ONE: Mutex<()> = Mutex::new(());
        // A test that failed while holding the lock has still killed its server.
        let guard = ONE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The token first: `env` may override or remove it.
        let mut all = vec![("VERGE_ADMIN_TOKEN", ADMIN_TOKEN)];
        all.extend_from_slice(env);
        Workerd {
            inner: kit_workerd::Workerd::start(artifacts, ttl_ms, &all),
            _one_at_a_time: guard,
        }
    }
}

impl std::ops::Deref for Workerd {
    type Target = kit_workerd::Workerd;
    fn deref(&self) -> &kit_workerd::Workerd {
        &self.inner
    }
}

// ---------------------------------------------------------------------------
/// A fresh, empty artifact store in a temporary directory (kept alive by the
/// first element), or `None` when workerd is not installed (the tests then
/// pass after saying so, as the module docs describe).
fn artifact_store() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    workerd_bin()?;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("artifacts");
    std::fs::create_dir_all(&store).unwrap();
    Some((dir, store))
}

/// Polls `/healthz` until it answers 200 (bounded).
fn wait_healthy(w: &Workerd) {
    let c = w.client();
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let a = c.get("/healthz");
        if a.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never healthy: {a:?}\n{}",
            w.logs()
        );
        std::thread::sleep(StdDuration::from_millis(20));
    }
}

fn ids(a: &Answer) -> (String, String) {
    let j = a.json();
    (
        j["bundle_id"].as_str().unwrap().to_string(),
        j["snapshot_id"].as_str().unwrap().to_string(),
    )
}

fn predict_body(ids: impl IntoIterator<Item = i64>) -> Json {
    let ids: Vec<i64> = ids.into_iter().collect();
    let ambient: Vec<f64> = ids.iter().map(|i| 20.0 + (*i % 5) as f64).collect();
    json!({"entities": {"id": ids}, "request_context": {"ambient": ambient}, "now": NOW})
}

// ---------------------------------------------------------------------------
// Tests

/// Every request of the HTTP contract, answered by workerd and by `Api::handle`
/// natively: same status, same bytes.
#[test]
fn answers_equal_the_native_api_byte_for_byte() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let w = Workerd::start(&store, 50);

    // Nothing published yet: a JSON 503, not a crash.
    let c = w.client();
    let a = c.get("/healthz");
    assert_eq!(a.status, 503, "{a:?}");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing is published")
    );

    let p = pair(0);
    publish(&store, &p);
    wait_healthy(&w);

    let too_many: Vec<i64> = (0..1001).collect();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("GET", "/healthz", vec![]),
        ("GET", "/version", vec![]),
        ("POST", "/predict", predict_body([1, 2, 17, 9, 99_999]).to_string().into_bytes()),
        ("POST", "/predict", predict_body(0..100).to_string().into_bytes()),
        (
            "POST",
            "/get-online-features",
            json!({"features": ["stats:temp", "stats:pulse", "derived:excess"], "entities": {"id": [1, 9, 17, 5000]}, "request_context": {"ambient": [20.0, 21.0, null, 1.0]}, "now": NOW}).to_string().into_bytes(),
        ),
        (
            "POST",
            "/get-online-features",
            json!({"feature_service": "svc", "entities": {"id": [3, 4]}, "request_context": {"ambient": [20.0, 21.0]}, "full_feature_names": true, "now": NOW}).to_string().into_bytes(),
        ),
        // Malformed JSON, unknown feature, wrong entity type, too many rows.
        ("POST", "/predict", b"{\"entities\": {\"id\": [1,".to_vec()),
        ("POST", "/get-online-features", b"not json at all".to_vec()),
        (
            "POST",
            "/get-online-features",
            json!({"features": ["stats:nope"], "entities": {"id": [1]}, "now": NOW}).to_string().into_bytes(),
        ),
        (
            "POST",
            "/predict",
            json!({"entities": {"id": ["abc"]}, "request_context": {"ambient": [1.0]}, "now": NOW}).to_string().into_bytes(),
        ),
        (
            "POST",
            "/predict",
            json!({"entities": {"horse_id": [1]}, "now": NOW}).to_string().into_bytes(),
        ),
        ("POST", "/predict", predict_body(too_many).to_string().into_bytes()),
        ("POST", "/predict", vec![]),
        // Wrong method, unknown route.
        ("GET", "/predict", vec![]),
        ("POST", "/healthz", b"{}".to_vec()),
        ("DELETE", "/version", vec![]),
        ("GET", "/nope", vec![]),
        ("GET", "/", vec![]),
    ];
    let mut statuses = Vec::new();
    for (method, path, body) in &cases {
        let got = c.send(method, path, &[], body);
        let want = p.api.handle(method, path, body, Timestamp(0));
        assert_eq!(
            (got.status, String::from_utf8_lossy(&got.body)),
            (want.status, String::from_utf8_lossy(&want.body)),
            "{method} {path} {}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(got.content_type(), "application/json", "{method} {path}");
        statuses.push(got.status);
    }
    // The cases really cover the contract's statuses.
    for s in [200, 400, 404, 405, 413] {
        assert!(statuses.contains(&s), "no case answered {s}: {statuses:?}");
    }
    let v = c.get("/version").json();
    assert_eq!(v["bundle_id"], p.bundle_id);
    assert_eq!(v["snapshot_id"], p.snapshot_id);
    drop(w);
}

/// A new pair published while clients hammer `/predict`: every answer is
/// exactly one pair's native answer, each client moves from old to new once
/// and never back, and a manifest naming a broken pair changes nothing.
#[test]
fn artifacts_swap_atomically_under_load() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let (a, b) = (pair(0), pair(1));
    assert_ne!(a.bundle_id, b.bundle_id);
    assert_ne!(a.snapshot_id, b.snapshot_id);
    publish(&store, &a);
    let w = Workerd::start(&store, 20);
    wait_healthy(&w);

    let body = predict_body([1, 2, 3, 17, 40]).to_string().into_bytes();
    let want_a = a.api.handle("POST", "/predict", &body, Timestamp(0)).body;
    let want_b = b.api.handle("POST", "/predict", &body, Timestamp(0)).body;
    assert_ne!(want_a, want_b);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, seen, body) = (stop.clone(), seen.clone(), body.clone());
            let (want_a, want_b) = (want_a.clone(), want_b.clone());
            let port = w.port;
            std::thread::spawn(move || {
                let c = Client::new(format!("127.0.0.1:{port}"));
                let mut trace = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let got = c.send("POST", "/predict", &[], &body);
                    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
                    let which = if got.body == want_a {
                        'a'
                    } else if got.body == want_b {
                        'b'
                    } else {
                        panic!(
                            "an answer from neither pair: {}",
                            String::from_utf8_lossy(&got.body)
                        )
                    };
                    trace.push(which);
                }
                seen.lock().unwrap().push(trace);
            })
        })
        .collect();

    std::thread::sleep(StdDuration::from_millis(300));
    publish(&store, &b);
    let c = w.client();
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while ids(&c.post("/predict", &predict_body([1])))
        != (b.bundle_id.clone(), b.snapshot_id.clone())
    {
        assert!(
            Instant::now() < deadline,
            "the new pair never appeared\n{}",
            w.logs()
        );
        std::thread::sleep(StdDuration::from_millis(10));
    }
    std::thread::sleep(StdDuration::from_millis(300));

    // A manifest naming a mislabelled snapshot (pair a's bytes under pair b's
    // snapshot id is refused by hash) and one naming a missing file: the
    // worker keeps serving b.
    let broken = pair(2);
    write_file(
        &store,
        &format!("bundles/{}.bin", broken.bundle_id),
        &broken.bundle,
    );
    write_file(
        &store,
        &format!("snapshots/{}.bin", broken.snapshot_id),
        &a.snapshot,
    );
    write_file(
        &store,
        "manifest.json",
        json!({"bundle": broken.bundle_id, "snapshot": broken.snapshot_id})
            .to_string()
            .as_bytes(),
    );
    std::thread::sleep(StdDuration::from_millis(300));
    write_file(
        &store,
        "manifest.json",
        json!({"bundle": b.bundle_id, "snapshot": "00".repeat(32)})
            .to_string()
            .as_bytes(),
    );
    std::thread::sleep(StdDuration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in clients {
        t.join().unwrap();
    }
    assert_eq!(
        ids(&c.post("/predict", &predict_body([1]))),
        (b.bundle_id.clone(), b.snapshot_id.clone()),
        "a broken manifest must not take the pair being served away"
    );

    let traces = seen.lock().unwrap();
    let total: usize = traces.iter().map(Vec::len).sum();
    assert!(total > 100, "too few requests ran during the swap: {total}");
    for trace in traces.iter() {
        let first_b = trace
            .iter()
            .position(|&x| x == 'b')
            .expect("a client never saw the new pair");
        assert!(
            first_b > 0,
            "a client saw the new pair before it was published"
        );
        assert!(
            trace[first_b..].iter().all(|&x| x == 'b'),
            "a client went back to the old pair after seeing the new one"
        );
    }
    drop(w);
}

/// `PUT /admin/artifacts`: refused without the token or with a bad pair;
/// with both, the pair is stored, the manifest keeps the previous pair, and
/// the worker serves it at once.
#[test]
fn admin_publish_checks_stores_and_swaps() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let (a, b) = (pair(0), pair(1));
    publish(&store, &a);
    // A long ttl: the swap below must come from the admin route itself.
    let w = Workerd::start(&store, 600_000);
    wait_healthy(&w);
    let c = w.client();

    let mut body = b.bundle.clone();
    body.extend_from_slice(&b.snapshot);
    let auth = format!("Bearer {ADMIN_TOKEN}");

    let r = c.send("PUT", "/admin/artifacts", &[], &body);
    assert_eq!(r.status, 401, "{r:?}");
    let r = c.send(
        "PUT",
        "/admin/artifacts",
        &[("authorization", "Bearer wrong")],
        &body,
    );
    assert_eq!(r.status, 401, "{r:?}");
    let r = c.send("GET", "/admin/artifacts", &[("authorization", &auth)], b"");
    assert_eq!(r.status, 405, "{r:?}");
    // Truncated, trailing bytes, a flipped bit in the snapshot, an
    // incompatible pair (a snapshot with no `stats` view).
    for bad in [
        body[..body.len() - 1].to_vec(),
        [body.as_slice(), b"x"].concat(),
        {
            let mut x = body.clone();
            let last = x.len() - 1;
            x[last] ^= 1;
            x
        },
        [
            b.bundle.as_slice(),
            &SnapshotBuilder::new(ContentId::of(b"registry"), Timestamp(0), Timestamp(1))
                .finish()
                .unwrap(),
        ]
        .concat(),
    ] {
        let r = c.send("PUT", "/admin/artifacts", &[("authorization", &auth)], &bad);
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.json()["error"]["message"].is_string());
    }
    assert_eq!(
        ids(&c.post("/predict", &predict_body([1]))),
        (a.bundle_id.clone(), a.snapshot_id.clone())
    );

    let r = c.send(
        "PUT",
        "/admin/artifacts",
        &[("authorization", &auth)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["published"]["bundle_id"], b.bundle_id);
    assert_eq!(r.json()["previous"]["snapshot_id"], a.snapshot_id);
    assert_eq!(
        ids(&c.post("/predict", &predict_body([1]))),
        (b.bundle_id.clone(), b.snapshot_id.clone())
    );
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest,
        json!({"bundle": b.bundle_id, "snapshot": b.snapshot_id, "previous": {"bundle": a.bundle_id, "snapshot": a.snapshot_id}})
    );
    assert_eq!(
        std::fs::read(store.join(format!("snapshots/{}.bin", b.snapshot_id))).unwrap(),
        b.snapshot
    );
    drop(w);
}

/// A published deployment (three bundles over one snapshot: models `m` and
/// `m2` and the service's feature bundle) is served whole: every request the
/// bytes the native `Api::serving` gives. An admin upload of a retrained `m2`
/// with a new snapshot replaces that bundle and the snapshot only.
#[test]
fn a_deployment_serves_every_bundle_and_an_upload_replaces_one() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let (first, second) = (Tiny::many(0), Tiny::many(1));
    let bundles: Vec<Vec<u8>> = [Some("m"), Some("m2"), None]
        .into_iter()
        .map(|m| first.bundle_bytes_for(m))
        .collect();
    let snapshot = first.snapshot_bytes();
    let id_of = |b: &[u8]| Bundle::load(b).unwrap().id().to_string();
    let bundle_ids: Vec<String> = bundles.iter().map(|b| id_of(b)).collect();
    let snapshot_id = Snapshot::load(snapshot.clone()).unwrap().id().to_string();
    for (id, bytes) in bundle_ids.iter().zip(&bundles) {
        write_file(&store, &format!("bundles/{id}.bin"), bytes);
    }
    write_file(&store, &format!("snapshots/{snapshot_id}.bin"), &snapshot);
    let manifest = json!({
        "bundle": bundle_ids[0], "snapshot": snapshot_id,
        "more_bundles": [{"bundle": bundle_ids[1]}, {"bundle": bundle_ids[2]}],
    });
    write_file(&store, "manifest.json", manifest.to_string().as_bytes());
    let native = |bundles: &[&[u8]], snapshot: &[u8]| {
        Api::serving(
            Deployment::new(
                Snapshot::load(snapshot.to_vec()).unwrap(),
                bundles.iter().map(|b| Bundle::load(b).unwrap()).collect(),
            )
            .unwrap(),
            Limits::default(),
        )
    };
    let cases = |model: &str| -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let mut body = predict_body([1, 17, 4000]);
        body["model"] = json!(model);
        vec![
            ("POST", "/predict", body.to_string().into_bytes()),
            ("POST", "/predict", predict_body([2]).to_string().into_bytes()),
            (
                "POST",
                "/get-online-features",
                json!({"feature_service": "svc", "entities": {"id": [1, 9], "ambient": [21.0, 19.5]}, "now": NOW})
                    .to_string()
                    .into_bytes(),
            ),
            ("GET", "/version", Vec::new()),
        ]
    };
    let w = Workerd::start(&store, 600_000);
    wait_healthy(&w);
    let c = w.client();
    let check = |api: &Api| {
        for (method, path, body) in cases("m2") {
            let want = api.handle(method, path, &body, Timestamp::parse_rfc3339(NOW).unwrap());
            let got = c.send(method, path, &[], &body);
            assert_eq!(
                (got.status, String::from_utf8_lossy(&got.body)),
                (want.status, String::from_utf8_lossy(&want.body)),
                "{method} {path}"
            );
        }
    };
    let refs: Vec<&[u8]> = bundles.iter().map(Vec::as_slice).collect();
    check(&native(&refs, &snapshot));

    // Retrained `m2` and a new snapshot, uploaded as one pair.
    let m2 = second.bundle_bytes_for(Some("m2"));
    let snapshot2 = second.snapshot_bytes();
    let body = [m2.as_slice(), &snapshot2].concat();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = c.send(
        "PUT",
        "/admin/artifacts",
        &[("authorization", &auth)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let kept = [bundles[0].as_slice(), &m2, &bundles[2]];
    let ids: Vec<String> = kept.iter().map(|b| id_of(b)).collect();
    assert_eq!(r.json()["published"]["bundle_ids"], json!(ids));
    check(&native(&kept, &snapshot2));
    let written =
        PublishManifest::parse(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<String> = written
        .current
        .bundles()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(listed, ids);
    drop(w);
}

/// The `MAX_*` bindings set the request limits, as `verge serve --max-*`
/// does: the same 413s as the native API under the same limits; a malformed
/// one serves nothing, saying which.
#[test]
fn request_limits_come_from_the_bindings() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let p = pair(0);
    publish(&store, &p);
    let limits = Limits {
        max_entities: 3,
        max_cells: 10,
        ..Limits::default()
    };
    let native = Api::new(p.api.predictor().clone(), limits);
    let w = Workerd::start_with(
        &store,
        50,
        &[("VERGE_MAX_ENTITIES", "3"), ("VERGE_MAX_CELLS", "10")],
    );
    wait_healthy(&w);
    let c = w.client();
    let now = Timestamp::parse_rfc3339(NOW).unwrap();
    for ids in [vec![1, 2], vec![1, 2, 3], vec![1, 2, 3, 4]] {
        for path in ["/predict", "/get-online-features"] {
            let mut body = predict_body(ids.clone());
            if path == "/get-online-features" {
                body["features"] = json!(["stats:temp", "stats:pulse"]);
                body.as_object_mut().unwrap().remove("request_context");
            }
            let bytes = body.to_string().into_bytes();
            let want = native.handle("POST", path, &bytes, now);
            let got = c.send("POST", path, &[], &bytes);
            assert_eq!(
                (got.status, String::from_utf8_lossy(&got.body)),
                (want.status, String::from_utf8_lossy(&want.body)),
                "{path} {ids:?}"
            );
        }
    }
    assert_eq!(c.post("/predict", &predict_body([1, 2, 3, 4])).status, 413);
    drop(w);

    let w = Workerd::start_with(&store, 50, &[("VERGE_MAX_CELLS", "lots")]);
    let a = w.client().get("/healthz");
    assert_eq!(a.status, 503, "{a:?}");
    let message = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("MAX_CELLS"), "{message}");
    drop(w);
}

/// The signed layout `verge publish --sign-key` writes: both signatures in
/// the manifest (and `.sig` files beside the artifacts).
fn publish_signed(dir: &Path, p: &Pair, key: &SigningKey, previous: Option<PublishedPair>) {
    let pair = signed(p, key);
    write_file(dir, &format!("bundles/{}.bin", p.bundle_id), &p.bundle);
    write_file(
        dir,
        &format!("snapshots/{}.bin", p.snapshot_id),
        &p.snapshot,
    );
    let manifest = PublishManifest {
        current: pair,
        previous,
    };
    write_file(dir, "manifest.json", &manifest.to_json());
}

fn signed(p: &Pair, key: &SigningKey) -> PublishedPair {
    let (b, s) = (
        ContentId::parse_hex(&p.bundle_id).unwrap(),
        ContentId::parse_hex(&p.snapshot_id).unwrap(),
    );
    PublishedPair {
        bundle: b,
        snapshot: s,
        bundle_signature: Some(key.sign(ArtifactKind::Bundle, b)),
        snapshot_signature: Some(key.sign(ArtifactKind::Snapshot, s)),
        more_bundles: Vec::new(),
        deltas: Vec::new(),
        shards: Vec::new(),
    }
}

/// With `PUBLIC_KEY` set, the worker serves and accepts only pairs signed by
/// that key: unsigned or foreign-signed manifests and uploads are refused and
/// the served pair stays live; `POST /admin/rollback` swaps back (and forth),
/// checking the pair it returns to.
#[test]
fn public_key_refuses_unsigned_pairs_and_rollback_swaps_back() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let key = SigningKey::from_seed(&[0x42; 32]);
    let stranger = SigningKey::from_seed(&[0x43; 32]);
    let public = key.public_key().to_string();
    let (a, b, c) = (pair(0), pair(1), pair(2));

    // An unsigned pair under a public key: 503 naming the reason, not served.
    publish(&store, &a);
    let w = Workerd::start_with(&store, 20, &[("VERGE_PUBLIC_KEY", &public)]);
    let client = w.client();
    let r = client.get("/healthz");
    assert_eq!(r.status, 503, "{r:?}");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("unsigned"), "{message}");

    publish_signed(&store, &a, &key, None);
    wait_healthy(&w);
    let served = |c: &Client| ids(&c.post("/predict", &predict_body([1])));
    let pair_a = (a.bundle_id.clone(), a.snapshot_id.clone());
    let pair_b = (b.bundle_id.clone(), b.snapshot_id.clone());
    assert_eq!(served(&client), pair_a);

    // A manifest naming a pair signed by another key: a keeps being served.
    publish_signed(&store, &b, &stranger, None);
    std::thread::sleep(StdDuration::from_millis(300));
    assert_eq!(served(&client), pair_a, "{}", w.logs());
    publish_signed(&store, &a, &key, None);

    // Uploads: unsigned, a bad signature header, a signature of another
    // artifact, and another key's signatures are all 400; a stays live.
    let mut body = b.bundle.clone();
    body.extend_from_slice(&b.snapshot);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let good = signed(&b, &key);
    let foreign = signed(&b, &stranger);
    let other = signed(&c, &key);
    let (bs, ss) = ("x-verge-bundle-signature", "x-verge-snapshot-signature");
    let hex = |s: Option<verge_core::artifact::signature::Signature>| s.unwrap().to_string();
    for (headers, why) in [
        (vec![], "unsigned"),
        (
            vec![(bs, "zz".to_string()), (ss, hex(good.snapshot_signature))],
            "128 hex digits",
        ),
        (
            vec![
                (bs, hex(other.bundle_signature)),
                (ss, hex(good.snapshot_signature)),
            ],
            "does not verify",
        ),
        (
            vec![
                (bs, hex(foreign.bundle_signature)),
                (ss, hex(foreign.snapshot_signature)),
            ],
            "does not verify",
        ),
        (vec![(bs, hex(good.bundle_signature))], "unsigned"),
    ] {
        let mut h: Vec<(&str, &str)> = vec![("authorization", &auth)];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let r = client.send("PUT", "/admin/artifacts", &h, &body);
        assert_eq!(r.status, 400, "{why}: {r:?}");
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(why), "{why}: {m}");
        assert_eq!(served(&client), pair_a);
    }
    let r = client.send(
        "PUT",
        "/admin/artifacts",
        &[
            ("authorization", &auth),
            (bs, &hex(good.bundle_signature)),
            (ss, &hex(good.snapshot_signature)),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(served(&client), pair_b);
    let manifest =
        PublishManifest::parse(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.current, good);
    assert_eq!(manifest.previous, Some(signed(&a, &key)));
    assert_eq!(
        std::fs::read_to_string(store.join(format!("bundles/{}.sig", b.bundle_id))).unwrap(),
        format!("{}\n", hex(good.bundle_signature))
    );

    // Rollback: refused without the token or with the wrong method; swaps
    // back to a, then forward to b.
    let r = client.send("POST", "/admin/rollback", &[], b"");
    assert_eq!(r.status, 401, "{r:?}");
    let r = client.send("GET", "/admin/rollback", &[("authorization", &auth)], b"");
    assert_eq!(r.status, 405, "{r:?}");
    for want in [&pair_a, &pair_b] {
        let r = client.send("POST", "/admin/rollback", &[("authorization", &auth)], b"");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["published"]["bundle_id"], want.0.as_str());
        assert_eq!(&served(&client), want);
    }
    // A rollback target that no longer verifies is refused; b stays.
    let mut tampered = manifest;
    tampered.previous = Some(signed(&a, &stranger));
    write_file(&store, "manifest.json", &tampered.to_json());
    let r = client.send("POST", "/admin/rollback", &[("authorization", &auth)], b"");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(served(&client), pair_b);
    // No previous pair at all: 409.
    publish_signed(&store, &b, &key, None);
    let r = client.send("POST", "/admin/rollback", &[("authorization", &auth)], b"");
    assert_eq!(r.status, 409, "{r:?}");
    drop(w);
}

/// Without `VERGE_ADMIN_TOKEN` (workerd binds the unset variable as `null`)
/// the admin routes answer 404 and everything else keeps working.
#[test]
fn admin_routes_are_off_without_a_token() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let a = pair(0);
    publish(&store, &a);
    let w = Workerd::start_with(&store, 50, &[("VERGE_ADMIN_TOKEN", "")]);
    wait_healthy(&w);
    let c = w.client();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    for (method, path) in [("PUT", "/admin/artifacts"), ("POST", "/admin/rollback")] {
        let r = c.send(method, path, &[("authorization", &auth)], b"");
        assert_eq!(r.status, 404, "{method} {path}: {r:?}");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("off")
        );
    }
    assert_eq!(
        ids(&c.post("/predict", &predict_body([1]))),
        (a.bundle_id.clone(), a.snapshot_id.clone())
    );
    drop(w);
}

/// Latency of single-entity and 100-entity predictions through workerd, from
/// one keep-alive client on 127.0.0.1 (so it measures the worker, not queueing).
#[test]
#[ignore = "load figures: run with --ignored --nocapture"]
fn load_figures() {
    let Some((_dir, store)) = artifact_store() else {
        return;
    };
    let p = pair(0);
    publish(&store, &p);
    let w = Workerd::start(&store, 1000);
    wait_healthy(&w);
    let requests: usize = std::env::var("VERGE_LOAD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let c = w.client();
    for (name, batch) in [("single entity", 1i64), ("100 entities", 100)] {
        let bodies: Vec<Vec<u8>> = (0..64)
            .map(|k| {
                let start = (k * 31) % (ENTITIES - batch);
                predict_body(start..start + batch).to_string().into_bytes()
            })
            .collect();
        for body in bodies.iter().cycle().take(500) {
            assert_eq!(c.send("POST", "/predict", &[], body).status, 200);
        }
        let mut times = Vec::with_capacity(requests);
        for body in bodies.iter().cycle().take(requests) {
            let t = Instant::now();
            let a = c.send("POST", "/predict", &[], body);
            times.push(t.elapsed());
            assert_eq!(a.status, 200);
        }
        times.sort();
        let q = |f: f64| times[((times.len() as f64 * f) as usize).min(times.len() - 1)];
        println!(
            "workerd /predict {name}: {requests} requests, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            q(0.50).as_secs_f64() * 1e3,
            q(0.99).as_secs_f64() * 1e3,
            q(1.0).as_secs_f64() * 1e3,
        );
    }
    drop(w);
}
