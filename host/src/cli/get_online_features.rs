//! `verge get-online-features`: the JSON `POST /get-online-features` answers,
//! from the command line.
//!
//! The answer is produced by the core's API code ([`verge_core::api`]), the same
//! function every edge face calls, so the CLI prints exactly what a worker would.
//! This module also holds the helpers the reading commands share: finding and
//! loading artifacts, and turning `KEY=VALUE` arguments into request JSON typed
//! by the join keys and request fields.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args};
use serde_json::{Map, Value as Json, json};
use verge_core::api::{Api, Limits, Response, get_online_features_json};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::Field;
use verge_core::online::Predictor;
use verge_core::{DType, Timestamp};

use super::materialize::now;
use super::{Ctx, ExitStatus};
use crate::artifacts::ArtifactStore;
use crate::materialize::{LATEST, parse_time};

/// Read online feature values from a snapshot, as `POST /get-online-features` does.
///
/// Prints Feast's response shape: `metadata.feature_names`, then `results[]` with
/// `values`, `statuses` (PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE) and
/// `event_timestamps`, join keys first. Several --entity flags for the same key
/// make a batch; values are read by the join key's type.
///
/// Examples:
///   verge get-online-features --features horse_vitals:pulse --entity hospital_number=530101
///   verge get-online-features --service surgery_v1 --entity hospital_number=530101 \
///       --entity hospital_number=534817 --now 2021-06-06T00:00:00Z
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["features", "service"])))]
pub struct GetOnlineFeatures {
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// Features to read, comma-separated `view:field`.
    #[arg(long, value_name = "VIEW:FIELD,...", value_delimiter = ',')]
    pub features: Vec<String>,
    /// A feature service (on-demand features included); needs the model bundle
    /// serving it (--bundle, else the `model/<name>` ref of the model that uses it).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// A model bundle (path, id or ref), for --service or on-demand features.
    #[arg(long, value_name = "B")]
    pub bundle: Option<String>,
    /// An entity's join key value; repeat for a batch or for composite keys.
    #[arg(long = "entity", value_name = "KEY=VALUE", required = true)]
    pub entities: Vec<String>,
    /// Request data for on-demand features; repeat per field and row.
    #[arg(long = "request", value_name = "NAME=VALUE")]
    pub requests: Vec<String>,
    /// Evaluate TTLs at this time (RFC 3339, `now`, `now-1d`); default: now.
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
    /// Name columns `view__field` instead of `field`.
    #[arg(long)]
    pub full_feature_names: bool,
}

impl GetOnlineFeatures {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// Unreadable or incompatible artifacts, a bad time or value, or a request the
    /// API refuses (its message is reported).
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let now = read_time(self.now.as_deref())?;
        let snapshot = load_snapshot(ctx, &self.snapshot)?;
        let bundle = match (&self.bundle, &self.service) {
            (Some(b), _) => Some(load_bundle(ctx, b)?),
            (None, Some(service)) => Some(load_bundle(ctx, &model_ref_for(ctx, service)?)?),
            (None, None) => None,
        };
        let mut body = Map::new();
        if let Some(service) = &self.service {
            body.insert("feature_service".into(), Json::String(service.clone()));
        } else {
            let features: Vec<Json> = self
                .features
                .iter()
                .map(|f| Json::String(f.trim().to_owned()))
                .collect();
            body.insert("features".into(), Json::Array(features));
        }
        if self.full_feature_names {
            body.insert("full_feature_names".into(), Json::Bool(true));
        }
        let limits = cli_limits();
        let answer = match bundle {
            Some(bundle) => {
                let contents = bundle.contents();
                let keys = key_fields(&contents.entity_keys, &snapshot);
                body.insert("entities".into(), entity_json(&self.entities, &keys)?);
                if !self.requests.is_empty() {
                    body.insert(
                        "request_context".into(),
                        request_json(&self.requests, &contents.request)?,
                    );
                }
                let api = Api::new(predictor(bundle, snapshot)?, limits);
                api.handle("POST", "/get-online-features", &encode(&body)?, now)
            }
            None => {
                if !self.requests.is_empty() {
                    bail!(
                        "--request feeds on-demand features, which need a model bundle: add --bundle B"
                    );
                }
                let keys = key_fields(&[], &snapshot);
                body.insert("entities".into(), entity_json(&self.entities, &keys)?);
                get_online_features_json(&snapshot, &encode(&body)?, now, limits)
            }
        };
        print_answer(&answer)
    }
}

