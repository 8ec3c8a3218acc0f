//! Parsing and checking request bodies against what the bundle and snapshot
//! hold. The bytes are decoded by [`decode`] (streaming, strings borrowed from
//! the body); this module checks the decoded fields, in a fixed order, so the
//! same body always gets the same first complaint.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{ApiError, Limits};
use crate::Timestamp;
use crate::artifact::{ServiceFeature, Snapshot};
use crate::definition::{FeatureRef, Field};
use crate::online::{Deployment, Layered, Predictor, SnapshotField};

mod checks;
pub(crate) mod decode;
mod json_value;
mod route;
pub(crate) mod shards;
mod wide_int;

use crate::value::{DType, KeyPart, Value};
use decode::{Body, Cell};
pub(crate) use json_value::cell_to_value;
use route::{asked, choose};
use wide_int::beyond_int64;

/// Where a requested feature is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Feature `i` of the bundle's service (plain or on-demand).
    Service(usize),
    /// A snapshot field outside the service.
    Snapshot(SnapshotField),
}

/// A feature in the response: its reference, its output name and its source.
#[derive(Debug, Clone)]
pub(crate) struct Requested {
    pub(crate) feature: FeatureRef,
    pub(crate) source: Source,
}

/// The parts every request shares: entity rows, request data and `now`.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    /// Join-key columns as given: name, dtype, values.
    pub(crate) keys: Vec<(String, Vec<KeyPart>)>,
    /// Request-data columns in the bundle's request order (null when not sent).
    pub(crate) request: Vec<Vec<Value>>,
    /// Whether the caller sent each request-data column at all.
    pub(crate) request_sent: Vec<bool>,
    /// Number of entity rows.
    pub(crate) len: usize,
}

impl Rows {
    /// Row `i`'s values of the bundle's entity keys, in the bundle's order.
    pub(crate) fn bundle_keys(
        &self,
        predictor: &Predictor,
        i: usize,
    ) -> Result<Vec<KeyPart>, ApiError> {
        let mut out = Vec::new();
        for k in &predictor.bundle().contents().entity_keys {
            let (_, column) = self
                .keys
                .iter()
                .find(|(name, _)| *name == k.name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`entities` needs join key `{}` for feature service `{}`",
                        k.name,
                        predictor.bundle().contents().service
                    ))
                })?;
            out.push(
                column
                    .get(i)
                    .cloned()
                    .ok_or_else(|| ApiError::bad_request("ragged entity columns"))?,
            );
        }
        Ok(out)
    }

    /// Row `i`'s request data, in the bundle's request order.
    pub(crate) fn request_row(&self, i: usize) -> Vec<Value> {
        self.request
            .iter()
            .map(|c| c.get(i).cloned().unwrap_or(Value::Null))
            .collect()
    }
}

/// A parsed `POST /get-online-features` body.
#[derive(Debug, Clone)]
pub struct OnlineRequest {
    pub(crate) features: Vec<Requested>,
    pub(crate) full_feature_names: bool,
    pub(crate) rows: Rows,
    /// The `now` override, if the body gave one.
    pub now: Option<Timestamp>,
}

/// A parsed `POST /predict` body.
#[derive(Debug, Clone)]
pub struct PredictRequest {
    pub(crate) rows: Rows,
    /// The `now` override, if the body gave one.
    pub now: Option<Timestamp>,
}

/// Refuses a feature named twice: it would only repeat a column, and a list
/// repeating one feature thousands of times would multiply the work per row.
fn check_repeats(refs: &[FeatureRef]) -> Result<(), ApiError> {
    let mut seen = alloc::collections::BTreeSet::new();
    for r in refs {
        if !seen.insert((r.view.as_str(), r.field.as_str())) {
            return Err(ApiError::bad_request(format!(
                "feature `{r}` is requested twice; ask for each feature once"
            )));
        }
    }
    Ok(())
}

