//! [`Definitions::validate`]: every cross-reference and type checked, and every
//! problem reported at once, so one `verge plan` lists all that is wrong.
//!
//! One function per kind of object, run in a fixed order, so the problems come
//! out in the same order on every run.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Definitions, EstimatorSpec, Imputation, ModelSpec, ObjectKind, Problem, Scaling, TreeParams,
    is_identifier,
};
use crate::expr::Program;
use crate::value::DType;
use crate::{Error, Result};

impl Definitions {
    /// Checks every cross-reference and type, returning all problems at once.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing each problem with the object it concerns.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut push = |kind: ObjectKind, name: &str, message: String| {
            problems.push(Problem {
                kind,
                name: name.to_owned(),
                message,
            });
        };
        names(self, &mut push);
        entities(self, &mut push);
        sources(self, &mut push);
        push_sources(self, &mut push);
        feature_views(self, &mut push);
        on_demand_views(self, &mut push);
        feature_services(self, &mut push);
        models(self, &mut push);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems))
        }
    }
}

/// Names: unique per kind, identifiers, and one namespace for feature views and on-demand views.
fn names(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    let kinds: [(ObjectKind, Vec<&str>); 7] = [
        (
            ObjectKind::Entity,
            defs.entities.iter().map(|o| o.name.as_str()).collect(),
        ),
        (
            ObjectKind::Source,
            defs.sources.iter().map(|o| o.name.as_str()).collect(),
        ),
        (
            ObjectKind::FeatureView,
            defs.feature_views.iter().map(|o| o.name.as_str()).collect(),
        ),
        (
            ObjectKind::OnDemandFeatureView,
            defs.on_demand_views
                .iter()
                .map(|o| o.name.as_str())
                .collect(),
        ),
        (
            ObjectKind::FeatureService,
            defs.feature_services
                .iter()
                .map(|o| o.name.as_str())
                .collect(),
        ),
        (
            ObjectKind::Model,
            defs.models.iter().map(|o| o.name.as_str()).collect(),
        ),
        (
            ObjectKind::PushSource,
            defs.push_sources.iter().map(|o| o.name.as_str()).collect(),
        ),
    ];
    for (kind, names) in &kinds {
        for name in duplicates(names.iter().copied()) {
            push(
                *kind,
                name,
                format!("the name is declared more than once; each {kind} needs a unique name"),
            );
        }
        for name in names {
            if !is_identifier(name) {
                push(
                    *kind,
                    name,
                    "names must be letters, digits and `_`, starting with a letter or `_`".into(),
                );
            }
        }
    }
    // Feature views and on-demand views share one namespace: `view:field` must be unambiguous.
    for v in &defs.on_demand_views {
        if defs.feature_view(&v.name).is_some() {
            push(
                ObjectKind::OnDemandFeatureView,
                &v.name,
                "a feature view has the same name; rename one".into(),
            );
        }
    }
}

/// Entities: at least one join key, each int64 or string, none twice.
fn entities(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for e in &defs.entities {
        if e.join_keys.is_empty() {
            push(
                ObjectKind::Entity,
                &e.name,
                "needs at least one join key".into(),
            );
        }
        for k in &e.join_keys {
            if !matches!(k.dtype, DType::Int64 | DType::String) {
                push(
                    ObjectKind::Entity,
                    &e.name,
                    format!(
                        "join key `{}` has type {}; join keys are int64 or string",
                        k.name, k.dtype
                    ),
                );
            }
        }
        for name in duplicates(e.join_keys.iter().map(|k| k.name.as_str())) {
            push(
                ObjectKind::Entity,
                &e.name,
                format!("join key `{name}` is listed twice"),
            );
        }
    }
}

/// Sources: a path, an event-time column, and no two columns mapped to one name.
fn sources(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for s in &defs.sources {
        match &s.format {
            // A database source names a table, not a file.
            super::SourceFormat::Postgres { table, .. } if table.is_empty() => {
                push(ObjectKind::Source, &s.name, "`table` is empty".into());
            }
            super::SourceFormat::Postgres { .. } => {}
            _ if s.path.is_empty() => {
                push(ObjectKind::Source, &s.name, "`path` is empty".into());
            }
            _ => {}
        }
        if s.timestamp_field.is_empty() {
            push(
                ObjectKind::Source,
                &s.name,
                "`timestamp_field` is empty; name the event-time column".into(),
            );
        }
        for name in duplicates(s.field_mapping.iter().map(|(_, to)| to.as_str())) {
            push(
                ObjectKind::Source,
                &s.name,
                format!("two columns are mapped to `{name}`"),
            );
        }
    }
}

