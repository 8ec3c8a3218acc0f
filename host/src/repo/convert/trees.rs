//! The `[[model]]` keys of the trees smartcore trains (`random_forest`,
//! `decision_tree`): each hyper-parameter checked against the range smartcore
//! can grow a tree with, so a zero, a negative or a too-large value is a problem
//! naming the model and the key, before anything is trained.
//!
//! | key | default | meaning | range |
//! |---|---|---|---|
//! | `task` | `classification` | `classification` (class votes) or `regression` (leaf means) | |
//! | `criterion` | `gini` | classification split quality: `gini`, `entropy`, `classification_error` | classification only |
//! | `n_trees` | 100 | trees in the forest | 1..=65535, `random_forest` only |
//! | `max_features` | ⌊√columns⌋ | features tried at each split (smartcore's `m`) | 1..=columns, `random_forest` only |
//! | `max_depth` | no limit | levels of nodes, the root being level 1 (smartcore's meaning: 1 is a single leaf, 2 one split) | 1..=256 |
//! | `min_samples_split` | 2 | fewest training rows a node needs to be split | ≥ 2 |
//! | `min_samples_leaf` | 1 | fewest training rows each side of a split keeps | ≥ 1 |
//! | `seed` | 0 | seed of smartcore's random choices (bootstrap, feature order) | ≥ 0 |

use verge_core::definition::{EstimatorSpec, ObjectKind, SplitCriterion, TreeParams, TreeTask};

use super::Converter;
use crate::repo::raw::RawModel;

/// Default forest size (scikit-learn's and smartcore's classifier's).
const DEFAULT_TREES: u32 = 100;
/// The deepest `max_depth` taken: the core holds trees up to 256 levels below the root.
const MAX_DEPTH: i64 = 256;

/// The tree keys of `m` and whether each is given, for estimators that take none.
pub(super) fn keys(m: &RawModel) -> [(&'static str, bool); 8] {
    [
        ("task", m.task.is_some()),
        ("criterion", m.criterion.is_some()),
        ("n_trees", m.n_trees.is_some()),
        ("max_features", m.max_features.is_some()),
        ("max_depth", m.max_depth.is_some()),
        ("min_samples_split", m.min_samples_split.is_some()),
        ("min_samples_leaf", m.min_samples_leaf.is_some()),
        ("seed", m.seed.is_some()),
    ]
}

impl Converter<'_> {
    /// `random_forest` (`forest`) or `decision_tree` from `m`'s keys.
    pub(super) fn smartcore_estimator(&mut self, m: &RawModel, forest: bool) -> EstimatorSpec {
        let estimator = if forest {
            "random_forest"
        } else {
            "decision_tree"
        };
        let task = self.task(m, estimator);
        let int = |this: &mut Self, key: &str, value: Option<i64>, min: i64, max: i64| {
            let v = value?;
            if (min..=max).contains(&v) {
                return Some(v);
            }
            // Past u32 a bound is no advice; say only the lower one.
            let range = if max >= i64::from(u32::MAX) {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            this.problem(
                ObjectKind::Model,
                &m.name,
                key,
                format!("{estimator} needs {key} {range}, not {v}"),
            );
            None
        };
        let max_depth = int(self, "max_depth", m.max_depth, 1, MAX_DEPTH);
        let split = int(
            self,
            "min_samples_split",
            m.min_samples_split,
            2,
            u32::MAX.into(),
        );
        let leaf = int(
            self,
            "min_samples_leaf",
            m.min_samples_leaf,
            1,
            u32::MAX.into(),
        );
        let seed = int(self, "seed", m.seed, 0, i64::MAX);
        let tree = TreeParams {
            max_depth: max_depth.and_then(|d| u16::try_from(d).ok()),
            min_samples_split: split.and_then(|v| u32::try_from(v).ok()).unwrap_or(2),
            min_samples_leaf: leaf.and_then(|v| u32::try_from(v).ok()).unwrap_or(1),
            seed: seed.and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        };
        if !forest {
            for (key, given) in [
                ("n_trees", m.n_trees.is_some()),
                ("max_features", m.max_features.is_some()),
            ] {
                if given {
                    self.problem(
                        ObjectKind::Model,
                        &m.name,
                        key,
                        format!("a decision_tree is one tree that tries every feature; `{key}` is for random_forest, remove it"),
                    );
                }
            }
            return EstimatorSpec::DecisionTree { task, tree };
        }
        let n_trees = int(self, "n_trees", m.n_trees, 1, u16::MAX.into());
        let max_features = int(self, "max_features", m.max_features, 1, u32::MAX.into());
        EstimatorSpec::RandomForest {
            task,
            n_trees: n_trees
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(DEFAULT_TREES),
            max_features: max_features.and_then(|v| u32::try_from(v).ok()),
            tree,
        }
    }

    fn task(&mut self, m: &RawModel, estimator: &str) -> TreeTask {
        let criterion = match m.criterion.as_deref() {
            None | Some("gini") => SplitCriterion::Gini,
            Some("entropy") => SplitCriterion::Entropy,
            Some("classification_error") => SplitCriterion::ClassificationError,
            Some(other) => {
                self.problem(
                    ObjectKind::Model,
                    &m.name,
                    "criterion",
                    format!("\"{other}\" is not a split criterion; use gini, entropy or classification_error"),
                );
                SplitCriterion::Gini
            }
        };
        match m.task.as_deref().unwrap_or("classification") {
            "classification" => TreeTask::Classification { criterion },
            "regression" => {
                if m.criterion.is_some() {
                    self.problem(
                        ObjectKind::Model,
                        &m.name,
                        "criterion",
                        "a regression tree splits on squared error; `criterion` is for task = \"classification\", remove it",
                    );
                }
                TreeTask::Regression
            }
            other => {
                self.problem(
                    ObjectKind::Model,
                    &m.name,
                    "task",
                    format!(
                        "{estimator}: \"{other}\" is not a task; use classification or regression"
                    ),
                );
                TreeTask::Classification { criterion }
            }
        }
    }
}
