//! The run's last act: one entity drawn at random (seeded) from the snapshot,
//! and its prediction (`POST /predict`, a model run) or its online features
//! (`POST /get-online-features` by `feature_service`, a feature service run),
//! answered by the core's own code — the same bytes every edge face returns
//! for the same request.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value as Json, json};
use verge_core::api::Api;
use verge_core::artifact::{ArtifactKind, Bundle, Snapshot};
use verge_core::{ContentId, Timestamp};

use crate::artifacts::ArtifactStore;
use crate::request::local_limits;
use crate::resolve::pair_predictor;
use crate::verify::key_json;

/// A request for a randomly drawn entity, and the core's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomAnswer {
    /// The seed the draw used.
    pub seed: u64,
    /// How many entities the snapshot offered.
    pub candidates: usize,
    /// The drawn entity: join key → value.
    pub entity: Map<String, Json>,
    /// The route asked: `/predict` or `/get-online-features`.
    pub route: &'static str,
    /// The body sent (with `now`), to replay against any face.
    pub request: Json,
    /// The answer's JSON, as the route returns it.
    pub response: Json,
}

/// SplitMix64: one well-mixed number per seed, so `--seed N` picks the same
/// entity on every machine.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws an entity of the bundle's first feature view from the snapshot with
/// `seed`, and predicts for it at `now` through [`Api::handle`].
///
/// # Errors
///
/// Unreadable or incompatible artifacts, a snapshot with no entity of the
/// model's views, or a prediction the core refuses.
pub fn predict_random(
    repo: &Path,
    bundle: ContentId,
    snapshot: ContentId,
    seed: u64,
    now: Timestamp,
) -> anyhow::Result<RandomAnswer> {
    ask_random(repo, bundle, snapshot, seed, now, "/predict")
}

/// Draws an entity as [`predict_random`] does, and reads its online features
/// of the bundle's feature service at `now` through [`Api::handle`] (`POST
/// /get-online-features` with `feature_service`): a feature bundle's answer.
///
/// # Errors
///
/// As [`predict_random`].
pub fn features_random(
    repo: &Path,
    bundle: ContentId,
    snapshot: ContentId,
    seed: u64,
    now: Timestamp,
) -> anyhow::Result<RandomAnswer> {
    ask_random(repo, bundle, snapshot, seed, now, "/get-online-features")
}

/// The stored bundle and snapshot.
fn load_pair(
    repo: &Path,
    bundle: ContentId,
    snapshot: ContentId,
) -> anyhow::Result<(Bundle, Snapshot)> {
    let store = ArtifactStore::open(repo);
    let bundle_path = store.path(bundle, ArtifactKind::Bundle);
    let bytes =
        fs::read(&bundle_path).with_context(|| format!("cannot read {}", bundle_path.display()))?;
    let bundle = Bundle::load(&bytes).context("loading the bundle")?;
    let snapshot_path = store.path(snapshot, ArtifactKind::Snapshot);
    let bytes = fs::read(&snapshot_path)
        .with_context(|| format!("cannot read {}", snapshot_path.display()))?;
    let snapshot = Snapshot::load(bytes).context("loading the snapshot")?;
    Ok((bundle, snapshot))
}

/// Draws the entity and sends `route` its request.
fn ask_random(
    repo: &Path,
    bundle: ContentId,
    snapshot: ContentId,
    seed: u64,
    now: Timestamp,
    route: &'static str,
) -> anyhow::Result<RandomAnswer> {
    let (bundle, snapshot) = load_pair(repo, bundle, snapshot)?;
    let contents = bundle.contents();
    let Some((t, view)) = contents
        .views
        .iter()
        .find_map(|v| snapshot.table_index(&v.name).map(|t| (t, v)))
    else {
        bail!("the snapshot holds none of the bundle's feature views; nothing to ask for");
    };
    let candidates = snapshot
        .table(t)
        .map_or(0, verge_core::artifact::ViewTable::rows);
    if candidates == 0 {
        bail!(
            "feature view `{}` has no entity in the snapshot; materialize a window that holds some rows",
            view.name
        );
    }
    let row = (splitmix64(seed) % candidates as u64) as usize;
    let key = snapshot
        .key(t, row)
        .context("internal: a snapshot row has no key")?;
    let mut entity = Map::new();
    for (field, part) in view.join_keys.iter().zip(key.parts()) {
        entity.insert(field.name.clone(), key_json(part));
    }
    let entities: Map<String, Json> = entity
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let mut body = Map::new();
    if route == "/get-online-features" {
        body.insert("feature_service".into(), json!(contents.service));
    }
    body.insert("entities".into(), Json::Object(entities));
    if !contents.request.is_empty() {
        let context: Map<String, Json> = contents
            .request
            .iter()
            .map(|f| (f.name.clone(), json!([null])))
            .collect();
        body.insert("request_context".into(), Json::Object(context));
    }
    body.insert("now".into(), json!(now.to_rfc3339()));
    let request = Json::Object(body);
    let api = Api::new(pair_predictor(bundle, snapshot)?, local_limits());
    let answer = api.handle(
        "POST",
        route,
        &serde_json::to_vec(&request).context("encoding the request")?,
        now,
    );
    let response: Json = serde_json::from_slice(&answer.body)
        .with_context(|| format!("internal: {route} answered non-JSON"))?;
    if answer.status != 200 {
        bail!(
            "{route} refused the request ({}): {}",
            answer.status,
            verge_core::api::error_message(&answer.body)
        );
    }
    Ok(RandomAnswer {
        seed,
        candidates,
        entity,
        route,
        request,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::splitmix64;

    #[test]
    fn the_draw_is_fixed_per_seed() {
        // Reference values of SplitMix64 (Vigna), first output for these seeds.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_ne!(splitmix64(42), splitmix64(43));
    }
}
