//! Tree ensembles: gradient-boosted trees imported from XGBoost or LightGBM, and
//! random forests and decision trees trained with smartcore, in one core type.
//!
//! A [`TreeEnsemble`] is a list of [`Tree`]s, each a flat array of [`Node`]s whose
//! root is node 0 and whose children always come after their parent (so a walk
//! ends in at most `nodes.len()` steps and cannot cycle). Each tree adds its leaf
//! to one output margin (`group`, per-class trees) or, when a leaf has one value
//! per output, to all of them (a forest's class votes). The margins start at the
//! base score and end in an [`OutputTransform`].
//!
//! The comparison and precision rules are exactly the source library's
//! ([`Semantics`]), because a model is only worth serving if it answers what it
//! answered where it was trained:
//!
//! | source | precision | go left when | a missing value (NaN) | sums |
//! |---|---|---|---|---|
//! | XGBoost | input and threshold rounded to f32 | `x < threshold` | takes the node's default child | f32, tree by tree, from the base margin |
//! | LightGBM | f64; \|x\| ≤ 1e-35 is read as 0 | `x <= threshold` | per node (`decision_type` bits 2–3): missing type NaN → default child; otherwise NaN becomes 0, and with missing type Zero a zero takes the default child | f64 |
//! | smartcore | f64 | `x <= threshold` | default child (smartcore never sees NaN; the default is right, as `NaN <= t` is false) | f64 |
//!
//! LightGBM's 1e-35 is its f32 `kZeroThreshold` widened. Its documented rule
//! compares the value itself, but its prediction API first copies a dense row
//! into sparse pairs keeping only `|x| > kZeroThreshold`, so a tiny value such as
//! the split threshold `-1e-35` LightGBM itself places around zero arrives as 0
//! and goes right of that threshold; verge follows what the library does.
//!
//! Categorical splits test set membership of the value truncated to an integer:
//! XGBoost sends the listed categories right and a NaN to the default child, a
//! negative value or one of 2^24 or more left (its `InvalidCat`); LightGBM sends the listed
//! categories left and a negative value or a NaN right (LightGBM 4's
//! `CategoricalDecision`; its missing type plays no part there).
//!
//! Output transforms ([`OutputTransform`]): identity (regression), sigmoid (two
//! classes, one margin, `p1 = 1 / (1 + e^-(scale·m))`, `p0 = 1 − p1`), softmax
//! (one margin per class, shifted by the largest), or the mean over trees (forests;
//! a classifier's leaves hold class votes, so its probabilities are vote
//! fractions). XGBoost's sigmoid and softmax are its own f32 formulas
//! (`1 / (expf(min(-m, 88.7)) + 1)`, and `expf(m − max) / Σ` with the sum in f64),
//! with glibc's `expf` ported ([`xgboost_expf`]) so they match bit for bit;
//! LightGBM's are in f64 with `libm::exp`.
//!
//! The label is the first class of highest probability; with a sigmoid, class 1
//! exactly when `p1 > p0` (what the libraries' scikit-learn wrappers answer).
//!
//! Loading checks every shape ([`TreeEnsemble::from_parts`]) so that predicting
//! cannot index out of range, loop or overflow the stack; decoding a hostile
//! bundle is an error, never a panic.
//!
//! ## Speed
//!
//! Loading also compiles the trees into a flat layout of 16-byte nodes that
//! predictions walk, eight walks in lock step without a branch per level
//! (`compiled.rs`; it is not serialized, so the bundle holds only the parts).
//! [`TreeEnsemble::predict_proba_batch_into`] and
//! [`TreeEnsemble::predict_values_into`] take many rows at once and walk the
//! trees one at a time over blocks of rows; their answers are bit for bit those
//! of the one-row calls. Figures (`cargo bench -p verge-core --bench trees`;
//! `bench/trees/run` beside XGBoost and LightGBM) are in `bench/README.md`.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::{decode_enum, decode_struct};
use crate::value::Value;
use crate::{Error, Result};

mod check;
mod compiled;
mod expf;
mod predict;
#[cfg(test)]
mod props;
#[cfg(test)]
mod reference;

