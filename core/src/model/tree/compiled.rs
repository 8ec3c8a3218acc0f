//! The layout predictions walk: every tree of an ensemble compiled, once at load
//! (in [`super::TreeEnsemble::from_parts`], which decoding also goes through),
//! into one flat array of 16-byte nodes. It is derived from the parts and never
//! serialized, so the bundle's bytes do not depend on it.
//!
//! Why a second form: the stored [`Node`] enum is what the importers build and
//! the format keeps, but walking it costs an enum match, a `Vec` per leaf, a
//! per-node match on [`Semantics`], a `Result` per node and a mispredicted
//! branch at about every other level. Here:
//!
//! - Nodes are laid out depth first, left subtree first, so the left child of
//!   node `i` is always `i + 1` and only the right child is stored.
//! - A node is `value` (the threshold, or a leaf's first value), `feature` (or a
//!   vector leaf's offset into `pool`) and `link`: the right child's index in the
//!   low 28 bits, flags above (leaf, categorical, where a NaN goes, where a
//!   LightGBM zero goes). 2^24 nodes at most over all trees ([`super::check`])
//!   fit 28 bits.
//! - Each source's comparison is one [`Rule`], chosen once per prediction, so
//!   the walk is monomorphized per source (and for models without categorical
//!   splits) with the missing-value rule folded into two precomputed flags.
//! - [`LANES`] walks go in lock step — eight trees of one row, or one tree for
//!   eight rows of a batch — each step a conditional move, not a branch, and a
//!   leaf stepping to itself, for as many steps as the deepest tree of the
//!   group. The CPU then follows eight independent chains of loads at once.
//!   Leaves are added in tree order afterwards, so sums are unchanged.
//!
//! The plain walk over [`Node`] stays as the reference (`reference.rs`, test
//! only); property tests hold this one equal to it bit for bit.

use alloc::vec::Vec;

use super::{Missing, Node, Semantics, TreeEnsembleParts};

const LEAF: u32 = 1 << 31;
const CAT: u32 = 1 << 30;
const NAN_LEFT: u32 = 1 << 29;
const ZERO_LEFT: u32 = 1 << 28;
const INDEX: u32 = (1 << 28) - 1;

/// Walks followed at once (trees of one row, or rows of one tree).
const LANES: usize = 8;

/// `a` when `pick`, else `b`, without a branch (a conditional move: LLVM turns
/// a plain select or bit trick in a loop back into a branch).
#[inline(always)]
fn select(pick: bool, a: usize, b: usize) -> usize {
    core::hint::select_unpredictable(pick, a, b)
}

/// LightGBM's `kZeroThreshold` (`1e-35f`, a float widened to double when compared).
pub(super) const LIGHTGBM_ZERO: f64 = 1e-35_f32 as f64;

/// One compiled node (16 bytes, four to a cache line).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Flat {
    /// A split's threshold, or a leaf's first value.
    value: f64,
    /// A split's input column; a leaf's offset into [`Compiled::pool`].
    feature: u32,
    /// Flags and, below them, a split's right child or a leaf's value count.
    link: u32,
}

/// A categorical split's set: `cat_pool[start..start + len]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CatSet {
    start: u32,
    len: u32,
    set_goes_left: bool,
    default_left: bool,
}

/// An ensemble compiled for walking (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Compiled {
    nodes: Vec<Flat>,
    /// Index of each tree's root in `nodes`, in summation order.
    roots: Vec<u32>,
    /// Each tree's output margin.
    groups: Vec<u32>,
    /// Each tree's depth: the most splits from its root to a leaf.
    depths: Vec<u32>,
    /// Every leaf's values, for leaves of more than one value.
    pool: Vec<f64>,
    cats: Vec<CatSet>,
    cat_pool: Vec<u32>,
    /// Every leaf holds one value (all boosted models): the fast accumulation.
    scalar: bool,
    /// Some LightGBM split has missing type Zero (so a tiny value is not just 0).
    zero_missing: bool,
}

