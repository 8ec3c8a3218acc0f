//! Importing a tree model trained elsewhere (`estimator = "xgboost"` or
//! `"lightgbm"` with `model_file`): read the file ([`xgboost`]: XGBoost's JSON
//! model; [`lightgbm`]: LightGBM's text `model.txt`), convert it into the core's
//! [`TreeEnsemble`] with the source library's comparison rules, and join it to the
//! feature service's columns.
//!
//! Nothing is trained: the recipe's transforms are fitted as for any model (by
//! default none: no imputer, ordinal codes for text), and the model's features are
//! matched to the transformed columns **by name** (a model feature matches a column
//! named `view:field`, or its `field`, or `view__field` as Feast's full feature
//! names spell it), or, when the file names no features (XGBoost trained on an
//! array, LightGBM's `Column_0…`), **by position** after a check of the count. A
//! mismatch lists both sides.
//!
//! A classifier's class `i` is the `i`-th smallest label of the training set: the
//! libraries train on codes `0..n`, which is what scikit-learn's `LabelEncoder`
//! (and XGBoost's own wrapper) gives for sorted labels. The training set must hold
//! exactly as many distinct labels as the model has classes.
//!
//! Trees are renumbered breadth-first ([`Renumber`]) into the core's layout,
//! where children come after their parent; a file whose children form a cycle or
//! share nodes fails there, with the tree named, instead of looping.

pub mod lightgbm;
pub mod xgboost;

use std::collections::VecDeque;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use verge_core::ContentId;
use verge_core::definition::{EstimatorSpec, ModelSpec};
use verge_core::model::tree::{Node, TreeEnsemble, TreeEnsembleParts};
use verge_core::model::{Estimator, encode_labels};
use verge_core::pipeline::{PipelineParams, PreparedTraining, fit_transforms};

use super::Fitted;
use super::dataset::TrainingSet;

/// A model file read into the core's type, before its features are matched.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    /// The trees, reading features in the file's order. `classes` holds codes
    /// `0..n` (replaced by the training labels when joined).
    pub parts: TreeEnsembleParts,
    /// The file's feature names, when it has real ones.
    pub feature_names: Option<Vec<String>>,
    /// The library and its version as the file records them, e.g. `xgboost 2.1.4`.
    pub library: String,
}

/// A tree node as a file describes it, for [`renumber`].
#[derive(Debug, Clone, PartialEq)]
pub enum SourceNode {
    /// A split: the core node with `left`/`right` still the file's ids.
    Split(Node),
    /// A leaf.
    Leaf(Vec<f64>),
}

/// Renumbers a tree given as `get(file_id)` from root `root` breadth-first, so
/// that children come after their parent, visiting at most `limit` nodes.
///
/// # Errors
///
/// A child id the file does not have, or more than `limit` nodes reached (the
/// file's children form a cycle or share nodes).
pub fn renumber(
    root: u32,
    limit: usize,
    get: impl Fn(u32) -> Result<SourceNode>,
) -> Result<Vec<Node>> {
    let mut out: Vec<Node> = vec![Node::Leaf(Vec::new())];
    let mut queue = VecDeque::from([(root, 0usize)]);
    while let Some((id, at)) = queue.pop_front() {
        let node = match get(id)? {
            SourceNode::Leaf(values) => Node::Leaf(values),
            SourceNode::Split(mut node) => {
                let (left, right) = match &mut node {
                    Node::Numeric { left, right, .. } | Node::Categorical { left, right, .. } => {
                        (left, right)
                    }
                    Node::Leaf(_) => bail!("internal: a split without children"),
                };
                for child in [left, right] {
                    if out.len() >= limit {
                        bail!(
                            "more nodes are reachable than the tree has ({limit}): its children form a cycle or share nodes"
                        );
                    }
                    queue.push_back((*child, out.len()));
                    *child = u32::try_from(out.len())?;
                    out.push(Node::Leaf(Vec::new()));
                }
                node
            }
        };
        if let Some(slot) = out.get_mut(at) {
            *slot = node;
        }
    }
    Ok(out)
}

/// The model file of `spec`, read, hashed and converted.
///
/// # Errors
///
/// A missing or unreadable file, or one the reader refuses (naming the file and
/// what is wrong).
pub fn read(spec: &ModelSpec, repo_root: &Path) -> Result<(ImportedModel, ContentId)> {
    let Some(file) = spec.estimator.model_file() else {
        bail!("model `{}` is not an imported model", spec.name);
    };
    let path = repo_root.join(file);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "model `{}`: reading model_file {file} (relative to the repository at {})",
            spec.name,
            repo_root.display()
        )
    })?;
    let hash = ContentId::of(&bytes);
    let model = match &spec.estimator {
        EstimatorSpec::XgBoost { .. } => xgboost::read(&bytes),
        _ => lightgbm::read(&String::from_utf8_lossy(&bytes)),
    }
    .with_context(|| format!("model `{}`: model_file {file}", spec.name))?;
    Ok((model, hash))
}