fn check_keys(body: &Body<'_>, allowed: &[&str]) -> Result<(), ApiError> {
    for key in body.keys() {
        if !allowed.contains(&key) {
            return Err(ApiError::bad_request(format!(
                "unknown field `{key}`; allowed: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn parse_now(body: &Body<'_>) -> Result<Option<Timestamp>, ApiError> {
    match &body.now {
        None | Some(Cell::Null) => Ok(None),
        Some(Cell::Str(s)) => Timestamp::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("`now` is not an RFC 3339 time: {s:?}"))),
        Some(_) => Err(ApiError::bad_request("`now` must be an RFC 3339 string")),
    }
}

fn parse_full_names(body: &Body<'_>) -> Result<bool, ApiError> {
    match body.full_feature_names {
        None | Some(Cell::Null) => Ok(false),
        Some(Cell::Bool(b)) => Ok(b),
        Some(_) => Err(ApiError::bad_request(
            "`full_feature_names` must be true or false",
        )),
    }
}

/// A value as the client wrote it (serde_json's compact form), cut at 40 characters.
fn describe(cell: &Cell<'_>) -> String {
    let text = cell.to_text();
    if text.len() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// The declared type of a join key named `name`: the bundle's, else any snapshot view's.
fn key_dtype(entity_keys: &[Field], snapshot: &Snapshot, name: &str) -> Option<DType> {
    entity_keys
        .iter()
        .find(|k| k.name == name)
        .map(|k| k.dtype)
        .or_else(|| {
            snapshot
                .meta()
                .views
                .iter()
                .flat_map(|v| v.join_keys.iter())
                .find(|k| k.name == name)
                .map(|k| k.dtype)
        })
}

fn parse_rows(
    body: &[u8],
    map: &Body<'_>,
    predictor: &Predictor,
    limits: Limits,
) -> Result<Rows, ApiError> {
    let contents = predictor.bundle().contents();
    parse_rows_for(
        body,
        map,
        &contents.entity_keys,
        &contents.request,
        Layered::Many(predictor.layers()),
        limits,
    )
}

/// Every column of entity rows by name: `entities`, then `request_context`, each
/// an array (one value per row); a name given twice is refused.
fn gather_columns<'b>(map: &'b Body<'_>) -> Result<BTreeMap<&'b str, &'b Vec<Cell<'b>>>, ApiError> {
    let Some(Cell::Object(entities)) = &map.entities else {
        return Err(ApiError::bad_request(
            "`entities` must be an object of join key → array of values",
        ));
    };
    // Feast sends request data for on-demand views in `entities`; verge also takes `request_context`.
    let mut columns: BTreeMap<&str, &Vec<Cell<'_>>> = BTreeMap::new();
    let context = match &map.request_context {
        None | Some(Cell::Null) => None,
        Some(Cell::Object(c)) => Some(c),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`request_context` must be an object of field → array of values",
            ));
        }
    };
    for (name, values) in entities.iter().chain(context.into_iter().flatten()) {
        let Cell::Array(values) = values else {
            return Err(ApiError::bad_request(format!(
                "`{name}` must be an array of values, one per entity row"
            )));
        };
        if columns.insert(name, values).is_some() {
            return Err(ApiError::bad_request(format!("`{name}` is given twice")));
        }
    }
    Ok(columns)
}

/// [`parse_rows`] against explicit entity keys and request fields (empty without a
/// bundle), with the snapshot supplying any other join key's type. `body` is
/// the text `map` was decoded from, to quote a too-wide integer as written.
/// Every key must be one `layers` holds ([`crate::online::route_check`]).
fn parse_rows_for(
    body: &[u8],
    map: &Body<'_>,
    entity_keys: &[Field],
    request_fields: &[Field],
    layers: Layered<'_>,
    limits: Limits,
) -> Result<Rows, ApiError> {
    let snapshot = layers.base();
    let columns = gather_columns(map)?;
    let len = columns.values().next().map_or(0, |v| v.len());
    if len == 0 {
        return Err(ApiError::bad_request(
            "`entities` has no rows; give at least one join key value",
        ));
    }
    if len > limits.max_entities {
        return Err(ApiError {
            status: 413,
            message: format!(
                "{len} entity rows; the limit is {} per request",
                limits.max_entities
            ),
        });
    }
    if let Some((name, v)) = columns.iter().find(|(_, v)| v.len() != len) {
        return Err(ApiError::bad_request(format!(
            "`{name}` has {} values but other columns have {len}",
            v.len()
        )));
    }
    let mut keys = Vec::new();
    let mut request: Vec<Vec<Value>> = request_fields.iter().map(|_| Vec::new()).collect();
    for (name, values) in &columns {
        if let Some(i) = request_fields.iter().position(|f| f.name == *name) {
            let dtype = request_fields[i].dtype;
            for (row, cell) in values.iter().enumerate() {
                let value = cell_to_value(cell, dtype).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "request field `{name}` is {dtype}; row {row} has {}",
                        describe(cell)
                    ))
                })?;
                request[i].push(value);
            }
        } else if let Some(dtype) = key_dtype(entity_keys, snapshot, name) {
            let mut parts = Vec::with_capacity(values.len());
            for (row, cell) in values.iter().enumerate() {
                let part = match (cell, dtype) {
                    (Cell::Number(n), DType::Int64) => n.as_i64().map(KeyPart::Int64),
                    (Cell::Number(n), DType::Int32) => n
                        .as_i64()
                        .filter(|v| i32::try_from(*v).is_ok())
                        .map(KeyPart::Int64),
                    (Cell::Str(s), DType::String) => Some(KeyPart::String(s.to_string())),
                    _ => None,
                };
                parts.push(part.ok_or_else(|| {
                    let found = match dtype {
                        DType::Int64 => beyond_int64(cell, body),
                        _ => None,
                    };
                    ApiError::bad_request(format!(
                        "join key `{name}` is {dtype}; row {row} has {}",
                        found.unwrap_or_else(|| describe(cell))
                    ))
                })?);
            }
            keys.push((name.to_string(), parts));
        } else {
            return Err(unknown_column(name, entity_keys, request_fields, snapshot));
        }
    }
    let request_sent: Vec<bool> = request.iter().map(|c| !c.is_empty()).collect();
    for column in &mut request {
        if column.is_empty() {
            column.resize(len, Value::Null);
        }
    }
    shards::check_route(layers, &keys, len)?;
    Ok(Rows {
        keys,
        request,
        request_sent,
        len,
    })
}