/// Widest row the LightGBM walk zeroes up front on the stack (2 KiB); wider
/// rows take the walk that tests the zero band at every split.
const ZEROED_MAX: usize = 256;

impl Compiled {
    /// Compiles checked parts (children after parents, one parent each).
    pub(super) fn new(parts: &TreeEnsembleParts) -> Compiled {
        let mut c = Compiled {
            scalar: true,
            ..Compiled::default()
        };
        // (source index, compiled split whose right child this is, depth)
        let mut stack: Vec<(u32, Option<usize>, u32)> = Vec::new();
        for tree in &parts.trees {
            c.roots.push(c.nodes.len() as u32);
            c.groups.push(tree.group);
            let mut depth = 0;
            stack.push((0, None, 0));
            while let Some((i, parent, d)) = stack.pop() {
                let here = c.nodes.len() as u32;
                if let Some(p) = parent.and_then(|p| c.nodes.get_mut(p)) {
                    p.link |= here & INDEX;
                }
                depth = depth.max(d);
                let Some(node) = tree.nodes.get(i as usize) else {
                    // Unreachable for checked parts; a zero leaf keeps the walk total.
                    c.nodes.push(Flat {
                        value: 0.0,
                        feature: 0,
                        link: LEAF | 1,
                    });
                    continue;
                };
                let (flat, children) = c.flat(parts.semantics, node);
                c.nodes.push(flat);
                if let Some((left, right)) = children {
                    // Right pushed first so that the left subtree comes out next.
                    stack.push((right, Some(here as usize), d + 1));
                    stack.push((left, None, d + 1));
                }
            }
            c.depths.push(depth);
        }
        c
    }

    /// The compiled form of one node, and its (left, right) children if a split.
    fn flat(&mut self, semantics: Semantics, node: &Node) -> (Flat, Option<(u32, u32)>) {
        match node {
            Node::Leaf(values) => {
                let offset = self.pool.len() as u32;
                if values.len() != 1 {
                    self.scalar = false;
                    self.pool.extend_from_slice(values);
                }
                let flat = Flat {
                    value: values.first().copied().unwrap_or(0.0),
                    feature: offset,
                    link: LEAF | (values.len() as u32 & INDEX),
                };
                (flat, None)
            }
            Node::Numeric {
                feature,
                threshold,
                default_left,
                missing,
                left,
                right,
            } => {
                let (nan_left, zero_left) =
                    missing_flags(semantics, *threshold, *default_left, *missing);
                self.zero_missing |= semantics == Semantics::LightGbm && *missing == Missing::Zero;
                let flags =
                    if nan_left { NAN_LEFT } else { 0 } | if zero_left { ZERO_LEFT } else { 0 };
                let flat = Flat {
                    value: *threshold,
                    feature: *feature,
                    link: flags,
                };
                (flat, Some((*left, *right)))
            }
            Node::Categorical {
                feature,
                categories,
                set_goes_left,
                default_left,
                left,
                right,
                ..
            } => {
                let set = self.cats.len() as u32;
                self.cats.push(CatSet {
                    start: self.cat_pool.len() as u32,
                    len: categories.len() as u32,
                    set_goes_left: *set_goes_left,
                    default_left: *default_left,
                });
                self.cat_pool.extend_from_slice(categories);
                let flat = Flat {
                    value: f64::from(set),
                    feature: *feature,
                    link: CAT,
                };
                (flat, Some((*left, *right)))
            }
        }
    }

