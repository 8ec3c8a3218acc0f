//! The online path end to end in the core: definitions → fitted pipeline → bundle
//! bytes + snapshot bytes → Predictor, checked against the pipeline run by hand,
//! on the test kit's plain tiny deployment.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::FeatureRef;
use verge_core::online::{FeatureStatus, Predictor, get_online_features};
use verge_core::{Error, KeyPart, Timestamp, Value};
use verge_test_kit::tiny::{Tiny, now};

fn predictor() -> Predictor {
    Tiny::plain().predictor()
}

#[test]
fn predict_equals_the_pipeline_on_the_same_values() {
    let p = predictor();
    let out = p
        .predict(&[KeyPart::Int64(1)], &[Value::Float64(38.25)], now())
        .unwrap();
    let statuses: Vec<_> = out.features.iter().map(|f| f.status).collect();
    assert_eq!(statuses, [FeatureStatus::Present; 3]);
    assert_eq!(
        out.features[2].value,
        Value::Float64(0.75),
        "on-demand: max(39 - 38.25, 0)"
    );
    let by_hand = p
        .bundle()
        .contents()
        .require_model()
        .unwrap()
        .pipeline
        .predict(&[
            Value::Float64(39.0),
            Value::Float64(80.0),
            Value::Float64(0.75),
        ])
        .unwrap();
    assert_eq!(out.prediction, by_hand);
    assert_eq!(
        p.score(&[
            Value::Float64(39.0),
            Value::Float64(80.0),
            Value::Float64(0.75)
        ])
        .unwrap(),
        by_hand
    );
    assert_eq!(out.bundle_id, p.bundle().id());
    assert_eq!(out.snapshot_id, p.snapshot().id());
}

#[test]
fn statuses_follow_feast() {
    let p = predictor();
    let null = p.read(&[KeyPart::Int64(2)], &[Value::Null], now()).unwrap();
    assert_eq!(null[1].status, FeatureStatus::NullValue);
    assert_eq!(
        null[2].status,
        FeatureStatus::NullValue,
        "null request value propagates"
    );
    let missing = p
        .read(&[KeyPart::Int64(99)], &[Value::Float64(1.0)], now())
        .unwrap();
    assert!(
        missing[..2]
            .iter()
            .all(|f| f.status == FeatureStatus::NotFound && f.value.is_null())
    );
    let stale = p
        .read(&[KeyPart::Int64(3)], &[Value::Float64(1.0)], now())
        .unwrap();
    assert_eq!(stale[0].status, FeatureStatus::OutsideMaxAge);
    assert_eq!(
        stale[0].value,
        Value::Null,
        "a stale value is treated as missing"
    );
    // Exactly ttl old is still fresh: the window is inclusive, as offline.
    let edge = p
        .read(
            &[KeyPart::Int64(3)],
            &[Value::Float64(1.0)],
            Timestamp(now().as_micros() - 1),
        )
        .unwrap();
    assert_eq!(edge[0].status, FeatureStatus::Present);
    // A row from after `now` is not visible, as offline (`event_ts <= t`),
    // whatever the ttl; at exactly its event time it is.
    let fresh = p
        .read(&[KeyPart::Int64(1)], &[Value::Float64(1.0)], now())
        .unwrap();
    assert_eq!(fresh[0].status, FeatureStatus::Present);
    let event = fresh[0].event_ts.unwrap();
    let at_event = p
        .read(&[KeyPart::Int64(1)], &[Value::Float64(1.0)], event)
        .unwrap();
    assert_eq!(at_event[0].status, FeatureStatus::Present);
    let before = p
        .read(
            &[KeyPart::Int64(1)],
            &[Value::Float64(1.0)],
            Timestamp(event.as_micros() - 1),
        )
        .unwrap();
    assert_eq!(before[0].status, FeatureStatus::OutsideMaxAge);
    assert_eq!(
        before[0].value,
        Value::Null,
        "a future value is treated as missing"
    );
    // A missing entity still predicts: the imputer fills what the snapshot lacks.
    assert!(
        p.predict(&[KeyPart::Int64(99)], &[Value::Float64(1.0)], now())
            .is_ok()
    );
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let p = predictor();
    assert!(matches!(
        p.read(&[KeyPart::String("1".into())], &[Value::Null], now()),
        Err(Error::Request(_))
    ));
    assert!(matches!(
        p.read(&[], &[Value::Null], now()),
        Err(Error::Request(_))
    ));
    assert!(matches!(
        p.read(&[KeyPart::Int64(1)], &[], now()),
        Err(Error::Request(_))
    ));
    assert!(matches!(
        p.read(&[KeyPart::Int64(1)], &[Value::String("hot".into())], now()),
        Err(Error::Request(_))
    ));
    assert!(p.score(&[Value::Float64(1.0)]).is_err());
}

