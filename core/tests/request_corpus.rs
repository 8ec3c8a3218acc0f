//! Golden answers for a corpus of hostile and well-formed request bodies: every
//! route that reads JSON (`/get-online-features` and `/predict` over two
//! deployments, the snapshot-only read over the typed and composite-key
//! snapshots, and `score_json`), each given the same few thousand bodies.
//!
//! The bodies are the shapes of `docs/http.md` mutated by a seeded generator:
//! values swapped for values of other types (huge, negative, fractional and
//! too-wide numbers, strings, arrays, objects, nulls), keys added, removed and
//! repeated, bodies truncated, stray bytes (invalid UTF-8, `NaN`, brackets)
//! inserted, deep nesting. Each line of `golden/request_corpus.txt` holds the
//! route, the status and the hash of the answer's bytes (and a readable prefix
//! of both body and answer), so any change to what verge accepts, refuses, or
//! answers byte for byte shows here. The file was first written by the
//! `serde_json::Value`-tree request parser, which the streaming decoder
//! replaced; a reviewed change reruns with `BLESS=1`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value as Json, json};
use verge_core::api::{Limits, get_online_features_json, score_json};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::{ContentId, Timestamp};
use verge_test_kit::rng::Rng;
use verge_test_kit::{horse_colic, tiny};

/// Values a mutation puts in place of another: every JSON type, and the
/// numbers and strings at the edges of what a field takes.
fn pool() -> Vec<Json> {
    let parse = |s: &str| serde_json::from_str::<Json>(s).unwrap();
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(99),
        json!(533738),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(2147483648_i64),
        json!(-9223372036854775808_i64),
        json!(u64::MAX),
        parse("100000000000000000000"),
        parse("-100000000000000000000"),
        parse("1e19"),
        json!(""),
        json!("abc"),
        json!("north"),
        json!("stats:temp"),
        json!("stats:pain"),
        json!("derived:excess"),
        json!("horse_colic_stats:pulse"),
        json!("derived:fever"),
        json!("typed:profile"),
        json!("visits:count"),
        json!("svc"),
        json!("surgery_v1"),
        json!("surgical_lesion"),
        json!("1970-01-11T00:00:00Z"),
        json!("2021-07-05T12:00:00+02:00"),
        json!("aGVsbG8="),
        json!("a\"b\\c\n\u{1}é😀"),
        json!([]),
        json!({}),
        json!([1, "x", null]),
        json!([1, 2]),
        json!([[1]]),
        json!([21.5]),
        json!(["mild"]),
        json!({"a": 1, "b": [2, {"c": null}]}),
        json!({"id": [1]}),
        json!({"ambient": [20.0]}),
    ]
}

/// Top-level and nested names a mutation adds: the fields every route knows,
/// join keys and request fields of the fixtures, and unknown ones.
const NAMES: &[&str] = &[
    "features",
    "feature_service",
    "entities",
    "request_context",
    "full_feature_names",
    "now",
    "model",
    "id",
    "ambient",
    "clinic",
    "driver_id",
    "hospital_number",
    "ambient_temperature",
    "stats:temp",
    "temp",
    "include_feature_view_version_metadata",
    "zzz",
    "",
];