    /// Sums every tree's leaf for `x` into `margins` (already holding the base
    /// score) with `R`'s rules. `x` is the model's width and `margins` its
    /// margin count (checked by the caller). None only if the layout were broken.
    ///
    /// The trees are walked [`LANES`] at a time in lock step, so that the
    /// CPU follows several independent walks at once instead of waiting on
    /// one chain of loads; the leaves are then added in tree order.
    pub(super) fn sum<R: Rule>(&self, x: &[f64], margins: &mut [f64]) -> Option<()> {
        // A model without categorical splits gets a walk without their test.
        if self.cats.is_empty() {
            if R::SEMANTICS == Semantics::LightGbm && !self.zero_missing && x.len() <= ZEROED_MAX {
                // Without missing type Zero a value of |x| <= 1e-35 goes where 0
                // goes at every split, so reading it as 0 once, here, lets each
                // split make XGBoost's two tests instead of four.
                let mut zeroed = [0.0; ZEROED_MAX];
                for (z, &v) in zeroed.iter_mut().zip(x) {
                    *z = if v.abs() <= LIGHTGBM_ZERO { 0.0 } else { v };
                }
                return self.sum_with::<LightGbmZeroedRule, false>(zeroed.get(..x.len())?, margins);
            }
            self.sum_with::<R, false>(x, margins)
        } else {
            self.sum_with::<R, true>(x, margins)
        }
    }

    fn sum_with<R: Rule, const CATS: bool>(&self, x: &[f64], margins: &mut [f64]) -> Option<()> {
        let single = self.scalar && margins.len() == 1;
        let mut acc = R::acc(*margins.first()?);
        for (t, roots) in (0..).step_by(LANES).zip(self.roots.chunks(LANES)) {
            let mut at = [*roots.first()? as usize; LANES];
            for (a, &r) in at.iter_mut().zip(roots) {
                *a = r as usize;
            }
            let depth = self.depths.get(t..t + roots.len())?.iter().max()?;
            self.walk_trees::<R, CATS>(x, &mut at, *depth);
            for (k, &a) in at.iter().take(roots.len()).enumerate() {
                let leaf = self.leaf_at(a)?;
                if single {
                    acc = R::add(acc, leaf.value);
                } else {
                    self.add::<R>(leaf, *self.groups.get(t + k)?, margins)?;
                }
            }
        }
        if single {
            *margins.first_mut()? = R::widen(acc);
        }
        Some(())
    }

    /// [`Self::sum`] for a block of rows (`width` values each), whose margins
    /// are at the head of each `stride` values of `out`: tree by tree, each
    /// walked for [`LANES`] rows in lock step, so a tree's nodes are fetched
    /// once for the block. Each row's margins see the trees in the same order,
    /// so the sums are the same as row by row.
    pub(super) fn sum_block<R: Rule>(
        &self,
        rows: &[f64],
        width: usize,
        out: &mut [f64],
        stride: usize,
    ) -> Option<()> {
        if self.cats.is_empty() {
            self.block_with::<R, false>(rows, width, out, stride)
        } else {
            self.block_with::<R, true>(rows, width, out, stride)
        }
    }

    fn block_with<R: Rule, const CATS: bool>(
        &self,
        rows: &[f64],
        width: usize,
        out: &mut [f64],
        stride: usize,
    ) -> Option<()> {
        let trees = self.roots.iter().zip(&self.groups).zip(&self.depths);
        for ((&root, &group), &depth) in trees {
            let lanes = rows
                .chunks(width * LANES)
                .zip(out.chunks_mut(stride * LANES));
            for (xs, os) in lanes {
                let mut x = [xs; LANES];
                for (lane, row) in x.iter_mut().zip(xs.chunks_exact(width)) {
                    *lane = row;
                }
                let mut at = [root as usize; LANES];
                self.walk_rows::<R, CATS>(&x, &mut at, depth);
                for (&a, o) in at.iter().zip(os.chunks_exact_mut(stride)) {
                    self.add::<R>(self.leaf_at(a)?, group, o)?;
                }
            }
        }
        Some(())
    }

