//! Which bundle of a deployment answers a `get-online-features` request: the
//! one serving its `feature_service`, or for a list of features the one that
//! computes its on-demand features (plain view fields come from the snapshot
//! whichever bundle answers).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::decode::{Body, Cell};
use super::{check_repeats, describe, gather_columns, key_dtype};
use crate::api::ApiError;
use crate::artifact::{BundleContents, ServiceFeature};
use crate::definition::FeatureRef;
use crate::online::{Deployment, Predictor};

/// What a `get-online-features` body asks for: a feature service by name, or
/// a list of features.
pub(super) enum Asked {
    Service(String),
    Features(Vec<FeatureRef>),
}

pub(super) fn asked(map: &Body<'_>) -> Result<Asked, ApiError> {
    match (&map.features, &map.feature_service) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give `features` or `feature_service`, not both",
        )),
        (None, Some(Cell::Str(service))) => Ok(Asked::Service(service.to_string())),
        (Some(Cell::Array(list)), None) => {
            let mut refs = Vec::with_capacity(list.len());
            for item in list {
                let r = item.as_str().and_then(FeatureRef::parse).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "feature {} is not a \"view:field\" string",
                        describe(item)
                    ))
                })?;
                refs.push(r);
            }
            check_repeats(&refs)?;
            Ok(Asked::Features(refs))
        }
        _ => Err(ApiError::bad_request(
            "give `features` (an array of \"view:field\") or `feature_service` (a name)",
        )),
    }
}

/// Whether `contents` computes `feature` on demand.
fn computes(contents: &BundleContents, feature: &FeatureRef) -> bool {
    contents
        .features
        .iter()
        .any(|f| matches!(f, ServiceFeature::OnDemand { .. }) && feature.is_named(f.name()))
}

/// The pair that answers `asked`, and the features to answer.
///
/// A feature service is answered by a bundle of that service. A feature list
/// is answered by the first bundle that computes every on-demand feature in
/// it; plain view fields come from the snapshot whichever bundle answers, so
/// a list without on-demand features goes to the first bundle that takes
/// every request-data column the body sends (else the first bundle, whose
/// error then names the columns it knows).
pub(super) fn choose<'d>(
    asked: Asked,
    map: &Body<'_>,
    deployment: &'d Deployment,
) -> Result<(&'d Predictor, Vec<FeatureRef>), ApiError> {
    let refs = match asked {
        Asked::Service(service) => {
            let predictor = deployment.service(&service).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown feature service `{service}`; this deployment serves: {}",
                    deployment.service_names().join(", ")
                ))
            })?;
            let refs = predictor
                .bundle()
                .contents()
                .features
                .iter()
                .filter_map(|f| FeatureRef::parse(f.name()))
                .collect();
            return Ok((predictor, refs));
        }
        Asked::Features(refs) => refs,
    };
    let on_demand: Vec<&FeatureRef> = refs
        .iter()
        .filter(|r| {
            deployment
                .predictors()
                .iter()
                .any(|p| computes(p.bundle().contents(), r))
        })
        .collect();
    let predictors = deployment.predictors();
    let chosen = if on_demand.is_empty() {
        let snapshot = deployment.snapshot();
        let sent = gather_columns(map).unwrap_or_default();
        let extra: Vec<&str> = sent
            .keys()
            .copied()
            .filter(|name| key_dtype(&[], snapshot, name).is_none())
            .collect();
        predictors
            .iter()
            .find(|p| {
                let request = &p.bundle().contents().request;
                extra.iter().all(|e| request.iter().any(|f| f.name == *e))
            })
            .unwrap_or(deployment.primary())
    } else {
        predictors
            .iter()
            .find(|p| on_demand.iter().all(|n| computes(p.bundle().contents(), n)))
            .ok_or_else(|| {
                let names: Vec<String> = on_demand.iter().map(|r| format!("{r}")).collect();
                ApiError::bad_request(format!(
                    "no one bundle computes all of the on-demand features {}; ask for them in separate requests, or by `feature_service`",
                    names.join(", ")
                ))
            })?
    };
    Ok((chosen, refs))
}
