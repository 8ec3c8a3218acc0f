use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::pipeline::{ColumnPrep, FittedTransforms, InputColumn, TransformParts};

fn split(feature: u32, threshold: f64, default_left: bool, missing: Missing) -> Node {
    Node::Numeric {
        feature,
        threshold,
        default_left,
        missing,
        left: 1,
        right: 2,
    }
}

/// One split on feature 0 with leaves `lo` (left) and `hi` (right).
fn stump(node: Node, lo: f64, hi: f64, group: u32) -> Tree {
    Tree {
        group,
        nodes: vec![node, Node::Leaf(vec![lo]), Node::Leaf(vec![hi])],
    }
}

fn regressor(semantics: Semantics, trees: Vec<Tree>, base: f64) -> TreeEnsemble {
    TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics,
        n_features: 2,
        classes: vec![],
        base_score: vec![base],
        trees,
        transform: OutputTransform::Identity,
    })
    .unwrap()
}

fn value(model: &TreeEnsemble, x0: f64) -> f64 {
    model.predict_value(&[x0, 0.0]).unwrap()
}

#[test]
fn each_source_compares_at_the_threshold_its_own_way() {
    let xgb = regressor(
        Semantics::XgBoost,
        vec![stump(split(0, 0.5, true, Missing::NaN), 1.0, 2.0, 0)],
        0.0,
    );
    let lgb = regressor(
        Semantics::LightGbm,
        vec![stump(split(0, 0.5, true, Missing::NaN), 1.0, 2.0, 0)],
        0.0,
    );
    assert_eq!(
        value(&xgb, 0.5),
        2.0,
        "XGBoost: x < t, so t itself goes right"
    );
    assert_eq!(value(&lgb, 0.5), 1.0, "LightGBM: x <= t");
    // XGBoost rounds the input to f32: 0.1 (f64) is below 0.1f32 but equal once rounded.
    let t = f64::from(0.1_f32);
    let xgb = regressor(
        Semantics::XgBoost,
        vec![stump(split(0, t, true, Missing::NaN), 1.0, 2.0, 0)],
        0.0,
    );
    assert!(0.1 < t);
    assert_eq!(value(&xgb, 0.1), 2.0);
    assert_eq!(value(&xgb, f64::NAN), 1.0, "NaN takes the default (left)");
}

#[test]
fn lightgbm_missing_types() {
    let model = |missing, default_left| {
        regressor(
            Semantics::LightGbm,
            vec![stump(split(0, -1.0, default_left, missing), 1.0, 2.0, 0)],
            0.0,
        )
    };
    // None: NaN is 0, compared with -1 → right, whatever the default.
    assert_eq!(value(&model(Missing::None, true), f64::NAN), 2.0);
    // Zero: NaN becomes 0, and a zero takes the default child.
    assert_eq!(value(&model(Missing::Zero, true), f64::NAN), 1.0);
    assert_eq!(value(&model(Missing::Zero, true), 1e-36), 1.0);
    assert_eq!(value(&model(Missing::Zero, true), -1e-35), 1.0);
    assert_eq!(value(&model(Missing::Zero, true), 1e-34), 2.0);
    // NaN: the default child; a zero is compared.
    assert_eq!(value(&model(Missing::NaN, true), f64::NAN), 1.0);
    assert_eq!(value(&model(Missing::NaN, false), f64::NAN), 2.0);
    assert_eq!(value(&model(Missing::NaN, true), 0.0), 2.0);
    // LightGBM's API reads |x| <= 1e-35 as 0: its own threshold -1e-35 sends it right.
    let tiny = -f64::from(1e-35_f32);
    let around_zero = regressor(
        Semantics::LightGbm,
        vec![stump(split(0, tiny, true, Missing::None), 1.0, 2.0, 0)],
        0.0,
    );
    assert_eq!(value(&around_zero, tiny), 2.0);
    assert_eq!(value(&around_zero, -1e-30), 1.0);
}

#[test]
fn xgboost_sums_in_f32_and_lightgbm_in_f64() {
    let leaf = 0.1;
    let trees = || {
        (0..3)
            .map(|_| stump(split(0, 0.0, true, Missing::NaN), leaf, leaf, 0))
            .collect()
    };
    let xgb = regressor(Semantics::XgBoost, trees(), 0.5);
    let lgb = regressor(Semantics::LightGbm, trees(), 0.5);
    let f32_sum = 0.5_f32 + 0.1 + 0.1 + 0.1;
    assert_eq!(value(&xgb, 1.0), f64::from(f32_sum));
    assert_eq!(value(&lgb, 1.0), 0.5 + 0.1 + 0.1 + 0.1);
    assert_ne!(f64::from(f32_sum), 0.5 + 0.1 + 0.1 + 0.1);
}

