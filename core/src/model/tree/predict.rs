//! Walking the trees and turning margins into answers, with each source's rules
//! (the table in the module docs of [`super`]). Nothing here allocates: margins
//! live in the caller's probability buffer (a classifier has at least as many
//! probabilities as margins) or on the stack (a regressor has one).

use super::expf::xgboost_expf;
use super::{Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble};
use crate::{Error, Result};

/// LightGBM's `kZeroThreshold` (`1e-35f`, a float widened to double when compared).
const LIGHTGBM_ZERO: f64 = 1e-35_f32 as f64;
/// XGBoost's largest valid category plus one (its `InvalidCat` bound).
const XGBOOST_MAX_CAT: f32 = 16_777_216.0;

impl TreeEnsemble {
    fn check_width(&self, x: &[f64]) -> Result<()> {
        if x.len() == self.n_features() {
            Ok(())
        } else {
            Err(Error::Shape {
                stage: "tree model",
                expected: self.n_features(),
                actual: x.len(),
            })
        }
    }

    /// The value of a regressor for `x` (NaN is a missing value).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width; [`Error::Eval`] for a classifier.
    pub fn predict_value(&self, x: &[f64]) -> Result<f64> {
        self.check_width(x)?;
        if self.is_classifier() {
            return Err(Error::Eval(
                "this tree model is a classifier; ask for probabilities".into(),
            ));
        }
        let mut margin = [0.0];
        self.sum_margins(x, &mut margin)?;
        let [m] = margin;
        Ok(match self.parts.transform {
            OutputTransform::Average => self.average(m),
            _ => m,
        })
    }

    /// Writes class probabilities for `x` into `out` (one per class) and returns
    /// the predicted class index. Does not allocate.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width of `x` or `out`; [`Error::Eval`] for a regressor.
    pub fn predict_proba_into(&self, x: &[f64], out: &mut [f64]) -> Result<usize> {
        self.check_width(x)?;
        let n = self.parts.classes.len();
        if n == 0 {
            return Err(Error::Eval(
                "this tree model is a regressor; ask for a value".into(),
            ));
        }
        if out.len() != n {
            return Err(Error::Shape {
                stage: "tree model output",
                expected: n,
                actual: out.len(),
            });
        }
        let xgb = self.parts.semantics == Semantics::XgBoost;
        match self.parts.transform {
            OutputTransform::Sigmoid { scale } => {
                let (margin, rest) = out.split_at_mut(1);
                self.sum_margins(x, margin)?;
                let m = margin.first().copied().unwrap_or(0.0);
                let (p0, p1) = if xgb {
                    let p = xgboost_sigmoid(m as f32);
                    (f64::from(1.0 - p), f64::from(p))
                } else {
                    let p = 1.0 / (1.0 + libm::exp(-scale * m));
                    (1.0 - p, p)
                };
                if let (Some(a), Some(b)) = (margin.first_mut(), rest.first_mut()) {
                    *a = p0;
                    *b = p1;
                }
                return Ok(usize::from(p1 > p0));
            }
            OutputTransform::Softmax => {
                self.sum_margins(x, out)?;
                if xgb {
                    xgboost_softmax(out);
                } else {
                    softmax(out);
                }
            }
            OutputTransform::Average => {
                self.sum_margins(x, out)?;
                let trees = self.parts.trees.len() as f64;
                out.iter_mut().for_each(|v| *v /= trees);
            }
            OutputTransform::Identity => {
                return Err(Error::Eval("an identity output has no classes".into()));
            }
        }
        Ok(first_max(out))
    }

    fn average(&self, sum: f64) -> f64 {
        sum / self.parts.trees.len() as f64
    }

    /// Base score plus every tree's leaf, in the source's precision, into `margins`.
    fn sum_margins(&self, x: &[f64], margins: &mut [f64]) -> Result<()> {
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
            let leaf = self.leaf(tree, x)?;
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
    fn leaf<'t>(&self, tree: &'t Tree, x: &[f64]) -> Result<&'t [f64]> {
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
                    let go_left = match self.categorical(v, categories, *default_left) {
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

    fn categorical(&self, v: f64, categories: &[u32], default_left: bool) -> Cat {
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

/// XGBoost's `common::Sigmoid` in f32: `1 / (expf(min(-x, 88.7)) + 1 + 1e-16)`.
fn xgboost_sigmoid(x: f32) -> f32 {
    const EPS: f32 = 1e-16;
    let denom = xgboost_expf((-x).min(88.7)) + 1.0 + EPS;
    1.0 / denom
}

/// XGBoost's `common::Softmax`: f32 exponentials, their sum in f64.
fn xgboost_softmax(v: &mut [f64]) {
    let max = v.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b as f32));
    let mut sum = 0.0f64;
    for x in v.iter_mut() {
        let e = xgboost_expf(*x as f32 - max);
        *x = f64::from(e);
        sum += f64::from(e);
    }
    let sum = sum as f32;
    for x in v.iter_mut() {
        *x = f64::from(*x as f32 / sum);
    }
}

/// LightGBM's `Common::Softmax` in f64.
fn softmax(v: &mut [f64]) {
    let max = v.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = libm::exp(*x - max);
        sum += *x;
    }
    v.iter_mut().for_each(|x| *x /= sum);
}

/// Index of the first largest value (numpy's `argmax`).
fn first_max(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if v.get(best).is_some_and(|&b| x > b) {
            best = i;
        }
    }
    best
}