/// The error for a column that is neither a join key nor a request field,
/// listing every name that would have been accepted.
fn unknown_column(
    name: &str,
    entity_keys: &[Field],
    request_fields: &[Field],
    snapshot: &Snapshot,
) -> ApiError {
    let mut known: Vec<&str> = entity_keys.iter().map(|k| k.name.as_str()).collect();
    for k in snapshot.meta().views.iter().flat_map(|v| &v.join_keys) {
        if !known.contains(&k.name.as_str()) {
            known.push(&k.name);
        }
    }
    known.extend(request_fields.iter().map(|f| f.name.as_str()));
    ApiError::bad_request(format!(
        "unknown entity key or request field `{name}`; known: {}",
        known.join(", ")
    ))
}

/// Where a requested feature is read from: the bundle's service when it is one of
/// its features, else a snapshot field outside the service.
fn source_in_pair(
    feature: &FeatureRef,
    predictor: &Predictor,
    deployment: &Deployment,
) -> Result<Source, ApiError> {
    let contents = predictor.bundle().contents();
    // Only on-demand features need the bundle's read (and every join key of
    // its service); a plain view field is read straight from the snapshot, so
    // a request needs only the join keys of the views it asks for, as Feast's
    // server needs (Feast 0.60's client sends one view, one join key, a time).
    let on_demand = contents
        .features
        .iter()
        .position(|f| matches!(f, ServiceFeature::OnDemand { .. }) && feature.is_named(f.name()));
    let source = if let Some(i) = on_demand {
        Source::Service(i)
    } else {
        let snapshot = predictor.snapshot();
        let table = snapshot.table_index(&feature.view);
        let column = table.and_then(|t| {
            snapshot.meta().views[t]
                .fields
                .iter()
                .position(|f| f.name == feature.field)
        });
        match (table, column) {
            (Some(table), Some(column)) => Source::Snapshot(SnapshotField { table, column }),
            (Some(table), None) => {
                let fields: Vec<&str> = snapshot.meta().views[table]
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "unknown feature `{feature}`; view `{}` has: {}",
                    feature.view,
                    fields.join(", ")
                )));
            }
            (None, _) => return Err(unknown_view(feature, deployment)),
        }
    };
    Ok(source)
}

