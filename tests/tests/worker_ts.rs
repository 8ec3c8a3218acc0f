//! The TypeScript Worker (`examples/worker-ts`), built the way a Worker author
//! builds one: `@verge/runtime` installed from its npm tarball (`npm pack` of
//! `wasm/build-npm.sh`'s package), `src/index.ts` bundled by esbuild, served by
//! the real `workerd` on 127.0.0.1 over a directory in the publish layout.
//! Every request of the HTTP contract gets the native core's status and
//! bytes; a newly published pair is picked up; a public key refuses an
//! unsigned pair with a 503, not a crash.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use verge_core::Timestamp;
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::{Deployment, Predictor};
use verge_test_kit::delta::{delta_to, edited};
use verge_test_kit::tiny::Tiny;
use verge_test_kit::workerd::{Workerd, workerd_bin};
use verge_test_kit::workspace;

const NOW: &str = "1970-01-11T00:00:00Z";

/// Builds the npm package and the Worker once per test binary.
fn build() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let pack = Command::new(workspace().join("wasm/build-npm.sh"))
            .arg(out.path())
            .output()
            .expect("run wasm/build-npm.sh");
        assert!(
            pack.status.success(),
            "wasm/build-npm.sh failed:\n{}",
            String::from_utf8_lossy(&pack.stderr)
        );
        let tarball = String::from_utf8(pack.stdout).unwrap();
        let status = Command::new(workspace().join("examples/worker-ts/build.sh"))
            .arg(tarball.trim())
            .status()
            .expect("run examples/worker-ts/build.sh");
        assert!(status.success(), "examples/worker-ts/build.sh failed");
        // The tarball was copied into node_modules; the temp dir may go.
        drop(out);
    });
}

fn start(artifacts: &Path, env: &[(&str, &str)]) -> Workerd {
    build();
    Workerd::start_config(
        &workspace().join("examples/worker-ts/config.capnp"),
        artifacts,
        50,
        env,
    )
}