#[test]
fn incompatible_pairs_are_refused() {
    let bundle = Bundle::load(&Tiny::plain().bundle_bytes()).unwrap();
    let other = Tiny::plain().with_field("extra").snapshot_bytes();
    let err = Predictor::new(bundle, Snapshot::load(other).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(err.to_string().contains("its fields differ"), "{err}");
}

#[test]
fn feast_shaped_reads_straight_from_a_snapshot() {
    let snapshot = Snapshot::load(Tiny::plain().snapshot_bytes()).unwrap();
    let refs = [FeatureRef::parse("stats:pulse").unwrap()];
    let entities = vec![(
        "id".to_string(),
        vec![KeyPart::Int64(1), KeyPart::Int64(2), KeyPart::Int64(5)],
    )];
    let cols = get_online_features(&snapshot, &refs, &entities, now()).unwrap();
    let statuses: Vec<_> = cols[0].values.iter().map(|v| v.status).collect();
    assert_eq!(
        statuses,
        [
            FeatureStatus::Present,
            FeatureStatus::NullValue,
            FeatureStatus::NotFound
        ]
    );
    let unknown = [FeatureRef::parse("stats:nope").unwrap()];
    assert!(matches!(
        get_online_features(&snapshot, &unknown, &entities, now()),
        Err(Error::Unknown { .. })
    ));
}

proptest! {
    #[test]
    fn bundle_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(Bundle::load(&bytes).is_err());
    }

    /// Every flipped bit is refused, except one that turns the header's
    /// version into another this build reads (3 into 2: version 3 only added
    /// types), which must then read as the very same bundle.
    #[test]
    fn damaged_bundles_are_refused(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = Tiny::plain().bundle_bytes();
        let original = Bundle::load(&bytes).map(|b| b.id()).ok();
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        let readable = verge_core::artifact::OLDEST_READABLE..=verge_core::artifact::FORMAT_VERSION;
        if (4..6).contains(&at) && readable.contains(&version) {
            prop_assert_eq!(Bundle::load(&bytes).map(|b| b.id()).ok(), original);
        } else {
            prop_assert!(Bundle::load(&bytes).is_err());
        }
    }

    #[test]
    fn truncated_bundles_are_refused(cut in any::<prop::sample::Index>()) {
        let bytes = Tiny::plain().bundle_bytes();
        let cut = cut.index(bytes.len());
        let truncated = matches!(Bundle::load(&bytes[..cut]), Err(Error::Truncated { .. }));
        prop_assert!(truncated);
    }
}

/// Bundle bytes are deterministic: the same inputs give the same id.
#[test]
fn bundles_are_content_addressed() {
    let a = Bundle::load(&Tiny::plain().bundle_bytes()).unwrap();
    let b = Bundle::load(&Tiny::plain().bundle_bytes()).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.contents().features.len(), 3);
}

mod api {
    use super::*;
    use serde_json::{Value as Json, json};
    use verge_core::api::{Api, Limits};

