//! Random forests and decision trees trained by smartcore (`estimator =
//! "random_forest"` or `"decision_tree"`, classification or regression) and
//! exported into the core's [`TreeEnsemble`] with [`Semantics::Smartcore`].
//!
//! **How the nodes are read.** smartcore keeps its fitted nodes private and has
//! no accessor for them. Its `serde` feature derives `Serialize` for every model,
//! so the fitted model is serialized to a [`serde_json::Value`] and read back
//! into the small mirror structs below, which name exactly the fields verge uses
//! (`split_feature`, `split_value`, `true_child`, `false_child`, `output`).
//! serde checks those names and types, so a smartcore release that renames or
//! retypes them fails here with an error instead of exporting a wrong model;
//! the crate is pinned exactly in the workspace manifest for the same reason.
//! f64 values pass through `serde_json::Value` unchanged (no text round trip).
//!
//! **What the export keeps.** smartcore's prediction walks each tree from node 0,
//! going to `true_child` when `x <= split_value` (as f64) and to `false_child`
//! otherwise, so a split becomes a core numeric node with `left = true_child`,
//! the threshold copied bit for bit, and the missing-value default on the right
//! (smartcore never sees NaN, and `NaN <= t` is false there too). Children are
//! always appended after their parent, as the core requires. Its thresholds are
//! midpoints between neighbouring training values (the classifier's
//! `(a + b) / 2`, the regressor's `a + (b - a) / 2`, or `a` itself where the
//! midpoint would round up to `b`); verge takes them as they are, so the rule
//! and the placement are smartcore's by construction.
//!
//! - A classifier leaf holds one class; it becomes one vote per class (1 for
//!   its class, 0 for the others). The core sums the votes over the trees and
//!   divides by the tree count, so **probabilities are the trees' vote
//!   fractions**, and the label is the first class with the most votes: what
//!   smartcore's `predict` answers (`which_max` over the vote counts, first
//!   maximum wins). A decision tree's probabilities are 1 for its leaf's class.
//! - A regressor leaf holds the mean label of its training rows; smartcore's
//!   forest adds them in f64 from 0, tree by tree, and divides by the tree count,
//!   exactly as the core's [`OutputTransform::Average`] does, so values are equal
//!   bit for bit.
//!
//! smartcore cannot take a missing value, so these models always have an imputer
//! (`impute = "none"` is refused when the definitions are checked). Labels are
//! passed to smartcore as class indices `0..k` in the order of
//! [`encode_labels`], so its class `i` is verge's class `i`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters, SplitCriterion as Criterion,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};
use verge_core::Value;
use verge_core::definition::{EstimatorSpec, SplitCriterion, TreeParams, TreeTask};
use verge_core::model::encode_labels;
use verge_core::model::tree::{
    Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
};
use verge_core::transform::Matrix;

/// The library and version that fits these estimators, recorded in the bundle.
pub const TRAINED_WITH: &str = "smartcore 0.7.0";

type X = DenseMatrix<f64>;
type ForestClassifier = RandomForestClassifier<f64, u32, X, Vec<u32>>;
type TreeClassifier = DecisionTreeClassifier<f64, u32, X, Vec<u32>>;
type ForestRegressor = RandomForestRegressor<f64, f64, X, Vec<f64>>;
type TreeRegressor = DecisionTreeRegressor<f64, f64, X, Vec<f64>>;

/// A model as smartcore fitted it, before export: kept so tests can hold the
/// export to smartcore's own `predict`.
#[derive(Debug)]
pub enum SmartcoreModel {
    /// `random_forest`, classification.
    ForestClassifier(ForestClassifier),
    /// `decision_tree`, classification.
    TreeClassifier(TreeClassifier),
    /// `random_forest`, regression.
    ForestRegressor(ForestRegressor),
    /// `decision_tree`, regression.
    TreeRegressor(TreeRegressor),
}

