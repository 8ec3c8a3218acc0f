//! Feast's `get_online_features` for plain feature-view fields, straight from a
//! snapshot: the typed read that `POST /get-online-features` runs for every field
//! outside the model's service, and that `core/benches/core.rs` measures.
//!
//! Resolving a `view:field` name to a table and column is separate from reading
//! it ([`SnapshotField`]), so the HTTP API resolves names while it parses (and
//! words its own errors) and then reads through the same [`SnapshotRead`] as
//! [`get_online_features`]. A read finds each table's rows once per batch and
//! shares them among that table's fields: twenty fields of one view cost one key
//! lookup per entity, not twenty.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::layers::{Hit, Layered};
use super::{FeatureValue, Layers};
use crate::artifact::{Snapshot, ViewTableMeta};
use crate::definition::FeatureRef;
use crate::time::Timestamp;
use crate::value::KeyPart;
use crate::{Error, Result};

/// One column of a Feast-shaped online response.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineColumn {
    /// The feature's name (`field`, or `view__field` with full names).
    pub name: String,
    /// One value per requested entity.
    pub values: Vec<FeatureValue>,
}

/// A snapshot field resolved to where it lives: a table and a column in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotField {
    /// The snapshot table (one per feature view).
    pub table: usize,
    /// The field's column in that table.
    pub column: usize,
}

impl SnapshotField {
    /// Finds `feature` in `snapshot`.
    ///
    /// # Errors
    ///
    /// [`Error::Unknown`] for a view or a field the snapshot does not hold, with
    /// the names it does hold as a hint.
    pub fn resolve(snapshot: &Snapshot, feature: &FeatureRef) -> Result<SnapshotField> {
        let views = &snapshot.meta().views;
        let table = snapshot
            .table_index(&feature.view)
            .ok_or_else(|| Error::Unknown {
                what: "feature view",
                name: feature.view.clone(),
                hint: Some(format!(
                    "the snapshot holds: {}",
                    join(views.iter().map(|v| v.name.as_str()))
                )),
            })?;
        let fields = &views[table].fields;
        let column = fields
            .iter()
            .position(|f| f.name == feature.field)
            .ok_or_else(|| Error::Unknown {
                what: "feature",
                name: format!("{feature}"),
                hint: Some(format!(
                    "`{}` has: {}",
                    feature.view,
                    join(fields.iter().map(|f| f.name.as_str()))
                )),
            })?;
        Ok(SnapshotField { table, column })
    }
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// A join key a view needs that the request's entities do not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingJoinKey<'s> {
    /// The join key's name.
    pub key: &'s str,
    /// The view that needs it.
    pub view: &'s str,
}

/// One batch of entity rows read from a snapshot at `now`.
///
/// `entities` holds one column per join key, `(name, values)`; `len` is the
/// number of entity rows (every column has that many values; a short column reads
/// as not found rather than failing).
///
/// # Examples
///
/// ```
/// use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
/// use verge_core::definition::{FeatureRef, Field};
/// use verge_core::online::{FeatureStatus, SnapshotField, SnapshotRead};
/// use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};
///
/// let mut view = ViewBuilder::new(
///     "vitals",
///     vec![Field::new("horse", DType::Int64)],
///     vec![Field::new("pulse", DType::Int64)],
///     Duration::ZERO,
///     false,
/// );
/// view.push_row(&EntityKey::single(KeyPart::Int64(7)), Timestamp::from_secs(0), None, &[Value::Int64(60)])?;
/// let bytes = SnapshotBuilder::new(ContentId::of(b"r"), Timestamp::MIN, Timestamp::from_secs(0))
///     .with_view(view)
///     .finish()?;
/// let snapshot = Snapshot::load(bytes)?;
/// let pulse = SnapshotField::resolve(&snapshot, &FeatureRef::parse("vitals:pulse").unwrap())?;
/// let entities = [("horse".to_string(), vec![KeyPart::Int64(7), KeyPart::Int64(8)])];
/// let mut read = SnapshotRead::new(&snapshot, &entities, 2, Timestamp::from_secs(0));
/// let values = read.field(pulse).unwrap();
/// assert_eq!(values[0].value, Value::Int64(60));
/// assert_eq!(values[1].status, FeatureStatus::NotFound);
/// # Ok::<(), verge_core::Error>(())
/// ```
#[derive(Debug)]
pub struct SnapshotRead<'a> {
    layers: Layered<'a>,
    entities: &'a [(String, Vec<KeyPart>)],
    len: usize,
    now: Timestamp,
    /// Each table read so far, with the row of every entity in it.
    rows: Vec<(usize, Vec<Option<Hit>>)>,
}