/// The kit's tiny deployment with many horses, published into `dir`; its native API.
fn publish(dir: &Path, variant: u32) -> (Api, String) {
    let tiny = Tiny::many(variant);
    let (bundle, snapshot) = (tiny.bundle_bytes(), tiny.snapshot_bytes());
    let b = Bundle::load(&bundle).unwrap();
    let s = Snapshot::load(snapshot.clone()).unwrap();
    let (bid, sid) = (b.id().to_string(), s.id().to_string());
    let write = |rel: &str, bytes: &[u8]| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = dir.join(".tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    write(&format!("bundles/{bid}.bin"), &bundle);
    write(&format!("snapshots/{sid}.bin"), &snapshot);
    write(
        "manifest.json",
        json!({"bundle": bid, "snapshot": sid})
            .to_string()
            .as_bytes(),
    );
    (
        Api::new(Predictor::new(b, s).unwrap(), Limits::default()),
        bid,
    )
}

/// Waits (bounded) until `/version` names `bundle`.
fn wait_serving(w: &Workerd, bundle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = w.client();
    while Instant::now() < deadline {
        let a = c.get("/version");
        if a.status == 200 && a.json()["bundle_id"] == bundle {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("workerd never served {bundle}:\n{}", w.logs());
}

fn predict_body(ids: impl IntoIterator<Item = i64>) -> Vec<u8> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let ambient: Vec<f64> = ids.iter().map(|&i| 15.0 + (i % 10) as f64).collect();
    json!({"entities": {"id": ids}, "request_context": {"ambient": ambient}, "now": NOW})
        .to_string()
        .into_bytes()
}

#[test]
fn the_typescript_worker_answers_as_the_native_core() {
    if workerd_bin().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("artifacts");
    std::fs::create_dir_all(&store).unwrap();
    let w = start(&store, &[("VERGE_PUBLIC_KEY", "")]);
    let c = w.client();
    let a = c.get("/healthz");
    assert_eq!(a.status, 503, "{a:?}\n{}", w.logs());
    assert!(a.text().contains("nothing is published"), "{}", a.text());

    let (api, bundle) = publish(&store, 0);
    wait_serving(&w, &bundle);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("GET", "/healthz", vec![]),
        ("GET", "/version", vec![]),
        ("POST", "/predict", predict_body([1, 2, 17, 9, 99_999])),
        ("POST", "/predict", predict_body(0..100)),
        (
            "POST",
            "/get-online-features",
            json!({"features": ["stats:temp", "stats:pulse", "derived:excess"], "entities": {"id": [1, 9, 17, 5000]}, "request_context": {"ambient": [20.0, 21.0, null, 1.0]}, "now": NOW}).to_string().into_bytes(),
        ),
        ("POST", "/predict", b"{\"entities\": {\"id\": [1,".to_vec()),
        (
            "POST",
            "/get-online-features",
            json!({"features": ["stats:nope"], "entities": {"id": [1]}, "now": NOW}).to_string().into_bytes(),
        ),
        ("POST", "/predict", predict_body(0..1001)),
        ("GET", "/predict", vec![]),
        ("GET", "/nope", vec![]),
    ];
    let mut statuses = Vec::new();
    for (method, path, body) in &cases {
        let got = c.send(method, path, &[], body);
        let want = api.handle(method, path, body, Timestamp(0));
        assert_eq!(
            (got.status, String::from_utf8_lossy(&got.body)),
            (want.status, String::from_utf8_lossy(&want.body)),
            "{method} {path}\n{}",
            w.logs()
        );
        assert_eq!(got.content_type(), "application/json");
        statuses.push(got.status);
    }
    for s in [200, 400, 404, 405, 413] {
        assert!(statuses.contains(&s), "no case answered {s}: {statuses:?}");
    }

    // A newly published pair is picked up whole.
    let (api, bundle) = publish(&store, 1);
    wait_serving(&w, &bundle);
    let body = predict_body([3, 4, 5]);
    let got = c.send("POST", "/predict", &[], &body);
    assert_eq!(
        got.body,
        api.handle("POST", "/predict", &body, Timestamp(0)).body
    );

    // A delta chain over that pair: 1% of the keys newer, layered by addDelta.
    let tiny = Tiny::many(1);
    let base = Snapshot::load(tiny.snapshot_bytes()).unwrap();
    let changed = edited(&base, |id| (id % 100 == 1).then_some((1, 50.0)));
    let delta = delta_to(&base, &[], &changed);
    let did = Snapshot::load(delta.clone()).unwrap().id().to_string();
    let sid = base.id().to_string();
    std::fs::write(store.join(format!("snapshots/{did}.bin")), &delta).unwrap();
    let manifest = json!({"bundle": bundle, "snapshot": sid, "deltas": [{"snapshot": did}]});
    std::fs::write(store.join(".tmp"), manifest.to_string()).unwrap();
    std::fs::rename(store.join(".tmp"), store.join("manifest.json")).unwrap();
    let layered = Api::serving(
        Deployment::new(base, vec![Bundle::load(&tiny.bundle_bytes()).unwrap()])
            .unwrap()
            .with_deltas(vec![Arc::new(Snapshot::load(delta).unwrap())])
            .unwrap(),
        Limits::default(),
    );
    let body = predict_body(0..100);
    let want = layered.handle("POST", "/predict", &body, Timestamp(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = c.send("POST", "/predict", &[], &body);
        if got.body == want.body {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the delta was never served:\n{}",
            w.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(w);

    // With a public key, an unsigned pair is never served: a JSON 503.
    let hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let w = start(&store, &[("VERGE_PUBLIC_KEY", hex)]);
    let a = w.client().get("/version");
    assert_eq!(a.status, 503, "{}", a.text());
    assert!(a.text().contains("is unsigned"), "{}", a.text());
}
