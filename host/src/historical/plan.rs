//! The plan of a point-in-time join: which requested feature comes from which
//! feature view or on-demand view, and which views (and fields) must be joined,
//! each once, whatever number of features asks for them.

use anyhow::{Context as _, Result, bail};
use verge_core::definition::{
    Definitions, FeatureRef, FeatureView, OnDemandFeatureView, ResolvedFeature,
};

/// How a requested feature is produced.
#[derive(Debug)]
pub(super) enum Resolved<'a> {
    /// Gathered from a feature view's join.
    View,
    /// Computed by an on-demand view's field (index into its fields).
    OnDemand(&'a OnDemandFeatureView, usize),
}

/// The requested outputs and the feature views (with the field indices) they need.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// Each requested feature, in request order, and how it is produced.
    pub(super) outputs: Vec<(FeatureRef, Resolved<'a>)>,
    /// Each feature view to join, once, with the indices of the fields needed.
    pub(super) views: Vec<(&'a FeatureView, Vec<usize>)>,
}

impl<'a> Plan<'a> {
    /// Resolves `features` against `defs`, refusing one listed twice.
    pub(super) fn new(defs: &'a Definitions, features: &[FeatureRef]) -> Result<Plan<'a>> {
        let mut plan = Plan {
            outputs: Vec::with_capacity(features.len()),
            views: Vec::new(),
        };
        for (i, r) in features.iter().enumerate() {
            if features.get(..i).is_some_and(|before| before.contains(r)) {
                bail!("feature `{r}` is listed twice");
            }
            match defs.resolve(r)? {
                ResolvedFeature::View { view, field } => {
                    plan.need(view, field);
                    plan.outputs.push((r.clone(), Resolved::View));
                }
                ResolvedFeature::OnDemand { view, field } => {
                    for s in &view.sources {
                        let source = defs.feature_view(s).with_context(|| {
                            format!("on-demand view `{}` reads feature view `{s}`, which is not declared", view.name)
                        })?;
                        for f in 0..source.fields.len() {
                            plan.need(source, f);
                        }
                    }
                    plan.outputs
                        .push((r.clone(), Resolved::OnDemand(view, field)));
                }
            }
        }
        Ok(plan)
    }

    /// Records that `field` of `view` must be joined.
    fn need(&mut self, view: &'a FeatureView, field: usize) {
        match self.views.iter_mut().find(|(v, _)| v.name == view.name) {
            Some((_, fields)) => {
                if !fields.contains(&field) {
                    fields.push(field);
                }
            }
            None => self.views.push((view, vec![field])),
        }
    }
}