/// Trains `spec` on `x` with `labels` and exports it: what `verge train` does for
/// `random_forest` and `decision_tree`.
///
/// # Examples
///
/// ```
/// use verge_core::Value;
/// use verge_core::definition::{EstimatorSpec, TreeParams, TreeTask};
/// use verge_core::transform::Matrix;
/// use verge_host::train::smartcore_trees;
///
/// let x = Matrix::from_rows(&[vec![1.0], vec![2.0], vec![3.0], vec![4.0]])?;
/// let tree = TreeParams { max_depth: None, min_samples_split: 2, min_samples_leaf: 1, seed: 0 };
/// let spec = EstimatorSpec::DecisionTree { task: TreeTask::Regression, tree };
/// let values = [1.0, 1.0, 5.0, 5.0].map(Value::Float64);
/// let model = smartcore_trees::fit(&x, &values, &spec)?;
/// // The split is at 2.5, the midpoint of 2 and 3, and `x <= 2.5` goes left.
/// assert_eq!(model.predict_value(&[2.5])?, 1.0);
/// assert_eq!(model.predict_value(&[2.6])?, 5.0);
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// As [`SmartcoreModel::train`] and [`SmartcoreModel::export`].
pub fn fit(x: &Matrix, labels: &[Value], spec: &EstimatorSpec) -> Result<TreeEnsemble> {
    let classes = if spec.is_classifier() {
        encode_labels(labels)?.0
    } else {
        Vec::new()
    };
    SmartcoreModel::train(x, labels, spec)?.export(x.n_cols(), classes)
}

fn to_dense(x: &Matrix) -> Result<X> {
    DenseMatrix::new(x.n_rows(), x.n_cols(), x.as_slice().to_vec(), false)
        .map_err(|e| anyhow!("smartcore refused the training matrix: {e}"))
}

/// Runs smartcore, turning a panic inside it into an error: verge's input
/// checks should leave it nothing to panic on, but a library panic must not
/// take `verge train` (or `verge serve`'s caller) down.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, smartcore::error::Failed>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(anyhow!("smartcore could not fit {what}: {e}")),
        Err(_) => Err(anyhow!(
            "smartcore panicked fitting {what}; this is a bug in smartcore or in verge's checks (please report it with the data's shape)"
        )),
    }
}

fn criterion(c: SplitCriterion) -> Criterion {
    match c {
        SplitCriterion::Gini => Criterion::Gini,
        SplitCriterion::Entropy => Criterion::Entropy,
        SplitCriterion::ClassificationError => Criterion::ClassificationError,
    }
}

impl SmartcoreModel {
    /// Fits `spec` (a `RandomForest` or `DecisionTree`) on `x`.
    ///
    /// # Errors
    ///
    /// Another estimator; `max_features` above the column count; a label that is
    /// not a number (regression) or not usable as a class (classification); n_trees
    /// over smartcore's limit; smartcore's own refusal.
    pub fn train(x: &Matrix, labels: &[Value], spec: &EstimatorSpec) -> Result<Self> {
        let (task, n_trees, max_features, tree) = match spec {
            EstimatorSpec::RandomForest {
                task,
                n_trees,
                max_features,
                tree,
            } => (*task, Some(*n_trees), *max_features, *tree),
            EstimatorSpec::DecisionTree { task, tree } => (*task, None, None, *tree),
            _ => bail!("not a smartcore estimator"),
        };
        if let Some(m) = max_features
            && (m == 0 || m as usize > x.n_cols())
        {
            bail!(
                "max_features = {m} but the model sees {} columns after its transforms (one-hot encoding adds one per category); use 1..={}",
                x.n_cols(),
                x.n_cols()
            );
        }
        let dense = to_dense(x)?;
        match task {
            TreeTask::Classification { criterion } => {
                let (_, y) = encode_labels(labels)?;
                let y: Vec<u32> = y
                    .iter()
                    .map(|&i| u32::try_from(i).context("too many classes"))
                    .collect::<Result<_>>()?;
                classify(&dense, &y, criterion, n_trees, max_features, tree)
            }
            TreeTask::Regression => {
                let y = numeric_labels(labels)?;
                regress(&dense, &y, n_trees, max_features, tree)
            }
        }
    }