#[test]
fn categorical_splits_per_source() {
    let cat = |left_set| Node::Categorical {
        feature: 0,
        categories: vec![1, 3],
        set_goes_left: left_set,
        default_left: true,
        missing: Missing::NaN,
        left: 1,
        right: 2,
    };
    let xgb = regressor(
        Semantics::XgBoost,
        vec![stump(cat(false), 1.0, 2.0, 0)],
        0.0,
    );
    assert_eq!(value(&xgb, 3.0), 2.0, "XGBoost: listed categories go right");
    assert_eq!(value(&xgb, 3.7), 2.0, "truncated to 3");
    assert_eq!(value(&xgb, 2.0), 1.0);
    assert_eq!(value(&xgb, -1.0), 1.0, "an invalid category goes left");
    assert_eq!(value(&xgb, f64::NAN), 1.0, "NaN takes the default");
    let lgb = regressor(
        Semantics::LightGbm,
        vec![stump(cat(true), 1.0, 2.0, 0)],
        0.0,
    );
    assert_eq!(value(&lgb, 1.0), 1.0, "LightGBM: listed categories go left");
    assert_eq!(value(&lgb, 2.0), 2.0);
    assert_eq!(value(&lgb, -3.0), 2.0, "negative goes right");
    assert_eq!(value(&lgb, f64::NAN), 2.0, "NaN goes right");
}

#[test]
fn classifiers_sigmoid_softmax_and_votes() {
    let binary = TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics: Semantics::LightGbm,
        n_features: 1,
        classes: vec![Value::Int64(0), Value::Int64(1)],
        base_score: vec![0.0],
        trees: vec![stump(split(0, 0.0, true, Missing::NaN), -2.0, 2.0, 0)],
        transform: OutputTransform::Sigmoid { scale: 1.0 },
    })
    .unwrap();
    let mut p = [0.0; 2];
    assert_eq!(binary.predict_proba_into(&[1.0], &mut p).unwrap(), 1);
    assert_eq!(p[1], 1.0 / (1.0 + libm::exp(-2.0)));
    assert_eq!(p[0], 1.0 - p[1]);
    assert_eq!(binary.predict_proba_into(&[-1.0], &mut p).unwrap(), 0);
    assert!(
        binary.predict_value(&[1.0]).is_err(),
        "a classifier has no value"
    );

    // Three classes, one tree per class (XGBoost's layout), softmax in f32.
    let trees = (0..3)
        .map(|c| stump(split(0, 0.0, true, Missing::NaN), c as f64, -(c as f64), c))
        .collect();
    let multi = TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics: Semantics::XgBoost,
        n_features: 1,
        classes: (0..3).map(Value::Int64).collect(),
        base_score: vec![0.5; 3],
        trees,
        transform: OutputTransform::Softmax,
    })
    .unwrap();
    let mut p = [0.0; 3];
    assert_eq!(multi.predict_proba_into(&[-1.0], &mut p).unwrap(), 2);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    assert_eq!(multi.predict_proba_into(&[1.0], &mut p).unwrap(), 0);
    assert!(p[0] > p[1] && p[1] > p[2]);

    // A forest of three one-hot voters: probabilities are vote fractions.
    let vote = |c: usize| {
        let mut v = vec![0.0; 2];
        v[c] = 1.0;
        Node::Leaf(v)
    };
    let trees = [(0, 1), (1, 1), (0, 0)]
        .iter()
        .map(|&(a, b)| Tree {
            group: 0,
            nodes: vec![split(0, 0.0, true, Missing::NaN), vote(a), vote(b)],
        })
        .collect();
    let forest = TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics: Semantics::Smartcore,
        n_features: 1,
        classes: vec![Value::Bool(false), Value::Bool(true)],
        base_score: vec![0.0; 2],
        trees,
        transform: OutputTransform::Average,
    })
    .unwrap();
    let mut p = [0.0; 2];
    assert_eq!(forest.predict_proba_into(&[1.0], &mut p).unwrap(), 1);
    assert_eq!(p, [1.0 / 3.0, 2.0 / 3.0]);
    assert_eq!(
        forest.predict_proba_into(&[0.0], &mut p).unwrap(),
        0,
        "smartcore: x <= t goes left"
    );
    assert_eq!(p, [2.0 / 3.0, 1.0 / 3.0]);
    assert!(matches!(
        forest.predict_proba_into(&[1.0, 2.0], &mut p),
        Err(Error::Shape { .. })
    ));
}

fn parts(trees: Vec<Tree>) -> TreeEnsembleParts {
    TreeEnsembleParts {
        semantics: Semantics::XgBoost,
        n_features: 2,
        classes: vec![],
        base_score: vec![0.0],
        trees,
        transform: OutputTransform::Identity,
    }
}

fn message(parts: TreeEnsembleParts) -> alloc::string::String {
    match TreeEnsemble::from_parts(parts) {
        Err(Error::Malformed { message, .. }) => message,
        other => panic!("expected a malformed model, got {other:?}"),
    }
}

