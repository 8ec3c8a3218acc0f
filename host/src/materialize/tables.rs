//! One table per online view of a new snapshot: its candidate rows (what the
//! previous snapshot holds for it, if its definition is unchanged, and this
//! window's source rows) and the winner per key, ready to be written.

use anyhow::{Context as _, Result};
use arrow_array::RecordBatch;
use verge_core::artifact::{Snapshot, view_fingerprint};
use verge_core::definition::{Definitions, FeatureView, Field};

use super::columns::{Pick, Segment, winners};
use super::{ViewReport, ViewWindow};

/// One view's candidates and winners, ready to write.
pub(super) struct Table<'d> {
    /// The view.
    pub(super) view: &'d FeatureView,
    /// Its join keys, in key order.
    pub(super) join_keys: Vec<Field>,
    /// Whether any candidate carries a created timestamp.
    pub(super) has_created: bool,
    /// The candidate rows: the previous snapshot's, then this window's.
    pub(super) segments: Vec<Segment>,
    /// The winner per key, sorted by key.
    pub(super) picks: Vec<Pick>,
    /// What the view contributes, for the caller.
    pub(super) report: ViewReport,
}

/// The tables of every online view that is materialized now or carried over from
/// `previous`, in the definitions' order; `load(view)` reads a view's source rows.
pub(super) fn collect_tables<'d>(
    defs: &'d Definitions,
    windows: &[ViewWindow],
    previous: &[Snapshot],
    mut load: impl FnMut(&FeatureView) -> Result<RecordBatch>,
) -> Result<Vec<Table<'d>>> {
    // Views in a fixed order: the definitions' (canonical, sorted) order.
    let mut tables: Vec<Table<'d>> = Vec::new();
    for view in defs.feature_views.iter().filter(|v| v.online) {
        let join_keys = defs.join_keys(view);
        let fingerprint = view_fingerprint(&view.name, &join_keys, &view.fields, view.ttl);
        let mut segments = Vec::new();
        for p in previous {
            if let Some(t) = p.table_index(&view.name)
                && p.meta()
                    .views
                    .get(t)
                    .is_some_and(|m| m.fingerprint == fingerprint)
            {
                segments.push(Segment::from_snapshot(p, t)?);
            }
        }
        let merged = !segments.is_empty();
        let this = windows.iter().find(|w| w.view == view.name);
        let mut has_created = segments.iter().any(|s| s.created.is_some());
        if let Some(w) = this {
            let source = defs.source(&view.source).with_context(|| {
                format!(
                    "feature view `{}` reads source `{}`, which is not declared",
                    view.name, view.source
                )
            })?;
            let batch = load(view)?;
            has_created |= source.created_timestamp_field.is_some();
            segments.push(Segment::from_batch(
                &batch,
                &view.name,
                &join_keys,
                &source.timestamp_field,
                source.created_timestamp_field.as_deref(),
                &view.fields,
                (w.start.as_micros(), w.end.as_micros()),
            )?);
        } else if segments.is_empty() {
            continue;
        }
        let picks = winners(&segments).with_context(|| format!("feature view `{}`", view.name))?;
        tables.push(Table {
            view,
            join_keys,
            has_created,
            segments,
            picks,
            report: ViewReport {
                view: view.name.clone(),
                rows: 0,
                window: this.map(|w| (w.start, w.end)),
                merged,
            },
        });
    }
    for t in &mut tables {
        t.report.rows = t.picks.len();
    }

    Ok(tables)
}
