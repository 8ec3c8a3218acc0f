//! [`Predictor`]: a bundle and a snapshot checked against each other once, then
//! asked for one entity's service features (plain and on-demand) and predictions.
//!
//! The pairing check runs when the pair is loaded, not per request, so a request
//! only finds its rows, reads values in place and runs the pipeline.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::layers::Hit;
use super::{FeatureStatus, FeatureValue, Layers, PredictionOutput};
use crate::api::PairText;
use crate::artifact::{Bundle, BundleContents, InputSource, ServiceFeature, Snapshot};
use crate::pipeline::Prediction;
use crate::time::Timestamp;
use crate::value::{KeyPart, Value};
use crate::{DType, Error, Result};

/// A bundle and a snapshot checked against each other, ready to answer requests.
///
/// # Examples
///
/// See `core/tests/online.rs` for a complete bundle + snapshot round trip.
#[derive(Debug, Clone)]
pub struct Predictor {
    bundle: Bundle,
    /// Shared by every bundle of a [`Deployment`](super::Deployment): the
    /// snapshot (with any deltas over it) is the large part, and it is
    /// checked and held once.
    layers: Arc<Layers>,
    /// Snapshot table of each bundle view.
    tables: Vec<usize>,
    /// For each bundle view, the positions of its join keys in `entity_keys`.
    key_positions: Vec<Vec<usize>>,
    /// The text every `/predict` answer of this pair repeats, written once.
    text: PairText,
}

impl Predictor {
    /// Pairs `bundle` with `snapshot` (owned, or shared with other bundles
    /// as an `Arc`).
    ///
    /// # Errors
    ///
    /// [`Error::Incompatible`] naming the first view that is missing from the
    /// snapshot or whose shape differs.
    pub fn new(bundle: Bundle, snapshot: impl Into<Arc<Snapshot>>) -> Result<Predictor> {
        Predictor::layered(bundle, Arc::new(Layers::from(snapshot.into())))
    }

    /// Pairs `bundle` with a base snapshot and its deltas: reads answer per
    /// key from the newest layer. Only the base is checked against the
    /// bundle; [`Layers::new`] has checked each delta has the base's shape.
    ///
    /// # Errors
    ///
    /// As [`Predictor::new`].
    pub fn layered(bundle: Bundle, layers: Arc<Layers>) -> Result<Predictor> {
        let snapshot = layers.base();
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
        let text = PairText::new(&bundle, layers.id());
        Ok(Predictor {
            bundle,
            layers,
            tables,
            key_positions,
            text,
        })
    }

    /// The bundle.
    #[must_use]
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The fixed text of this pair's `/predict` answers.
    pub(crate) fn pair_text(&self) -> &PairText {
        &self.text
    }

    /// The (base) snapshot.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        self.layers.base()
    }

    /// The (base) snapshot, shared.
    #[must_use]
    pub fn shared_snapshot(&self) -> &Arc<Snapshot> {
        self.layers.shared_base()
    }

    /// The base snapshot and its deltas, shared.
    #[must_use]
    pub fn layers(&self) -> &Arc<Layers> {
        &self.layers
    }

    fn contents(&self) -> &BundleContents {
        self.bundle.contents()
    }

    /// Finds each view's row for an entity whose join-key values are `keys`, in
    /// [`BundleContents::entity_keys`] order.
    fn rows(&self, keys: &[KeyPart]) -> Result<Vec<Option<Hit>>> {
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
            let row = self.layers.find(*table, positions.len(), |i| {
                positions.get(i).and_then(|p| keys.get(*p))
            });
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
                (Some(_), Some(&hit), Some(req)) => {
                    self.layers.read(hit, column as usize, req.ttl, now)
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
        let prediction = self.contents().require_model()?.pipeline.predict(&row)?;
        Ok(PredictionOutput {
            prediction,
            features,
            bundle_id: self.bundle.id(),
            snapshot_id: self.layers.base().id(),
        })
    }

    /// Runs the model on feature values the caller already has, in service order.
    ///
    /// # Errors
    ///
    /// Pipeline errors (wrong width, text where a number is expected).
    pub fn score(&self, features: &[Value]) -> Result<Prediction> {
        self.contents().require_model()?.pipeline.predict(features)
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