/// The error for a feature of a view that is neither in the snapshot nor an
/// on-demand view of any bundle, naming both kinds the deployment serves.
fn unknown_view(feature: &FeatureRef, deployment: &Deployment) -> ApiError {
    let views: Vec<&str> = deployment
        .snapshot()
        .meta()
        .views
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let mut on_demand: Vec<&str> = Vec::new();
    for p in deployment.predictors() {
        for f in &p.bundle().contents().features {
            if let ServiceFeature::OnDemand { name, .. } = f
                && let Some((view, _)) = name.split_once(':')
                && !on_demand.contains(&view)
            {
                on_demand.push(view);
            }
        }
    }
    let on_demand = if on_demand.is_empty() {
        String::from("none")
    } else {
        on_demand.join(", ")
    };
    ApiError::bad_request(format!(
        "unknown feature `{feature}`: no view `{}` in the snapshot (views: {}) nor among the on-demand views of the deployment's bundles ({on_demand})",
        feature.view,
        views.join(", ")
    ))
}

impl OnlineRequest {
    /// Parses and checks a `get-online-features` body, and picks the pair of
    /// `deployment` that answers it.
    ///
    /// # Errors
    ///
    /// [`ApiError`] (400 or 413) naming the field at fault.
    pub fn parse<'d>(
        body: &[u8],
        deployment: &'d Deployment,
        limits: Limits,
    ) -> Result<(&'d Predictor, OnlineRequest), ApiError> {
        let map = Body::decode(body)?;
        // Feast's clients add top-level fields between versions (0.67 sends
        // `include_feature_view_version_metadata`): on Feast's route, unknown
        // ones are ignored, as Feast's server does. Unknown features are not.
        let (predictor, refs) = choose(asked(&map)?, &map, deployment)?;
        if refs.is_empty() {
            return Err(ApiError::bad_request("`features` is empty"));
        }
        let contents = predictor.bundle().contents();
        let mut features = Vec::with_capacity(refs.len());
        for feature in refs {
            let source = source_in_pair(&feature, predictor, deployment)?;
            features.push(Requested { feature, source });
        }
        let full_feature_names = parse_full_names(&map)?;
        let rows = parse_rows(body, &map, predictor, limits)?;
        let service: Vec<usize> = features
            .iter()
            .filter_map(|f| match f.source {
                Source::Service(i) => Some(i),
                Source::Snapshot(_) => None,
            })
            .collect();
        // Service features are read all at once per row, so asking for one holds them all.
        let read = if service.is_empty() {
            0
        } else {
            contents.features.len()
        };
        rows.check_cells(features.len().saturating_add(read), limits)?;
        rows.check_request_data(contents, service)?;
        let request = OnlineRequest {
            features,
            full_feature_names,
            rows,
            now: parse_now(&map)?,
        };
        Ok((predictor, request))
    }
}

