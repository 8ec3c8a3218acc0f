//! `verge get-online-features`: the JSON `POST /get-online-features` answers,
//! from the command line.
//!
//! The answer is produced by the core's API code ([`verge_core::api`]), the same
//! function every edge face calls, so the CLI prints exactly what a worker would.
//! Artifacts resolve through [`verge_host::resolve`] and `KEY=VALUE` arguments
//! become typed request JSON through [`verge_host::request`].

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args};
use serde_json::{Map, Value as Json};
use verge_core::Timestamp;
use verge_core::api::{Api, Response, get_online_features_layered_json};

use super::materialize::now;
use super::{Ctx, ExitStatus};
use verge_host::materialize::{LATEST, parse_time};
use verge_host::request::{encode, entity_json, key_fields, local_limits, request_json};
use verge_host::resolve::pair_layers;

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
    /// The rows to read.
    #[command(flatten)]
    pub rows: Rows,
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
        let now = read_time(self.rows.now.as_deref())?;
        let repo = ctx.repository();
        // Pushed rows not yet materialized are read over the snapshot.
        let layers = std::sync::Arc::new(verge_host::push::delta::layers(
            &ctx.repo,
            repo.load_snapshot(&self.snapshot)?,
        )?);
        let snapshot = layers.base();
        let bundle = match (&self.bundle, &self.service) {
            (Some(b), _) => Some(repo.load_bundle(b)?),
            (None, Some(service)) => Some(repo.load_bundle(&repo.model_ref_for(service)?)?),
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
        let limits = local_limits();
        let answer = match bundle {
            Some(bundle) => {
                let contents = bundle.contents();
                let keys = key_fields(&contents.entity_keys, snapshot);
                body.insert("entities".into(), entity_json(&self.rows.entities, &keys)?);
                if !self.rows.requests.is_empty() {
                    body.insert(
                        "request_context".into(),
                        request_json(&self.rows.requests, &contents.request)?,
                    );
                }
                let api = Api::new(pair_layers(bundle, std::sync::Arc::clone(&layers))?, limits);
                api.handle("POST", "/get-online-features", &encode(&body)?, now)
            }
            None => {
                if !self.rows.requests.is_empty() {
                    bail!(
                        "--request feeds on-demand features, which need a model bundle: add --bundle B"
                    );
                }
                let keys = key_fields(&[], snapshot);
                body.insert("entities".into(), entity_json(&self.rows.entities, &keys)?);
                get_online_features_layered_json(&layers, &encode(&body)?, now, limits)
            }
        };
        print_answer(&answer)
    }
}

/// The entity rows, request data and time of a read: the flags
/// `get-online-features` and `predict` share.
#[derive(Debug, Args)]
pub struct Rows {
    /// An entity's join key value; repeat for a batch or for composite keys.
    #[arg(long = "entity", value_name = "KEY=VALUE", required = true)]
    pub entities: Vec<String>,
    /// Request data for on-demand features; repeat per field and row.
    #[arg(long = "request", value_name = "NAME=VALUE")]
    pub requests: Vec<String>,
    /// Evaluate TTLs at this time (RFC 3339, `now`, `now-1d`); default: now.
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
}

/// Prints a 200 answer's body; turns any other into an error carrying its message.
pub(crate) fn print_answer(answer: &Response) -> anyhow::Result<ExitStatus> {
    if answer.status != 200 {
        let message = verge_core::api::error_message(&answer.body);
        bail!("{message}");
    }
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(&answer.body)?;
    writeln!(out)?;
    Ok(ExitStatus::Success)
}

/// `--now` or the clock.
pub(crate) fn read_time(now_flag: Option<&str>) -> anyhow::Result<Timestamp> {
    match now_flag {
        Some(t) => parse_time(t, now()).context("--now"),
        None => Ok(now()),
    }
}
