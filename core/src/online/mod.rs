//! Online reads and prediction: the path every edge request takes.
//!
//! There is one read path, in two layers that every face goes through:
//!
//! - [`get_online_features`] and [`SnapshotRead`] (in `read`): Feast's
//!   `get_online_features` for plain feature-view fields straight from a snapshot.
//!   `POST /get-online-features` runs exactly this for every field outside the
//!   model's service, so the benchmarks in `core/benches` measure what production runs.
//! - [`Predictor`] (in `predictor`): a bundle paired with a snapshot. Building it
//!   checks that the two agree on every view the bundle reads (same fingerprint:
//!   name, join keys, fields and ttl) and resolves each feature to a snapshot column
//!   once, so a request only hashes its key, reads values in place, computes
//!   on-demand features and runs the pipeline.
//!
//! - [`Layers`] (in `layers`): a base snapshot with delta snapshots over it
//!   (pushed or published changes); every read above goes through it, so a
//!   key's newest row in any layer wins at O(layers) probes, with no rebuild.
//!
//! - [`delta_between`] (in `delta`): the delta a publisher ships so that the
//!   edge, layering it over what it serves, reads a new state.
//!
//! - [`Deployment`] (in `deployment`): one snapshot and every bundle served
//!   from it, each paired once; requests pick their bundle by feature service
//!   or model name.
//!
//! Both read a row through one function, so statuses and ttl are applied the same
//! way everywhere. Statuses follow Feast: `PRESENT`, `NULL_VALUE` (the row has the
//! key but the value is null), `NOT_FOUND` (no row for the key) and
//! `OUTSIDE_MAX_AGE` (`now - event_ts > ttl`; the value is then treated as missing,
//! exactly as the point-in-time join treats a row outside the ttl window).

mod delta;
mod deployment;
mod layers;
mod predictor;
mod read;
mod shard;
#[cfg(feature = "shard-sets")]
mod shard_set;

use alloc::vec::Vec;

use crate::ContentId;
use crate::artifact::Snapshot;
use crate::pipeline::Prediction;
use crate::time::{Duration, Timestamp};
use crate::value::{EntityKey, KeyPart, Value};

pub use delta::{DeltaPlan, compact, delta_between};
pub use deployment::Deployment;
pub(crate) use layers::Layered;
pub use layers::Layers;
pub use predictor::Predictor;
pub use read::{MissingJoinKey, OnlineColumn, SnapshotField, SnapshotRead, get_online_features};
pub(crate) use shard::route_check;
#[cfg(feature = "shard-sets")]
pub use shard::shards_for;
pub use shard::{ForeignKey, Misrouted, foreign_key};
#[cfg(feature = "shard-sets")]
pub use shard_set::set_id;

/// What an online read found for one feature of one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureStatus {
    /// A value was found and is fresh.
    Present,
    /// The entity's row holds null for this feature.
    NullValue,
    /// No row for the entity key.
    NotFound,
    /// The row is outside the view's window at `now`, `now - ttl <= event_ts
    /// <= now`: older than the ttl, or from after `now`. Its value is treated
    /// as missing, as the offline join would not have seen it either.
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
    /// What a read answers for a key no row holds.
    pub(crate) const NOT_FOUND: FeatureValue = FeatureValue {
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
    let Some(row) = row.and_then(|row| snapshot.row(table, row)) else {
        return FeatureValue::NOT_FOUND;
    };
    let event_ts = row.event_ts();
    // The offline join's window, `now - ttl <= event_ts <= now`: a row from
    // after `now` is no more visible online than it was to training.
    let future = event_ts > now;
    if future || (!ttl.is_zero() && now.saturating_since(event_ts) > ttl) {
        return FeatureValue {
            value: Value::Null,
            status: FeatureStatus::OutsideMaxAge,
            event_ts: Some(event_ts),
        };
    }
    let value = row.value(column);
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

/// The row of `table` whose key has `n` parts, `part(i)` each in the view's
/// join-key order (`None` for one the caller lacks: then no row): the integer
/// index for a single int64 key, which is the common case and builds nothing,
/// else a key built for the hash index.
pub(crate) fn find_row<'k>(
    snapshot: &Snapshot,
    table: usize,
    n: usize,
    part: impl Fn(usize) -> Option<&'k KeyPart>,
) -> Option<usize> {
    if n == 1 {
        return match part(0)? {
            KeyPart::Int64(v) => snapshot.lookup_int(table, *v),
            other => snapshot.lookup(table, &EntityKey::single(other.clone())),
        };
    }
    let parts: Option<Vec<KeyPart>> = (0..n).map(|i| part(i).cloned()).collect();
    snapshot.lookup(table, &EntityKey(parts?))
}