    /// Moves each lane (a tree of the one row `x`) `depth` steps down its tree.
    /// A leaf stays where it is, so every lane can take the same number of
    /// steps, and each step is a select rather than a branch: which way a row
    /// goes is data, and a mispredicted branch per level costs more than the
    /// walk itself.
    #[inline(always)]
    fn walk_trees<R: Rule, const CATS: bool>(
        &self,
        x: &[f64],
        at: &mut [usize; LANES],
        depth: u32,
    ) {
        for _ in 0..depth {
            for a in at.iter_mut() {
                *a = self.step::<R, CATS>(x, *a);
            }
        }
    }

    /// [`Self::walk_trees`] with one row per lane, all in one tree.
    #[inline(always)]
    fn walk_rows<R: Rule, const CATS: bool>(
        &self,
        x: &[&[f64]; LANES],
        at: &mut [usize; LANES],
        depth: u32,
    ) {
        for _ in 0..depth {
            for (a, x) in at.iter_mut().zip(x) {
                *a = self.step::<R, CATS>(x, *a);
            }
        }
    }

    #[inline(always)]
    fn step<R: Rule, const CATS: bool>(&self, x: &[f64], i: usize) -> usize {
        let Some(n) = self.nodes.get(i) else {
            return i; // unreachable for a compiled model; `leaf_at` reports it
        };
        let v = x.get(n.feature as usize).copied().unwrap_or(f64::NAN);
        let left = if CATS && n.link & CAT != 0 {
            self.cat_left::<R>(n, v)
        } else {
            R::left(n.value, n.link, v)
        };
        let right = (n.link & INDEX) as usize;
        let next = select(left, i + 1, right);
        select(n.link & LEAF != 0, i, next)
    }

    /// The leaf a walk ended on; None if it is not one (a broken layout).
    fn leaf_at(&self, i: usize) -> Option<&Flat> {
        self.nodes.get(i).filter(|n| n.link & LEAF != 0)
    }

    /// Adds `leaf` to its tree's `group` (one value) or to every margin.
    #[inline(always)]
    fn add<R: Rule>(&self, leaf: &Flat, group: u32, margins: &mut [f64]) -> Option<()> {
        let len = (leaf.link & INDEX) as usize;
        if len == 1 {
            let m = margins.get_mut(group as usize)?;
            *m = R::widen(R::add(R::acc(*m), leaf.value));
        } else {
            let start = leaf.feature as usize;
            let values = self.pool.get(start..start + len)?;
            for (m, &v) in margins.iter_mut().zip(values) {
                *m = R::widen(R::add(R::acc(*m), v));
            }
        }
        Some(())
    }

    #[inline(never)]
    fn cat_left<R: Rule>(&self, n: &Flat, v: f64) -> bool {
        let set = self.cats.get(n.value as usize);
        let start = set.map_or(0, |s| s.start as usize);
        let categories = set
            .and_then(|s| self.cat_pool.get(start..start + s.len as usize))
            .unwrap_or_default();
        super::predict::categorical_left(
            R::SEMANTICS,
            v,
            categories,
            set.is_some_and(|s| s.set_goes_left),
            set.is_some_and(|s| s.default_left),
        )
    }
}

/// Where a split sends a NaN and (LightGBM) a value of |x| ≤ 1e-35, decided once.
///
/// LightGBM's rule per missing type (its API reads a tiny value as 0, and with
/// missing type None or Zero a NaN as 0 too): None sends both where 0 goes
/// (`0 <= t`); Zero sends both to the default child; NaN sends a NaN to the
/// default child and a tiny value where 0 goes. XGBoost and smartcore send a
/// NaN to the default child and have no zero band.
fn missing_flags(
    semantics: Semantics,
    threshold: f64,
    default_left: bool,
    missing: Missing,
) -> (bool, bool) {
    let zero_goes = 0.0 <= threshold;
    match (semantics, missing) {
        (Semantics::LightGbm, Missing::None) => (zero_goes, zero_goes),
        (Semantics::LightGbm, Missing::Zero) => (default_left, default_left),
        (Semantics::LightGbm, Missing::NaN) => (default_left, zero_goes),
        _ => (default_left, false),
    }
}