/// Push sources: a declared batch source, and no name shared with a source
/// (a feature view's `source` must name one thing).
fn push_sources(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for p in &defs.push_sources {
        if defs.sources.iter().any(|s| s.name == p.name) {
            push(
                ObjectKind::PushSource,
                &p.name,
                "a [[source]] has the same name; rename one of them".into(),
            );
        }
        if !defs.sources.iter().any(|s| s.name == p.batch_source) {
            push(
                ObjectKind::PushSource,
                &p.name,
                format!(
                    "`batch_source` `{}` is not a declared [[source]]; add it or name another",
                    p.batch_source
                ),
            );
        }
    }
}

/// Feature views: a declared source and entities, a ttl ≥ 0, fields, no name twice.
fn feature_views(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for v in &defs.feature_views {
        if defs.source(&v.source).is_none() {
            push(
                ObjectKind::FeatureView,
                &v.name,
                format!(
                    "source `{}` is not declared; add a [[source]] with that name",
                    v.source
                ),
            );
        }
        if v.entities.is_empty() {
            push(
                ObjectKind::FeatureView,
                &v.name,
                "needs at least one entity".into(),
            );
        }
        for e in &v.entities {
            if defs.entity(e).is_none() {
                push(
                    ObjectKind::FeatureView,
                    &v.name,
                    format!("entity `{e}` is not declared"),
                );
            }
        }
        if v.ttl.as_micros() < 0 {
            push(ObjectKind::FeatureView, &v.name, "ttl is negative".into());
        }
        if v.fields.is_empty() {
            push(
                ObjectKind::FeatureView,
                &v.name,
                "declares no fields".into(),
            );
        }
        let keys = defs.join_keys(v);
        for name in duplicates(
            v.fields
                .iter()
                .map(|f| f.name.as_str())
                .chain(keys.iter().map(|k| k.name.as_str())),
        ) {
            push(
                ObjectKind::FeatureView,
                &v.name,
                format!("`{name}` is declared twice (as a field or join key)"),
            );
        }
        for f in &v.fields {
            if !is_identifier(&f.name) {
                push(
                    ObjectKind::FeatureView,
                    &v.name,
                    format!("field `{}` is not a valid name", f.name),
                );
            }
        }
    }
}

/// On-demand views: inputs that resolve unambiguously, and stored programs that still compile to their declared types.
fn on_demand_views(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for v in &defs.on_demand_views {
        match v.input_schema(&defs.feature_views) {
            Err(e) => push(ObjectKind::OnDemandFeatureView, &v.name, format!("{e}")),
            Ok(schema) => {
                for name in duplicates(schema.fields().iter().map(|(n, _)| n.as_str())) {
                    push(
                        ObjectKind::OnDemandFeatureView,
                        &v.name,
                        format!(
                            "input `{name}` is ambiguous (a request field or two source views share it)"
                        ),
                    );
                }
                for f in &v.fields {
                    // Recompiling proves the stored program matches the schema it will be run with.
                    match Program::compile(f.program.source_text(), &schema) {
                        Err(e) => push(
                            ObjectKind::OnDemandFeatureView,
                            &v.name,
                            format!("field `{}`: {e}", f.name),
                        ),
                        Ok(p) if p != f.program => push(
                            ObjectKind::OnDemandFeatureView,
                            &v.name,
                            format!("field `{}`: the stored program is stale; re-apply", f.name),
                        ),
                        Ok(p) if p.output_type() != f.dtype => push(
                            ObjectKind::OnDemandFeatureView,
                            &v.name,
                            format!(
                                "field `{}` is declared {} but its expression gives {}",
                                f.name,
                                f.dtype,
                                p.output_type()
                            ),
                        ),
                        Ok(_) => {}
                    }
                }
            }
        }
        for name in duplicates(v.fields.iter().map(|f| f.name.as_str())) {
            push(
                ObjectKind::OnDemandFeatureView,
                &v.name,
                format!("field `{name}` is declared twice"),
            );
        }
    }
}

/// Feature services: features that resolve, none listed twice.
fn feature_services(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for s in &defs.feature_services {
        if s.features.is_empty() {
            push(
                ObjectKind::FeatureService,
                &s.name,
                "lists no features".into(),
            );
        }
        for r in &s.features {
            if let Err(e) = defs.resolve(r) {
                push(ObjectKind::FeatureService, &s.name, format!("`{r}`: {e}"));
            }
        }
        let mut seen = BTreeSet::new();
        for r in &s.features {
            if !seen.insert(r) {
                push(
                    ObjectKind::FeatureService,
                    &s.name,
                    format!("`{r}` is listed twice"),
                );
            }
        }
    }
}

