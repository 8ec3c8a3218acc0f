//! The plain walk over the stored [`Node`]s, exactly as the trees were first
//! predicted: the reference the compiled walk ([`super::compiled`]) is held to,
//! bit for bit, by the property tests in `props.rs`. Test only: predictions go
//! through the compiled layout.

use super::compiled::LIGHTGBM_ZERO;
use super::{Missing, Node, Semantics, Tree, TreeEnsemble};
use crate::{Error, Result};

/// XGBoost's largest valid category plus one (its `InvalidCat` bound).
const XGBOOST_MAX_CAT: f32 = 16_777_216.0;

impl TreeEnsemble {
    /// Base score plus every tree's leaf, in the source's precision, into `margins`.
    pub(super) fn reference_margins(&self, x: &[f64], margins: &mut [f64]) -> Result<()> {
        if margins.len() != self.n_margins {
            return Err(Error::Shape {
                stage: "tree model margins",
                expected: self.n_margins,
                actual: margins.len(),
            });
        }
        margins.copy_from_slice(&self.parts.base_score);
        let xgb = self.parts.semantics == Semantics::XgBoost;
        if xgb {
            // XGBoost starts from the f32 base margin and adds f32 leaves in f32.
            margins.iter_mut().for_each(|m| *m = f64::from(*m as f32));
        }
        for tree in &self.parts.trees {
            let leaf = self.reference_leaf(tree, x)?;
            let targets = if leaf.len() == 1 {
                margins.get_mut(tree.group as usize..=tree.group as usize)
            } else {
                Some(&mut margins[..])
            };
            for (m, &v) in targets.into_iter().flatten().zip(leaf) {
                *m = if xgb {
                    f64::from(*m as f32 + v as f32)
                } else {
                    *m + v
                };
            }
        }
        Ok(())
    }

    /// The leaf `x` reaches in `tree`. Children come after their parent (checked
    /// on load), so the walk takes at most `nodes.len()` steps.
    fn reference_leaf<'t>(&self, tree: &'t Tree, x: &[f64]) -> Result<&'t [f64]> {
        let mut i = 0usize;
        loop {
            let next = match tree.nodes.get(i) {
                Some(Node::Leaf(values)) => return Ok(values),
                Some(Node::Numeric {
                    feature,
                    threshold,
                    default_left,
                    missing,
                    left,
                    right,
                }) => {
                    let v = x.get(*feature as usize).copied().unwrap_or(f64::NAN);
                    let go_left = match self.parts.semantics {
                        Semantics::XgBoost => {
                            if v.is_nan() {
                                *default_left
                            } else {
                                (v as f32) < (*threshold as f32)
                            }
                        }
                        Semantics::LightGbm => {
                            lightgbm_numeric(v, *threshold, *missing, *default_left)
                        }
                        Semantics::Smartcore => {
                            if v.is_nan() {
                                *default_left
                            } else {
                                v <= *threshold
                            }
                        }
                    };
                    if go_left { *left } else { *right }
                }
                Some(Node::Categorical {
                    feature,
                    categories,
                    set_goes_left,
                    default_left,
                    left,
                    right,
                    ..
                }) => {
                    let v = x.get(*feature as usize).copied().unwrap_or(f64::NAN);
                    let go_left = match self.reference_categorical(v, categories, *default_left) {
                        Cat::Missing(l) => l,
                        Cat::InSet(true) => *set_goes_left,
                        Cat::InSet(false) => !*set_goes_left,
                    };
                    if go_left { *left } else { *right }
                }
                None => {
                    return Err(Error::Eval(
                        "tree model: a child index is out of range".into(),
                    ));
                }
            };
            i = next as usize;
        }
    }

    fn reference_categorical(&self, v: f64, categories: &[u32], default_left: bool) -> Cat {
        let member = |c: u32| Cat::InSet(categories.binary_search(&c).is_ok());
        match self.parts.semantics {
            Semantics::XgBoost => {
                let f = v as f32;
                if f.is_nan() {
                    Cat::Missing(default_left)
                } else if !(0.0..XGBOOST_MAX_CAT).contains(&f) {
                    // InvalidCat: XGBoost's Decision answers "left".
                    Cat::Missing(true)
                } else {
                    member(f as u32)
                }
            }
            Semantics::LightGbm | Semantics::Smartcore => {
                // LightGBM 4: "NaN is always in the right", whatever the missing type.
                if v.is_nan() {
                    return Cat::Missing(false);
                }
                // static_cast<int>: truncation; a negative category goes right.
                if v <= -1.0 || v >= 2_147_483_648.0 {
                    Cat::Missing(false)
                } else {
                    member(v as u32)
                }
            }
        }
    }
}

/// Where a categorical value goes before the set is consulted.
enum Cat {
    /// Decided without the set: left when true.
    Missing(bool),
    /// Whether the value is in the set.
    InSet(bool),
}

/// LightGBM's `NumericalDecision`, on the value as its prediction API hands it
/// over: a dense row is copied as sparse pairs that keep only `|x| > 1e-35` (or
/// NaN), so a smaller value reaches the tree as exactly 0.
fn lightgbm_numeric(v: f64, threshold: f64, missing: Missing, default_left: bool) -> bool {
    let v = if (v.is_nan() && missing != Missing::NaN) || v.abs() <= LIGHTGBM_ZERO {
        0.0
    } else {
        v
    };
    let is_missing = match missing {
        Missing::None => false,
        Missing::Zero => (-LIGHTGBM_ZERO..=LIGHTGBM_ZERO).contains(&v),
        Missing::NaN => v.is_nan(),
    };
    if is_missing {
        default_left
    } else {
        v <= threshold
    }
}