/// One source's comparison and summation precision (see the module docs of [`super`]).
pub(super) trait Rule {
    /// Whose rules these are (for categorical splits).
    const SEMANTICS: Semantics;
    /// The margin accumulator (f32 for XGBoost).
    type Acc: Copy;
    /// Whether a numeric split of threshold `t` and flags `link` sends `v` left.
    fn left(t: f64, link: u32, v: f64) -> bool;
    /// A margin as an accumulator.
    fn acc(m: f64) -> Self::Acc;
    /// `m + v` in the source's precision.
    fn add(m: Self::Acc, v: f64) -> Self::Acc;
    /// The accumulator as a margin.
    fn widen(m: Self::Acc) -> f64;
}

/// XGBoost: `x < t` in f32, f32 sums.
#[derive(Debug)]
pub(super) struct XgBoostRule;
/// LightGBM: `x <= t` in f64 with its zero band, f64 sums.
#[derive(Debug)]
pub(super) struct LightGbmRule;
/// smartcore: `x <= t` in f64, f64 sums.
#[derive(Debug)]
pub(super) struct SmartcoreRule;

impl Rule for XgBoostRule {
    const SEMANTICS: Semantics = Semantics::XgBoost;
    type Acc = f32;
    #[inline(always)]
    fn left(t: f64, link: u32, v: f64) -> bool {
        // `<` is false for NaN, so the bits combine without a branch.
        ((v as f32) < (t as f32)) | (v.is_nan() & (link & NAN_LEFT != 0))
    }
    #[inline(always)]
    fn acc(m: f64) -> f32 {
        m as f32
    }
    #[inline(always)]
    fn add(m: f32, v: f64) -> f32 {
        m + v as f32
    }
    #[inline(always)]
    fn widen(m: f32) -> f64 {
        f64::from(m)
    }
}

/// The f64 accumulation LightGBM's and smartcore's rules share: sums in f64,
/// in tree order, from the base margin.
macro_rules! f64_sums {
    () => {
        type Acc = f64;
        #[inline(always)]
        fn acc(m: f64) -> f64 {
            m
        }
        #[inline(always)]
        fn add(m: f64, v: f64) -> f64 {
            m + v
        }
        #[inline(always)]
        fn widen(m: f64) -> f64 {
            m
        }
    };
}

/// LightGBM over a row whose tiny values were read as 0 already, in a model
/// without missing type Zero (see [`Compiled::sum`]): `x <= t`, NaN by its flag.
#[derive(Debug)]
pub(super) struct LightGbmZeroedRule;

impl Rule for LightGbmZeroedRule {
    const SEMANTICS: Semantics = Semantics::LightGbm;
    #[inline(always)]
    fn left(t: f64, link: u32, v: f64) -> bool {
        (v <= t) | (v.is_nan() & (link & NAN_LEFT != 0))
    }
    f64_sums!();
}

impl Rule for LightGbmRule {
    const SEMANTICS: Semantics = Semantics::LightGbm;
    #[inline(always)]
    fn left(t: f64, link: u32, v: f64) -> bool {
        // Both `<=` are false for NaN: exactly one of the three terms can hold.
        let tiny = v.abs() <= LIGHTGBM_ZERO;
        ((v <= t) & !tiny)
            | (v.is_nan() & (link & NAN_LEFT != 0))
            | (tiny & (link & ZERO_LEFT != 0))
    }
    f64_sums!();
}

impl Rule for SmartcoreRule {
    const SEMANTICS: Semantics = Semantics::Smartcore;
    #[inline(always)]
    fn left(t: f64, link: u32, v: f64) -> bool {
        (v <= t) | (v.is_nan() & (link & NAN_LEFT != 0))
    }
    f64_sums!();
}
