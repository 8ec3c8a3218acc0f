//! XGBoost's JSON model (`Booster.save_model("model.json")`, XGBoost 1.6 and
//! later; UBJSON is not read: save as `.json`) into a [`TreeEnsembleParts`].
//!
//! Objectives: `binary:logistic` (sigmoid), `multi:softprob` and `multi:softmax`
//! (softmax; verge answers probabilities either way), `reg:squarederror`
//! (identity). `base_score` is in output space; it becomes a margin as XGBoost
//! turns it into one (`-ln(1/p - 1)` in f32 for the logistic, as is otherwise).
//! Thresholds and leaf values are f32 in XGBoost and are kept as those f32
//! values. Every tree of the file is used (XGBoost's `iteration_range` and early
//! stopping's `best_iteration` are not applied).

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value as Json;
use verge_core::Value;
use verge_core::model::tree::{
    MAX_NODES, MAX_TREES, Missing, Node, OutputTransform, Semantics, Tree, TreeEnsembleParts,
};

use super::{ImportedModel, SourceNode, renumber};

/// Reads an XGBoost JSON model.
///
/// # Errors
///
/// Not JSON, not an XGBoost `gbtree` model, an unsupported objective, or arrays
/// whose lengths disagree, each naming the field.
pub fn read(bytes: &[u8]) -> Result<ImportedModel> {
    let json: Json = serde_json::from_slice(&nan_as_null(bytes))
        .context("not JSON (verge reads XGBoost's JSON model: save it with a .json name)")?;
    let learner = field(&json, "learner")?;
    let params = field(learner, "learner_model_param")?;
    let n_features = number(field(params, "num_feature")?, "num_feature")? as u32;
    let num_class = number(field(params, "num_class")?, "num_class")? as usize;
    let base_score = f32_of(field(params, "base_score")?, "base_score")?;
    let objective = field(field(learner, "objective")?, "name")?
        .as_str()
        .ok_or_else(|| anyhow!("learner.objective.name is not text"))?;
    let (classes, transform, margin) = objective_of(objective, base_score, num_class)?;
    let booster = field(learner, "gradient_booster")?;
    if let Some(name) = booster.get("name").and_then(Json::as_str)
        && name != "gbtree"
    {
        bail!("booster `{name}` is not supported; verge imports gbtree models");
    }
    let model = field(booster, "model")?;
    let trees_json = field(model, "trees")?
        .as_array()
        .ok_or_else(|| anyhow!("gradient_booster.model.trees is not an array"))?;
    if trees_json.is_empty() || trees_json.len() > MAX_TREES {
        bail!("{} trees; verge reads 1 to {MAX_TREES}", trees_json.len());
    }
    let groups = ints(field(model, "tree_info")?, "tree_info")?;
    let n_margins = if transform == OutputTransform::Softmax {
        classes
    } else {
        1
    };
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, tree) in trees_json.iter().enumerate() {
        let group = groups.get(t).copied().unwrap_or(0);
        if group as usize >= n_margins {
            bail!("tree {t} belongs to group {group} of {n_margins}");
        }
        let nodes = read_tree(tree).with_context(|| format!("tree {t}"))?;
        trees.push(Tree {
            group: group as u32,
            nodes,
        });
    }
    let feature_names = learner
        .get("feature_names")
        .and_then(Json::as_array)
        .filter(|names| !names.is_empty())
        .map(|names| {
            names
                .iter()
                .map(|n| n.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| anyhow!("learner.feature_names holds a non-text name"))
        })
        .transpose()?;
    let version = json
        .get("version")
        .and_then(Json::as_array)
        .map(|v| {
            v.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_else(|| "unknown".into());
    Ok(ImportedModel {
        parts: TreeEnsembleParts {
            semantics: Semantics::XgBoost,
            n_features,
            classes: (0..classes as i64).map(Value::Int64).collect(),
            base_score: margin,
            trees,
            transform,
        },
        feature_names,
        library: format!("xgboost {version}"),
    })
}

/// `(classes, transform, base margin)` of an objective; `base_score` (output
/// space) becomes a margin as XGBoost's `ProbToMargin` makes it.
fn objective_of(
    objective: &str,
    base_score: f32,
    num_class: usize,
) -> Result<(usize, OutputTransform, Vec<f64>)> {
    Ok(match objective {
        "binary:logistic" => {
            if !(base_score > 0.0 && base_score < 1.0) {
                bail!("base_score {base_score} is not a probability");
            }
            // XGBoost's ProbToMargin for the logistic, in f32.
            let margin = -(1.0f32 / base_score - 1.0).ln();
            (
                2,
                OutputTransform::Sigmoid { scale: 1.0 },
                vec![f64::from(margin)],
            )
        }
        "multi:softprob" | "multi:softmax" => {
            if num_class < 2 {
                bail!("{objective} with num_class {num_class}");
            }
            (
                num_class,
                OutputTransform::Softmax,
                vec![f64::from(base_score); num_class],
            )
        }
        "reg:squarederror" => (0, OutputTransform::Identity, vec![f64::from(base_score)]),
        other => bail!(
            "objective `{other}` is not supported; verge imports binary:logistic, multi:softprob and reg:squarederror"
        ),
    })
}

/// One tree's arrays into core nodes.
fn read_tree(tree: &Json) -> Result<Vec<Node>> {
    let left = ints(field(tree, "left_children")?, "left_children")?;
    let right = ints(field(tree, "right_children")?, "right_children")?;
    let feature = ints(field(tree, "split_indices")?, "split_indices")?;
    let cond = floats(field(tree, "split_conditions")?, "split_conditions")?;
    let default_left = ints(field(tree, "default_left")?, "default_left")?;
    let split_type = match tree.get("split_type") {
        Some(v) => ints(v, "split_type")?,
        None => vec![0; left.len()],
    };
    let n = left.len();
    if n == 0 || n > MAX_NODES {
        bail!("{n} nodes; a tree holds 1 to {MAX_NODES}");
    }
    for (name, len) in [
        ("right_children", right.len()),
        ("split_indices", feature.len()),
        ("split_conditions", cond.len()),
        ("default_left", default_left.len()),
        ("split_type", split_type.len()),
    ] {
        if len != n {
            bail!("{name} has {len} entries but left_children has {n}");
        }
    }
    let categories = categories(tree)?;
    let get = |id: u32| -> Result<SourceNode> {
        let i = id as usize;
        let (Some(&l), Some(&r)) = (left.get(i), right.get(i)) else {
            bail!("a child index {id} is past the {n} nodes");
        };
        if l < 0 {
            return Ok(SourceNode::Leaf(vec![cond.get(i).copied().unwrap_or(0.0)]));
        }
        let child =
            |c: i64| u32::try_from(c).map_err(|_| anyhow!("node {id}: child {c} is not a node"));
        let (l, r) = (child(l)?, child(r)?);
        let feature = u32::try_from(feature.get(i).copied().unwrap_or(0))?;
        let default_left = default_left.get(i).copied().unwrap_or(0) != 0;
        Ok(SourceNode::Split(
            if split_type.get(i).copied().unwrap_or(0) == 1 {
                let set = categories
                    .iter()
                    .find(|(node, _)| *node == id)
                    .map(|(_, c)| c.clone())
                    .ok_or_else(|| anyhow!("categorical node {id} lists no categories"))?;
                Node::Categorical {
                    feature,
                    categories: set,
                    set_goes_left: false,
                    default_left,
                    missing: Missing::NaN,
                    left: l,
                    right: r,
                }
            } else {
                Node::Numeric {
                    feature,
                    threshold: cond.get(i).copied().unwrap_or(0.0),
                    default_left,
                    missing: Missing::NaN,
                    left: l,
                    right: r,
                }
            },
        ))
    };
    renumber(0, n, get)
}

/// `(node id, sorted categories)` of each categorical split.
fn categories(tree: &Json) -> Result<Vec<(u32, Vec<u32>)>> {
    let Some(nodes) = tree.get("categories_nodes") else {
        return Ok(Vec::new());
    };
    let nodes = ints(nodes, "categories_nodes")?;
    let starts = ints(field(tree, "categories_segments")?, "categories_segments")?;
    let sizes = ints(field(tree, "categories_sizes")?, "categories_sizes")?;
    let all = ints(field(tree, "categories")?, "categories")?;
    let mut out = Vec::with_capacity(nodes.len());
    for (k, &node) in nodes.iter().enumerate() {
        let (Some(&start), Some(&size)) = (starts.get(k), sizes.get(k)) else {
            bail!("categories_segments/categories_sizes are shorter than categories_nodes");
        };
        let (start, size) = (usize::try_from(start)?, usize::try_from(size)?);
        let slice = all
            .get(start..start.saturating_add(size))
            .ok_or_else(|| anyhow!("a category segment runs past the categories"))?;
        let mut set: Vec<u32> = slice
            .iter()
            .map(|&c| u32::try_from(c))
            .collect::<Result<_, _>>()?;
        set.sort_unstable();
        set.dedup();
        out.push((u32::try_from(node)?, set));
    }
    Ok(out)
}

/// XGBoost writes a bare `NaN` (not JSON) as the split condition of a
/// categorical split; outside strings it becomes `null`, read back as NaN.
fn nan_as_null(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if in_string {
            in_string = escaped || b != b'"';
            escaped = !escaped && b == b'\\';
        } else if b == b'"' {
            in_string = true;
        } else if bytes.get(i..i + 3) == Some(b"NaN") {
            out.extend_from_slice(b"null");
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

fn field<'j>(json: &'j Json, name: &str) -> Result<&'j Json> {
    json.get(name)
        .ok_or_else(|| anyhow!("missing field `{name}`; is this an XGBoost JSON model?"))
}

/// A number XGBoost may write as a JSON number or as text (`"5E-1"`, `"[5E-1]"`).
fn number(v: &Json, name: &str) -> Result<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim_matches(['[', ']']).parse().ok(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("`{name}` is not a number: {v}"))
}

/// An f32 parsed straight from the text, as XGBoost parses it.
fn f32_of(v: &Json, name: &str) -> Result<f32> {
    match v {
        Json::Null => Some(f32::NAN),
        Json::String(s) => s.trim_matches(['[', ']']).parse().ok(),
        Json::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| anyhow!("`{name}` is not a number: {v}"))
}

fn ints(v: &Json, name: &str) -> Result<Vec<i64>> {
    let items = v
        .as_array()
        .ok_or_else(|| anyhow!("`{name}` is not an array"))?;
    items
        .iter()
        .map(|x| match x {
            Json::Bool(b) => Some(i64::from(*b)),
            _ => x.as_i64(),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| anyhow!("`{name}` holds a value that is not an integer"))
}

/// f32 values (XGBoost's precision), widened exactly to f64.
fn floats(v: &Json, name: &str) -> Result<Vec<f64>> {
    let items = v
        .as_array()
        .ok_or_else(|| anyhow!("`{name}` is not an array"))?;
    items
        .iter()
        .map(|x| f32_of(x, name).map(f64::from))
        .collect()
}
