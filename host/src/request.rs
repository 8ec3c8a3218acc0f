//! Request bodies for the HTTP API built from `NAME=VALUE` text, typed by the
//! join keys and request fields they name: what `get-online-features`,
//! `predict` and scripted callers send to [`verge_core::api::Api::handle`].
//!
//! The text forms are the command line's (`--entity hospital_number=530101`),
//! but the typing is the API's: an int64 join key becomes a JSON integer, an
//! empty or `null` request value becomes JSON null.

use anyhow::{Context as _, bail};
use serde_json::{Map, Value as Json, json};
use verge_core::DType;
use verge_core::api::Limits;
use verge_core::artifact::Snapshot;
use verge_core::definition::Field;

/// No request-size limits: for callers on the same machine (the CLI, `verge run`).
#[must_use]
pub fn local_limits() -> Limits {
    Limits {
        max_body_bytes: usize::MAX,
        max_entities: usize::MAX,
        max_cells: usize::MAX,
    }
}

/// A request body as JSON bytes.
///
/// # Errors
///
/// Never in practice (a JSON map always encodes); kept fallible for the caller's `?`.
pub fn encode(body: &Map<String, Json>) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(body).context("encoding the request")
}

/// Every join key a request may name: the bundle's, then the snapshot's.
#[must_use]
pub fn key_fields(bundle_keys: &[Field], snapshot: &Snapshot) -> Vec<Field> {
    let mut keys = bundle_keys.to_vec();
    for k in snapshot.meta().views.iter().flat_map(|v| &v.join_keys) {
        if !keys.iter().any(|e| e.name == k.name) {
            keys.push(k.clone());
        }
    }
    keys
}

fn split_pair<'a>(text: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    text.split_once('=')
        .map(|(k, v)| (k.trim(), v))
        .filter(|(k, _)| !k.is_empty())
        .with_context(|| format!("{flag} `{text}` is not NAME=VALUE"))
}

/// `KEY=VALUE` pairs (the `--entity` flags) as the request's `entities` object,
/// typed by `keys`; repeating a key makes a batch.
///
/// # Errors
///
/// A pair without `=`, a name that is not a join key, or a value of the wrong type.
pub fn entity_json(pairs: &[String], keys: &[Field]) -> anyhow::Result<Json> {
    let mut columns: Map<String, Json> = Map::new();
    for pair in pairs {
        let (name, text) = split_pair(pair, "--entity")?;
        let Some(field) = keys.iter().find(|k| k.name == name) else {
            let known: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            bail!(
                "--entity `{name}` is not a join key here; join keys: {}",
                known.join(", ")
            );
        };
        let value = match field.dtype {
            DType::Int64 | DType::Int32 => Json::from(text.trim().parse::<i64>().map_err(|e| {
                use std::num::IntErrorKind::{NegOverflow, PosOverflow};
                match e.kind() {
                    PosOverflow | NegOverflow => anyhow::anyhow!(
                        "--entity {name}: `{text}` is beyond int64's range ({} to {}); the join key is int64",
                        i64::MIN,
                        i64::MAX
                    ),
                    _ => anyhow::anyhow!(
                        "--entity {name}: `{text}` is not an integer (the join key is int64)"
                    ),
                }
            })?),
            _ => Json::String(text.to_owned()),
        };
        push(&mut columns, name, value);
    }
    Ok(Json::Object(columns))
}

/// `NAME=VALUE` pairs (the `--request` flags) as `request_context`, typed by
/// the bundle's request fields.
///
/// # Errors
///
/// A pair without `=`, a name that is not a request field, or a value of the wrong type.
pub fn request_json(pairs: &[String], fields: &[Field]) -> anyhow::Result<Json> {
    let mut columns: Map<String, Json> = Map::new();
    for pair in pairs {
        let (name, text) = split_pair(pair, "--request")?;
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            bail!(
                "--request `{name}` is not a request field of this model; request fields: {}",
                if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                }
            );
        };
        let t = text.trim();
        let bad = || format!("--request {name}: `{text}` is not a {}", field.dtype);
        let value = if t.is_empty() || t == "null" {
            Json::Null
        } else {
            match field.dtype {
                DType::Bool => Json::Bool(t.parse::<bool>().with_context(bad)?),
                DType::Int64 => Json::from(t.parse::<i64>().with_context(bad)?),
                DType::Float32 | DType::Float64 => {
                    let x = t.parse::<f64>().with_context(bad)?;
                    serde_json::Number::from_f64(x)
                        .map(Json::Number)
                        .with_context(bad)?
                }
                DType::Int32 => Json::from(t.parse::<i32>().with_context(bad)?),
                DType::String | DType::Bytes | DType::UnixTimestamp => {
                    Json::String(text.to_owned())
                }
                // JSON and arrays are written as JSON: `emb=[0.1, 0.2]`.
                DType::Json | DType::Array(_) => serde_json::from_str(t)
                    .with_context(|| format!("{}: write it as JSON", bad()))?,
            }
        };
        push(&mut columns, name, value);
    }
    Ok(Json::Object(columns))
}

fn push(columns: &mut Map<String, Json>, name: &str, value: Json) {
    match columns.get_mut(name) {
        Some(Json::Array(values)) => values.push(value),
        _ => {
            columns.insert(name.to_owned(), json!([value]));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_typed_columns() {
        let keys = [
            Field::new("id", DType::Int64),
            Field::new("name", DType::String),
        ];
        let json = entity_json(&["id=1".into(), "name=a=b".into(), "id=2".into()], &keys).unwrap();
        assert_eq!(json, json!({"id": [1, 2], "name": ["a=b"]}));
        assert!(entity_json(&["id=x".into()], &keys).is_err());
        assert!(entity_json(&["other=1".into()], &keys).is_err());
        assert!(entity_json(&["novalue".into()], &keys).is_err());
        let fields = [
            Field::new("t", DType::Float64),
            Field::new("ok", DType::Bool),
        ];
        let json =
            request_json(&["t=21.5".into(), "ok=true".into(), "t=".into()], &fields).unwrap();
        assert_eq!(json, json!({"t": [21.5, null], "ok": [true]}));
        assert!(request_json(&["t=warm".into()], &fields).is_err());
    }
}
