#![allow(clippy::unwrap_used)]

use verge_core::model::TreeEnsemble;
use verge_core::model::tree::{Missing, Node, OutputTransform};

use super::*;

/// A one-split XGBoost model as `save_model` writes it (fields it does not need trimmed).
fn xgb_json(objective: &str, base_score: &str, left: &str, right: &str) -> String {
    format!(
        r#"{{"learner": {{
  "feature_names": ["temp", "pulse"],
  "learner_model_param": {{"base_score": "{base_score}", "num_class": "0", "num_feature": "2"}},
  "objective": {{"name": "{objective}"}},
  "gradient_booster": {{"name": "gbtree", "model": {{
    "tree_info": [0],
    "trees": [{{
      "left_children": [{left}, -1, -1], "right_children": [{right}, -1, -1],
      "split_indices": [1, 0, 0], "split_conditions": [38.5, -0.25, 0.5],
      "default_left": [1, 0, 0], "split_type": [0, 0, 0]
    }}]}}}}}},
 "version": [2, 1, 4]}}"#
    )
}

#[test]
fn reads_an_xgboost_json_model() {
    let m = xgboost::read(xgb_json("binary:logistic", "5E-1", "1", "2").as_bytes()).unwrap();
    assert_eq!(m.library, "xgboost 2.1.4");
    assert_eq!(
        m.feature_names.as_deref(),
        Some(&["temp".to_owned(), "pulse".to_owned()][..])
    );
    assert_eq!(m.parts.base_score, vec![0.0], "p = 0.5 is margin 0");
    assert_eq!(m.parts.transform, OutputTransform::Sigmoid { scale: 1.0 });
    let Node::Numeric {
        feature,
        threshold,
        default_left,
        ..
    } = m.parts.trees[0].nodes[0]
    else {
        panic!("a numeric root");
    };
    assert_eq!((feature, threshold, default_left), (1, 38.5, true));
    let model = TreeEnsemble::from_parts(m.parts).unwrap();
    let mut p = [0.0; 2];
    model.predict_proba_into(&[0.0, 38.5], &mut p).unwrap();
    let sigmoid = |z: f32| 1.0 / (1.0 + (-z).exp());
    assert!(
        (p[1] - f64::from(sigmoid(0.5))).abs() < 1e-7,
        "38.5 is not < 38.5: right leaf"
    );
    let reg = xgboost::read(xgb_json("reg:squarederror", "[1.5E0]", "1", "2").as_bytes()).unwrap();
    assert_eq!(reg.parts.base_score, vec![1.5]);
    let err = xgboost::read(xgb_json("rank:pairwise", "0", "1", "2").as_bytes()).unwrap_err();
    assert!(err.to_string().contains("rank:pairwise"), "{err}");
}

#[test]
fn a_cyclic_or_broken_xgboost_tree_is_an_error() {
    // Node 1 points back at the root.
    let cyclic = xgb_json("reg:squarederror", "0", "1", "2")
        .replace("[1, -1, -1]", "[1, 0, -1]")
        .replace("[2, -1, -1]", "[2, 2, -1]");
    let err = format!("{:#}", xgboost::read(cyclic.as_bytes()).unwrap_err());
    assert!(err.contains("tree 0") && err.contains("cycle"), "{err}");
    let past = xgb_json("reg:squarederror", "0", "7", "2");
    let err = format!("{:#}", xgboost::read(past.as_bytes()).unwrap_err());
    assert!(err.contains("past the 3 nodes"), "{err}");
    let negative = xgb_json("reg:squarederror", "0", "1", "-2");
    let err = format!("{:#}", xgboost::read(negative.as_bytes()).unwrap_err());
    assert!(err.contains("node 0: child -2"), "{err}");
    assert!(xgboost::read(b"not json").is_err());
    assert!(
        xgboost::read(b"{}")
            .unwrap_err()
            .to_string()
            .contains("learner")
    );
}

const LGB: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:2
feature_names=temp pulse
feature_infos=[1:2] [3:4]
tree_sizes=1

