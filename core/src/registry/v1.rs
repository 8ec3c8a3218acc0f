//! Registry versions as format version 1 wrote them, before push sources:
//! read (so a repository applied with an older verge keeps its history), never
//! written. The only difference is the missing last field of `Definitions`.

use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;

use super::RegistryVersion;
use crate::definition::{
    Definitions, Entity, FeatureService, FeatureView, ModelSpec, OnDemandFeatureView, Source,
};
use crate::{ContentId, Timestamp};

/// A version 1 payload.
#[derive(Deserialize)]
pub(super) struct VersionV1 {
    parent: Option<ContentId>,
    applied_at: Timestamp,
    message: String,
    definitions: DefinitionsV1,
}

/// `Definitions` without `push_sources`, field for field.
#[derive(Deserialize)]
struct DefinitionsV1 {
    project: String,
    entities: Vec<Entity>,
    sources: Vec<Source>,
    feature_views: Vec<FeatureView>,
    on_demand_views: Vec<OnDemandFeatureView>,
    feature_services: Vec<FeatureService>,
    models: Vec<ModelSpec>,
}

impl From<VersionV1> for RegistryVersion {
    fn from(v: VersionV1) -> RegistryVersion {
        let d = v.definitions;
        RegistryVersion {
            parent: v.parent,
            applied_at: v.applied_at,
            message: v.message,
            definitions: Definitions {
                project: d.project,
                entities: d.entities,
                sources: d.sources,
                feature_views: d.feature_views,
                on_demand_views: d.on_demand_views,
                feature_services: d.feature_services,
                models: d.models,
                push_sources: Vec::new(),
            },
        }
    }
}
