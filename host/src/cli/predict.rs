//! `verge predict`: the JSON `POST /predict` answers, from the command line.

use clap::Args;
use serde_json::Map;
use verge_core::api::Api;

use super::get_online_features::{Rows, print_answer, read_time};
use super::{Ctx, ExitStatus};
use verge_host::materialize::LATEST;
use verge_host::request::{encode, entity_json, key_fields, local_limits, request_json};
use verge_host::resolve::pair_layers;

/// Predict for entities: online read + request data → on-demand features →
/// fitted transforms → model, exactly as the edge does.
///
/// Prints the `/predict` JSON: per entity the label and class probabilities (or
/// a value), the features with their statuses, and the bundle and snapshot ids.
///
/// Examples:
///   verge predict --bundle model/surgical_lesion --entity hospital_number=530101
///   verge predict --bundle 3fa1 --snapshot snapshot/latest --entity hospital_number=530101 \
///       --now 2021-06-06T00:00:00Z
#[derive(Debug, Args)]
pub struct Predict {
    /// The model bundle: a path, an id or unique prefix, or a ref (`model/NAME`).
    #[arg(long, value_name = "B")]
    pub bundle: String,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// The rows to predict for.
    #[command(flatten)]
    pub rows: Rows,
}

impl Predict {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// Unreadable or incompatible artifacts, a bad time or value, or a request the
    /// API refuses (its message is reported).
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let now = read_time(self.rows.now.as_deref())?;
        let repo = ctx.repository();
        let bundle = repo.load_bundle(&self.bundle)?;
        // Pushed rows not yet materialized are read over the snapshot.
        let layers = std::sync::Arc::new(verge_host::push::delta::layers(
            &ctx.repo,
            repo.load_snapshot(&self.snapshot)?,
        )?);
        let snapshot = layers.base();
        let contents = bundle.contents();
        let mut body = Map::new();
        body.insert(
            "entities".into(),
            entity_json(
                &self.rows.entities,
                &key_fields(&contents.entity_keys, snapshot),
            )?,
        );
        if !self.rows.requests.is_empty() {
            body.insert(
                "request_context".into(),
                request_json(&self.rows.requests, &contents.request)?,
            );
        }
        let body: Vec<u8> = encode(&body)?;
        let api = Api::new(
            pair_layers(bundle, std::sync::Arc::clone(&layers))?,
            local_limits(),
        );
        print_answer(&api.handle("POST", "/predict", &body, now))
    }
}
