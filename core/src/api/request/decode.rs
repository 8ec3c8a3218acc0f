//! Request bodies decoded straight from their bytes by serde's streaming
//! `Deserialize`, into the few fields the routes read ([`Body`]) and the
//! values under them ([`Cell`]), with strings borrowed from the body when they
//! hold no escapes.
//!
//! No `serde_json::Value` tree is built: that tree (a `String` per key and per
//! text, a sorted map per object) cost more than the rest of a small request.
//! What serde_json accepts and refuses is kept exactly, because every value,
//! wanted or not, is read through serde_json's own `deserialize_any`: the same
//! syntax errors at the same places, the same nesting limit (128), the same
//! number rules. Two rules are added, as the tree parser added them:
//!
//! - an object naming a key twice is refused, at the second key
//!   ([`Dups::Refuse`]): serde_json keeps the last silently, while a proxy or a
//!   log in front of verge may act on the first, so refusing is the only answer
//!   that means the same thing to everyone who reads the body;
//! - a top-level value that is not an object is read to its end (a syntax
//!   error in it wins) and then refused.
//!
//! Objects keep their members sorted by key (a `BTreeMap`), as serde_json's
//! map does, so checks that walk them report the same member first and
//! [`Cell::write`] prints what serde_json prints for the same value.

use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::api::ApiError;
use crate::api::json_out::JsonOut;

/// One JSON value of a request body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<Cell<'a>>),
    /// Members sorted by key; a key appears once.
    Object(BTreeMap<Cow<'a, str>, Cell<'a>>),
}

impl Cell<'_> {
    /// The text, when this is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Prints the value as `serde_json::to_vec` prints the equal
    /// `serde_json::Value`: compact, object keys sorted.
    pub(crate) fn write(&self, out: &mut JsonOut) {
        match self {
            Cell::Null => out.raw("null"),
            Cell::Bool(true) => out.raw("true"),
            Cell::Bool(false) => out.raw("false"),
            Cell::Number(n) => out.number(n),
            Cell::Str(s) => out.string(s),
            Cell::Array(items) => {
                out.raw("[");
                for (i, item) in items.iter().enumerate() {
                    out.comma(i);
                    item.write(out);
                }
                out.raw("]");
            }
            Cell::Object(members) => {
                out.raw("{");
                for (i, (key, value)) in members.iter().enumerate() {
                    out.comma(i);
                    out.string(key);
                    out.raw(":");
                    value.write(out);
                }
                out.raw("}");
            }
        }
    }

    /// [`Cell::write`]'s text.
    pub(crate) fn to_text(&self) -> String {
        let mut out = JsonOut::default();
        self.write(&mut out);
        out.into_string()
    }
}

/// What an object naming a key twice gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dups {
    /// A decoding error at the second key (request bodies).
    Refuse,
    /// The last value kept, as serde_json keeps it (`score_json`'s input, which
    /// has always been read that way).
    LastWins,
}

fn twice<E: de::Error>(key: &str) -> E {
    E::custom(format!("`{key}` is given twice in one object"))
}

/// Decodes one [`Cell`] under a duplicate-key rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellSeed(pub(crate) Dups);

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Cell<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = Cell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Cell<'de>, E> {
        Ok(Cell::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Cell<'de>, E> {
        Ok(Cell::Number(Number::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Cell<'de>, E> {
        Ok(Cell::Number(Number::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Cell<'de>, E> {
        // serde_json's parser gives only finite floats; a non-finite one would
        // be null, as in `serde_json::Value`.
        Ok(Number::from_f64(v).map_or(Cell::Null, Cell::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Owned(v.into())))
    }

    fn visit_string<E>(self, v: String) -> Result<Cell<'de>, E> {
        Ok(Cell::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Cell::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'de>, A::Error> {
        let mut members = BTreeMap::new();
        while let Some(Key(key)) = map.next_key()? {
            if self.0 == Dups::Refuse && members.contains_key(&key) {
                return Err(twice(&key));
            }
            let value = map.next_value_seed(self)?;
            members.insert(key, value);
        }
        Ok(Cell::Object(members))
    }
}

/// An object key, borrowed from the body when it has no escapes (serde's own
/// `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.into())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// A request body: the top-level members the routes read, each as given.
/// `None` is a member not sent; which shapes a route takes is its own check.
#[derive(Debug, Default)]
pub(crate) struct Body<'a> {
    pub(crate) features: Option<Cell<'a>>,
    pub(crate) feature_service: Option<Cell<'a>>,
    pub(crate) entities: Option<Cell<'a>>,
    pub(crate) request_context: Option<Cell<'a>>,
    pub(crate) full_feature_names: Option<Cell<'a>>,
    pub(crate) now: Option<Cell<'a>>,
    pub(crate) model: Option<Cell<'a>>,
    /// The other members' keys (their values are read, to check them, and dropped).
    pub(crate) other: BTreeSet<Cow<'a, str>>,
}

impl<'a> Body<'a> {
    /// Decodes `body`, which must be one JSON object.
    ///
    /// # Errors
    ///
    /// 400 `malformed JSON: …` with serde_json's message (or a key given twice),
    /// or `the body must be a JSON object`.
    pub(crate) fn decode(body: &'a [u8]) -> Result<Body<'a>, ApiError> {
        match serde_json::from_slice::<Top<'a>>(body) {
            Ok(Top(Some(body))) => Ok(body),
            Ok(Top(None)) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
        }
    }

    /// Every top-level key sent, in sorted order (as serde_json's map walks them).
    pub(crate) fn keys(&self) -> Vec<&str> {
        let known = [
            ("entities", &self.entities),
            ("feature_service", &self.feature_service),
            ("features", &self.features),
            ("full_feature_names", &self.full_feature_names),
            ("model", &self.model),
            ("now", &self.now),
            ("request_context", &self.request_context),
        ];
        let mut keys: Vec<&str> = known
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .chain(self.other.iter().map(|k| &**k))
            .collect();
        keys.sort_unstable();
        keys
    }
}

/// The top-level value: an object's [`Body`], or `None` for anything else.
struct Top<'a>(Option<Body<'a>>);

impl<'de> de::Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

const REFUSE: CellSeed = CellSeed(Dups::Refuse);

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(Top(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top<'de>, A::Error> {
        // Read to the end: a syntax error inside is reported before the shape.
        REFUSE.visit_seq(seq).map(|_| Top(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut body = Body::default();
        while let Some(Key(key)) = map.next_key()? {
            let slot = match &*key {
                "features" => &mut body.features,
                "feature_service" => &mut body.feature_service,
                "entities" => &mut body.entities,
                "request_context" => &mut body.request_context,
                "full_feature_names" => &mut body.full_feature_names,
                "now" => &mut body.now,
                "model" => &mut body.model,
                _ => {
                    if body.other.contains(&key) {
                        return Err(twice(&key));
                    }
                    map.next_value_seed(REFUSE)?;
                    body.other.insert(key);
                    continue;
                }
            };
            if slot.is_some() {
                return Err(twice(&key));
            }
            *slot = Some(map.next_value_seed(REFUSE)?);
        }
        Ok(Top(Some(body)))
    }
}

/// Decodes one JSON value (a whole body) under `dups`.
///
/// # Errors
///
/// 400 `malformed JSON: …` with serde_json's message.
pub(crate) fn decode_value(body: &[u8], dups: Dups) -> Result<Cell<'_>, ApiError> {
    let mut d = serde_json::Deserializer::from_slice(body);
    let cell = CellSeed(dups)
        .deserialize(&mut d)
        .and_then(|cell| d.end().map(|()| cell));
    cell.map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

#[cfg(test)]
mod tests;
