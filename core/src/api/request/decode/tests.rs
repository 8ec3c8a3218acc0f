//! The streaming decoder against serde_json's `Value` parser as the reference:
//! the same bodies accepted, the same messages for the refused, the same text
//! printed back, and duplicate keys refused exactly where a `Value` parser that
//! checks each key against the keys before it (the tree parser the decoder
//! replaced) refuses them.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use proptest::prelude::*;
use serde_json::Value as Json;

use super::*;

/// The reference for [`Dups::Refuse`]: a `serde_json::Value` parser that
/// refuses a key already seen in its object (the tree parser's own rule).
struct Strict(Json);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.into()))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "`{key}` is given twice in one object"
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Json::Object(out))
    }
}

fn reference(body: &[u8], dups: Dups) -> Result<Json, String> {
    let parsed = match dups {
        Dups::Refuse => serde_json::from_slice::<Strict>(body).map(|s| s.0),
        Dups::LastWins => serde_json::from_slice::<Json>(body),
    };
    parsed.map_err(|e| format!("malformed JSON: {e}"))
}

fn text(json: &Json) -> String {
    serde_json::to_string(json).unwrap()
}

/// Checks one body against the reference, both as a value and as a [`Body`].
fn check(body: &[u8]) {
    for dups in [Dups::Refuse, Dups::LastWins] {
        let got = decode_value(body, dups).map(|c| c.to_text());
        let want = reference(body, dups).map(|v| text(&v));
        assert_eq!(got.map_err(|e| e.message), want, "{dups:?} {body:?}");
    }
    let got = Body::decode(body);
    match reference(body, Dups::Refuse) {
        Err(message) => assert_eq!(got.unwrap_err().message, message, "{body:?}"),
        Ok(Json::Object(map)) => {
            let got = got.unwrap();
            let field = |cell: &Option<Cell<'_>>| cell.as_ref().map(Cell::to_text);
            let want = |key: &str| map.get(key).map(text);
            assert_eq!(field(&got.features), want("features"));
            assert_eq!(field(&got.feature_service), want("feature_service"));
            assert_eq!(field(&got.entities), want("entities"));
            assert_eq!(field(&got.request_context), want("request_context"));
            assert_eq!(field(&got.full_feature_names), want("full_feature_names"));
            assert_eq!(field(&got.now), want("now"));
            assert_eq!(field(&got.model), want("model"));
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(got.keys(), keys, "{body:?}");
        }
        Ok(_) => assert_eq!(got.unwrap_err().message, "the body must be a JSON object"),
    }
}

fn json() -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        Just("entities".to_string()),
        Just("features".to_string()),
        Just("now".to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        "[a-c\"\\\\é\u{1}]{0,3}",
    ];
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        "[a-z\"\\\\\n\u{0}-\u{1f}é😀\u{2028}]{0,6}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((key.clone(), inner), 0..4)
                .prop_map(|members| Json::Object(members.into_iter().collect())),
        ]
    })
}

/// Changes to a printed body: what parsers disagree on.
const SNIPPETS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\xff",
    b"\xc3",
    b"NaN",
    b"]",
    b"}",
    b"{",
    b"\\u12",
    b"\\ud800",
    b"1e999",
    b"-",
    b"\"a\":1,\"a\":2,",
    b"\"a\":1,",
    b"\x00",
    b" ",
    b"01",
    b"true",
];

fn body() -> impl Strategy<Value = Vec<u8>> {
    (
        json(),
        prop::collection::vec((any::<prop::sample::Index>(), 0..SNIPPETS.len() + 1), 0..3),
    )
        .prop_map(|(json, edits)| {
            let mut body = serde_json::to_vec(&json).unwrap();
            for (at, edit) in edits {
                let at = at.index(body.len() + 1);
                match SNIPPETS.get(edit) {
                    Some(snippet) => {
                        body.splice(at..at, snippet.iter().copied());
                    }
                    None => body.truncate(at),
                }
            }
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decodes_as_the_value_parser_does(body in body()) {
        check(&body);
    }

    #[test]
    fn decodes_any_bytes_as_the_value_parser_does(body in prop::collection::vec(any::<u8>(), 0..24)) {
        check(&body);
    }
}

#[test]
fn pinned_cases() {
    let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{}".to_vec(),
        b"[1,2".to_vec(),
        br#"{"a":1,"a":2}"#.to_vec(),
        br#"{"entities":1,"entities":2}"#.to_vec(),
        br#"{"x":{"y":1,"y":[}}"#.to_vec(),
        br#"{"a\u0062":1,"ab":2}"#.to_vec(),
        br#"{"now":"\ud800"}"#.to_vec(),
        b"{\"s\":\"\xff\"}".to_vec(),
        br#"{"n":1e400}"#.to_vec(),
        br#"{"n":18446744073709551616,"m":-9223372036854775809,"k":-0}"#.to_vec(),
        b"\"x\" 1".to_vec(),
        deep(126).into_bytes(),
        deep(127).into_bytes(),
        deep(128).into_bytes(),
    ];
    for body in cases {
        check(&body);
    }
}
