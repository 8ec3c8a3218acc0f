//! Walking the trees and turning margins into answers, with each source's rules
//! (the table in the module docs of [`super`]). Nothing here allocates: margins
//! live in the caller's probability buffer (a classifier has at least as many
//! probabilities as margins) or on the stack (a regressor has one).

use super::compiled::{LightGbmRule, SmartcoreRule, XgBoostRule};
use super::expf::xgboost_expf;
use super::{OutputTransform, Semantics, TreeEnsemble};
use crate::{Error, Result};

/// Rows walked together in a batch: 64 rows of 30 features and their outputs
/// take 16 KiB, beside one tree's nodes in the first-level cache.
const BLOCK: usize = 64;

/// The compiled layout failed a walk: impossible for a checked model, and
/// reported rather than trusted.
fn broken() -> Error {
    Error::Eval("tree model: a child index is out of range".into())
}

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
        self.check_classes(1, out.len())?;
        // The margins go at the head of `out` (a classifier has at least as many
        // probabilities as margins) and are turned into probabilities there.
        let margins = out.get_mut(..self.n_margins).unwrap_or_default();
        self.sum_margins(x, margins)?;
        self.finish_proba(out)
    }

    /// Class probabilities for many rows at once: `rows` holds them one after
    /// the other ([`Self::n_features`] values each, NaN for missing), `out` gets
    /// one probability per class per row, in the same order. Equal bit for bit
    /// to [`Self::predict_proba_into`] row by row, and faster: the trees are
    /// walked one at a time over a block of rows, so a tree's nodes stay in cache.
    /// Does not allocate.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `rows` is not whole rows or `out` not one
    /// probability per class per row; [`Error::Eval`] for a regressor.
    pub fn predict_proba_batch_into(&self, rows: &[f64], out: &mut [f64]) -> Result<()> {
        let count = self.whole_rows(rows)?;
        let n = self.check_classes(count, out.len())?;
        for (xs, os) in rows
            .chunks(self.n_features() * BLOCK)
            .zip(out.chunks_mut(n * BLOCK))
        {
            self.block_margins(xs, os, n)?;
            for o in os.chunks_exact_mut(n) {
                self.finish_proba(o)?;
            }
        }
        Ok(())
    }

    /// The values of a regressor for many rows at once (laid out as for
    /// [`Self::predict_proba_batch_into`]), one per row into `out`; equal bit for
    /// bit to [`Self::predict_value`] row by row.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `rows` is not whole rows or `out` not one value per
    /// row; [`Error::Eval`] for a classifier.
    pub fn predict_values_into(&self, rows: &[f64], out: &mut [f64]) -> Result<()> {
        let count = self.whole_rows(rows)?;
        if self.is_classifier() {
            return Err(Error::Eval(
                "this tree model is a classifier; ask for probabilities".into(),
            ));
        }
        if out.len() != count {
            return Err(Error::Shape {
                stage: "tree model output",
                expected: count,
                actual: out.len(),
            });
        }
        for (xs, os) in rows
            .chunks(self.n_features() * BLOCK)
            .zip(out.chunks_mut(BLOCK))
        {
            self.block_margins(xs, os, 1)?;
            if let OutputTransform::Average = self.parts.transform {
                os.iter_mut().for_each(|v| *v = self.average(*v));
            }
        }
        Ok(())
    }

    /// The number of rows in `rows`, if it holds whole rows.
    fn whole_rows(&self, rows: &[f64]) -> Result<usize> {
        let width = self.n_features();
        if rows.len().is_multiple_of(width) {
            Ok(rows.len() / width)
        } else {
            Err(Error::Shape {
                stage: "tree model rows",
                expected: width,
                actual: rows.len() % width,
            })
        }
    }

    /// The class count, after checking that this is a classifier and that `len`
    /// outputs are one per class for `count` rows.
    fn check_classes(&self, count: usize, len: usize) -> Result<usize> {
        let n = self.parts.classes.len();
        if n == 0 {
            return Err(Error::Eval(
                "this tree model is a regressor; ask for a value".into(),
            ));
        }
        if len != n * count {
            return Err(Error::Shape {
                stage: "tree model output",
                expected: n * count,
                actual: len,
            });
        }
        Ok(n)
    }

    /// The margins of each row of `rows` at the head of its `stride` outputs in
    /// `out`, tree by tree over the block.
    fn block_margins(&self, rows: &[f64], out: &mut [f64], stride: usize) -> Result<()> {
        let m = self.n_margins;
        for o in out.chunks_exact_mut(stride) {
            let margins = o.get_mut(..m).unwrap_or_default();
            margins.copy_from_slice(&self.parts.base_score);
            if self.parts.semantics == Semantics::XgBoost {
                margins.iter_mut().for_each(|m| *m = f64::from(*m as f32));
            }
        }
        let (c, w) = (&self.compiled, self.n_features());
        let walked = match self.parts.semantics {
            Semantics::XgBoost => c.sum_block::<XgBoostRule>(rows, w, out, stride),
            Semantics::LightGbm => c.sum_block::<LightGbmRule>(rows, w, out, stride),
            Semantics::Smartcore => c.sum_block::<SmartcoreRule>(rows, w, out, stride),
        };
        walked.ok_or_else(broken)
    }

    /// Turns the margins at the head of `out` into one probability per class,
    /// in place, and returns the predicted class.
    fn finish_proba(&self, out: &mut [f64]) -> Result<usize> {
        let xgb = self.parts.semantics == Semantics::XgBoost;
        match self.parts.transform {
            OutputTransform::Sigmoid { scale } => {
                let (margin, rest) = out.split_at_mut(1);
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
                if xgb {
                    xgboost_softmax(out);
                } else {
                    softmax(out);
                }
            }
            OutputTransform::Average => {
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

    /// Base score plus every tree's leaf, in the source's precision, into
    /// `margins`, walking the compiled layout ([`super::compiled`]).
    pub(super) fn sum_margins(&self, x: &[f64], margins: &mut [f64]) -> Result<()> {
        if margins.len() != self.n_margins {
            return Err(Error::Shape {
                stage: "tree model margins",
                expected: self.n_margins,
                actual: margins.len(),
            });
        }
        margins.copy_from_slice(&self.parts.base_score);
        let compiled = &self.compiled;
        let walked = match self.parts.semantics {
            Semantics::XgBoost => {
                // XGBoost starts from the f32 base margin and adds f32 leaves in f32.
                margins.iter_mut().for_each(|m| *m = f64::from(*m as f32));
                compiled.sum::<XgBoostRule>(x, margins)
            }
            Semantics::LightGbm => compiled.sum::<LightGbmRule>(x, margins),
            Semantics::Smartcore => compiled.sum::<SmartcoreRule>(x, margins),
        };
        walked.ok_or_else(broken)
    }
}

/// Whether a categorical split sends `v` left: the value truncated to an
/// integer is looked up in `categories` (the rules per source are in the module
/// docs of [`super`]).
pub(super) fn categorical_left(
    semantics: Semantics,
    v: f64,
    categories: &[u32],
    set_goes_left: bool,
    default_left: bool,
) -> bool {
    let member = |c: u32| Cat::InSet(categories.binary_search(&c).is_ok());
    let cat = match semantics {
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
                Cat::Missing(false)
            } else if v <= -1.0 || v >= 2_147_483_648.0 {
                // static_cast<int>: truncation; a negative category goes right.
                Cat::Missing(false)
            } else {
                member(v as u32)
            }
        }
    };
    match cat {
        Cat::Missing(left) => left,
        Cat::InSet(true) => set_goes_left,
        Cat::InSet(false) => !set_goes_left,
    }
}

/// Where a categorical value goes before the set is consulted.
enum Cat {
    /// Decided without the set: left when true.
    Missing(bool),
    /// Whether the value is in the set.
    InSet(bool),
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