/// Fits the recipe's transforms on `set` and joins the imported model of `spec`
/// to them: what [`super::fit`] does for `xgboost` and `lightgbm`.
///
/// # Errors
///
/// As [`read`]; a transform that cannot be fitted; features that do not match;
/// a label count that does not match the model's classes; a model the core
/// refuses.
pub fn fit(spec: &ModelSpec, set: &TrainingSet, repo_root: &Path) -> Result<Fitted> {
    let name = &spec.name;
    let (imported, hash) = read(spec, repo_root)?;
    let params = PipelineParams::from(spec);
    let PreparedTraining { transforms, x } =
        fit_transforms(&params, &set.columns, &set.rows, &set.labels)
            .map_err(|e| anyhow!("model `{name}`: {e}"))?;
    let columns = transforms.selected_names();
    let mut parts = imported.parts;
    let map = match_features(
        imported.feature_names.as_deref(),
        &columns,
        parts.n_features,
    )
    .map_err(|e| anyhow!("model `{name}`: {e}"))?;
    remap_features(&mut parts, &map, columns.len())?;
    if !parts.classes.is_empty() {
        let (classes, _) = encode_labels(&set.labels)
            .map_err(|e| anyhow!("model `{name}`: label `{}`: {e}", spec.label))?;
        if classes.len() != parts.classes.len() {
            bail!(
                "model `{name}`: the model file has {} classes but label `{}` takes {} values in the training set ({}); train the model on the same labels",
                parts.classes.len(),
                spec.label,
                classes.len(),
                classes
                    .iter()
                    .map(super::show)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        parts.classes = classes;
    } else if let Some(v) = set.labels.iter().find(|v| v.as_f64().is_none()) {
        bail!(
            "model `{name}`: the model file is a regressor but label `{}` is not a number ({})",
            spec.label,
            super::show(v)
        );
    }
    let model = TreeEnsemble::from_parts(parts).map_err(|e| anyhow!("model `{name}`: {e}"))?;
    let pipeline = transforms
        .with_estimator(Estimator::TreeEnsemble(model))
        .map_err(|e| anyhow!("model `{name}`: {e}"))?;
    Ok(Fitted {
        pipeline,
        x,
        // The file's hash goes into the bundle, so a new file makes a new bundle.
        trained_with: format!("{} (imported, blake3 {hash})", imported.library),
    })
}

/// For each model feature, the index of its column: by name when the file has
/// names, else by position.
fn match_features(
    names: Option<&[String]>,
    columns: &[String],
    n_features: u32,
) -> Result<Vec<u32>> {
    let n = n_features as usize;
    let both = |names: &[String]| {
        format!(
            "the model reads {}: [{}]; the feature service gives {}: [{}]",
            names.len(),
            names.join(", "),
            columns.len(),
            columns.join(", ")
        )
    };
    let Some(names) = names else {
        if n != columns.len() {
            bail!(
                "the model file names no features and reads {n}, but the feature service gives {}: [{}]; \
                 match the service to the model's training columns, in order",
                columns.len(),
                columns.join(", ")
            );
        }
        return Ok((0..n_features).collect());
    };
    let mut map = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        let found = columns.iter().position(|c| {
            c == name
                || c.rsplit_once(':').is_some_and(|(view, field)| {
                    field == name || format!("{view}__{field}") == *name
                })
        });
        match found {
            Some(j) => map.push(u32::try_from(j)?),
            None => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        bail!(
            "model features [{}] are not in the feature service; {}",
            missing.join(", "),
            both(names)
        );
    }
    if names.len() != n {
        bail!(
            "the model file names {} features but reads {n}",
            names.len()
        );
    }
    Ok(map)
}

/// Points every split at its column in the pipeline and sets the input width.
fn remap_features(parts: &mut TreeEnsembleParts, map: &[u32], width: usize) -> Result<()> {
    for (t, tree) in parts.trees.iter_mut().enumerate() {
        for node in &mut tree.nodes {
            if let Node::Numeric { feature, .. } | Node::Categorical { feature, .. } = node {
                *feature = *map.get(*feature as usize).ok_or_else(|| {
                    anyhow!(
                        "tree {t} reads feature {feature}, past the model's {}",
                        map.len()
                    )
                })?;
            }
        }
    }
    parts.n_features = u32::try_from(width)?;
    Ok(())
}

#[cfg(test)]
mod tests;