Tree=0
num_leaves=3
num_cat=1
split_feature=0 1
split_gain=1 1
threshold=0.5 0
decision_type=10 1
left_child=-1 -2
right_child=1 -3
leaf_value=0.25 -0.5 1
leaf_weight=1 1 1
leaf_count=1 1 1
internal_value=0 0
internal_weight=0 0
internal_count=3 2
cat_boundaries=0 1
cat_threshold=10
is_linear=0
shrinkage=1


end of trees
";

#[test]
fn reads_a_lightgbm_text_model() {
    let m = lightgbm::read(LGB).unwrap();
    assert_eq!(m.library, "lightgbm v4");
    assert_eq!(m.parts.transform, OutputTransform::Sigmoid { scale: 2.0 });
    let nodes = &m.parts.trees[0].nodes;
    // Root: numeric, decision_type 10 = default left (2) + missing NaN (8).
    let Node::Numeric {
        missing,
        default_left,
        left,
        right,
        ..
    } = &nodes[0]
    else {
        panic!("numeric root");
    };
    assert_eq!((*missing, *default_left), (Missing::NaN, true));
    assert!(matches!(nodes[*left as usize], Node::Leaf(ref v) if v == &[0.25]));
    // Its right child: categorical on feature 1, bitset 10 = categories 1 and 3 go left.
    let Node::Categorical {
        categories,
        set_goes_left,
        ..
    } = &nodes[*right as usize]
    else {
        panic!("categorical");
    };
    assert_eq!((categories.as_slice(), *set_goes_left), (&[1, 3][..], true));
    let model = TreeEnsemble::from_parts(m.parts).unwrap();
    let mut p = [0.0; 2];
    model.predict_proba_into(&[0.5, 3.0], &mut p).unwrap();
    assert_eq!(
        p[1],
        1.0 / (1.0 + (-2.0 * 0.25f64).exp()),
        "0.5 <= 0.5: left leaf"
    );
    model.predict_proba_into(&[0.6, 3.0], &mut p).unwrap();
    assert_eq!(
        p[1],
        1.0 / (1.0 + (2.0 * 0.5f64).exp()),
        "category 3 goes left: -0.5"
    );
}

#[test]
fn broken_lightgbm_files_are_errors() {
    let err = format!(
        "{:#}",
        lightgbm::read(&LGB.replace("left_child=-1 -2", "left_child=0 -2")).unwrap_err()
    );
    assert!(err.contains("Tree=0") && err.contains("cycle"), "{err}");
    let err = format!(
        "{:#}",
        lightgbm::read(&LGB.replace("threshold=0.5 0", "threshold=0.5")).unwrap_err()
    );
    assert!(
        err.contains("`threshold` has 1 values, expected 2"),
        "{err}"
    );
    let err = lightgbm::read(&LGB.replace("binary sigmoid:2", "lambdarank")).unwrap_err();
    assert!(err.to_string().contains("lambdarank"), "{err}");
    assert!(lightgbm::read("hello").is_err());
}

#[test]
fn features_match_by_name_or_by_position() {
    let columns = vec!["vitals:pulse".to_owned(), "vitals:temp".to_owned()];
    let names = ["temp".to_owned(), "vitals__pulse".to_owned()];
    assert_eq!(
        match_features(Some(&names), &columns, 2).unwrap(),
        vec![1, 0]
    );
    assert_eq!(match_features(None, &columns, 2).unwrap(), vec![0, 1]);
    let err = match_features(None, &columns, 3).unwrap_err().to_string();
    assert!(
        err.contains("reads 3") && err.contains("vitals:temp"),
        "{err}"
    );
    let wrong = ["temp".to_owned(), "weight".to_owned()];
    let err = match_features(Some(&wrong), &columns, 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[weight]")
            && err.contains("[temp, weight]")
            && err.contains("[vitals:pulse, vitals:temp]"),
        "both sides listed: {err}"
    );
}