    fn call(api: &Api, method: &str, path: &str, body: Json) -> (u16, Json) {
        let r = api.handle(method, path, body.to_string().as_bytes(), now());
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    fn api() -> Api {
        Api::new(
            predictor(),
            Limits {
                max_body_bytes: 4096,
                max_entities: 3,
                ..Limits::default()
            },
        )
    }

    #[test]
    fn get_online_features_has_feasts_shape() {
        let (status, body) = call(
            &api(),
            "POST",
            "/get-online-features",
            json!({"features": ["stats:pulse", "derived:excess"], "entities": {"id": [1, 2, 99]}, "request_context": {"ambient": [38.5, null, 1]}}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["metadata"]["feature_names"],
            json!(["id", "pulse", "excess"])
        );
        assert_eq!(body["results"][0]["values"], json!([1, 2, 99]));
        assert_eq!(body["results"][1]["values"], json!([80.0, null, null]));
        assert_eq!(
            body["results"][1]["statuses"],
            json!(["PRESENT", "NULL_VALUE", "NOT_FOUND"])
        );
        assert_eq!(
            body["results"][1]["event_timestamps"][2],
            json!("1970-01-01T00:00:00Z")
        );
        assert_eq!(body["results"][2]["values"], json!([0.5, null, null]));
    }

    #[test]
    fn feature_service_and_full_names() {
        let (status, body) = call(
            &api(),
            "POST",
            "/get-online-features",
            json!({"feature_service": "svc", "full_feature_names": true, "entities": {"id": [1], "ambient": [30]}}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["metadata"]["feature_names"],
            json!(["id", "stats__temp", "stats__pulse", "derived__excess"])
        );
    }

    #[test]
    fn predict_returns_probabilities_and_ids() {
        let api = api();
        let (status, body) = call(
            &api,
            "POST",
            "/predict",
            json!({"entities": {"id": [1]}, "request_context": {"ambient": [38.25]}}),
        );
        assert_eq!(status, 200, "{body}");
        let by_hand = api
            .predictor()
            .predict(&[KeyPart::Int64(1)], &[Value::Float64(38.25)], now())
            .unwrap();
        let verge_core::pipeline::Prediction::Classes { probabilities, .. } = by_hand.prediction
        else {
            panic!()
        };
        assert_eq!(
            body["predictions"][0]["probabilities"],
            json!(probabilities)
        );
        assert_eq!(
            body["bundle_id"],
            json!(api.predictor().bundle().id().to_string())
        );
        assert_eq!(body["predictions"][0]["entity"], json!({"id": 1}));
    }

    #[test]
    fn an_unanswerable_row_fails_alone() {
        // Standard scaling divides `excess` by its training spread (about 0.5), so a
        // finite ambient of -1.7e308 scales past f64::MAX: that row has no answer.
        let tiny = Tiny {
            scale: verge_core::definition::Scaling::Standard,
            select_k_best: None,
            ..Tiny::plain()
        };
        let api = Api::new(tiny.predictor(), Limits::default());
        let predict = |ids: Json, ambient: Json| {
            call(
                &api,
                "POST",
                "/predict",
                json!({"entities": {"id": ids}, "request_context": {"ambient": ambient}}),
            )
        };
        let (status, body) = predict(json!([1, 1, 1]), json!([20.0, -1.7e308, 30.0]));
        assert_eq!(status, 200, "{body}");
        let alone = |id: i64, ambient: f64| {
            predict(json!([id]), json!([ambient])).1["predictions"][0].clone()
        };
        assert_eq!(body["predictions"][0], alone(1, 20.0));
        assert_eq!(body["predictions"][2], alone(1, 30.0));
        let bad = &body["predictions"][1];
        assert_eq!(bad["entity"], json!({"id": 1}));
        let message = bad["error"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("row 1: ") && message.contains("`derived:excess`"),
            "{bad}"
        );
        assert!(
            bad.get("label").is_none() && bad.get("probabilities").is_none(),
            "{bad}"
        );
        assert_eq!(bad["features"]["values"][2], json!(1.7e308), "{bad}");
        // Alone, the same row is a 200 with its error too.
        let (status, body) = predict(json!([1]), json!([-1.7e308]));
        assert_eq!(status, 200, "{body}");
        assert!(body["predictions"][0]["error"].is_string(), "{body}");
    }

    #[test]
    fn a_tiny_divisor_still_gets_a_prediction() {
        // The issue's repro: 39 / 1e-300 reaches Gaussian NB as 3.9e301, whose
        // squared distance to every class overflows; it answered 500 for the batch.
        let tiny = Tiny {
            excess: "temp / ambient",
            select_k_best: None,
            ..Tiny::plain()
        };
        let api = Api::new(tiny.predictor(), Limits::default());
        let (status, body) = call(
            &api,
            "POST",
            "/predict",
            json!({"entities": {"id": [1, 1]}, "request_context": {"ambient": [1e-300, 20]}}),
        );
        assert_eq!(status, 200, "{body}");
        for prediction in body["predictions"].as_array().unwrap() {
            let p: Vec<f64> = serde_json::from_value(prediction["probabilities"].clone()).unwrap();
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{prediction}");
        }
    }

    #[test]
    fn cells_past_the_limit_get_413() {
        let api = Api::new(
            predictor(),
            Limits {
                max_cells: 10,
                ..Limits::default()
            },
        );
        let status = |path: &str, body: Json| call(&api, "POST", path, body);
        // /predict holds the id and the 3 model inputs per row: 2 rows are 8 cells, 3 are 12.
        assert_eq!(
            status("/predict", json!({"entities": {"id": [1, 2]}})).0,
            200
        );
        let (code, body) = status("/predict", json!({"entities": {"id": [1, 2, 3]}}));
        assert_eq!(code, 413, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("3 entity rows × 4 columns = 12 cells")
                && message.contains("the limit is 10")
                && message.contains("--max-cells"),
            "{message}"
        );
        // Service features are read together: 2 rows × (id + 1 answered + 3 read) = 10
        // cells, and a second answered feature makes 12.
        let online = |features: Json| {
            status(
                "/get-online-features",
                json!({"features": features, "entities": {"id": [1, 2]}}),
            )
            .0
        };
        assert_eq!(online(json!(["stats:pulse"])), 200);
        assert_eq!(online(json!(["stats:pulse", "derived:excess"])), 413);
    }

    #[test]
    fn bad_requests_get_clear_4xx() {
        let api = api();
        let cases = [
            ("POST", "/predict", "{not json", 400, "malformed JSON"),
            ("POST", "/predict", "[1]", 400, "JSON object"),
            (
                "POST",
                "/predict",
                r#"{"entities": {"id": ["1"]}}"#,
                400,
                "join key `id` is int64",
            ),
            (
                "POST",
                "/predict",
                r#"{"entities": {"id": [1, 2, 3, 4]}}"#,
                413,
                "limit is 3",
            ),
            (
                "POST",
                "/predict",
                r#"{"entities": {"nope": [1]}}"#,
                400,
                "unknown entity key",
            ),
            (
                "POST",
                "/predict",
                r#"{"entities": {"id": [1], "ambient": [1, 2]}}"#,
                400,
                "other columns have",
            ),
            (
                "POST",
                "/predict",
                r#"{"entities": {"id": []}}"#,
                400,
                "no rows",
            ),
            (
                "POST",
                "/predict",
                r#"{"entities": {"id": [1]}, "extra": 1}"#,
                400,
                "unknown field `extra`",
            ),
            (
                "POST",
                "/get-online-features",
                r#"{"features": ["stats:nope"], "entities": {"id": [1]}}"#,
                400,
                "unknown feature",
            ),
            (
                "POST",
                "/get-online-features",
                r#"{"feature_service": "other", "entities": {"id": [1]}}"#,
                400,
                "serves: svc",
            ),
            (
                "POST",
                "/get-online-features",
                r#"{"features": [1], "entities": {"id": [1]}}"#,
                400,
                "view:field",
            ),
            ("GET", "/predict", "", 405, "not allowed"),
            ("GET", "/nowhere", "", 404, "no route"),
        ];
        for (method, path, body, status, needle) in cases {
            let r = api.handle(method, path, body.as_bytes(), now());
            let text = String::from_utf8(r.body).unwrap();
            assert_eq!(r.status, status, "{method} {path} {body}: {text}");
            assert!(text.contains(needle), "{body}: {text}");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(
            api.handle("POST", "/predict", deep.as_bytes(), now())
                .status,
            413
        );
        let big = format!(
            "{{\"entities\": {{\"id\": [1]}}, \"now\": \"{}\"}}",
            "x".repeat(5000)
        );
        assert_eq!(
            api.handle("POST", "/predict", big.as_bytes(), now()).status,
            413
        );
    }

    #[test]
    fn deep_json_is_refused_not_a_stack_overflow() {
        let api = Api::new(
            predictor(),
            Limits {
                max_body_bytes: 1 << 20,
                max_entities: 3,
                ..Limits::default()
            },
        );
        let deep = "[".repeat(100_000);
        assert_eq!(
            api.handle("POST", "/predict", deep.as_bytes(), now())
                .status,
            400
        );
    }

    #[test]
    fn health_and_version() {
        let api = api();
        assert_eq!(
            call(&api, "GET", "/healthz", Json::Null),
            (200, json!({"status": "ok"}))
        );
        let (status, body) = call(&api, "GET", "/version", Json::Null);
        assert_eq!(status, 200);
        assert_eq!(
            body["snapshot_id"],
            json!(api.predictor().snapshot().id().to_string())
        );
    }
}
