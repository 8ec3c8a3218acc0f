//! `Api::handle` against hostile requests: oversized bodies, deep JSON, huge
//! numbers, NaN and Infinity literals, invalid UTF-8, duplicate keys, wrong types
//! in every field, unknown names and too many entities. Each must get a 4xx with
//! a JSON error body naming the problem — never a panic, a 500 or a hang.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use verge_core::api::{Api, Limits, Response};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::online::Predictor;
use verge_test_kit::tiny as fixture;

fn post(api: &Api, path: &str, body: &[u8]) -> Response {
    let started = Instant::now();
    let response = api.handle("POST", path, body, fixture::now());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{path} took {:?} on a {}-byte body",
        started.elapsed(),
        body.len()
    );
    response
}

/// Asserts `response` is an error with `status` whose message contains `needle`.
#[track_caller]
fn assert_error(response: &Response, status: u16, needle: &str) {
    let json: Json = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(response.status, status, "{json}");
    assert_eq!(json["error"]["status"], status, "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "expected `{needle}` in: {message}"
    );
}

/// Both routes that take a body.
const ROUTES: [&str; 2] = ["/get-online-features", "/predict"];

#[test]
fn the_fixture_answers_well_formed_requests() {
    // The baseline: the hostile cases below are refused for their content only.
    let api = fixture::api();
    for (method, path, body) in fixture::REQUESTS {
        let r = api.handle(method, path, body.as_bytes(), fixture::now());
        let json: Json = serde_json::from_slice(&r.body).unwrap();
        match *path {
            "/nope?x=1" => assert_eq!(r.status, 404),
            _ if *method == "PUT" => assert_eq!(r.status, 405),
            _ => assert_eq!(r.status, 200, "{method} {path}: {json}"),
        }
    }
}

#[test]
fn oversized_bodies_get_413_before_parsing() {
    let api = fixture::api();
    let limit = fixture::limits().max_body_bytes;
    // Not even JSON: the size is checked first.
    let body = vec![b'['; limit + 1];
    for route in ROUTES {
        assert_error(&post(&api, route, &body), 413, "limit");
    }
    // Exactly at the limit is parsed (and here refused as malformed JSON, 400).
    assert_error(&post(&api, ROUTES[0], &vec![b' '; limit]), 400, "JSON");
    // The default limit is 1 MiB.
    let default = Api::new(fixture::api().predictor().clone(), Limits::default());
    let body = vec![b' '; (1 << 20) + 1];
    assert_error(&post(&default, ROUTES[1], &body), 413, "1048576");
}

