//! Property tests: the compiled walk ([`super::compiled`]) against the plain
//! reference walk ([`super::reference`]) on random trees (any shape, numeric and
//! categorical splits, every source and missing type, one-value and per-output
//! leaves, per-class groups) and random inputs drawn to hit the hard cases: NaN,
//! values exactly on thresholds, ±1e-35 and its f32 neighbour, signed zeros,
//! infinities and values that round to a threshold in f32. Margins must agree
//! bit for bit, and so must every public answer.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

/// Thresholds, and the inputs that sit exactly on them or next to them.
const EDGES: [f64; 14] = [
    -1.0,
    -(1e-35_f32 as f64),
    -1e-35,
    0.0,
    1e-35,
    1e-35_f32 as f64,
    1e-36,
    0.1,
    0.1_f32 as f64,
    0.5,
    2.0,
    3.0,
    -2.5,
    16_777_216.0,
];

/// An input value: an edge, a special, or anything.
fn input() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => proptest::sample::select(EDGES.to_vec()),
        2 => proptest::sample::select(vec![
            f64::NAN,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.7,
            1e300,
            -1e-300,
            f64::from(f32::MAX) * 2.0,
        ]),
        2 => -4.0..4.0f64,
        1 => (0u32..6).prop_map(f64::from),
    ]
}

/// One node's recipe; a split or a leaf is decided when the tree is built.
#[derive(Debug, Clone)]
struct Gene {
    leaf: bool,
    categorical: bool,
    feature: u32,
    threshold: f64,
    default_left: bool,
    missing: u8,
    categories: Vec<u32>,
    set_goes_left: bool,
    values: Vec<f64>,
}

fn gene() -> impl Strategy<Value = Gene> {
    (
        (0u32..10, 0u32..10, 0u32..8, input(), any::<bool>(), 0u8..3),
        (
            proptest::collection::btree_set(0u32..6, 0..4),
            any::<bool>(),
            proptest::collection::vec(-2.0..2.0f64, 3),
        ),
    )
        .prop_map(
            |((leaf, cat, feature, t, default_left, missing), (cats, set_left, values))| Gene {
                leaf: leaf < 3,
                categorical: cat == 0,
                feature,
                // A NaN threshold is refused on load; an infinite one is kept.
                threshold: if t.is_nan() { 0.5 } else { t },
                default_left,
                missing,
                categories: cats.into_iter().collect(),
                set_goes_left: set_left,
                values,
            },
        )
}

/// What the ensemble answers: (transform, classes, leaves per output).
#[derive(Debug, Clone, Copy)]
enum Output {
    Regression,
    Binary,
    Softmax,
    Forest,
    ForestRegression,
}

/// A model from genes: each tree grown breadth first (children after their
/// parent), a node turning into a leaf when its gene says so or genes run out.
fn model(
    semantics: Semantics,
    output: Output,
    n_features: u32,
    trees: &[Vec<Gene>],
) -> TreeEnsemble {
    let (transform, n_classes, n_margins) = match output {
        Output::Regression => (OutputTransform::Identity, 0, 1),
        Output::Binary => (OutputTransform::Sigmoid { scale: 0.7 }, 2, 1),
        Output::Softmax => (OutputTransform::Softmax, 3, 3),
        Output::Forest => (OutputTransform::Average, 3, 3),
        Output::ForestRegression => (OutputTransform::Average, 0, 1),
    };
    let forest = matches!(output, Output::Forest);
    let built = trees
        .iter()
        .enumerate()
        .map(|(t, genes)| {
            let group = if forest {
                0
            } else {
                t as u32 % n_margins as u32
            };
            grow(semantics, n_features, n_margins, forest, group, genes)
        })
        .collect();
    let parts = TreeEnsembleParts {
        semantics,
        n_features,
        classes: (0..n_classes).map(Value::Int64).collect(),
        base_score: (0..n_margins).map(|i| 0.3 - 0.2 * i as f64).collect(),
        trees: built,
        transform,
    };
    TreeEnsemble::from_parts(parts).unwrap()
}

