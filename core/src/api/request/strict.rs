//! Request bodies parsed as JSON objects that never name a key twice.
//!
//! serde_json keeps the last of two equal keys silently, while a proxy or a log
//! in front of verge may act on the first; refusing the body is the only answer
//! that means the same thing to everyone who reads it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value as Json;

use super::ApiError;

pub(super) fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Json>, ApiError> {
    match serde_json::from_slice::<Strict>(body) {
        Ok(Strict(Json::Object(map))) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
    }
}

/// A JSON value parsed like `serde_json::Value`, except that an object naming a
/// key twice is an error: serde_json would keep the last silently, while a proxy
/// or a log may act on the first. serde_json's nesting limit (128) still applies.
struct Strict(Json);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
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

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "`{key}` is given twice in one object"
                )));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Json::Object(out))
    }
}

/// For a JSON number that int64 cannot hold but that was written as an
/// integer, the words for an error: the literal as the client wrote it (not
/// serde_json's `1e+20`, which is how a too-wide integer comes back as a
/// float) and int64's range. `None` for anything else.
pub(super) fn beyond_int64(json: &Json, body: &[u8]) -> Option<String> {
    let Json::Number(n) = json else {
        return None;
    };
    if n.as_i64().is_some() {
        return None;
    }
    let written = match (n.as_u64(), n.as_f64()) {
        (Some(u), _) => u.to_string(),
        (None, Some(f)) if f.is_finite() && f == libm::trunc(f) => integer_literals(body)
            .into_iter()
            // serde_json's own parser, which made `f`: the same rounding, and
            // no second float parser (core's carries a 10 KB table) in the Wasm.
            .find(|t| serde_json::from_str::<f64>(t).ok() == Some(f))?
            .to_string(),
        _ => return None,
    };
    Some(format!(
        "{written}, which is beyond int64's range ({} to {})",
        i64::MIN,
        i64::MAX
    ))
}

/// Every number token of `body` written as a plain integer (`-?[0-9]+`), in
/// order, skipping the insides of strings. A token scanner, not a parser: the
/// body has already been parsed, this only recovers how numbers were written.
fn integer_literals(body: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = body.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while body
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let token = body.get(start..i).unwrap_or_default();
                if token.iter().skip(1).all(u8::is_ascii_digit)
                    && let Ok(text) = core::str::from_utf8(token)
                {
                    out.push(text);
                }
            }
            _ => i += 1,
        }
    }
    out
}