    /// smartcore's own `predict` on every row of `x`: a class index (as f64)
    /// for a classifier, the value for a regressor.
    ///
    /// # Errors
    ///
    /// smartcore's refusal (a matrix it cannot read).
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        let dense = to_dense(x)?;
        let failed = |e: smartcore::error::Failed| anyhow!("smartcore predict: {e}");
        Ok(match self {
            Self::ForestClassifier(m) => m
                .predict(&dense)
                .map_err(failed)?
                .into_iter()
                .map(f64::from)
                .collect(),
            Self::TreeClassifier(m) => m
                .predict(&dense)
                .map_err(failed)?
                .into_iter()
                .map(f64::from)
                .collect(),
            Self::ForestRegressor(m) => m.predict(&dense).map_err(failed)?,
            Self::TreeRegressor(m) => m.predict(&dense).map_err(failed)?,
        })
    }

    /// The core model: the trees read through serde (module docs), `classes`
    /// (verge's label values, in index order; empty for a regressor) attached.
    ///
    /// # Errors
    ///
    /// A serialized form that does not have the expected fields, a class count
    /// that differs from `classes`, or a model the core refuses (a tree deeper
    /// than the core's limit: set `max_depth`).
    pub fn export(&self, n_features: usize, classes: Vec<Value>) -> Result<TreeEnsemble> {
        let k = classes.len();
        let trees: Result<Vec<Tree>> = match self {
            Self::ForestClassifier(m) => {
                let forest: ClassifierForest = read(m)?;
                check_classes(forest.classes.as_deref().unwrap_or_default(), k)?;
                let trees = forest.trees.unwrap_or_default();
                trees.iter().map(|t| classifier_tree(t, k)).collect()
            }
            Self::TreeClassifier(m) => {
                let tree: ClassifierTree = read(m)?;
                check_classes(&tree.classes, k)?;
                vec![classifier_tree(&tree, k)].into_iter().collect()
            }
            Self::ForestRegressor(m) => {
                let forest: RegressorForest = read(m)?;
                let trees = forest.forest_regressor.and_then(|f| f.trees);
                trees
                    .unwrap_or_default()
                    .iter()
                    .map(regressor_tree)
                    .collect()
            }
            Self::TreeRegressor(m) => {
                let tree: RegressorTree = read(m)?;
                tree.tree_regressor.iter().map(regressor_tree).collect()
            }
        };
        let trees = trees.context("reading smartcore's fitted trees")?;
        let n_margins = if k == 0 { 1 } else { k };
        let parts = TreeEnsembleParts {
            semantics: Semantics::Smartcore,
            n_features: u32::try_from(n_features).context("too many features")?,
            classes,
            base_score: vec![0.0; n_margins],
            trees,
            transform: OutputTransform::Average,
        };
        TreeEnsemble::from_parts(parts).map_err(|e| {
            anyhow!("the fitted trees do not fit verge's tree model ({e}); a tree deeper than 256 needs a smaller max_depth")
        })
    }
}

/// A forest (`n_trees`) or one tree of classes `y`.
fn classify(
    x: &X,
    y: &Vec<u32>,
    c: SplitCriterion,
    n_trees: Option<u32>,
    max_features: Option<u32>,
    tree: TreeParams,
) -> Result<SmartcoreModel> {
    let (split, leaf) = (
        tree.min_samples_split as usize,
        tree.min_samples_leaf as usize,
    );
    let Some(n) = n_trees else {
        let params = DecisionTreeClassifierParameters {
            criterion: criterion(c),
            max_depth: tree.max_depth,
            min_samples_leaf: leaf,
            min_samples_split: split,
            seed: Some(tree.seed),
        };
        return guarded("a decision tree", || {
            DecisionTreeClassifier::fit(x, y, params)
        })
        .map(SmartcoreModel::TreeClassifier);
    };
    let params = RandomForestClassifierParameters {
        criterion: criterion(c),
        max_depth: tree.max_depth,
        min_samples_leaf: leaf,
        min_samples_split: split,
        n_trees: u16::try_from(n)
            .map_err(|_| anyhow!("n_trees = {n}; smartcore's classifier takes at most 65535"))?,
        m: max_features.map(|m| m as usize),
        keep_samples: false,
        seed: tree.seed,
    };
    guarded("a random forest", || {
        RandomForestClassifier::fit(x, y, params)
    })
    .map(SmartcoreModel::ForestClassifier)
}

