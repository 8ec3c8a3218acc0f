//! Delta snapshots layered over a snapshot, natively and through the raw ABI
//! under wasmtime (`verge_add_delta`, which `verge serve` uses for pushed
//! rows): the same answers byte for byte, newer wins per key, the delta on a
//! complete tie, and a refused delta leaves the instance answering as before.
use std::sync::Arc;

use verge_core::Timestamp;
use verge_core::api::Api;
use verge_core::artifact::{Bundle, Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::online::Deployment;
use verge_core::{ContentId, Value};
use verge_host::wasm_runtime::{AbiError, codes};
use verge_test_kit::tiny::{self, Tiny};

use crate::support::module;

const DAY: i64 = 86_400_000_000;

/// A delta of `Tiny::plain`'s `stats`: key 1 at the base's time (a complete
/// tie), key 2 older than the base, key 3 newer, key 4 new.
fn delta_bytes(tiny: &Tiny) -> Vec<u8> {
    let defs = tiny.definitions();
    let view = defs.feature_view("stats").unwrap();
    let mut b = ViewBuilder::new(
        "stats",
        defs.join_keys(view),
        view.fields.clone(),
        view.ttl,
        false,
    );
    let rows = [
        (1, 10 * DAY, 41.0),
        (2, 9 * DAY + 50, 1.0),
        (3, 9 * DAY + 100, 42.0),
        (4, 9 * DAY + 10, 43.0),
    ];
    for (id, ts, temp) in rows {
        let values = [Value::Float64(temp), Value::Float64(70.0)];
        b.push_row(&tiny::key(id), Timestamp(ts), None, &values)
            .unwrap();
    }
    SnapshotBuilder::new(
        ContentId::of(b"registry"),
        Timestamp(0),
        Timestamp(10 * DAY),
    )
    .with_view(b)
    .finish()
    .unwrap()
}

const ONLINE: &str = r#"{"features":["stats:temp","stats:pulse"],"entities":{"id":[1,2,3,4,5]}}"#;
const PREDICT: &str =
    r#"{"entities":{"id":[1,2,3,4]},"request_context":{"ambient":[20,20,20,20]}}"#;

#[test]
fn deltas_answer_newer_wins_and_the_abi_matches_native_bytes() {
    let tiny = Tiny::plain();
    let (bundle, base, delta) = (
        tiny.bundle_bytes(),
        tiny.snapshot_bytes(),
        delta_bytes(&tiny),
    );
    let deployment = Deployment::new(
        Snapshot::load(base.clone()).unwrap(),
        vec![Bundle::load(&bundle).unwrap()],
    )
    .unwrap()
    .with_deltas(vec![Arc::new(Snapshot::load(delta.clone()).unwrap())])
    .unwrap();
    let native = Api::serving(deployment, tiny::limits());
    let mut rt = module().instantiate().unwrap();
    rt.set_limits(tiny::limits()).unwrap();
    rt.load_bundle(&bundle).unwrap();
    rt.load_snapshot(&base).unwrap();
    rt.add_delta(&delta).unwrap();
    for (path, body) in [("/get-online-features", ONLINE), ("/predict", PREDICT)] {
        let want = native.handle("POST", path, body.as_bytes(), tiny::now());
        assert_eq!(want.status, 200, "{}", String::from_utf8_lossy(&want.body));
        let (status, got) = rt
            .handle("POST", path, body.as_bytes(), tiny::now())
            .unwrap();
        assert_eq!((status, got), (want.status, want.body), "{path}");
    }
    let answer = native.handle(
        "POST",
        "/get-online-features",
        ONLINE.as_bytes(),
        tiny::now(),
    );
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let temps = &json["results"][1]["values"];
    // Key 1 ties (the delta wins), key 2's delta row is older (the base's
    // 37.5 stays), key 3's is newer, key 4 is only in the delta, 5 nowhere.
    assert_eq!(
        temps,
        &serde_json::json!([41.0, 37.5, 42.0, 43.0, null]),
        "{json}"
    );
}

#[test]
fn a_refused_delta_leaves_the_instance_as_it_was() {
    let tiny = Tiny::plain();
    let (bundle, base) = (tiny.bundle_bytes(), tiny.snapshot_bytes());
    let mut rt = module().instantiate().unwrap();
    let code = |e: anyhow::Error| e.downcast_ref::<AbiError>().map(|a| a.code);
    let early = rt.add_delta(&delta_bytes(&tiny)).unwrap_err();
    assert_eq!(code(early), Some(codes::ERR_NOT_LOADED));
    rt.load_bundle(&bundle).unwrap();
    rt.load_snapshot(&base).unwrap();
    let before = rt.handle(
        "POST",
        "/get-online-features",
        ONLINE.as_bytes(),
        tiny::now(),
    );
    let other = Tiny::plain().with_field("extra").snapshot_bytes();
    let refused = rt.add_delta(&other).unwrap_err();
    assert_eq!(code(refused), Some(codes::ERR_INCOMPATIBLE));
    let after = rt.handle(
        "POST",
        "/get-online-features",
        ONLINE.as_bytes(),
        tiny::now(),
    );
    assert_eq!(before.unwrap(), after.unwrap());
}