/// Every place in `value`, as a path of object keys and array indexes.
fn places(value: &Json, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(path.clone());
    match value {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                places(item, path, out);
                path.pop();
            }
        }
        Json::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                places(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(value: &'a mut Json, path: &[Step]) -> &'a mut Json {
    path.iter().fold(value, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// One structural change to `value`: replace a place, drop or add a key, wrap
/// a place in an array.
fn mutate(value: &mut Json, rng: &mut Rng, pool: &[Json]) {
    let mut all = Vec::new();
    places(value, &mut Vec::new(), &mut all);
    let path = &all[rng.index(all.len())];
    let target = at(value, path);
    match rng.below(6) {
        0 | 1 => *target = pool[rng.index(pool.len())].clone(),
        2 => match target {
            Json::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(rng.index(map.len())).unwrap().clone();
                map.remove(&key);
            }
            Json::Array(items) if !items.is_empty() => {
                items.remove(rng.index(items.len()));
            }
            other => *other = Json::Null,
        },
        3 => match target {
            Json::Object(map) => {
                map.insert(
                    NAMES[rng.index(NAMES.len())].to_owned(),
                    pool[rng.index(pool.len())].clone(),
                );
            }
            Json::Array(items) => items.push(pool[rng.index(pool.len())].clone()),
            other => *other = pool[rng.index(pool.len())].clone(),
        },
        4 => *target = Json::Array(vec![target.take()]),
        _ => {
            if let Json::Array(items) = target
                && let Some(first) = items.first().cloned()
            {
                items.push(first);
            } else {
                *target = pool[rng.index(pool.len())].clone();
            }
        }
    }
}

/// Text that a byte-level mutation inserts: what JSON parsers disagree on.
const SNIPPETS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\xff",
    b"\xc3",
    b"NaN",
    b"-Infinity",
    b"]",
    b"}",
    b"\\u12",
    b"\\ud800",
    b" ",
    b"1e999",
    b"\"a\":1,\"a\":2,",
    b"\"entities\":{},",
    b"\"now\":null,",
    b"/*x*/",
    b"\x00",
];

/// One byte-level change to `body`: truncate, insert a snippet, or repeat a
/// top-level key (serde_json would keep the last of two silently).
fn mutate_bytes(body: &mut Vec<u8>, rng: &mut Rng) {
    match rng.below(4) {
        0 => body.truncate(rng.index(body.len())),
        1 | 2 => {
            let at = rng.index(body.len() + 1);
            let snippet = SNIPPETS[rng.index(SNIPPETS.len())];
            body.splice(at..at, snippet.iter().copied());
        }
        _ => {
            // Repeat the first member of the object: `{"a":1,...}` → `{"a":1,"a":1,...}`.
            if let Some(end) = body.iter().position(|&b| b == b',') {
                let member = body[1..=end].to_vec();
                body.splice(1..1, member);
            }
        }
    }
}

/// Bodies nested past serde_json's limit in each place a route reads.
fn deep() -> Vec<Vec<u8>> {
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let mut out = Vec::new();
    for n in [126, 127, 128, 129, 200] {
        out.push(format!(r#"{{"entities": {{"id": [{}]}}}}"#, nest(n)));
        out.push(format!(
            r#"{{"zzz": {}, "entities": {{"id": [1]}}}}"#,
            nest(n)
        ));
        out.push(format!(r#"{{"features": {}}}"#, nest(n)));
        out.push(format!(
            r#"{{"entities": {{"id": [1]}}, "request_context": {{"ambient": [{}]}}}}"#,
            nest(n)
        ));
    }
    out.into_iter().map(String::into_bytes).collect()
}

/// What answers a body: a name for the golden file, the bodies its mutations
/// start from, and the call.
type Target = (
    &'static str,
    Vec<Json>,
    Box<dyn Fn(&[u8]) -> (u16, Vec<u8>)>,
);

fn targets() -> Vec<Target> {
    let tiny_api = tiny::api();
    let horse = horse_colic::fixture(true);
    let horse_api = verge_core::api::Api::new(
        verge_core::online::Predictor::new(
            Bundle::load(&horse.bundle).unwrap(),
            Snapshot::load(horse.snapshot.clone()).unwrap(),
        )
        .unwrap(),
        Limits::default(),
    );
    let horse_api2 = horse_api.clone();
    let tiny_api2 = tiny_api.clone();
    let typed = Snapshot::load(tiny::typed_snapshot_bytes()).unwrap();
    let composite = Snapshot::load(tiny::composite_snapshot_bytes()).unwrap();
    let bundle = Bundle::load(&tiny::bundle_bytes()).unwrap();
    let answer = |r: verge_core::api::Response| (r.status, r.body);
    let tiny_seeds = |path: &str| -> Vec<Json> {
        tiny::REQUESTS
            .iter()
            .filter(|(method, p, _)| *method == "POST" && *p == path)
            .map(|(_, _, body)| serde_json::from_str(body).unwrap())
            .collect()
    };
    vec![
        (
            "tiny online",
            tiny_seeds("/get-online-features"),
            Box::new(move |b| {
                answer(tiny_api.handle("POST", "/get-online-features", b, tiny::now()))
            }),
        ),
        (
            "tiny predict",
            tiny_seeds("/predict"),
            Box::new(move |b| answer(tiny_api2.handle("POST", "/predict", b, tiny::now()))),
        ),
        (
            "horse online",
            vec![
                json!({"features": ["horse_colic_stats:pulse", "derived:fever"], "entities": {"hospital_number": [533738], "ambient_temperature": [20]}, "full_feature_names": true}),
                json!({"feature_service": "surgery_v1", "entities": {"hospital_number": [533738, 1]}, "request_context": {"ambient_temperature": [1, null]}}),
            ],
            Box::new(move |b| {
                answer(horse_api.handle("POST", "/get-online-features", b, horse_colic::now()))
            }),
        ),
        (
            "horse predict",
            vec![
                json!({"entities": {"hospital_number": [533738, 530101]}, "request_context": {"ambient_temperature": [21.5, 19.0]}, "model": "surgical_lesion", "now": "2021-07-05T12:00:00Z"}),
            ],
            Box::new(move |b| answer(horse_api2.handle("POST", "/predict", b, horse_colic::now()))),
        ),
        (
            "typed snapshot",
            vec![
                json!({"features": ["typed:blob", "typed:seen", "typed:profile", "typed:embedding", "typed:tags", "typed:flags"], "entities": {"driver_id": [1, 2, 3]}}),
            ],
            Box::new(move |b| {
                answer(get_online_features_json(
                    &typed,
                    b,
                    Timestamp(10),
                    Limits::default(),
                ))
            }),
        ),
        (
            "composite snapshot",
            vec![
                json!({"features": ["visits:count", "visits:weight"], "entities": {"clinic": ["north", "south"], "id": [1, 1]}}),
            ],
            Box::new(move |b| {
                answer(get_online_features_json(
                    &composite,
                    b,
                    Timestamp(10),
                    Limits::default(),
                ))
            }),
        ),
        (
            "tiny score",
            vec![
                json!({"stats:temp": 38.5, "stats:pulse": null, "derived:excess": 1}),
                json!([38.5, 70, 0.5]),
            ],
            Box::new(move |b| match score_json(&bundle, b) {
                Ok(body) => (200, body),
                Err(e) => answer(e.into_response()),
            }),
        ),
    ]
}

fn escaped(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let short: String = text.chars().take(n).collect();
    serde_json::to_string(&short).unwrap()
}

/// `seeds`, each followed by its seeded mutations, then the bodies every
/// route is given (nesting past the limit, not an object, not JSON).
fn corpus(seeds: &[Json], rng: &mut Rng) -> Vec<Vec<u8>> {
    let pool = pool();
    let mut out = Vec::new();
    for seed in seeds {
        out.push(serde_json::to_vec(seed).unwrap());
        for _ in 0..60 {
            let mut value = seed.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut value, rng, &pool);
            }
            let mut body = serde_json::to_vec(&value).unwrap();
            if rng.below(3) == 0 {
                mutate_bytes(&mut body, rng);
            }
            out.push(body);
        }
    }
    out.extend(deep());
    out.extend(
        [
            "",
            " ",
            "null",
            "[]",
            "{}",
            "1",
            "\"x\"",
            "{",
            "{\"entities\"}",
            "{} {}",
            "\u{feff}{}",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    out
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/request_corpus.txt")
}

#[test]
fn every_route_answers_the_corpus_as_the_golden_file_says() {
    let mut text = String::new();
    let mut rng = Rng::new(16);
    for (name, seeds, call) in targets() {
        for body in corpus(&seeds, &mut rng) {
            let (status, answer) = call(&body);
            let hash = ContentId::of(&answer).to_string();
            writeln!(
                text,
                "{name} | {status} | {} | body {} | answer {}",
                &hash[..16],
                escaped(&body, 60),
                escaped(&answer, 90)
            )
            .unwrap();
        }
    }
    let path = golden_path();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    for (i, (got, want)) in text.lines().zip(want.lines()).enumerate() {
        assert_eq!(got, want, "line {} of {}", i + 1, path.display());
    }
    assert_eq!(text.lines().count(), want.lines().count(), "line count");
}

/// The descriptive answers (model info, `GET /version`) and the error
/// message every face shows, byte for byte, for bundles of both fixtures with
/// and without a snapshot: `golden/descriptive_answers.txt`.
#[test]
fn descriptive_answers_are_as_the_golden_file_says() {
    use verge_core::api::{deployment_version, error_message, model_info, version};
    let tiny_bundle = Bundle::load(&tiny::bundle_bytes()).unwrap();
    let horse = horse_colic::fixture(true);
    let horse_bundle = Bundle::load(&horse.bundle).unwrap();
    let horse_snapshot = Snapshot::load(horse.snapshot.clone()).unwrap();
    let mut text = String::new();
    let mut line = |name: &str, bytes: &[u8]| {
        writeln!(text, "{name} | {}", String::from_utf8_lossy(bytes)).unwrap();
    };
    line(
        "tiny deployment version",
        &deployment_version(tiny::api().deployment()),
    );
    line("tiny version, no snapshot", &version(&[&tiny_bundle], None));
    line(
        "two bundles, horse snapshot",
        &version(&[&horse_bundle, &tiny_bundle], Some(&horse_snapshot)),
    );
    line("no bundle", &version(&[], Some(&horse_snapshot)));
    line("tiny info", &model_info(&tiny_bundle, true));
    line("horse info", &model_info(&horse_bundle, false));
    for body in [
        &br#"{"error":{"message":"a \"quoted\" \u00e9 message","status":400}}"#[..],
        br#"{"error":{"message":1}}"#,
        br#"{"error":"x"}"#,
        br#"{"error":{"message":"first"},"error":{"message":"last"}}"#,
        b"[1]",
        b"\xffnot json",
        b"",
    ] {
        line("error message", error_message(body).as_bytes());
    }
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/descriptive_answers.txt");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    assert_eq!(text, std::fs::read_to_string(&path).unwrap());
}
