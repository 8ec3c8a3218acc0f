//! The shape checks a [`TreeEnsembleParts`] passes before it becomes a model, so
//! that prediction never indexes out of range, never loops and never recurses:
//! children come after their parent and each node but the root has exactly one
//! parent (a tree, walked in at most `nodes.len()` steps), features are below the
//! input width, leaves fit the outputs, and counts and depth are bounded.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use super::{Missing, Node, OutputTransform, Semantics, Tree, TreeEnsembleParts};
use crate::{Error, Result};

/// Most trees an ensemble may hold (XGBoost's and LightGBM's practical range is far below).
pub const MAX_TREES: usize = 100_000;
/// Most nodes one tree may hold.
pub const MAX_NODES: usize = 1 << 20;
/// Deepest a tree may be (root at depth 0).
pub const MAX_DEPTH: usize = 256;
/// Most categories one categorical split may list.
pub const MAX_CATEGORIES: usize = 1 << 16;
/// Most nodes over all trees: bounds the work of one prediction.
const MAX_TOTAL_NODES: usize = 1 << 24;
/// Most classes.
const MAX_CLASSES: usize = 1 << 16;
/// XGBoost reads a category only below 2^24 (the largest range of integers an f32
/// holds exactly); a listed category at or above it could never match.
const MAX_CATEGORY: u32 = 1 << 24;

fn malformed(message: String) -> Error {
    Error::Malformed {
        kind: "tree model",
        message,
    }
}

/// Checks `parts` and returns the number of output margins.
pub(super) fn check(parts: &TreeEnsembleParts) -> Result<usize> {
    let n_classes = parts.classes.len();
    if n_classes == 1 || n_classes > MAX_CLASSES {
        return Err(malformed(format!(
            "{n_classes} classes; a classifier needs 2 to {MAX_CLASSES}, a regressor none"
        )));
    }
    let n_margins = match (parts.transform, n_classes) {
        (OutputTransform::Identity, 0) | (OutputTransform::Average, 0) => 1,
        (OutputTransform::Sigmoid { scale }, 2) if scale.is_finite() && scale > 0.0 => 1,
        (OutputTransform::Softmax, n) | (OutputTransform::Average, n) if n >= 2 => n,
        (transform, n) => {
            return Err(malformed(format!(
                "the output transform {transform:?} does not fit {n} classes (identity: a regressor; \
                 sigmoid with a positive scale: 2 classes; softmax: 2 or more; average: either)"
            )));
        }
    };
    if parts.n_features == 0 {
        return Err(malformed("the model reads no features".into()));
    }
    if parts.trees.is_empty() || parts.trees.len() > MAX_TREES {
        return Err(malformed(format!(
            "{} trees; a model holds 1 to {MAX_TREES}",
            parts.trees.len()
        )));
    }
    if parts.base_score.len() != n_margins || parts.base_score.iter().any(|v| !v.is_finite()) {
        return Err(malformed(format!(
            "the base score has {} values (need {n_margins} finite ones)",
            parts.base_score.len()
        )));
    }
    let mut total = 0usize;
    for (t, tree) in parts.trees.iter().enumerate() {
        total = total.saturating_add(tree.nodes.len());
        if total > MAX_TOTAL_NODES {
            return Err(malformed(format!(
                "more than {MAX_TOTAL_NODES} nodes over all trees"
            )));
        }
        check_tree(parts, tree, n_margins).map_err(|m| malformed(format!("tree {t}: {m}")))?;
    }
    Ok(n_margins)
}

fn check_tree(
    parts: &TreeEnsembleParts,
    tree: &Tree,
    n_margins: usize,
) -> core::result::Result<(), String> {
    let n = tree.nodes.len();
    if n == 0 || n > MAX_NODES {
        return Err(format!("{n} nodes; a tree holds 1 to {MAX_NODES}"));
    }
    if tree.group as usize >= n_margins {
        return Err(format!("adds to output {} of {n_margins}", tree.group));
    }
    // depth[i] for reached nodes; u16::MAX marks "no parent yet".
    let mut depth = vec![u16::MAX; n];
    if let Some(root) = depth.first_mut() {
        *root = 0;
    }
    for (i, node) in tree.nodes.iter().enumerate() {
        let d = depth.get(i).copied().unwrap_or(u16::MAX);
        if d == u16::MAX {
            return Err(format!("node {i} has no parent"));
        }
        let (feature, missing, left, right) = match node {
            Node::Leaf(values) => {
                check_leaf(tree, values, n_margins).map_err(|m| format!("node {i}: {m}"))?;
                continue;
            }
            Node::Numeric {
                feature,
                threshold,
                missing,
                left,
                right,
                ..
            } => {
                if threshold.is_nan() {
                    return Err(format!("node {i}: the threshold is NaN"));
                }
                (*feature, *missing, *left, *right)
            }
            Node::Categorical {
                feature,
                categories,
                missing,
                left,
                right,
                ..
            } => {
                check_categories(categories).map_err(|m| format!("node {i}: {m}"))?;
                (*feature, *missing, *left, *right)
            }
        };
        if feature >= parts.n_features {
            return Err(format!(
                "node {i} reads feature {feature} but the input has {}",
                parts.n_features
            ));
        }
        if parts.semantics != Semantics::LightGbm && missing != Missing::NaN {
            return Err(format!(
                "node {i}: missing type {missing:?} is LightGBM's; {:?} models use NaN",
                parts.semantics
            ));
        }
        if (d as usize) >= MAX_DEPTH {
            return Err(format!("deeper than {MAX_DEPTH}"));
        }
        for child in [left, right] {
            let c = child as usize;
            if c <= i || c >= n {
                return Err(format!(
                    "node {i} has child {child}; children come after their parent and below {n}"
                ));
            }
            match depth.get_mut(c) {
                Some(slot) if *slot == u16::MAX => *slot = d + 1,
                _ => return Err(format!("node {child} has two parents")),
            }
        }
    }
    Ok(())
}

fn check_leaf(tree: &Tree, values: &[f64], n_margins: usize) -> core::result::Result<(), String> {
    if values.len() != 1 && values.len() != n_margins {
        return Err(format!(
            "a leaf holds {} values; it needs 1 or {n_margins}",
            values.len()
        ));
    }
    if values.len() > 1 && tree.group != 0 {
        return Err("a leaf with one value per output in a tree of one group".into());
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err("a leaf value is not finite".into());
    }
    Ok(())
}

fn check_categories(categories: &[u32]) -> core::result::Result<(), String> {
    if categories.len() > MAX_CATEGORIES {
        return Err(format!(
            "{} categories; a split lists at most {MAX_CATEGORIES}",
            categories.len()
        ));
    }
    if categories.windows(2).any(|w| w[0] >= w[1]) {
        return Err("the categories are not strictly increasing".into());
    }
    if categories.last().is_some_and(|&c| c >= MAX_CATEGORY) {
        return Err(format!("a category is {MAX_CATEGORY} or more"));
    }
    Ok(())
}
