//! LightGBM's text model (`Booster.save_model("model.txt")`, LightGBM 3 and 4)
//! into a [`TreeEnsembleParts`].
//!
//! Objectives: `binary` (sigmoid with the file's `sigmoid:` scale), `multiclass`
//! (softmax over `num_class` trees per iteration), `regression` (identity).
//! The init score is already in the first trees' leaves, so the base score is 0.
//! Numbers are read as f64 exactly as LightGBM printed them; `decision_type` bit 0
//! is a categorical split, bit 1 the default direction, bits 2–3 the missing type
//! (0 none, 1 zero, 2 NaN). A categorical split's `threshold` indexes
//! `cat_boundaries`, which slices `cat_threshold`, a bitset of the categories that
//! go left. Linear trees and `rf` boosting (averaged output) are refused.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow, bail};
use verge_core::Value;
use verge_core::model::tree::{
    MAX_NODES, MAX_TREES, Missing, Node, OutputTransform, Semantics, Tree, TreeEnsembleParts,
};

use super::{ImportedModel, SourceNode, renumber};

/// Reads a LightGBM text model.
///
/// # Errors
///
/// Not a LightGBM model, an unsupported objective, or a tree whose arrays are
/// missing or disagree, each naming the tree and key.
pub fn read(text: &str) -> Result<ImportedModel> {
    let mut blocks = text.split("\nTree=");
    let header = keys(blocks.next().unwrap_or_default());
    if !header.contains_key("version") && !text.starts_with("tree") {
        bail!("not a LightGBM text model (no `tree` header and `version=`)");
    }
    let get = |k: &str| {
        header
            .get(k)
            .copied()
            .ok_or_else(|| anyhow!("missing `{k}=` in the header"))
    };
    let num_class: usize = get("num_class")?.parse().context("num_class")?;
    let per_iteration: usize = get("num_tree_per_iteration")?
        .parse()
        .context("num_tree_per_iteration")?;
    let max_feature: u32 = get("max_feature_idx")?.parse().context("max_feature_idx")?;
    if header.contains_key("average_output") {
        bail!("`rf` boosting (average_output) is not supported; verge imports gbdt models");
    }
    let objective = get("objective")?;
    let mut words = objective.split_whitespace();
    let kind = words.next().unwrap_or_default();
    let option = |name: &str| {
        objective
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
    };
    let (classes, transform, n_margins) = match kind {
        "binary" => {
            let scale: f64 = option("sigmoid")
                .unwrap_or("1")
                .parse()
                .context("sigmoid")?;
            (2, OutputTransform::Sigmoid { scale }, 1)
        }
        "multiclass" | "softmax" => (num_class, OutputTransform::Softmax, num_class),
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse"
            if !objective.contains("sqrt") =>
        {
            (0, OutputTransform::Identity, 1)
        }
        other => bail!(
            "objective `{other}` is not supported; verge imports binary, multiclass and regression"
        ),
    };
    if per_iteration != n_margins {
        bail!("num_tree_per_iteration={per_iteration} does not fit objective `{objective}`");
    }
    let mut trees = Vec::new();
    for (t, block) in blocks.enumerate() {
        if t >= MAX_TREES {
            bail!("more than {MAX_TREES} trees");
        }
        let block = block.split("\nend of trees").next().unwrap_or_default();
        let nodes = read_tree(block).with_context(|| format!("Tree={t}"))?;
        trees.push(Tree {
            group: u32::try_from(t % n_margins)?,
            nodes,
        });
    }
    if trees.is_empty() {
        bail!("the file has no trees");
    }
    let feature_names = header.get("feature_names").map(|names| {
        names
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    // LightGBM names unnamed features Column_0, Column_1...: no names at all.
    let generic = feature_names.as_ref().is_some_and(|names| {
        names
            .iter()
            .enumerate()
            .all(|(i, n)| *n == format!("Column_{i}"))
    });
    Ok(ImportedModel {
        parts: TreeEnsembleParts {
            semantics: Semantics::LightGbm,
            n_features: max_feature.saturating_add(1),
            classes: (0..classes as i64).map(Value::Int64).collect(),
            base_score: vec![0.0; n_margins],
            trees,
            transform,
        },
        feature_names: feature_names.filter(|_| !generic),
        library: format!(
            "lightgbm {}",
            header
                .get("version")
                .copied()
                .unwrap_or("(unknown version)")
        ),
    })
}

/// `key=value` lines of a block.
fn keys(block: &str) -> BTreeMap<&str, &str> {
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn list<T: std::str::FromStr>(
    keys: &BTreeMap<&str, &str>,
    key: &str,
    len: usize,
) -> Result<Vec<T>> {
    let text = keys.get(key).ok_or_else(|| anyhow!("missing `{key}=`"))?;
    let values = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<Vec<T>, _>>()
        .map_err(|_| anyhow!("`{key}` holds a value that is not a number"))?;
    if values.len() != len {
        bail!("`{key}` has {} values, expected {len}", values.len());
    }
    Ok(values)
}

/// One `Tree=` block into core nodes.
fn read_tree(block: &str) -> Result<Vec<Node>> {
    let k = keys(block);
    let num_leaves: usize = k
        .get("num_leaves")
        .ok_or_else(|| anyhow!("missing `num_leaves=`"))?
        .parse()
        .context("num_leaves")?;
    if num_leaves == 0 || num_leaves > MAX_NODES / 2 {
        bail!("num_leaves={num_leaves} is out of range");
    }
    if k.get("is_linear").is_some_and(|v| *v != "0") {
        bail!("linear trees are not supported");
    }
    let leaf_value: Vec<f64> = list(&k, "leaf_value", num_leaves)?;
    if num_leaves == 1 {
        return Ok(vec![Node::Leaf(leaf_value)]);
    }
    let n = num_leaves - 1;
    let feature: Vec<u32> = list(&k, "split_feature", n)?;
    let threshold: Vec<f64> = list(&k, "threshold", n)?;
    let decision: Vec<u8> = list(&k, "decision_type", n)?;
    let left: Vec<i64> = list(&k, "left_child", n)?;
    let right: Vec<i64> = list(&k, "right_child", n)?;
    let num_cat: usize = k
        .get("num_cat")
        .map_or(Ok(0), |v| v.parse())
        .context("num_cat")?;
    let (bounds, bits): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let bounds: Vec<usize> = list(&k, "cat_boundaries", num_cat + 1)?;
        let total = bounds.last().copied().unwrap_or(0);
        (bounds, list(&k, "cat_threshold", total)?)
    } else {
        (Vec::new(), Vec::new())
    };
    // Internal nodes are ids 0..n; leaf j is id n + j (LightGBM writes it as !j).
    let child = |c: i64| -> Result<u32> {
        let id = if c < 0 { n as i64 + !c } else { c };
        u32::try_from(id).map_err(|_| anyhow!("child {c} is out of range"))
    };
    let get = |id: u32| -> Result<SourceNode> {
        let i = id as usize;
        if i >= n {
            let v = leaf_value
                .get(i - n)
                .ok_or_else(|| anyhow!("leaf {} is past the {num_leaves} leaves", i - n))?;
            return Ok(SourceNode::Leaf(vec![*v]));
        }
        let d = decision.get(i).copied().unwrap_or(0);
        let (l, r) = (
            child(left.get(i).copied().unwrap_or(0))?,
            child(right.get(i).copied().unwrap_or(0))?,
        );
        let f = feature.get(i).copied().unwrap_or(0);
        let missing = match (d >> 2) & 3 {
            0 => Missing::None,
            1 => Missing::Zero,
            2 => Missing::NaN,
            other => bail!("node {i}: missing type {other} in decision_type {d}"),
        };
        let t = threshold.get(i).copied().unwrap_or(0.0);
        Ok(SourceNode::Split(if d & 1 == 1 {
            Node::Categorical {
                feature: f,
                categories: category_set(&bounds, &bits, t).with_context(|| format!("node {i}"))?,
                set_goes_left: true,
                default_left: d & 2 != 0,
                missing,
                left: l,
                right: r,
            }
        } else {
            Node::Numeric {
                feature: f,
                threshold: t,
                default_left: d & 2 != 0,
                missing,
                left: l,
                right: r,
            }
        }))
    };
    renumber(0, n + num_leaves, get)
}

/// The categories of split `threshold` (an index into `bounds`), from the bitset.
fn category_set(bounds: &[usize], bits: &[u32], threshold: f64) -> Result<Vec<u32>> {
    let idx = threshold as usize;
    let (Some(&start), Some(&end)) = (bounds.get(idx), bounds.get(idx + 1)) else {
        bail!("categorical threshold {threshold} is past cat_boundaries");
    };
    let words = bits
        .get(start..end)
        .ok_or_else(|| anyhow!("cat_boundaries run past cat_threshold"))?;
    let mut set = Vec::new();
    for (w, word) in words.iter().enumerate() {
        for b in 0..32 {
            if word >> b & 1 == 1 {
                set.push(u32::try_from(w * 32 + b)?);
            }
        }
    }
    Ok(set)
}