/// No request-size limits on the command line: the caller is local.
pub(crate) fn cli_limits() -> Limits {
    Limits {
        max_body_bytes: usize::MAX,
        max_entities: usize::MAX,
    }
}

pub(crate) fn encode(body: &Map<String, Json>) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(body).context("encoding the request")
}

/// Prints a 200 answer's body; turns any other into an error carrying its message.
pub(crate) fn print_answer(answer: &Response) -> anyhow::Result<ExitStatus> {
    if answer.status != 200 {
        let message = serde_json::from_slice::<Json>(&answer.body)
            .ok()
            .and_then(|j| j["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned());
        bail!("{message}");
    }
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(&answer.body)?;
    writeln!(out)?;
    Ok(ExitStatus::Success)
}

/// Reads and checks the snapshot `spec` names (path, id, prefix or ref).
pub(crate) fn load_snapshot(ctx: &Ctx, spec: &str) -> anyhow::Result<Snapshot> {
    let path = locate(ctx, spec, "snapshot")?;
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Snapshot::load(bytes).with_context(|| format!("loading snapshot {}", path.display()))
}

/// Reads and checks the bundle `spec` names (path, id, prefix or ref).
pub(crate) fn load_bundle(ctx: &Ctx, spec: &str) -> anyhow::Result<Bundle> {
    let path = locate(ctx, spec, "bundle")?;
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Bundle::load(&bytes).with_context(|| format!("loading bundle {}", path.display()))
}

pub(crate) fn locate(ctx: &Ctx, spec: &str, what: &str) -> anyhow::Result<PathBuf> {
    ArtifactStore::open(&ctx.repo).locate(spec).with_context(|| {
        if spec == LATEST {
            format!(
                "no {what} `{spec}`: run `verge materialize` first (a sharded snapshot is `snapshot/latest-shard-<i>`)"
            )
        } else {
            format!("finding {what} `{spec}`")
        }
    })
}

/// The `model/<name>` ref of the model serving feature service `service`.
pub(crate) fn model_ref_for(ctx: &Ctx, service: &str) -> anyhow::Result<String> {
    let (_, version) = ctx
        .store()
        .read_head()?
        .context("the registry is empty; run `verge apply` first, or give --bundle")?;
    let models: Vec<&str> = version
        .definitions
        .models
        .iter()
        .filter(|m| m.feature_service == service)
        .map(|m| m.name.as_str())
        .collect();
    match models.as_slice() {
        [one] => Ok(format!("model/{one}")),
        [] => bail!("no model uses feature service `{service}`; give the bundle with --bundle"),
        many => bail!(
            "models {} all use feature service `{service}`; pick one with --bundle model/NAME",
            many.join(", ")
        ),
    }
}

/// Pairs a bundle and a snapshot, saying what to do when they disagree.
pub(crate) fn predictor(bundle: Bundle, snapshot: Snapshot) -> anyhow::Result<Predictor> {
    let (b, s) = (bundle.id(), snapshot.id());
    Predictor::new(bundle, snapshot).with_context(|| {
        format!(
            "bundle {} and snapshot {} do not fit together; materialize again with the registry the model was trained on",
            b.short(),
            s.short()
        )
    })
}

/// Every join key a request may name: the bundle's, then the snapshot's.
pub(crate) fn key_fields(bundle_keys: &[Field], snapshot: &Snapshot) -> Vec<Field> {
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

/// `--entity KEY=VALUE...` as the request's `entities` object, typed by `keys`.
pub(crate) fn entity_json(pairs: &[String], keys: &[Field]) -> anyhow::Result<Json> {
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
            DType::Int64 => Json::from(text.trim().parse::<i64>().with_context(|| {
                format!("--entity {name}: `{text}` is not an integer (the join key is int64)")
            })?),
            _ => Json::String(text.to_owned()),
        };
        push(&mut columns, name, value);
    }
    Ok(Json::Object(columns))
}

/// `--request NAME=VALUE...` as `request_context`, typed by the bundle's request fields.
pub(crate) fn request_json(pairs: &[String], fields: &[Field]) -> anyhow::Result<Json> {
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
                DType::String => Json::String(text.to_owned()),
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

/// `--now` or the clock.
pub(crate) fn read_time(now_flag: Option<&str>) -> anyhow::Result<Timestamp> {
    match now_flag {
        Some(t) => parse_time(t, now()).context("--now"),
        None => Ok(now()),
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