#[test]
fn hostile_shapes_are_refused() {
    let with = |left: u32, right: u32| Tree {
        group: 0,
        nodes: vec![
            Node::Numeric {
                feature: 0,
                threshold: 0.0,
                default_left: true,
                missing: Missing::NaN,
                left,
                right,
            },
            Node::Leaf(vec![1.0]),
            Node::Leaf(vec![2.0]),
        ],
    };
    assert!(
        message(parts(vec![with(0, 2)])).contains("children come after"),
        "a cycle"
    );
    assert!(
        message(parts(vec![with(1, 9)])).contains("children come after"),
        "out of range"
    );
    assert!(message(parts(vec![with(1, 1)])).contains("two parents"));
    let orphan = Tree {
        group: 0,
        nodes: vec![Node::Leaf(vec![1.0]), Node::Leaf(vec![2.0])],
    };
    assert!(message(parts(vec![orphan])).contains("no parent"));
    assert!(
        message(parts(vec![stump(
            split(2, 0.0, true, Missing::NaN),
            1.0,
            2.0,
            0
        )]))
        .contains("feature 2")
    );
    assert!(
        message(parts(vec![stump(
            split(0, 0.0, true, Missing::Zero),
            1.0,
            2.0,
            0
        )]))
        .contains("LightGBM")
    );
    assert!(
        message(parts(vec![stump(
            split(0, f64::NAN, true, Missing::NaN),
            1.0,
            2.0,
            0
        )]))
        .contains("NaN")
    );
    assert!(
        message(parts(vec![stump(
            split(0, 0.0, true, Missing::NaN),
            f64::INFINITY,
            2.0,
            0
        )]))
        .contains("finite")
    );
    assert!(
        message(parts(vec![stump(
            split(0, 0.0, true, Missing::NaN),
            1.0,
            2.0,
            1
        )]))
        .contains("output 1")
    );
    assert!(message(parts(vec![])).contains("trees"));
    assert!(
        message(parts(vec![Tree {
            group: 0,
            nodes: vec![]
        }]))
        .contains("0 nodes")
    );
    let mut two_leaf = parts(vec![Tree {
        group: 0,
        nodes: vec![Node::Leaf(vec![1.0, 2.0])],
    }]);
    assert!(message(two_leaf.clone()).contains("leaf holds 2"));
    two_leaf.transform = OutputTransform::Softmax;
    assert!(message(two_leaf).contains("does not fit"));
    let mut p = parts(vec![Tree {
        group: 0,
        nodes: vec![Node::Leaf(vec![1.0])],
    }]);
    p.base_score = vec![];
    assert!(message(p).contains("base score"));
    let cats = |categories| Tree {
        group: 0,
        nodes: vec![
            Node::Categorical {
                feature: 0,
                categories,
                set_goes_left: false,
                default_left: true,
                missing: Missing::NaN,
                left: 1,
                right: 2,
            },
            Node::Leaf(vec![1.0]),
            Node::Leaf(vec![2.0]),
        ],
    };
    assert!(message(parts(vec![cats(vec![3, 1])])).contains("increasing"));
    assert!(message(parts(vec![cats(vec![1 << 24])])).contains("or more"));
    // A chain deeper than the bound.
    let mut nodes = Vec::new();
    for i in 0..(MAX_DEPTH as u32 + 1) {
        nodes.push(Node::Numeric {
            feature: 0,
            threshold: 0.0,
            default_left: true,
            missing: Missing::NaN,
            left: 2 * i + 1,
            right: 2 * i + 2,
        });
        nodes.push(Node::Leaf(vec![1.0]));
    }
    // Splits at even indices, each with a leaf on its left and the next split on its right.
    nodes.push(Node::Leaf(vec![1.0]));
    assert!(message(parts(vec![Tree { group: 0, nodes }])).contains("deeper"));
}

#[test]
fn a_pipeline_without_an_imputer_hands_missing_values_to_the_trees() {
    let model = regressor(
        Semantics::XgBoost,
        vec![stump(split(1, 0.5, false, Missing::NaN), 1.0, 2.0, 0)],
        0.0,
    );
    let transforms = FittedTransforms::from_parts(TransformParts {
        inputs: ["a", "b"]
            .iter()
            .map(|n| InputColumn {
                name: (*n).into(),
                prep: ColumnPrep::Numeric,
            })
            .collect(),
        imputer: None,
        scaler: None,
        selector: None,
    })
    .unwrap();
    let pipeline = transforms
        .with_estimator(crate::model::Estimator::TreeEnsemble(model))
        .unwrap();
    let p = pipeline
        .predict(&[Value::Float64(0.0), Value::Null])
        .unwrap();
    assert_eq!(
        p,
        crate::model::Prediction::Value(2.0),
        "null → NaN → default right"
    );
    let p = pipeline
        .predict(&[Value::Float64(0.0), Value::Float64(0.0)])
        .unwrap();
    assert_eq!(p, crate::model::Prediction::Value(1.0));
}
