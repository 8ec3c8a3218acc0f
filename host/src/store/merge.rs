//! Rebasing an apply onto a head that moved: a three-way merge of definitions,
//! object by object, as git refuses a non-fast-forward that would lose work.
//!
//! `base` is the head the user planned against, `ours` the definitions being
//! applied, `theirs` the head another writer moved to. For every object (by
//! kind and name):
//!
//! | ours vs base | theirs vs base | result |
//! |---|---|---|
//! | unchanged | anything | theirs (their change, or the object as it was) |
//! | changed | unchanged | ours |
//! | changed | changed the same way | ours (= theirs) |
//! | changed | changed differently | **conflict** |
//!
//! "Changed" includes created and deleted. So a rebased apply never undoes or
//! alters what another writer changed since `base`: it either carries exactly
//! the user's own edits on top of theirs, or it names the objects both touched.

use std::fmt;

use verge_core::ContentId;
use verge_core::definition::{Definitions, ObjectKind};

/// Objects both the apply and another writer changed since the planned head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConflict {
    /// The head the apply was planned against.
    pub base: Option<ContentId>,
    /// The head that changed the same objects.
    pub theirs: Option<ContentId>,
    /// Each object both sides changed, differently (`[[kind]] name`).
    pub objects: Vec<String>,
}

impl fmt::Display for MergeConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let objects = &self.objects;
        write!(
            f,
            "conflict: {} changed since {} by version {}, and this apply changes {} too; \
             run `verge plan` against the new head, reconcile verge.toml, and apply again",
            objects.join(", "),
            self.base
                .map_or_else(|| "the empty registry".to_owned(), |b| b.short()),
            self.theirs
                .map_or_else(|| "(none)".to_owned(), |t| t.short()),
            if objects.len() == 1 { "it" } else { "them" },
        )
    }
}

impl std::error::Error for MergeConflict {}

/// The user's changes from `base` to `ours`, carried onto `theirs`; or the
/// objects both changed, differently.
///
/// # Errors
///
/// The conflicting objects (with `theirs_id` and `base_id` for the message).
pub fn rebase(
    base: &Definitions,
    ours: &Definitions,
    theirs: &Definitions,
    base_id: Option<ContentId>,
    theirs_id: Option<ContentId>,
) -> Result<Definitions, MergeConflict> {
    let mut conflicts: Vec<String> = Vec::new();
    let mut out = Definitions {
        project: pick(&base.project, &ours.project, &theirs.project).unwrap_or_else(|| {
            conflicts.push("the project name".to_owned());
            ours.project.clone()
        }),
        ..Definitions::default()
    };
    let mut c = |kind: ObjectKind, names: Vec<String>| {
        conflicts.extend(names.into_iter().map(|n| format!("[[{kind}]] {n}")));
    };
    let (v, bad) = merge(&base.entities, &ours.entities, &theirs.entities, |o| {
        &o.name
    });
    out.entities = v;
    c(ObjectKind::Entity, bad);
    let (v, bad) = merge(&base.sources, &ours.sources, &theirs.sources, |o| &o.name);
    out.sources = v;
    c(ObjectKind::Source, bad);
    let (v, bad) = merge(
        &base.feature_views,
        &ours.feature_views,
        &theirs.feature_views,
        |o| &o.name,
    );
    out.feature_views = v;
    c(ObjectKind::FeatureView, bad);
    let (v, bad) = merge(
        &base.on_demand_views,
        &ours.on_demand_views,
        &theirs.on_demand_views,
        |o| &o.name,
    );
    out.on_demand_views = v;
    c(ObjectKind::OnDemandFeatureView, bad);
    let (v, bad) = merge(
        &base.feature_services,
        &ours.feature_services,
        &theirs.feature_services,
        |o| &o.name,
    );
    out.feature_services = v;
    c(ObjectKind::FeatureService, bad);
    let (v, bad) = merge(&base.models, &ours.models, &theirs.models, |o| &o.name);
    out.models = v;
    c(ObjectKind::Model, bad);
    if !conflicts.is_empty() {
        return Err(MergeConflict {
            base: base_id,
            theirs: theirs_id,
            objects: conflicts,
        });
    }
    out.canonicalize();
    Ok(out)
}

/// The merged value of one object: `Some(result)` (which may be "absent"), or
/// `None` for a conflict.
fn pick<T: Clone + PartialEq>(base: &T, ours: &T, theirs: &T) -> Option<T> {
    if ours == base || ours == theirs {
        Some(theirs.clone())
    } else if theirs == base {
        Some(ours.clone())
    } else {
        None
    }
}

/// Merges one kind's objects by name; returns them and the conflicting names.
fn merge<T: Clone + PartialEq>(
    base: &[T],
    ours: &[T],
    theirs: &[T],
    name: impl Fn(&T) -> &String,
) -> (Vec<T>, Vec<String>) {
    let find = |list: &[T], n: &str| list.iter().find(|o| name(o) == n).cloned();
    let mut names: Vec<&String> = base.iter().chain(ours).chain(theirs).map(&name).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    let mut conflicts = Vec::new();
    for n in names {
        match pick(&find(base, n), &find(ours, n), &find(theirs, n)) {
            Some(Some(object)) => out.push(object),
            Some(None) => {}
            None => conflicts.push(n.clone()),
        }
    }
    (out, conflicts)
}
