//! A model's recipe as `verge.toml` declares it: the fitted transforms
//! (imputer, scaler, encoder, selector) and the estimator with its
//! hyper-parameters, or the file of a model trained elsewhere.

use crate::artifact::wire::decode_enum;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// How missing numeric values are filled before the model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Imputation {
    /// Column mean over the training set.
    Mean,
    /// Column median over the training set.
    Median,
    /// Most frequent value (smallest on ties, like scikit-learn).
    MostFrequent,
    /// A fixed value.
    Constant(f64),
    /// No imputer: a missing value reaches the model as NaN. Only tree models,
    /// which route missing values themselves, accept it.
    None,
}

/// Optional scaling after imputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scaling {
    /// No scaling.
    None,
    /// Zero mean, unit variance.
    Standard,
    /// Into `[0, 1]` by the training range.
    MinMax,
}

/// How text features become numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// One integer code per category, in sorted order.
    Ordinal,
    /// One 0/1 column per category, in sorted order.
    OneHot,
}

/// Which estimator to fit, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EstimatorSpec {
    /// Gaussian naive Bayes.
    GaussianNb {
        /// Portion of the largest feature variance added to every variance (scikit-learn: 1e-9).
        var_smoothing: f64,
    },
    /// L2-regularised logistic regression (binary or multinomial).
    LogisticRegression {
        /// Inverse regularisation strength (scikit-learn's `C`, default 1.0).
        c: f64,
        /// Iteration limit for the solver.
        max_iter: u32,
    },
    /// Ordinary least squares.
    LinearRegression,
    /// Gradient-boosted trees trained by XGBoost, imported from its JSON model file.
    XgBoost {
        /// The model file, relative to the repository.
        model_file: String,
    },
    /// Gradient-boosted trees trained by LightGBM, imported from its text model file.
    LightGbm {
        /// The model file, relative to the repository.
        model_file: String,
    },
    /// A random forest trained by smartcore (bootstrap samples, `max_features`
    /// candidate features per split).
    RandomForest {
        /// Classification (votes) or regression (mean).
        task: TreeTask,
        /// Number of trees (smartcore's `n_trees`).
        n_trees: u32,
        /// Features tried at each split (smartcore's `m`); `None`: ⌊√features⌋.
        max_features: Option<u32>,
        /// The growth limits of each tree.
        tree: TreeParams,
    },
    /// One decision tree trained by smartcore (every feature tried at each split).
    DecisionTree {
        /// Classification (the leaf's class) or regression (the leaf's mean).
        task: TreeTask,
        /// The growth limits of the tree.
        tree: TreeParams,
    },
}

/// What a smartcore tree model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TreeTask {
    /// Classes, with the split quality measured by `criterion`.
    Classification {
        /// How a split's class purity is measured.
        criterion: SplitCriterion,
    },
    /// A number: the mean of the training labels in a leaf (squared error splits).
    Regression,
}

/// smartcore's split criteria for classification trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitCriterion {
    /// Gini impurity (smartcore's and scikit-learn's default).
    Gini,
    /// Entropy (information gain).
    Entropy,
    /// Misclassification rate.
    ClassificationError,
}

/// How far a smartcore tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeParams {
    /// smartcore's `max_depth`: the most levels of nodes, the root being level 1
    /// (so 1 is a single leaf, 2 one split); `None`: no limit.
    pub max_depth: Option<u16>,
    /// Fewest training rows a node needs to be split.
    pub min_samples_split: u32,
    /// Fewest training rows each side of a split must keep.
    pub min_samples_leaf: u32,
    /// Seed of smartcore's random choices (bootstrap samples, feature order),
    /// so the same data always gives the same model.
    pub seed: u64,
}

impl EstimatorSpec {
    /// True when the estimator predicts classes rather than a value.
    #[must_use]
    ///
    /// An imported model's kind is in its file; this says `true` for them, and the
    /// host checks the file's objective against the label instead.
    pub fn is_classifier(&self) -> bool {
        match self {
            EstimatorSpec::LinearRegression => false,
            EstimatorSpec::RandomForest { task, .. } | EstimatorSpec::DecisionTree { task, .. } => {
                matches!(task, TreeTask::Classification { .. })
            }
            _ => true,
        }
    }

    /// True for the tree models smartcore trains (`random_forest`, `decision_tree`).
    #[must_use]
    pub fn is_smartcore(&self) -> bool {
        matches!(
            self,
            EstimatorSpec::RandomForest { .. } | EstimatorSpec::DecisionTree { .. }
        )
    }

    /// The model file of an imported model (XGBoost, LightGBM).
    #[must_use]
    pub fn model_file(&self) -> Option<&str> {
        match self {
            EstimatorSpec::XgBoost { model_file } | EstimatorSpec::LightGbm { model_file } => {
                Some(model_file)
            }
            _ => None,
        }
    }

    /// True for imported tree models, which route missing values themselves
    /// (smartcore's trees cannot be trained on missing values: see [`Self::is_smartcore`]).
    #[must_use]
    pub fn is_tree(&self) -> bool {
        matches!(
            self,
            EstimatorSpec::XgBoost { .. } | EstimatorSpec::LightGbm { .. }
        )
    }
}

/// A model's training recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Model name.
    pub name: String,
    /// The feature service giving the input vector.
    pub feature_service: String,
    /// The label: a column of the entity table, or a feature field name.
    pub label: String,
    /// Imputation of missing numeric values.
    pub impute: Imputation,
    /// Scaling after imputation.
    pub scale: Scaling,
    /// Encoding of text features.
    pub encode: Encoding,
    /// Keep the `k` best features by ANOVA F; `None` keeps all.
    pub select_k_best: Option<u32>,
    /// The estimator.
    pub estimator: EstimatorSpec,
}

decode_enum!(Imputation { Mean, Median, MostFrequent, Constant(value), None });
decode_enum!(Scaling {
    None,
    Standard,
    MinMax
});
decode_enum!(Encoding { Ordinal, OneHot });
