//! The byte formats: a common header, bundles and snapshots.
//!
//! Every artifact (a bundle, a snapshot or a snapshot shard) is `header ‖ payload`;
//! registry versions, which are not artifacts, have their own shorter header
//! (`crate::registry`). The header carries a magic number naming
//! the kind, a format version, the payload length and the payload's BLAKE3 hash,
//! which is also the artifact's id. Loaders check all four before they look at
//! the payload, and decode the payload without ever allocating from a length they
//! have not checked against the input. `docs/format.md` describes the bytes field
//! by field; it changes only with [`FORMAT_VERSION`].

mod bundle;
pub(crate) mod cell;
mod codec;
mod header;
mod index;
pub mod manifest;
pub mod signature;
mod snapshot;
mod snapshot_builder;
pub mod wire;

pub use bundle::{
    Bundle, BundleContents, FeaturePlan, InputSource, ModelPart, ServiceFeature, TrainingMetadata,
    ViewRequirement,
};
pub(crate) use codec::{budget_for, decode_budgeted};
pub use codec::{decode_payload, encode_payload};
pub use header::{ArtifactKind, HEADER_LEN, Header};
pub use snapshot::{
    CellSegments, Column, RowRef, Segment, Snapshot, SnapshotBytes, SnapshotMeta, ViewTable,
    ViewTableMeta, shard_of, shard_of_parts, view_fingerprint,
};
pub use snapshot_builder::{CellRef, ColumnFill, ColumnSlot, SnapshotBuilder, ViewBuilder};
pub use wire::Decode;

/// The format version this build writes, for every artifact kind.
///
/// 2: a bundle's model is optional (feature bundles). Snapshot payloads are
/// unchanged, so their ids are too; only the header's version differs.
///
/// 3: Feast's whole type system: int32, bytes, unix_timestamp, JSON and arrays
/// (new `DType` variants, appended, and their column layouts). A payload that
/// uses none of them is byte-for-byte a version 2 payload, so ids do not move.
/// Also tree-ensemble models (`Estimator::TreeEnsemble`, a new variant, appended).
///
/// 4: snapshots store each row's timestamps, fixed-width values and null bits
/// side by side in one record, so a lookup reads one or two cache lines instead
/// of one per column. Bundle payloads are unchanged (so are their ids); only the
/// header's version differs. Snapshots of versions 2 and 3 are refused with a
/// message saying to rebuild them.
pub const FORMAT_VERSION: u16 = 4;

/// The oldest format version this build still reads for bundles: every bundle
/// version since is a superset of it.
pub const OLDEST_READABLE: u16 = 2;

/// The oldest format version this build reads for snapshots: version 4 changed
/// their data section (row records), and a snapshot is rebuilt from its
/// sources in seconds rather than converted.
pub const OLDEST_READABLE_SNAPSHOT: u16 = 4;