#[test]
fn deep_json_is_a_400_not_a_stack_overflow() {
    let api = fixture::api();
    let default = Api::new(api.predictor().clone(), Limits::default());
    for depth in [129usize, 10_000, 30_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let inside = format!(r#"{{"features": ["stats:temp"], "entities": {{"id": [{arrays}]}}}}"#);
        for body in [&arrays, &objects, &inside] {
            for route in ROUTES {
                let api = if body.len() > fixture::limits().max_body_bytes {
                    &default
                } else {
                    &api
                };
                assert_error(&post(api, route, body.as_bytes()), 400, "recursion limit");
            }
        }
    }
    // Unclosed nesting at the size limit: still a 400, quickly.
    let open = "[".repeat(fixture::limits().max_body_bytes);
    assert_error(
        &post(&api, ROUTES[0], open.as_bytes()),
        400,
        "malformed JSON",
    );
    // 128 levels are within the limit: the body parses and is refused for its shape.
    let nested = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let body = format!(r#"{{"entities": {{"id": {nested}}}}}"#);
    assert_error(&post(&api, "/predict", body.as_bytes()), 400, "");
}

#[test]
fn huge_numbers_are_refused_for_what_they_are() {
    let api = fixture::api();
    for id in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "18446744073709551615",
        "9223372036854775808",
        "1.5",
        "1e3",
        "-0.0",
    ] {
        let body = format!(r#"{{"entities": {{"id": [{id}]}}}}"#);
        let r = post(&api, "/predict", body.as_bytes());
        let json: Json = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.status, 400, "id {id}: {json}");
    }
    // The extremes of int64 are valid keys (and simply not found).
    for id in [i64::MIN, i64::MAX] {
        let body = format!(r#"{{"features": ["stats:temp"], "entities": {{"id": [{id}]}}}}"#);
        let r = post(&api, ROUTES[0], body.as_bytes());
        assert_eq!(r.status, 200);
        assert!(String::from_utf8(r.body).unwrap().contains("NOT_FOUND"));
    }
    // Huge but finite request data is a value like any other.
    let body =
        br#"{"entities": {"id": [1]}, "request_context": {"ambient": [1.7976931348623157e308]}}"#;
    assert_eq!(post(&api, "/predict", body).status, 200);
    let body = br#"{"entities": {"id": [1]}, "request_context": {"ambient": [1e309]}}"#;
    assert_error(&post(&api, "/predict", body), 400, "malformed JSON");
}

#[test]
fn an_integer_key_beyond_int64_is_named_as_written() {
    let api = fixture::api();
    for id in [
        "100000000000000000000",
        "-9223372036854775809",
        "9223372036854775808",
        "123456789012345678901234567890",
    ] {
        // On /predict a float request value comes first (`ambient` sorts
        // before `id`), so the literal is found by value, not by position.
        let online = format!(r#"{{"features": ["stats:temp"], "entities": {{"id": [{id}]}}}}"#);
        let predict = format!(
            r#"{{"request_context": {{"ambient": [1e20]}}, "entities": {{"id": [{id}]}}}}"#
        );
        for (route, body) in ROUTES.into_iter().zip([online, predict]) {
            let r = post(&api, route, body.as_bytes());
            assert_error(
                &r,
                400,
                &format!("row 0 has {id}, which is beyond int64's range"),
            );
        }
    }
}

#[test]
fn nan_and_infinity_literals_are_malformed_json() {
    let api = fixture::api();
    for literal in [
        "NaN",
        "Infinity",
        "-Infinity",
        "nan",
        "inf",
        "+1",
        "0x10",
        ".5",
        "01",
    ] {
        let body = format!(
            r#"{{"entities": {{"id": [1]}}, "request_context": {{"ambient": [{literal}]}}}}"#
        );
        for route in ROUTES {
            assert_error(&post(&api, route, body.as_bytes()), 400, "malformed JSON");
        }
    }
}

#[test]
fn invalid_utf8_and_bad_escapes_are_malformed_json() {
    let api = fixture::api();
    let bodies: [&[u8]; 6] = [
        b"{\"entities\": {\"id\": [1]}, \"now\": \"\xff\"}",
        b"{\"entit\xc3\x28es\": {}}",
        b"\xef\xbb\xbf{\"entities\": {\"id\": [1]}}",
        br#"{"features": ["stats:\ud800"], "entities": {"id": [1]}}"#,
        br#"{"features": ["stats:\x"], "entities": {"id": [1]}}"#,
        b"{\"features\": [\"stats:temp\x00\"], \"entities\": {\"id\": [1]}}",
    ];
    for body in bodies {
        for route in ROUTES {
            let r = post(&api, route, body);
            let json: Json = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(r.status, 400, "{}: {json}", String::from_utf8_lossy(body));
        }
    }
}

#[test]
fn duplicate_keys_are_refused_not_silently_merged() {
    // serde_json keeps the last of two equal keys; a proxy or a log may read the
    // first. verge refuses the ambiguity instead of guessing, at every level.
    let api = fixture::api();
    let bodies = [
        r#"{"entities": {"id": [1]}, "entities": {"id": [2]}}"#,
        r#"{"entities": {"id": [1], "id": [2]}}"#,
        r#"{"entities": {"id": [1]}, "request_context": {"ambient": [1], "ambient": [2]}}"#,
        r#"{"entities": {"id": [1]}, "now": "1970-01-11T00:00:00Z", "now": null}"#,
    ];
    for body in bodies {
        assert_error(&post(&api, "/predict", body.as_bytes()), 400, "twice");
    }
    let body =
        r#"{"features": ["stats:temp"], "features": ["stats:pulse"], "entities": {"id": [1]}}"#;
    assert_error(&post(&api, ROUTES[0], body.as_bytes()), 400, "twice");
    // The same name in `entities` and `request_context` was already refused.
    let body = r#"{"entities": {"id": [1], "ambient": [1]}, "request_context": {"ambient": [2]}}"#;
    assert_error(&post(&api, "/predict", body.as_bytes()), 400, "twice");
}

#[test]
fn wrong_types_everywhere_are_400_naming_the_field() {
    let api = fixture::api();
    let online = [
        ("[]", "JSON object"),
        ("null", "JSON object"),
        ("\"text\"", "JSON object"),
        ("", "malformed JSON"),
        (
            r#"{"features": "stats:temp", "entities": {"id": [1]}}"#,
            "features",
        ),
        (
            r#"{"features": [1], "entities": {"id": [1]}}"#,
            "view:field",
        ),
        (
            r#"{"features": [["stats:temp"]], "entities": {"id": [1]}}"#,
            "view:field",
        ),
        (r#"{"features": [], "entities": {"id": [1]}}"#, "empty"),
        (
            r#"{"feature_service": 3, "entities": {"id": [1]}}"#,
            "feature_service",
        ),
        (
            r#"{"feature_service": "svc", "features": ["stats:temp"], "entities": {"id": [1]}}"#,
            "not both",
        ),
        (r#"{"features": ["stats:temp"]}"#, "entities"),
        (
            r#"{"features": ["stats:temp"], "entities": []}"#,
            "entities",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": 1}}"#,
            "array",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": []}}"#,
            "no rows",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": ["1"]}}"#,
            "int64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [true]}}"#,
            "int64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [null]}}"#,
            "int64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [{}]}}"#,
            "int64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1, 2], "ambient": [1]}}"#,
            "values",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "request_context": []}"#,
            "request_context",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "request_context": {"ambient": ["hot"]}}"#,
            "float64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "request_context": {"ambient": [[1]]}}"#,
            "float64",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "full_feature_names": "yes"}"#,
            "full_feature_names",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "now": 5}"#,
            "now",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "now": "yesterday"}"#,
            "RFC 3339",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"id": [1]}, "now": "9999999-01-01T00:00:00Z"}"#,
            "RFC 3339",
        ),
    ];
    for (body, needle) in online {
        assert_error(&post(&api, ROUTES[0], body.as_bytes()), 400, needle);
    }
    let predict = [
        (r#"{"entities": {"id": ["1"]}}"#, "int64"),
        (
            r#"{"entities": {"id": [1]}, "request_context": {"ambient": [false]}}"#,
            "float64",
        ),
        (
            r#"{"entities": {"id": [1]}, "features": ["stats:temp"]}"#,
            "unknown field",
        ),
        (r#"{"entities": {"ambient": [1]}}"#, "id"),
    ];
    for (body, needle) in predict {
        assert_error(&post(&api, "/predict", body.as_bytes()), 400, needle);
    }
}

/// Feast's clients add top-level fields between versions (0.67 sends
/// `include_feature_view_version_metadata`): `/get-online-features` ignores
/// unknown ones, answering exactly as without them, as Feast's server does.
/// verge's own `/predict` still refuses a field it does not know (a typo).
#[test]
fn unknown_top_level_fields_are_ignored_on_feasts_route_only() {
    let api = fixture::api();
    let plain = br#"{"features": ["stats:temp"], "entities": {"id": [1]}}"#;
    let feast = br#"{"entities": {"id": [1]}, "full_feature_names": false, "include_feature_view_version_metadata": false, "features": ["stats:temp"], "extra": {"x": 1}}"#;
    let want = post(&api, ROUTES[0], plain);
    assert_eq!(want.status, 200);
    assert_eq!(post(&api, ROUTES[0], feast), want);
    assert_error(
        &post(
            &api,
            "/predict",
            br#"{"entities": {"id": [1]}, "extra": 1}"#,
        ),
        400,
        "unknown field `extra`",
    );
    // Feast's health route answers as verge's does.
    let health = api.handle("GET", "/health", b"", fixture::now());
    assert_eq!(health, api.handle("GET", "/healthz", b"", fixture::now()));
    assert_eq!(health.status, 200);
}

#[test]
fn unknown_names_are_400_with_what_is_known() {
    let api = fixture::api();
    let cases = [
        (
            r#"{"features": ["stats:nope"], "entities": {"id": [1]}}"#,
            "view `stats` has: temp, pulse",
        ),
        (
            r#"{"features": ["nope:temp"], "entities": {"id": [1]}}"#,
            "no view `nope` in the snapshot (views: stats) nor among the on-demand views of the deployment's bundles (derived)",
        ),
        (
            r#"{"features": ["temp"], "entities": {"id": [1]}}"#,
            "view:field",
        ),
        (
            r#"{"features": [":"], "entities": {"id": [1]}}"#,
            "view:field",
        ),
        (
            r#"{"feature_service": "other", "entities": {"id": [1]}}"#,
            "this deployment serves: svc",
        ),
        (
            r#"{"features": ["stats:temp"], "entities": {"horse": [1]}}"#,
            "known: id",
        ),
    ];
    for (body, needle) in cases {
        assert_error(&post(&api, ROUTES[0], body.as_bytes()), 400, needle);
    }
    assert_error(
        &api.handle("GET", "/admin", b"", fixture::now()),
        404,
        "routes are",
    );
    assert_error(
        &api.handle("DELETE", "/predict", b"{}", fixture::now()),
        405,
        "not allowed",
    );
}

fn ids(n: usize) -> String {
    (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn too_many_entities_get_413_with_the_configured_limit() {
    let api = fixture::api();
    let max = fixture::limits().max_entities;
    let at = format!(
        r#"{{"features": ["stats:temp"], "entities": {{"id": [{}]}}}}"#,
        ids(max)
    );
    assert_eq!(post(&api, ROUTES[0], at.as_bytes()).status, 200);
    let over = format!(r#"{{"entities": {{"id": [{}]}}}}"#, ids(max + 1));
    assert_error(
        &post(&api, "/predict", over.as_bytes()),
        413,
        "limit is 100",
    );
    // The limit is configurable, and counts request-data rows as well.
    let tight = Api::new(
        api.predictor().clone(),
        Limits {
            max_body_bytes: 1 << 20,
            max_entities: 3,
            ..Limits::default()
        },
    );
    let body = br#"{"entities": {"id": [1, 2, 3, 4]}}"#;
    assert_error(&post(&tight, "/predict", body), 413, "limit is 3");
    let body = br#"{"entities": {"id": [1, 2, 3]}, "request_context": {"ambient": [1, 2, 3]}}"#;
    assert_eq!(post(&tight, "/predict", body).status, 200);
}

#[test]
fn a_repeated_feature_list_cannot_multiply_the_work() {
    // A 1 MiB body can name a feature ~80 000 times; with 1000 entity rows that
    // would be 80 million cells to compute and print. A feature may be asked once.
    let default = Api::new(fixture::api().predictor().clone(), Limits::default());
    let features = vec![r#""stats:temp""#; 70_000].join(",");
    let body = format!(
        r#"{{"features": [{features}], "entities": {{"id": [{}]}}}}"#,
        ids(1000)
    );
    assert!(body.len() <= 1 << 20);
    assert_error(&post(&default, ROUTES[0], body.as_bytes()), 400, "twice");
    let body =
        r#"{"features": ["stats:temp", "stats:pulse", "stats:temp"], "entities": {"id": [1]}}"#;
    assert_error(
        &post(&default, ROUTES[0], body.as_bytes()),
        400,
        "`stats:temp` is requested twice",
    );
}

#[test]
fn the_fixture_loads_through_the_public_loaders() {
    // Guards the fixture itself: it must be a real, compatible pair.
    let bundle = Bundle::load(&fixture::bundle_bytes()).unwrap();
    let snapshot = Snapshot::load(fixture::snapshot_bytes()).unwrap();
    Predictor::new(bundle, snapshot).unwrap();
}

/// An on-demand feature whose request data the caller did not send is a 400
/// naming the field (Feast raises `RequestDataNotFoundInEntityRowsException`),
/// not a silent null; a null the caller sends for a row is kept, and a request
/// that asks for no on-demand feature needs no request data.
#[test]
fn on_demand_features_need_their_request_data() {
    let api = fixture::api();
    for body in [
        r#"{"features": ["derived:excess"], "entities": {"id": [1]}}"#,
        r#"{"feature_service": "svc", "entities": {"id": [1]}}"#,
    ] {
        assert_error(
            &post(&api, ROUTES[0], body.as_bytes()),
            400,
            "on-demand feature `derived:excess` needs request field `ambient`",
        );
    }
    for body in [
        r#"{"features": ["derived:excess"], "entities": {"id": [1], "ambient": [null]}}"#,
        r#"{"features": ["stats:temp"], "entities": {"id": [1]}}"#,
    ] {
        let r = post(&api, ROUTES[0], body.as_bytes());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}
