//! Published delta snapshots under the real Workers runtime: the Worker, built
//! by `examples/worker/build.sh` and served by `workerd` on 127.0.0.1, reads a
//! manifest whose `deltas` chain lies over its base snapshot, fetches each
//! delta through the `ARTIFACTS` binding (a workerd disk service), and
//! answers every request byte for byte as the native core over the same
//! layers, and with the values of the state the deltas were cut from. A chain
//! naming a missing, corrupt or unsigned delta is refused: a fresh isolate
//! answers 503 naming the file, a serving one keeps its chain.
//!
//! Needs `WORKERD_BIN` (`scripts/test` sets it); without it the tests say so
//! loudly and pass.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use serde_json::json;
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::ArtifactKind;
use verge_core::artifact::manifest::{PublishManifest, PublishedDelta, PublishedPair};
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Deployment;
use verge_test_kit::delta::{delta_to, edited};
use verge_test_kit::tiny::{self, Tiny};
use verge_test_kit::workerd::{Workerd, workerd_bin};

const NOW: &str = "1970-01-11T00:00:00Z";
const ADMIN_TOKEN: &str = "test-token-deltas";
/// The key whose value tells which state is served (fresh at [`NOW`]:
/// not a multiple of 17, which the fixture makes stale).
const PROBE: i64 = 100;

/// One workerd at a time in this binary (ports, and a 2-core machine).
static ONE: Mutex<()> = Mutex::new(());

fn write_file(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// An empty artifact store and the tiny deployment to publish into it, with
/// this binary's one-workerd-at-a-time lock held.
struct Fixture {
    _one: std::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    bundle: Vec<u8>,
    base_bytes: Vec<u8>,
    base: Snapshot,
}

impl Fixture {
    /// `None` when workerd is not installed (the test then passes, loudly).
    fn new(variant: u32) -> Option<Fixture> {
        workerd_bin()?;
        let one = ONE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("artifacts");
        std::fs::create_dir_all(&store).unwrap();
        let t = Tiny::many(variant);
        let (bundle, base_bytes) = (t.bundle_bytes(), t.snapshot_bytes());
        let base = Snapshot::load(base_bytes.clone()).unwrap();
        Some(Fixture {
            _one: one,
            _dir: dir,
            store,
            bundle,
            base_bytes,
            base,
        })
    }
}

/// Writes the artifacts and then the manifest naming `deltas` over the pair.
fn publish(
    store: &Path,
    bundle: &[u8],
    base: &[u8],
    deltas: &[Vec<u8>],
    key: Option<&SigningKey>,
) -> PublishedPair {
    let b = Bundle::load(bundle).unwrap().id();
    let s = Snapshot::load(base.to_vec()).unwrap().id();
    write_file(store, &format!("bundles/{b}.bin"), bundle);
    write_file(store, &format!("snapshots/{s}.bin"), base);
    let mut pair = PublishedPair::unsigned(b, s);
    for bytes in deltas {
        let id = Snapshot::load(bytes.clone()).unwrap().id();
        write_file(store, &format!("snapshots/{id}.bin"), bytes);
        pair.deltas.push(PublishedDelta {
            id,
            signature: key.map(|k| k.sign(ArtifactKind::Snapshot, id)),
        });
    }
    if let Some(k) = key {
        pair.bundle_signature = Some(k.sign(ArtifactKind::Bundle, b));
        pair.snapshot_signature = Some(k.sign(ArtifactKind::Snapshot, s));
    }
    let manifest = PublishManifest {
        current: pair.clone(),
        previous: None,
    };
    write_file(store, "manifest.json", &manifest.to_json());
    pair
}

/// The native API over `base` with `deltas` layered on, as the Worker must answer.
fn native(bundle: &[u8], base: &[u8], deltas: &[Vec<u8>]) -> Api {
    let deployment = Deployment::new(
        Snapshot::load(base.to_vec()).unwrap(),
        vec![Bundle::load(bundle).unwrap()],
    )
    .unwrap();
    let layered = deltas
        .iter()
        .map(|d| Arc::new(Snapshot::load(d.clone()).unwrap()))
        .collect();
    Api::serving(deployment.with_deltas(layered).unwrap(), Limits::default())
}

/// The requests compared: every entity in batches of 100 (predict and
/// online features), and a few single ones.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for start in (0..tiny::MANY).step_by(100) {
        let ids: Vec<i64> = (start..start + 100).collect();
        let ambient: Vec<f64> = ids.iter().map(|i| 20.0 + (*i % 5) as f64).collect();
        out.push((
            "/predict",
            json!({"entities": {"id": ids}, "request_context": {"ambient": ambient}, "now": NOW})
                .to_string()
                .into_bytes(),
        ));
        out.push((
            "/get-online-features",
            json!({"features": ["stats:temp", "stats:pulse"], "entities": {"id": ids}, "now": NOW})
                .to_string()
                .into_bytes(),
        ));
    }
    out
}