/// A forest (`n_trees`) or one tree of values `y`.
fn regress(
    x: &X,
    y: &Vec<f64>,
    n_trees: Option<u32>,
    max_features: Option<u32>,
    tree: TreeParams,
) -> Result<SmartcoreModel> {
    let (split, leaf) = (
        tree.min_samples_split as usize,
        tree.min_samples_leaf as usize,
    );
    let Some(n) = n_trees else {
        let params = DecisionTreeRegressorParameters {
            max_depth: tree.max_depth,
            min_samples_leaf: leaf,
            min_samples_split: split,
            seed: Some(tree.seed),
        };
        return guarded("a decision tree", || {
            DecisionTreeRegressor::fit(x, y, params)
        })
        .map(SmartcoreModel::TreeRegressor);
    };
    let params = RandomForestRegressorParameters {
        max_depth: tree.max_depth,
        min_samples_leaf: leaf,
        min_samples_split: split,
        n_trees: n as usize,
        m: max_features.map(|m| m as usize),
        keep_samples: false,
        seed: tree.seed,
    };
    guarded("a random forest", || {
        RandomForestRegressor::fit(x, y, params)
    })
    .map(SmartcoreModel::ForestRegressor)
}

fn numeric_labels(labels: &[Value]) -> Result<Vec<f64>> {
    labels
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64() {
            Some(y) if y.is_finite() => Ok(y),
            _ => bail!(
                "training row {} has a label that is not a finite number",
                i + 1
            ),
        })
        .collect()
}

/// The fitted model's serde form, read into the mirror type `T`.
fn read<M: serde::Serialize, T: DeserializeOwned>(model: &M) -> Result<T> {
    let value = serde_json::to_value(model).context("serializing the smartcore model")?;
    serde_json::from_value(value).context(
        "smartcore's serialized model has not the fields verge reads (was smartcore upgraded?)",
    )
}

/// smartcore's classes are the sorted distinct training indices, so they must
/// be exactly `0..k` for its class `i` to be verge's class `i`.
fn check_classes(classes: &[u32], k: usize) -> Result<()> {
    if classes.len() != k || classes.iter().enumerate().any(|(i, &c)| c as usize != i) {
        bail!("smartcore's classes {classes:?} are not the {k} class indices verge gave it");
    }
    Ok(())
}

/// One smartcore node, whatever its leaf output.
#[derive(Deserialize)]
struct SmartcoreNode<Out> {
    output: Out,
    split_feature: usize,
    split_value: Option<f64>,
    true_child: Option<usize>,
    false_child: Option<usize>,
}

#[derive(Deserialize)]
struct ClassifierTree {
    nodes: Vec<SmartcoreNode<usize>>,
    classes: Vec<u32>,
}

#[derive(Deserialize)]
struct ClassifierForest {
    trees: Option<Vec<ClassifierTree>>,
    classes: Option<Vec<u32>>,
}

#[derive(Deserialize)]
struct BaseTree {
    nodes: Vec<SmartcoreNode<f64>>,
}

#[derive(Deserialize)]
struct BaseForest {
    trees: Option<Vec<BaseTree>>,
}

#[derive(Deserialize)]
struct RegressorForest {
    forest_regressor: Option<BaseForest>,
}

#[derive(Deserialize)]
struct RegressorTree {
    tree_regressor: Option<BaseTree>,
}

fn classifier_tree(tree: &ClassifierTree, k: usize) -> Result<Tree> {
    convert(&tree.nodes, |&class| {
        if class >= k {
            bail!("a leaf names class {class} of {k}");
        }
        let mut votes = vec![0.0; k];
        votes[class] = 1.0;
        Ok(votes)
    })
}

fn regressor_tree(tree: &BaseTree) -> Result<Tree> {
    convert(&tree.nodes, |&value| Ok(vec![value]))
}

/// smartcore's nodes as core nodes: a node without children is a leaf
/// (`leaf` gives its values), any other a `<=` split sending `true_child` left.
fn convert<Out>(
    nodes: &[SmartcoreNode<Out>],
    leaf: impl Fn(&Out) -> Result<Vec<f64>>,
) -> Result<Tree> {
    let index = |i: usize| u32::try_from(i).context("too many nodes");
    let nodes = nodes
        .iter()
        .enumerate()
        .map(
            |(i, n)| match (n.true_child, n.false_child, n.split_value) {
                (None, None, _) => leaf(&n.output).map(Node::Leaf),
                (Some(t), Some(f), Some(threshold)) => Ok(Node::Numeric {
                    feature: index(n.split_feature)?,
                    threshold,
                    default_left: false,
                    missing: Missing::NaN,
                    left: index(t)?,
                    right: index(f)?,
                }),
                _ => bail!("node {i} is neither a leaf nor a complete split"),
            },
        )
        .collect::<Result<Vec<_>>>()?;
    Ok(Tree { group: 0, nodes })
}
