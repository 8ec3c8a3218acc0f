//! Online reads and prediction: the path every edge request takes.
//!
//! A [`Predictor`] pairs a bundle with a snapshot. Building it checks that the two
//! agree on every view the bundle reads (same fingerprint: name, join keys, fields
//! and ttl) and resolves each feature to a snapshot column once, so a request only
//! hashes its key, reads values in place and runs the pipeline.
//!
//! Statuses follow Feast: `PRESENT`, `NULL_VALUE` (the row has the key but the
//! value is null), `NOT_FOUND` (no row for the key) and `OUTSIDE_MAX_AGE`
//! (`now - event_ts > ttl`; the value is then treated as missing, exactly as the
//! point-in-time join treats a row outside the ttl window).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::artifact::{Bundle, BundleContents, InputSource, ServiceFeature, Snapshot};
use crate::definition::FeatureRef;
use crate::pipeline::Prediction;
use crate::time::{Duration, Timestamp};
use crate::value::{EntityKey, KeyPart, Value};
use crate::{ContentId, DType, Error, Result};

/// What an online read found for one feature of one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureStatus {
    /// A value was found and is fresh.
    Present,
    /// The entity's row holds null for this feature.
    NullValue,
    /// No row for the entity key.
    NotFound,
    /// The row is older than the view's ttl at `now`.
    OutsideMaxAge,
}

impl FeatureStatus {
    /// Feast's spelling (`PRESENT`, `NULL_VALUE`, `NOT_FOUND`, `OUTSIDE_MAX_AGE`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FeatureStatus::Present => "PRESENT",
            FeatureStatus::NullValue => "NULL_VALUE",
            FeatureStatus::NotFound => "NOT_FOUND",
            FeatureStatus::OutsideMaxAge => "OUTSIDE_MAX_AGE",
        }
    }
}

/// One feature value as read online.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureValue {
    /// The value; null unless `status` is `Present`.
    pub value: Value,
    /// What the read found.
    pub status: FeatureStatus,
    /// The row's event time, when a row was found.
    pub event_ts: Option<Timestamp>,
}

impl FeatureValue {
    const NOT_FOUND: FeatureValue = FeatureValue {
        value: Value::Null,
        status: FeatureStatus::NotFound,
        event_ts: None,
    };
}

/// A prediction with its provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionOutput {
    /// Class probabilities and label, or a value.
    pub prediction: Prediction,
    /// The service's features as read and computed, in service order.
    pub features: Vec<FeatureValue>,
    /// The bundle that predicted.
    pub bundle_id: ContentId,
    /// The snapshot the features came from.
    pub snapshot_id: ContentId,
}

/// Checks a single table row against the ttl at `now`.
pub(crate) fn read_row(
    snapshot: &Snapshot,
    table: usize,
    row: Option<usize>,
    column: usize,
    ttl: Duration,
    now: Timestamp,
) -> FeatureValue {
    let Some(row) = row else {
        return FeatureValue::NOT_FOUND;
    };
    let event_ts = snapshot.event_ts(table, row);
    if !ttl.is_zero() && now.saturating_since(event_ts) > ttl {
        return FeatureValue {
            value: Value::Null,
            status: FeatureStatus::OutsideMaxAge,
            event_ts: Some(event_ts),
        };
    }
    let value = snapshot.value(table, column, row);
    let status = if value.is_null() {
        FeatureStatus::NullValue
    } else {
        FeatureStatus::Present
    };
    FeatureValue {
        value,
        status,
        event_ts: Some(event_ts),
    }
}

/// A bundle and a snapshot checked against each other, ready to answer requests.
///
/// # Examples
///
/// See `core/tests/online.rs` for a complete bundle + snapshot round trip.
#[derive(Debug, Clone)]
pub struct Predictor {
    bundle: Bundle,
    snapshot: Snapshot,
    /// Snapshot table of each bundle view.
    tables: Vec<usize>,
    /// For each bundle view, the positions of its join keys in `entity_keys`.
    key_positions: Vec<Vec<usize>>,
}