/// Polls until `path`'s answer satisfies `done` (bounded: 20 s).
fn wait_for(w: &Workerd, what: &str, done: impl Fn(u16, &str) -> bool) {
    let c = w.client();
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let a = c.post(
            "/get-online-features",
            &json!({"features": ["stats:temp"], "entities": {"id": [PROBE]}, "now": NOW}),
        );
        if done(a.status, &String::from_utf8_lossy(&a.body)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}: {a:?}\n{}",
            w.logs()
        );
        std::thread::sleep(StdDuration::from_millis(25));
    }
}

/// Every request answered by workerd equals `want`'s answer byte for byte.
fn assert_answers(w: &Workerd, want: &Api) {
    let c = w.client();
    for (path, body) in requests() {
        let got = c.send("POST", path, &[], &body);
        let expect = want.handle("POST", path, &body, Timestamp(0));
        assert_eq!(
            (got.status, String::from_utf8_lossy(&got.body)),
            (expect.status, String::from_utf8_lossy(&expect.body)),
            "{path} {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// Key [`PROBE`]'s `stats:temp` as served, for waiting on a swap.
fn temp_of_probe(body: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["results"][1]["values"][0].as_f64()
}

#[test]
fn the_worker_layers_published_deltas_and_answers_as_the_new_state() {
    let Some(Fixture {
        _one,
        _dir,
        store,
        bundle,
        base_bytes,
        base,
    }) = Fixture::new(0)
    else {
        return;
    };

    // Two changes after the base: 1% of the keys a microsecond later
    // ([`PROBE`] among them), then 5% of the keys (again [`PROBE`]).
    let first = edited(&base, |id| {
        (id % 100 == 0).then_some((1, 40.0 + id as f64 / 1e4))
    });
    let second = edited(&first, |id| {
        (id % 20 == 0).then_some((2, 41.0 + id as f64 / 1e4))
    });
    let d1 = delta_to(&base, &[], &first);
    let d2 = delta_to(&base, std::slice::from_ref(&d1), &second);
    // The deltas hold only what changed.
    let rows = |d: &[u8]| Snapshot::load(d.to_vec()).unwrap().table(0).unwrap().rows();
    assert_eq!(rows(&d1), (tiny::MANY as usize).div_ceil(100));
    assert_eq!(rows(&d2), (tiny::MANY as usize).div_ceil(20));

    publish(&store, &bundle, &base_bytes, &[], None);
    let w = Workerd::start(&store, 50, &[("VERGE_ADMIN_TOKEN", ADMIN_TOKEN)]);
    wait_for(&w, "serving the base", |s, _| s == 200);
    assert_answers(&w, &native(&bundle, &base_bytes, &[]));

    // Base + one delta, then base + two: the Worker follows the manifest.
    publish(
        &store,
        &bundle,
        &base_bytes,
        std::slice::from_ref(&d1),
        None,
    );
    wait_for(&w, "serving delta 1", |_, b| {
        temp_of_probe(b) == Some(40.0 + PROBE as f64 / 1e4)
    });
    let layered = native(&bundle, &base_bytes, std::slice::from_ref(&d1));
    assert_answers(&w, &layered);
    // ... which reads as the state the delta was cut from (answers name the
    // base snapshot, so the ids aside).
    let without_id = |body: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v.as_object_mut().unwrap().remove("snapshot_id");
        v
    };
    let whole = Api::serving(
        Deployment::new(first.clone(), vec![Bundle::load(&bundle).unwrap()]).unwrap(),
        Limits::default(),
    );
    for (path, body) in requests() {
        let (a, b) = (
            layered.handle("POST", path, &body, Timestamp(0)),
            whole.handle("POST", path, &body, Timestamp(0)),
        );
        assert_eq!((a.status, b.status), (200, 200));
        assert!(
            without_id(&a.body) == without_id(&b.body),
            "{path}: the layers and the whole state differ"
        );
    }
    let chain = [d1.clone(), d2.clone()];
    publish(&store, &bundle, &base_bytes, &chain, None);
    wait_for(&w, "serving delta 2", |_, b| {
        temp_of_probe(b) == Some(41.0 + PROBE as f64 / 1e4)
    });
    assert_answers(&w, &native(&bundle, &base_bytes, &chain));

    // A manifest naming a missing delta, then a corrupt one: the serving
    // isolate keeps its chain (and says why in its log).
    let good = native(&bundle, &base_bytes, &chain);
    let mut missing = publish(&store, &bundle, &base_bytes, &chain, None);
    missing.deltas.push(PublishedDelta {
        id: verge_core::ContentId([7; 32]),
        signature: None,
    });
    let m = PublishManifest {
        current: missing,
        previous: None,
    };
    write_file(&store, "manifest.json", &m.to_json());
    std::thread::sleep(StdDuration::from_millis(300));
    assert_answers(&w, &good);
    let d2_id = Snapshot::load(d2.clone()).unwrap().id();
    let mut corrupt = d2.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    publish(&store, &bundle, &base_bytes, &chain, None);
    write_file(&store, &format!("snapshots/{d2_id}.bin"), &corrupt);
    // The serving isolate already holds this chain; a fresh one must refuse it.
    drop(w);
    let fresh = Workerd::start(&store, 50, &[("VERGE_ADMIN_TOKEN", ADMIN_TOKEN)]);
    wait_for(&fresh, "refusing the corrupt delta", |s, b| {
        s == 503 && (b.contains(&d2_id.to_string()) || b.contains("hash"))
    });
    drop(fresh);
}

#[test]
fn under_a_public_key_every_delta_must_be_signed() {
    let Some(Fixture {
        _one,
        _dir,
        store,
        bundle,
        base_bytes,
        base,
    }) = Fixture::new(1)
    else {
        return;
    };
    let changed = edited(&base, |id| (id == PROBE).then_some((1, 45.0)));
    let d1 = delta_to(&base, &[], &changed);
    let key = SigningKey::from_seed(&[0x51; 32]);
    let public = key.public_key().to_string();
    let env = [
        ("VERGE_ADMIN_TOKEN", ADMIN_TOKEN),
        ("VERGE_PUBLIC_KEY", public.as_str()),
    ];

    // Signed base, unsigned delta: refused (503 in a fresh isolate).
    let mut pair = publish(
        &store,
        &bundle,
        &base_bytes,
        std::slice::from_ref(&d1),
        Some(&key),
    );
    pair.deltas[0].signature = None;
    let m = PublishManifest {
        current: pair,
        previous: None,
    };
    write_file(&store, "manifest.json", &m.to_json());
    let w = Workerd::start(&store, 50, &env);
    wait_for(&w, "refusing the unsigned delta", |s, b| {
        s == 503 && b.contains("is unsigned")
    });

    // Signed all through: served, with the delta's value.
    publish(
        &store,
        &bundle,
        &base_bytes,
        std::slice::from_ref(&d1),
        Some(&key),
    );
    wait_for(&w, "serving the signed delta", |_, b| {
        temp_of_probe(b) == Some(45.0)
    });
    assert_answers(&w, &native(&bundle, &base_bytes, std::slice::from_ref(&d1)));
}