impl<'a> SnapshotRead<'a> {
    /// A read of `len` entity rows from `snapshot` at `now`.
    #[must_use]
    pub fn new(
        snapshot: &'a Snapshot,
        entities: &'a [(String, Vec<KeyPart>)],
        len: usize,
        now: Timestamp,
    ) -> Self {
        SnapshotRead::over(Layered::One(snapshot), entities, len, now)
    }

    /// A read of `len` entity rows from `layers` (a base and its deltas) at
    /// `now`: per key the newest row of any layer.
    #[must_use]
    pub fn layered(
        layers: &'a Layers,
        entities: &'a [(String, Vec<KeyPart>)],
        len: usize,
        now: Timestamp,
    ) -> Self {
        SnapshotRead::over(Layered::Many(layers), entities, len, now)
    }

    pub(crate) fn over(
        layers: Layered<'a>,
        entities: &'a [(String, Vec<KeyPart>)],
        len: usize,
        now: Timestamp,
    ) -> Self {
        SnapshotRead {
            layers,
            entities,
            len,
            now,
            rows: Vec::new(),
        }
    }

    /// Reads `field` for every entity row: value, status and event time.
    ///
    /// # Errors
    ///
    /// The first join key of the field's view that the entities do not give.
    pub fn field(&mut self, field: SnapshotField) -> Result<Vec<FeatureValue>, MissingJoinKey<'a>> {
        let layers = self.layers;
        let Some(meta) = layers.base().meta().views.get(field.table) else {
            return Ok((0..self.len).map(|_| FeatureValue::NOT_FOUND).collect());
        };
        let index = match self.rows.iter().position(|(t, _)| *t == field.table) {
            Some(i) => i,
            None => {
                let rows = self.find_rows(field.table, meta)?;
                self.rows.push((field.table, rows));
                self.rows.len() - 1
            }
        };
        let rows = self.rows.get(index).map_or(&[][..], |(_, rows)| rows);
        Ok(rows
            .iter()
            .map(|&hit| layers.read(hit, field.column, meta.ttl, self.now))
            .collect())
    }

    /// The row of every entity in `table`, by its view's join keys.
    fn find_rows(
        &self,
        table: usize,
        meta: &'a ViewTableMeta,
    ) -> Result<Vec<Option<Hit>>, MissingJoinKey<'a>> {
        let layers = self.layers;
        let mut key_columns = Vec::with_capacity(meta.join_keys.len());
        for k in &meta.join_keys {
            let (_, values) = self
                .entities
                .iter()
                .find(|(name, _)| *name == k.name)
                .ok_or(MissingJoinKey {
                    key: &k.name,
                    view: &meta.name,
                })?;
            key_columns.push(values.as_slice());
        }
        Ok((0..self.len)
            .map(|i| {
                layers.find(table, key_columns.len(), |k| {
                    key_columns.get(k).and_then(|c| c.get(i))
                })
            })
            .collect())
    }
}

/// Reads plain feature-view fields straight from a snapshot, Feast's
/// `get_online_features` without on-demand features.
///
/// `entities` holds one column per join key: `(name, values)`, all the same length.
///
/// # Errors
///
/// [`Error::Unknown`] for a view or field not in the snapshot; [`Error::Request`]
/// for ragged entity columns, a missing join key, or (on a shard) a key another
/// shard owns.
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
    if let Some(foreign) = super::foreign_key(snapshot, entities, n) {
        return Err(Error::Request(foreign.message()));
    }
    let mut read = SnapshotRead::new(snapshot, entities, n, now);
    let mut out = Vec::with_capacity(features.len());
    for r in features {
        let field = SnapshotField::resolve(snapshot, r)?;
        let values = read.field(field).map_err(|missing| {
            Error::Request(format!(
                "view `{}` needs join key `{}` in `entities`",
                r.view, missing.key
            ))
        })?;
        out.push(OnlineColumn {
            name: r.field.clone(),
            values,
        });
    }
    Ok(out)
}