fn grow(
    semantics: Semantics,
    n_features: u32,
    n_margins: usize,
    forest: bool,
    group: u32,
    genes: &[Gene],
) -> Tree {
    let mut nodes: Vec<Option<Node>> = vec![None];
    let mut pending = VecDeque::from([0usize]);
    let mut genes = genes.iter();
    while let Some(i) = pending.pop_front() {
        let g = genes.next();
        // The root splits whenever there is a gene for it.
        let node = match g {
            Some(g) if !g.leaf || i == 0 => {
                let (left, right) = (nodes.len() as u32, nodes.len() as u32 + 1);
                nodes.extend([None, None]);
                pending.extend([left as usize, right as usize]);
                split(semantics, n_features, g, left, right)
            }
            _ => {
                let values = g.map_or(vec![0.25], |g| g.values.clone());
                // A forest's leaves hold one value per output, now and then just one.
                let per_output = forest && values.first().is_some_and(|v| *v > -1.5);
                let n = if per_output { n_margins } else { 1 };
                Node::Leaf(values.into_iter().cycle().take(n).collect())
            }
        };
        if let Some(slot) = nodes.get_mut(i) {
            *slot = Some(node);
        }
    }
    Tree {
        group,
        nodes: nodes.into_iter().map(|n| n.unwrap()).collect(),
    }
}

fn split(semantics: Semantics, n_features: u32, g: &Gene, left: u32, right: u32) -> Node {
    let missing = match (semantics, g.missing) {
        (Semantics::LightGbm, 0) => Missing::None,
        (Semantics::LightGbm, 1) => Missing::Zero,
        _ => Missing::NaN,
    };
    let feature = g.feature % n_features;
    if g.categorical {
        Node::Categorical {
            feature,
            categories: g.categories.clone(),
            set_goes_left: g.set_goes_left,
            default_left: g.default_left,
            missing,
            left,
            right,
        }
    } else {
        Node::Numeric {
            feature,
            threshold: g.threshold,
            default_left: g.default_left,
            missing,
            left,
            right,
        }
    }
}

fn case() -> impl Strategy<Value = (TreeEnsemble, Vec<Vec<f64>>)> {
    let semantics = proptest::sample::select(vec![
        Semantics::XgBoost,
        Semantics::LightGbm,
        Semantics::Smartcore,
    ]);
    let output = proptest::sample::select(vec![
        Output::Regression,
        Output::Binary,
        Output::Softmax,
        Output::Forest,
        Output::ForestRegression,
    ]);
    (semantics, output, 1u32..6)
        .prop_flat_map(|(semantics, output, n_features)| {
            let trees = proptest::collection::vec(proptest::collection::vec(gene(), 0..40), 1..7);
            let rows = proptest::collection::vec(
                proptest::collection::vec(input(), n_features as usize),
                1..12,
            );
            (Just((semantics, output, n_features)), trees, rows)
        })
        .prop_map(|((semantics, output, n_features), trees, rows)| {
            (model(semantics, output, n_features, &trees), rows)
        })
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_compiled_walk_equals_the_reference_walk((model, rows) in case()) {
        let n = model.n_margins;
        for x in &rows {
            let (mut fast, mut plain) = (vec![0.0; n], vec![0.0; n]);
            model.sum_margins(x, &mut fast).unwrap();
            model.reference_margins(x, &mut plain).unwrap();
            prop_assert_eq!(bits(&fast), bits(&plain), "row {:?} of {:?}", x, model);
        }
    }

    #[test]
    fn a_batch_answers_what_its_rows_answer_one_by_one((model, rows) in case()) {
        // Enough rows to span more than one block of the batch walk.
        let rows: Vec<&Vec<f64>> = rows.iter().cycle().take(rows.len() * 13).collect();
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        let n = model.classes().len();
        if n == 0 {
            let mut batch = vec![0.0; rows.len()];
            model.predict_values_into(&flat, &mut batch).unwrap();
            let one: Vec<f64> = rows.iter().map(|x| model.predict_value(x).unwrap()).collect();
            prop_assert_eq!(bits(&batch), bits(&one));
        } else {
            let mut batch = vec![0.0; rows.len() * n];
            model.predict_proba_batch_into(&flat, &mut batch).unwrap();
            let mut one = vec![0.0; rows.len() * n];
            for (x, o) in rows.iter().zip(one.chunks_exact_mut(n)) {
                model.predict_proba_into(x, o).unwrap();
            }
            prop_assert_eq!(bits(&batch), bits(&one));
        }
    }
}

#[test]
fn a_batch_of_broken_rows_is_refused() {
    let model = model(Semantics::XgBoost, Output::Binary, 3, &[vec![]]);
    let mut out = vec![0.0; 4];
    assert!(matches!(
        model.predict_proba_batch_into(&[0.0; 5], &mut out),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        model.predict_proba_batch_into(&[0.0; 3], &mut out),
        Err(Error::Shape { .. })
    ));
    assert!(model.predict_values_into(&[0.0; 3], &mut out[..1]).is_err());
    model.predict_proba_batch_into(&[0.0; 6], &mut out).unwrap();
}