pub use check::{MAX_CATEGORIES, MAX_DEPTH, MAX_NODES, MAX_TREES};
pub use expf::xgboost_expf;

/// Whose comparison and precision rules a [`TreeEnsemble`] follows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Semantics {
    /// XGBoost: f32, `x < threshold`, f32 sums.
    XgBoost,
    /// LightGBM: f64, `x <= threshold`, per-node missing types, f64 sums.
    LightGbm,
    /// smartcore: f64, `x <= threshold`, f64 sums.
    Smartcore,
}

/// Which values a split treats as missing (LightGBM's `missing_type`; XGBoost and
/// smartcore models always use [`Missing::NaN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// Nothing is missing: a NaN is read as 0 and compared.
    None,
    /// Zero is missing: NaN is read as 0, and |x| ≤ 1e-35 takes the default child.
    Zero,
    /// NaN is missing and takes the default child.
    NaN,
}

/// One node of a [`Tree`]. Child indices point into the same tree's node list and
/// are always greater than the node's own index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// A numeric split.
    Numeric {
        /// Input column tested.
        feature: u32,
        /// Split value (an f32 value for XGBoost).
        threshold: f64,
        /// Where a missing value goes.
        default_left: bool,
        /// Which values are missing.
        missing: Missing,
        /// Child for values below (or at, for `<=` sources) the threshold.
        left: u32,
        /// The other child.
        right: u32,
    },
    /// A categorical split: the value, truncated to an integer, is looked up in a set.
    Categorical {
        /// Input column tested.
        feature: u32,
        /// The categories of the set, strictly increasing.
        categories: Vec<u32>,
        /// True when the set's categories go left (LightGBM), false when they go right (XGBoost).
        set_goes_left: bool,
        /// Where a missing value goes (XGBoost; LightGBM's own rule is in the module docs).
        default_left: bool,
        /// Which values are missing.
        missing: Missing,
        /// Left child.
        left: u32,
        /// Right child.
        right: u32,
    },
    /// A leaf: one value (added to the tree's group) or one per output.
    Leaf(Vec<f64>),
}

/// One tree: its nodes (root first) and the output margin its leaves add to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The output (class) this tree's one-value leaves add to; 0 otherwise.
    pub group: u32,
    /// The nodes, root first.
    pub nodes: Vec<Node>,
}

/// What turns the summed margins into the answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OutputTransform {
    /// The margin is the answer (regression).
    Identity,
    /// Two classes, one margin: `p1 = sigmoid(scale · m)` (LightGBM's `sigmoid`
    /// parameter is the scale; XGBoost's is 1).
    Sigmoid {
        /// Multiplier of the margin.
        scale: f64,
    },
    /// One margin per class, normalised by softmax.
    Softmax,
    /// The sum divided by the number of trees (forests): a value, or vote fractions.
    Average,
}

/// The stored parameters of a [`TreeEnsemble`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsembleParts {
    /// Whose comparison rules apply.
    pub semantics: Semantics,
    /// Input width.
    pub n_features: u32,
    /// The label values of a classifier, in output order; empty for a regressor.
    pub classes: Vec<Value>,
    /// Starting margin, one per output (XGBoost's `base_score` already converted
    /// to a margin; zeros for LightGBM, whose init score is in the first trees).
    pub base_score: Vec<f64>,
    /// The trees, in the order their values are summed.
    pub trees: Vec<Tree>,
    /// The output transform.
    pub transform: OutputTransform,
}

