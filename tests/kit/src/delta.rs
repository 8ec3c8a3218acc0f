//! Delta snapshots for tests: a state edited from a snapshot (some keys given
//! a newer row), and the delta that takes a published chain to it, as
//! `verge publish` would ship it.

use std::sync::Arc;

use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::online::{DeltaPlan, Layers, delta_between};
use verge_core::{KeyPart, Timestamp, Value};

/// `base` (one view, integer keys, a float first field) with every key
/// `edit` returns `Some((later, value))` for given a row `later` µs newer
/// whose first field is `value`: what a later materialization or a push gives.
///
/// # Panics
///
/// When `base` is not of that shape (a broken fixture).
#[must_use]
pub fn edited(base: &Snapshot, edit: impl Fn(i64) -> Option<(i64, f64)>) -> Snapshot {
    let meta = base.meta();
    let view = &meta.views[0];
    let mut b = ViewBuilder::new(
        &view.name,
        view.join_keys.clone(),
        view.fields.clone(),
        view.ttl,
        false,
    );
    for row in 0..base.table(0).map_or(0, |t| t.rows()) {
        let key = base.key(0, row).expect("a row has a key");
        let KeyPart::Int64(id) = key.parts()[0] else {
            panic!("the fixture's keys are integers");
        };
        let mut values: Vec<Value> = (0..view.fields.len())
            .map(|c| base.value(0, c, row))
            .collect();
        let mut ts = base.event_ts(0, row);
        if let Some((later, value)) = edit(id) {
            ts = Timestamp(ts.0 + later);
            values[0] = Value::Float64(value);
        }
        b.push_row(&key, ts, None, &values)
            .expect("the edited row fits the view");
    }
    let bytes = SnapshotBuilder::new(meta.registry_id, meta.window_start, meta.window_end)
        .with_view(b)
        .finish()
        .expect("the edited snapshot builds");
    Snapshot::load(bytes).expect("the edited snapshot loads")
}

/// The delta that takes `base` with `chain` (oldest first) over it to
/// `target`.
///
/// # Panics
///
/// When the change is not a delta (a key lost or a row made older).
#[must_use]
pub fn delta_to(base: &Snapshot, chain: &[Vec<u8>], target: &Snapshot) -> Vec<u8> {
    let deltas = chain
        .iter()
        .map(|d| Arc::new(Snapshot::load(d.clone()).expect("a delta loads")))
        .collect();
    let published = Layers::new(Arc::new(base.clone()), deltas).expect("the chain layers");
    match delta_between(&published, &Layers::from(target.clone())).expect("the delta builds") {
        DeltaPlan::Delta { bytes, .. } => bytes,
        other => panic!("expected a delta, got {other:?}"),
    }
}
