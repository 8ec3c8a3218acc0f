//! Tree-ensemble prediction: complete random trees (XGBoost rules) on 30
//! features, 100 trees of depth 6 and 500 of depth 8, one row at a time and a
//! batch of 1,000 rows, with 10% NaN inputs.
//!
//! Run: `cargo bench -p verge-core --bench trees`. The goal is ≤ 2 µs for one
//! row of 100 × 6 (issue 15); `bench/trees/run` puts XGBoost's and LightGBM's
//! own predict beside it.

// Benchmark code: a failed unwrap is a failed benchmark, with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verge_core::Value;
use verge_core::model::tree::{
    Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
};
use verge_test_kit::rng::Rng;

const FEATURES: u32 = 30;

/// A complete tree of `depth` levels with random splits, nodes breadth-first.
fn tree(depth: u32, rng: &mut Rng) -> Tree {
    let splits = (1u32 << depth) - 1;
    let mut nodes = Vec::new();
    for i in 0..splits {
        nodes.push(Node::Numeric {
            feature: rng.below(u64::from(FEATURES)) as u32,
            threshold: f64::from((rng.unit() * 2.0 - 1.0) as f32),
            default_left: rng.below(2) == 0,
            missing: Missing::NaN,
            left: 2 * i + 1,
            right: 2 * i + 2,
        });
    }
    for _ in 0..=splits {
        nodes.push(Node::Leaf(vec![f64::from((rng.unit() - 0.5) as f32)]));
    }
    Tree { group: 0, nodes }
}

fn model(trees: usize, depth: u32) -> TreeEnsemble {
    let mut rng = Rng::new(15);
    TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics: Semantics::XgBoost,
        n_features: FEATURES,
        classes: vec![Value::Int64(0), Value::Int64(1)],
        base_score: vec![0.0],
        trees: (0..trees).map(|_| tree(depth, &mut rng)).collect(),
        transform: OutputTransform::Sigmoid { scale: 1.0 },
    })
    .unwrap()
}

fn rows(n: usize) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(7);
    (0..n)
        .map(|_| {
            (0..FEATURES)
                .map(|_| {
                    if rng.below(10) == 0 {
                        f64::NAN
                    } else {
                        rng.unit() * 2.0 - 1.0
                    }
                })
                .collect()
        })
        .collect()
}

fn predict(c: &mut Criterion) {
    let batch = rows(1000);
    for (trees, depth) in [(100, 6), (500, 8)] {
        let m = model(trees, depth);
        let mut out = [0.0; 2];
        c.bench_function(&format!("trees {trees}x{depth} one row"), |b| {
            b.iter(|| {
                m.predict_proba_into(black_box(&batch[1]), &mut out)
                    .unwrap()
            })
        });
        c.bench_function(&format!("trees {trees}x{depth} batch 1000"), |b| {
            b.iter(|| {
                for row in &batch {
                    black_box(m.predict_proba_into(black_box(row), &mut out).unwrap());
                }
            })
        });
    }
}

criterion_group!(benches, predict);
criterion_main!(benches);