impl Predictor {
    /// Pairs `bundle` with `snapshot`.
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] naming the first view that is missing from the
    /// snapshot or whose shape differs.
    pub fn new(bundle: Bundle, snapshot: Snapshot) -> Result<Predictor> {
        let contents = bundle.contents();
        let mut tables = Vec::with_capacity(contents.views.len());
        let mut key_positions = Vec::with_capacity(contents.views.len());
        for view in &contents.views {
            let table = snapshot
                .table_index(&view.name)
                .ok_or_else(|| Error::Incompatible {
                    message: format!(
                        "the bundle reads view `{}` but the snapshot has only: {}",
                        view.name,
                        snapshot
                            .meta()
                            .views
                            .iter()
                            .map(|v| v.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            let meta = &snapshot.meta().views[table];
            if meta.fingerprint != view.fingerprint {
                let why = if meta.fields != view.fields {
                    "its fields differ"
                } else if meta.join_keys != view.join_keys {
                    "its join keys differ"
                } else if meta.ttl != view.ttl {
                    "its ttl differs"
                } else {
                    "its definition differs"
                };
                return Err(Error::Incompatible {
                    message: format!(
                        "view `{}` in the snapshot (registry {}) does not match the bundle's (registry {}): {why}",
                        view.name,
                        snapshot.meta().registry_id.short(),
                        contents.registry_id.short()
                    ),
                });
            }
            tables.push(table);
            key_positions.push(
                view.join_keys
                    .iter()
                    .map(|k| {
                        contents
                            .entity_keys
                            .iter()
                            .position(|e| e.name == k.name)
                            .unwrap_or(usize::MAX)
                    })
                    .collect(),
            );
        }
        Ok(Predictor {
            bundle,
            snapshot,
            tables,
            key_positions,
        })
    }

    /// The bundle.
    #[must_use]
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The snapshot.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn contents(&self) -> &BundleContents {
        self.bundle.contents()
    }

    /// Finds each view's row for an entity whose join-key values are `keys`, in
    /// [`BundleContents::entity_keys`] order.
    fn rows(&self, keys: &[KeyPart]) -> Result<Vec<Option<usize>>> {
        let entity_keys = &self.contents().entity_keys;
        if keys.len() != entity_keys.len() {
            return Err(Error::Request(format!(
                "expected {} join key value(s) ({}), got {}",
                entity_keys.len(),
                entity_keys
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                keys.len()
            )));
        }
        for (k, field) in keys.iter().zip(entity_keys) {
            if k.dtype() != field.dtype {
                return Err(Error::Request(format!(
                    "join key `{}` is {}, got a {} value",
                    field.name,
                    field.dtype,
                    k.dtype()
                )));
            }
        }
        let mut rows = Vec::with_capacity(self.tables.len());
        for (table, positions) in self.tables.iter().zip(&self.key_positions) {
            let row = match positions.as_slice() {
                [p] => match keys.get(*p) {
                    Some(KeyPart::Int64(v)) => self.snapshot.lookup_int(*table, *v),
                    Some(part) => self
                        .snapshot
                        .lookup(*table, &EntityKey::single(part.clone())),
                    None => None,
                },
                many => {
                    let parts: Option<Vec<KeyPart>> =
                        many.iter().map(|p| keys.get(*p).cloned()).collect();
                    parts.and_then(|p| self.snapshot.lookup(*table, &EntityKey(p)))
                }
            };
            rows.push(row);
        }
        Ok(rows)
    }

    /// Reads the service's features for one entity: snapshot values with their
    /// statuses, then on-demand features computed from them and `request`.
    ///
    /// `keys` follow [`BundleContents::entity_keys`]; `request` follows
    /// [`BundleContents::request`] (null for a field the caller did not send).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for a wrong number or type of keys or request values;
    /// [`Error::Eval`] if an on-demand program fails.
    pub fn read(
        &self,
        keys: &[KeyPart],
        request: &[Value],
        now: Timestamp,
    ) -> Result<Vec<FeatureValue>> {
        let contents = self.contents();
        if request.len() != contents.request.len() {
            return Err(Error::Request(format!(
                "expected {} request value(s), got {}",
                contents.request.len(),
                request.len()
            )));
        }
        for (value, field) in request.iter().zip(&contents.request) {
            if value
                .dtype()
                .is_some_and(|d| d != field.dtype && !(d.is_numeric() && field.dtype.is_numeric()))
            {
                return Err(Error::Request(format!(
                    "request field `{}` is {}, got {value:?}",
                    field.name, field.dtype
                )));
            }
        }
        let rows = self.rows(keys)?;
        let view_value = |view: u32, column: u32| -> FeatureValue {
            let v = view as usize;
            match (self.tables.get(v), rows.get(v), contents.views.get(v)) {
                (Some(&table), Some(&row), Some(req)) => {
                    read_row(&self.snapshot, table, row, column as usize, req.ttl, now)
                }
                _ => FeatureValue::NOT_FOUND,
            }
        };
        let mut out = Vec::with_capacity(contents.features.len());
        let mut inputs = Vec::new();
        for feature in &contents.features {
            match feature {
                ServiceFeature::View { view, column, .. } => out.push(view_value(*view, *column)),
                ServiceFeature::OnDemand {
                    program,
                    inputs: sources,
                    dtype,
                    ..
                } => {
                    inputs.clear();
                    for source in sources {
                        inputs.push(match *source {
                            InputSource::Request(i) => coerce(
                                request.get(i as usize).cloned().unwrap_or(Value::Null),
                                contents.request.get(i as usize).map(|f| f.dtype),
                            ),
                            InputSource::View { view, column } => view_value(view, column).value,
                        });
                    }
                    let value = program.eval(&inputs)?;
                    let value = coerce(value, Some(*dtype));
                    let status = if value.is_null() {
                        FeatureStatus::NullValue
                    } else {
                        FeatureStatus::Present
                    };
                    out.push(FeatureValue {
                        value,
                        status,
                        event_ts: None,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Reads the features for one entity and runs the model on them.
    ///
    /// # Errors
    ///
    /// Everything [`Predictor::read`] reports, and pipeline errors.
    pub fn predict(
        &self,
        keys: &[KeyPart],
        request: &[Value],
        now: Timestamp,
    ) -> Result<PredictionOutput> {
        let features = self.read(keys, request, now)?;
        let row: Vec<Value> = features.iter().map(|f| f.value.clone()).collect();
        let prediction = self.contents().pipeline.predict(&row)?;
        Ok(PredictionOutput {
            prediction,
            features,
            bundle_id: self.bundle.id(),
            snapshot_id: self.snapshot.id(),
        })
    }

    /// Runs the model on feature values the caller already has, in service order.
    ///
    /// # Errors
    ///
    /// Pipeline errors (wrong width, text where a number is expected).
    pub fn score(&self, features: &[Value]) -> Result<Prediction> {
        self.contents().pipeline.predict(features)
    }
}

/// Widens request numbers to the declared type (JSON has one number type).
fn coerce(value: Value, dtype: Option<DType>) -> Value {
    match dtype {
        Some(d)
            if value
                .dtype()
                .is_some_and(|v| v != d && v.is_numeric() && d.is_numeric()) =>
        {
            value.cast(d).unwrap_or(Value::Null)
        }
        _ => value,
    }
}

/// One column of a Feast-shaped online response.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineColumn {
    /// The feature's name (`field`, or `view__field` with full names).
    pub name: String,
    /// One value per requested entity.
    pub values: Vec<FeatureValue>,
}

/// Reads plain feature-view fields straight from a snapshot, Feast's
/// `get_online_features` without on-demand features.
///
/// `entities` holds one column per join key: `(name, values)`, all the same length.
///
/// # Errors
///
/// [`Error::Unknown`] for a view or field not in the snapshot; [`Error::Request`]
/// for ragged entity columns or a missing join key.
pub fn get_online_features(
    snapshot: &Snapshot,
    features: &[FeatureRef],
    entities: &[(String, Vec<KeyPart>)],
    now: Timestamp,
) -> Result<Vec<OnlineColumn>> {
    let n = entities.first().map_or(0, |(_, v)| v.len());
    if let Some((name, _)) = entities.iter().find(|(_, v)| v.len() != n) {
        return Err(Error::Request(format!(
            "entity column `{name}` has a different length from the others"
        )));
    }
    let mut out = Vec::with_capacity(features.len());
    for r in features {
        let table = snapshot
            .table_index(&r.view)
            .ok_or_else(|| Error::Unknown {
                what: "feature view",
                name: r.view.clone(),
                hint: Some(format!(
                    "the snapshot holds: {}",
                    snapshot
                        .meta()
                        .views
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            })?;
        let meta = &snapshot.meta().views[table];
        let column = meta
            .fields
            .iter()
            .position(|f| f.name == r.field)
            .ok_or_else(|| Error::Unknown {
                what: "feature",
                name: format!("{r}"),
                hint: Some(format!(
                    "`{}` has: {}",
                    r.view,
                    meta.fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            })?;
        let mut key_columns = Vec::with_capacity(meta.join_keys.len());
        for k in &meta.join_keys {
            let (_, values) = entities
                .iter()
                .find(|(name, _)| *name == k.name)
                .ok_or_else(|| {
                    Error::Request(format!(
                        "view `{}` needs join key `{}` in `entities`",
                        r.view, k.name
                    ))
                })?;
            key_columns.push(values);
        }
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let key = EntityKey(key_columns.iter().map(|c| c[i].clone()).collect());
            values.push(read_row(
                snapshot,
                table,
                snapshot.lookup(table, &key),
                column,
                meta.ttl,
                now,
            ));
        }
        out.push(OnlineColumn {
            name: r.field.clone(),
            values,
        });
    }
    Ok(out)
}