/// A fitted tree ensemble, checked on construction and on decoding.
///
/// # Examples
///
/// ```
/// use verge_core::model::tree::{
///     Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
/// };
///
/// // x0 < 0.5 → 1.0, else 3.0; missing goes right.
/// let stump = Tree {
///     group: 0,
///     nodes: vec![
///         Node::Numeric { feature: 0, threshold: 0.5, default_left: false, missing: Missing::NaN, left: 1, right: 2 },
///         Node::Leaf(vec![1.0]),
///         Node::Leaf(vec![3.0]),
///     ],
/// };
/// let model = TreeEnsemble::from_parts(TreeEnsembleParts {
///     semantics: Semantics::XgBoost,
///     n_features: 1,
///     classes: vec![],
///     base_score: vec![0.5],
///     trees: vec![stump],
///     transform: OutputTransform::Identity,
/// })
/// .unwrap();
/// assert_eq!(model.predict_value(&[0.25]).unwrap(), 1.5);
/// assert_eq!(model.predict_value(&[0.5]).unwrap(), 3.5); // XGBoost: x < threshold
/// assert_eq!(model.predict_value(&[f64::NAN]).unwrap(), 3.5);
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "TreeEnsembleParts", into = "TreeEnsembleParts")]
pub struct TreeEnsemble {
    parts: TreeEnsembleParts,
    /// Number of margins: 1 for regression and a sigmoid, the class count otherwise.
    #[serde(skip)]
    n_margins: usize,
    /// The flat layout predictions walk, built from `parts` on load and never
    /// serialized (the bundle stores only the parts).
    #[serde(skip)]
    compiled: compiled::Compiled,
}

decode_enum!(Semantics {
    XgBoost,
    LightGbm,
    Smartcore
});
decode_enum!(Missing { None, Zero, NaN });
decode_enum!(Node {
    Numeric { feature, threshold, default_left, missing, left, right },
    Categorical { feature, categories, set_goes_left, default_left, missing, left, right },
    Leaf(values),
});
decode_struct!(Tree { group, nodes });
decode_enum!(OutputTransform { Identity, Sigmoid { scale }, Softmax, Average });
decode_struct!(TreeEnsemble as TreeEnsembleParts {
    semantics, n_features, classes, base_score, trees, transform,
});

/// Two models are equal when their parts are: the rest is derived from them.
impl PartialEq for TreeEnsemble {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

/// The parts only: the compiled layout repeats them.
impl core::fmt::Debug for TreeEnsemble {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TreeEnsemble")
            .field("parts", &self.parts)
            .field("n_margins", &self.n_margins)
            .finish_non_exhaustive()
    }
}

impl TryFrom<TreeEnsembleParts> for TreeEnsemble {
    type Error = Error;
    fn try_from(parts: TreeEnsembleParts) -> Result<Self> {
        TreeEnsemble::from_parts(parts)
    }
}

impl From<TreeEnsemble> for TreeEnsembleParts {
    fn from(model: TreeEnsemble) -> Self {
        model.parts
    }
}

impl TreeEnsemble {
    /// A model from its parameters, after every shape check of the module docs.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] (kind `tree model`) naming the tree and node that is
    /// out of range, cyclic, too deep, or inconsistent with the outputs.
    pub fn from_parts(parts: TreeEnsembleParts) -> Result<Self> {
        let n_margins = check::check(&parts)?;
        let compiled = compiled::Compiled::new(&parts);
        Ok(TreeEnsemble {
            parts,
            n_margins,
            compiled,
        })
    }

    /// The parameters.
    #[must_use]
    pub fn parts(&self) -> &TreeEnsembleParts {
        &self.parts
    }

    /// Number of input features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.parts.n_features as usize
    }

    /// The label values (empty for a regressor).
    #[must_use]
    pub fn classes(&self) -> &[Value] {
        &self.parts.classes
    }

    /// The kind, as `verge.toml` names it: `xgboost`, `lightgbm`, or for smartcore
    /// `decision_tree` (one tree) or `random_forest`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self.parts.semantics {
            Semantics::XgBoost => "xgboost",
            Semantics::LightGbm => "lightgbm",
            Semantics::Smartcore if self.parts.trees.len() == 1 => "decision_tree",
            Semantics::Smartcore => "random_forest",
        }
    }

    /// Number of trees.
    #[must_use]
    pub fn n_trees(&self) -> usize {
        self.parts.trees.len()
    }

    /// True for a classifier.
    #[must_use]
    pub fn is_classifier(&self) -> bool {
        !self.parts.classes.is_empty()
    }
}

#[cfg(test)]
mod tests;
