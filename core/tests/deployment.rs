//! Deployments in the core: one snapshot and several bundles behind one
//! [`Api`], each request answered by the bundle it names, and the rules that
//! keep that choice unambiguous.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use serde_json::{Value as Json, json};
use verge_core::Error;
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, ServiceFeature, Snapshot};
use verge_core::online::Deployment;
use verge_test_kit::tiny::{Tiny, now};

fn bundle(model: Option<&str>) -> Bundle {
    Bundle::load(&Tiny::plain().bundle_bytes_for(model)).unwrap()
}

fn snapshot() -> Snapshot {
    Snapshot::load(Tiny::plain().snapshot_bytes()).unwrap()
}

/// A feature bundle of a second service, `vitals`: the view fields of `svc`
/// without its on-demand feature.
fn vitals() -> Bundle {
    let mut contents = bundle(None).contents().clone();
    contents.service = "vitals".into();
    contents
        .features
        .retain(|f| matches!(f, ServiceFeature::View { .. }));
    contents.request.clear();
    Bundle::load(&contents.to_bytes().unwrap()).unwrap()
}

fn api(bundles: Vec<Bundle>) -> Api {
    Api::serving(
        Deployment::new(snapshot(), bundles).unwrap(),
        Limits::default(),
    )
}

fn call(api: &Api, path: &str, body: &Json) -> (u16, Json) {
    let r = api.handle("POST", path, body.to_string().as_bytes(), now());
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

fn message(answer: &Json) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[test]
fn predict_picks_the_named_model_and_needs_a_name_among_several() {
    let (m, m2) = (bundle(Some("m")), bundle(Some("m2")));
    let (m_id, m2_id) = (m.id().to_string(), m2.id().to_string());
    let api = api(vec![m, m2, bundle(None)]);
    let entities = json!({"id": [1], "ambient": [38.25]});

    let (status, answer) = call(&api, "/predict", &json!({"entities": entities}));
    assert_eq!(status, 400, "{answer}");
    assert!(
        message(&answer).contains("give `model`: one of m, m2"),
        "{answer}"
    );

    for (model, id) in [("m", &m_id), ("m2", &m2_id)] {
        let (status, answer) = call(
            &api,
            "/predict",
            &json!({"entities": entities, "model": model}),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["bundle_id"], json!(id), "{answer}");
    }

    let (status, answer) = call(
        &api,
        "/predict",
        &json!({"entities": entities, "model": "gbm"}),
    );
    assert_eq!(status, 400);
    assert!(
        message(&answer).contains("unknown model `gbm`; this deployment serves: m, m2"),
        "{answer}"
    );
}

#[test]
fn one_model_needs_no_name_and_a_feature_bundle_alone_cannot_predict() {
    let api_one = api(vec![bundle(None), bundle(Some("m"))]);
    let (status, answer) = call(&api_one, "/predict", &json!({"entities": {"id": [1]}}));
    assert_eq!(status, 200, "{answer}");

    let features_only = api(vec![bundle(None)]);
    let (status, answer) = call(
        &features_only,
        "/predict",
        &json!({"entities": {"id": [1]}}),
    );
    assert_eq!(status, 400);
    assert!(message(&answer).contains("no model"), "{answer}");
}

#[test]
fn each_feature_service_is_answered_by_its_own_bundle() {
    let api = api(vec![bundle(Some("m")), vitals()]);
    let (status, answer) = call(
        &api,
        "/get-online-features",
        &json!({"feature_service": "vitals", "entities": {"id": [1]}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["metadata"]["feature_names"],
        json!(["id", "temp", "pulse"])
    );

    let (status, answer) = call(
        &api,
        "/get-online-features",
        &json!({"feature_service": "svc", "entities": {"id": [1], "ambient": [38.25]}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["metadata"]["feature_names"],
        json!(["id", "temp", "pulse", "excess"])
    );
    assert_eq!(answer["results"][3]["values"], json!([0.75]), "{answer}");

    let (status, answer) = call(
        &api,
        "/get-online-features",
        &json!({"feature_service": "billing", "entities": {"id": [1]}}),
    );
    assert_eq!(status, 400);
    assert!(
        message(&answer)
            .contains("unknown feature service `billing`; this deployment serves: svc, vitals"),
        "{answer}"
    );
}

#[test]
fn a_feature_list_finds_the_bundle_that_computes_its_on_demand_features() {
    // The bundle computing `derived:excess` is not the first one.
    let api = api(vec![vitals(), bundle(Some("m"))]);
    let (status, answer) = call(
        &api,
        "/get-online-features",
        &json!({"features": ["stats:temp", "derived:excess"], "entities": {"id": [1], "ambient": [38.25]}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][2]["values"], json!([0.75]), "{answer}");

    let (status, answer) = call(
        &api,
        "/get-online-features",
        &json!({"features": ["stats:nope"], "entities": {"id": [1]}}),
    );
    assert_eq!(status, 400);
    assert!(
        message(&answer).contains("unknown feature `stats:nope`; view `stats` has: temp, pulse"),
        "{answer}"
    );
}

#[test]
fn version_lists_every_bundle_and_the_snapshot() {
    let bundles = vec![bundle(Some("m")), bundle(Some("m2")), vitals()];
    let ids: Vec<String> = bundles.iter().map(|b| b.id().to_string()).collect();
    let api = api(bundles);
    let answer: Json = serde_json::from_slice(&api.version()).unwrap();
    let listed: Vec<&str> = answer["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bundle_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(answer["bundles"][2]["model"], Json::Null);
    assert_eq!(answer["bundles"][2]["feature_service"], json!("vitals"));
    assert_eq!(
        answer["bundle_id"],
        json!(ids[0]),
        "the first bundle on top"
    );
    assert_eq!(
        answer["snapshot_id"],
        json!(api.deployment().snapshot().id().to_string())
    );
}

#[test]
fn bundles_share_one_snapshot() {
    let d = Deployment::new(snapshot(), vec![bundle(Some("m")), bundle(None), vitals()]).unwrap();
    let first = d.predictors()[0].shared_snapshot();
    assert!(
        d.predictors()
            .iter()
            .all(|p| Arc::ptr_eq(p.shared_snapshot(), first))
    );
    let swapped = d.with_snapshot(snapshot()).unwrap();
    assert!(!Arc::ptr_eq(swapped.shared_snapshot(), first));
    assert_eq!(swapped.bundles().count(), 3);
}

#[test]
fn ambiguous_deployments_are_refused() {
    let m = bundle(Some("m"));
    let twice = Deployment::new(snapshot(), vec![m.clone(), m.clone()]).unwrap_err();
    assert!(matches!(twice, Error::Request(_)), "{twice}");

    let mut other = m.contents().clone();
    other.registry_id = verge_core::ContentId::of(b"another registry");
    let other = Bundle::load(&other.to_bytes().unwrap()).unwrap();
    let same_model = Deployment::new(snapshot(), vec![m.clone(), other.clone()]).unwrap_err();
    assert!(
        format!("{same_model}").contains("two bundles hold model `m`"),
        "{same_model}"
    );

    let mut narrower = vitals().contents().clone();
    narrower.service = "svc".into();
    let narrower = Bundle::load(&narrower.to_bytes().unwrap()).unwrap();
    let differ = Deployment::new(snapshot(), vec![m.clone(), narrower]).unwrap_err();
    assert!(
        format!("{differ}").contains("define feature service `svc` differently"),
        "{differ}"
    );

    assert!(Deployment::new(snapshot(), vec![]).is_err());

    // Replacing a model keeps the others and swaps that one.
    let d = Deployment::new(snapshot(), vec![m, vitals()]).unwrap();
    let retrained = other;
    let d = d.with_bundle(retrained.clone()).unwrap();
    assert_eq!(d.bundles().count(), 2);
    assert_eq!(d.model(None).unwrap().bundle().id(), retrained.id());
}

#[test]
fn a_bundle_takes_the_place_of_the_one_it_replaces() {
    let (m, m2, features) = (bundle(Some("m")), bundle(Some("m2")), bundle(None));
    let mut retrained = m.contents().clone();
    retrained.registry_id = verge_core::ContentId::of(b"retrained");
    let retrained = Bundle::load(&retrained.to_bytes().unwrap()).unwrap();
    let ids = |v: &[Bundle]| v.iter().map(Bundle::id).collect::<Vec<_>>();
    let three = vec![m.clone(), m2.clone(), features.clone()];
    // In place: the first bundle stays first (the one faces describe).
    let placed = Deployment::place(three.clone(), retrained.clone(), |b| b);
    assert_eq!(
        ids(&placed),
        ids(&[retrained, m2.clone(), features.clone()])
    );
    // Replacing nothing: after the others.
    let two = vec![m.clone(), features.clone()];
    assert_eq!(
        ids(&Deployment::place(two, m2.clone(), |b| b)),
        ids(&[m.clone(), features.clone(), m2.clone()])
    );
    // The same bundle again replaces itself.
    assert_eq!(
        ids(&Deployment::place(three.clone(), m, |b| b)),
        ids(&three)
    );
}
