//! `verge.toml` exactly as written: serde shapes that mirror the file.
//!
//! These types only check what serde can check by itself (known keys, value
//! kinds). Everything with a vocabulary (types, durations, estimators, paths) is
//! kept as text here and interpreted in [`super::convert`], which knows the table
//! and the object's name and can say what to write instead.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub project: String,
    #[serde(default)]
    pub entity: Vec<RawEntity>,
    #[serde(default)]
    pub source: Vec<RawSource>,
    #[serde(default)]
    pub feature_view: Vec<RawFeatureView>,
    #[serde(default)]
    pub on_demand_feature_view: Vec<RawOnDemandView>,
    #[serde(default)]
    pub feature_service: Vec<RawFeatureService>,
    #[serde(default)]
    pub model: Vec<RawModel>,
    #[serde(default)]
    pub push_source: Vec<RawPushSource>,
    /// `[run]`: settings of `verge run` (see `crate::pipeline::RunConfig`). Not
    /// part of the definitions, so it never changes a registry id; it is only
    /// accepted here so `deny_unknown_fields` lets it through.
    #[serde(default, rename = "run")]
    pub _run: Option<toml::Table>,
    /// `[offline]`: the offline engine (see `crate::spark::Engine::resolve`);
    /// like `[run]`, not part of the definitions.
    #[serde(default, rename = "offline")]
    pub _offline: Option<toml::Table>,
    /// `[publish]`: settings of `verge publish` (see
    /// `crate::publish::delta::PublishConfig`), accepted here like `[run]`.
    #[serde(default, rename = "publish")]
    pub _publish: Option<toml::Table>,
}

/// `[[entity]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntity {
    pub name: String,
    pub join_keys: Vec<RawJoinKey>,
    /// Type of the join keys written as plain names; Feast calls it `value_type`.
    #[serde(default, alias = "value_type")]
    pub dtype: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// One join key: a bare name, or `{ name, dtype }` (`dtype` may be left out:
/// the type is then taken from the sources' column, see `crate::source::schema`).
#[derive(Debug)]
pub(crate) enum RawJoinKey {
    Name(String),
    Typed(RawKey),
}

/// `{ name = "...", dtype = "..." }` in `join_keys`, where `dtype` is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    pub name: String,
    #[serde(default, alias = "value_type")]
    pub dtype: Option<String>,
}

impl<'de> Deserialize<'de> for RawJoinKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor instead of `#[serde(untagged)]`, whose error
        // ("did not match any variant") would not tell the user what to write.
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RawJoinKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a join-key name or a table { name = \"...\", dtype = \"int64\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawJoinKey, E> {
                Ok(RawJoinKey::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawJoinKey, A::Error> {
                RawKey::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawJoinKey::Typed)
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// `{ name = "...", dtype = "..." }`: a feature-view field or request field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub name: String,
    #[serde(alias = "value_type")]
    pub dtype: String,
    /// `cast = true`: accept a lossy narrowing of the source column (float64
    /// data declared float32, say) at plan/apply; feature-view fields only.
    #[serde(default)]
    pub cast: bool,
}

/// `[[source]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub name: String,
    /// A file, a directory or glob of Parquet files; none for `postgres`.
    #[serde(default)]
    pub path: String,
    /// `csv`, `parquet`, `sqlite` or `postgres`; left out: from `path`'s extension.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub table: Option<String>,
    /// `postgres`: the connection URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `postgres`: the environment variable holding the connection URL.
    #[serde(default)]
    pub url_env: Option<String>,
    pub timestamp_field: String,
    #[serde(default)]
    pub created_timestamp_field: Option<String>,
    #[serde(default)]
    pub field_mapping: BTreeMap<String, String>,
}

/// `[[push_source]]`: Feast's `PushSource` over a batch source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPushSource {
    pub name: String,
    pub batch_source: String,
    #[serde(default)]
    pub description: String,
}

/// `[[feature_view]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureView {
    pub name: String,
    pub entities: Vec<String>,
    pub source: String,
    /// A string like `"1d"` or the integer `0`; interpreted by the converter.
    #[serde(default)]
    pub ttl: Option<toml::Value>,
    #[serde(default = "yes")]
    pub online: bool,
    pub fields: Vec<RawField>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// `[[on_demand_feature_view]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOnDemandView {
    pub name: String,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub request: Vec<RawField>,
    pub fields: Vec<RawOnDemandField>,
}

/// `{ name, dtype, expr }` inside an on-demand view.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOnDemandField {
    pub name: String,
    #[serde(alias = "value_type")]
    pub dtype: String,
    pub expr: String,
}

/// `[[feature_service]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureService {
    pub name: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// `[[model]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    pub name: String,
    pub feature_service: String,
    pub label: String,
    #[serde(default)]
    pub impute: Option<String>,
    #[serde(default)]
    pub impute_value: Option<f64>,
    #[serde(default)]
    pub scale: Option<String>,
    #[serde(default)]
    pub encode: Option<String>,
    #[serde(default)]
    pub select_k_best: Option<u32>,
    #[serde(default)]
    pub estimator: Option<String>,
    #[serde(default)]
    pub var_smoothing: Option<f64>,
    #[serde(default)]
    pub c: Option<f64>,
    #[serde(default)]
    pub max_iter: Option<u32>,
    /// An imported model's file (`xgboost`, `lightgbm`), relative to the repository.
    #[serde(default)]
    pub model_file: Option<String>,
    /// `random_forest` / `decision_tree`: `classification` or `regression`.
    #[serde(default)]
    pub task: Option<String>,
    /// Their classification split criterion.
    #[serde(default)]
    pub criterion: Option<String>,
    /// Their integer hyper-parameters, read as TOML's i64 so that a zero, a
    /// negative or a huge value gets verge's message naming the key.
    #[serde(default)]
    pub n_trees: Option<i64>,
    #[serde(default)]
    pub max_features: Option<i64>,
    #[serde(default)]
    pub max_depth: Option<i64>,
    #[serde(default)]
    pub min_samples_split: Option<i64>,
    #[serde(default)]
    pub min_samples_leaf: Option<i64>,
    #[serde(default)]
    pub seed: Option<i64>,
}