/// Models: a declared service without the label in it, and estimator parameters in range.
fn models(defs: &Definitions, push: &mut impl FnMut(ObjectKind, &str, String)) {
    for m in &defs.models {
        match defs.feature_service(&m.feature_service) {
            None => push(
                ObjectKind::Model,
                &m.name,
                format!("feature service `{}` is not declared", m.feature_service),
            ),
            Some(service) => {
                // k larger than the service is not an error here: one-hot encoding
                // widens text features, so the real column count is known only when
                // training, and `verge train` reports it there with the count.
                if m.select_k_best == Some(0) {
                    push(
                        ObjectKind::Model,
                        &m.name,
                        "select_k_best = 0 keeps nothing; use at least 1, or omit it to keep all"
                            .into(),
                    );
                }
                if service.features.iter().any(|r| r.field == m.label) {
                    push(
                        ObjectKind::Model,
                        &m.name,
                        format!(
                            "the label `{}` is also an input feature; remove it from the service",
                            m.label
                        ),
                    );
                }
            }
        }
        if m.label.is_empty() {
            push(ObjectKind::Model, &m.name, "`label` is empty".into());
        }
        if m.impute == Imputation::None && m.estimator.is_smartcore() {
            push(
                ObjectKind::Model,
                &m.name,
                "smartcore trains random_forest and decision_tree on complete rows only (it cannot \
                 take a missing value); add impute = \"mean\" (or median, most_frequent, constant)"
                    .into(),
            );
        } else if m.impute == Imputation::None && !m.estimator.is_tree() {
            push(
                ObjectKind::Model,
                &m.name,
                "impute = \"none\" is for tree models, which route missing values themselves; \
                 choose mean, median, most_frequent or constant"
                    .into(),
            );
        }
        if let Some(file) = m.estimator.model_file() {
            if file.is_empty() {
                push(ObjectKind::Model, &m.name, "`model_file` is empty".into());
            }
            // The imported model was trained on the raw features: any transform
            // verge fitted in between would feed it numbers it never saw.
            if m.scale != Scaling::None || m.select_k_best.is_some() {
                push(
                    ObjectKind::Model,
                    &m.name,
                    "an imported model reads the features as it was trained on them; remove `scale` and `select_k_best`".into(),
                );
            }
        }
        estimator_params(m, &mut *push);
    }
}

/// The hyper-parameters of `m`'s estimator, each in the range it can be fitted with.
fn estimator_params(m: &ModelSpec, push: &mut impl FnMut(ObjectKind, &str, String)) {
    match &m.estimator {
        EstimatorSpec::GaussianNb { var_smoothing }
            if !(*var_smoothing >= 0.0 && var_smoothing.is_finite()) =>
        {
            push(
                ObjectKind::Model,
                &m.name,
                "var_smoothing must be a finite number ≥ 0".into(),
            );
        }
        EstimatorSpec::LogisticRegression { c, max_iter }
            if !(*c > 0.0 && c.is_finite()) || *max_iter == 0 =>
        {
            push(
                ObjectKind::Model,
                &m.name,
                "logistic regression needs c > 0 and max_iter ≥ 1".into(),
            );
        }
        EstimatorSpec::RandomForest {
            n_trees,
            max_features,
            tree,
            ..
        } => {
            if *n_trees == 0 || *n_trees > u32::from(u16::MAX) || *max_features == Some(0) {
                push(
                    ObjectKind::Model,
                    &m.name,
                    "random_forest needs n_trees in 1..=65535 and max_features ≥ 1".into(),
                );
            }
            tree_params(&m.name, tree, &mut *push);
        }
        EstimatorSpec::DecisionTree { tree, .. } => tree_params(&m.name, tree, &mut *push),
        _ => {}
    }
}

/// The growth limits smartcore needs to grow a tree at all.
fn tree_params(name: &str, tree: &TreeParams, push: &mut impl FnMut(ObjectKind, &str, String)) {
    if tree.max_depth == Some(0) || tree.min_samples_split < 2 || tree.min_samples_leaf == 0 {
        push(
            ObjectKind::Model,
            name,
            "a smartcore tree needs max_depth ≥ 1, min_samples_split ≥ 2 and min_samples_leaf ≥ 1"
                .into(),
        );
    }
}

fn duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    let mut twice = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            twice.insert(n);
        }
    }
    twice.into_iter().collect()
}