impl OnlineRequest {
    /// Parses a `get-online-features` body against a snapshot alone (no bundle):
    /// `features` must name snapshot fields; there is no feature service and no
    /// on-demand feature to compute.
    ///
    /// # Errors
    ///
    /// [`ApiError`] (400 or 413) naming the field at fault.
    pub fn parse_for_snapshot(
        body: &[u8],
        snapshot: &Snapshot,
        limits: Limits,
    ) -> Result<OnlineRequest, ApiError> {
        OnlineRequest::parse_for_layers(body, Layered::One(snapshot), limits)
    }

    /// [`OnlineRequest::parse_for_snapshot`] over a snapshot's layers (its
    /// deltas, or the shards of a set), which decide whether a key is held.
    pub(crate) fn parse_for_layers(
        body: &[u8],
        layers: Layered<'_>,
        limits: Limits,
    ) -> Result<OnlineRequest, ApiError> {
        let snapshot = layers.base();
        let map = Body::decode(body)?;
        // Unknown top-level fields are ignored, as in `parse` (Feast's route).
        let Some(Cell::Array(list)) = &map.features else {
            return Err(ApiError::bad_request(
                "give `features` (an array of \"view:field\"); a feature service needs a model bundle",
            ));
        };
        if list.is_empty() {
            return Err(ApiError::bad_request("`features` is empty"));
        }
        let mut features = Vec::with_capacity(list.len());
        for item in list {
            let feature = item.as_str().and_then(FeatureRef::parse).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "feature {} is not a \"view:field\" string",
                    describe(item)
                ))
            })?;
            let views = &snapshot.meta().views;
            let Some(table) = snapshot.table_index(&feature.view) else {
                let known: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
                return Err(ApiError::bad_request(format!(
                    "unknown feature view `{}`; the snapshot holds: {}",
                    feature.view,
                    known.join(", ")
                )));
            };
            let fields = &views[table].fields;
            let Some(column) = fields.iter().position(|f| f.name == feature.field) else {
                let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(ApiError::bad_request(format!(
                    "unknown feature `{feature}`; `{}` has: {}",
                    feature.view,
                    known.join(", ")
                )));
            };
            features.push(Requested {
                feature,
                source: Source::Snapshot(SnapshotField { table, column }),
            });
        }
        check_repeats(
            &features
                .iter()
                .map(|f| f.feature.clone())
                .collect::<Vec<_>>(),
        )?;
        let full_feature_names = parse_full_names(&map)?;
        let rows = parse_rows_for(body, &map, &[], &[], layers, limits)?;
        rows.check_cells(features.len(), limits)?;
        Ok(OnlineRequest {
            features,
            full_feature_names,
            rows,
            now: parse_now(&map)?,
        })
    }
}

impl PredictRequest {
    /// Parses and checks a `predict` body, and picks the model of
    /// `deployment` it names (`model`, optional when there is one model).
    ///
    /// # Errors
    ///
    /// [`ApiError`] (400 or 413) naming the field at fault.
    pub fn parse<'d>(
        body: &[u8],
        deployment: &'d Deployment,
        limits: Limits,
    ) -> Result<(&'d Predictor, PredictRequest), ApiError> {
        let map = Body::decode(body)?;
        check_keys(&map, &["entities", "request_context", "model", "now"])?;
        let model = match &map.model {
            None | Some(Cell::Null) => None,
            Some(Cell::Str(name)) => Some(&**name),
            Some(_) => return Err(ApiError::bad_request("`model` must be a model's name")),
        };
        let predictor = deployment.model(model)?;
        let rows = parse_rows(body, &map, predictor, limits)?;
        // Each prediction carries the model's inputs back as `features`.
        // Unlike Feast's route, request data left out here is a missing model
        // input, which the fitted imputer fills as it fills a missing feature.
        rows.check_cells(predictor.bundle().contents().features.len(), limits)?;
        let request = PredictRequest {
            rows,
            now: parse_now(&map)?,
        };
        Ok((predictor, request))
    }
}
