//! Tree-ensemble fixtures for the speed benchmarks: complete random trees under
//! one source's rules, seeded input rows with 10% NaN, and a bundle serving a
//! tree model over plain float features (what `verge train` builds for an
//! imported model without an imputer), so the core's and the host's benchmarks
//! and `bench/trees/run` time the same shapes.

use verge_core::artifact::{
    BundleContents, ModelPart, ServiceFeature, TrainingMetadata, ViewRequirement, view_fingerprint,
};
use verge_core::definition::Field;
use verge_core::model::Estimator;
use verge_core::model::tree::{
    Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
};
use verge_core::pipeline::{ColumnPrep, FittedTransforms, InputColumn, TransformParts};
use verge_core::{ContentId, DType, Duration, Timestamp, Value};

use crate::rng::Rng;

/// A complete tree of `depth` levels with random splits (nodes breadth first):
/// f32 thresholds for XGBoost, any f64 otherwise, LightGBM's default missing types.
fn tree(semantics: Semantics, features: u32, depth: u32, rng: &mut Rng) -> Tree {
    let splits = (1u32 << depth) - 1;
    let mut nodes = Vec::new();
    for i in 0..splits {
        let t = rng.unit() * 2.0 - 1.0;
        nodes.push(Node::Numeric {
            feature: rng.below(u64::from(features)) as u32,
            threshold: match semantics {
                Semantics::XgBoost => f64::from(t as f32),
                _ => t,
            },
            default_left: rng.below(2) == 0,
            // What LightGBM trains by default (`use_missing`, no
            // `zero_as_missing`): None for a feature seen without NaN, NaN
            // otherwise. Zero needs `zero_as_missing`; the proptests cover it.
            missing: match (semantics, rng.below(2)) {
                (Semantics::LightGbm, 0) => Missing::None,
                _ => Missing::NaN,
            },
            left: 2 * i + 1,
            right: 2 * i + 2,
        });
    }
    for _ in 0..=splits {
        nodes.push(Node::Leaf(vec![f64::from((rng.unit() - 0.5) as f32)]));
    }
    Tree { group: 0, nodes }
}

/// A binary classifier (sigmoid) of `trees` complete trees of `depth` levels on
/// `features` inputs, seeded.
///
/// # Panics
///
/// Never for positive sizes within the model bounds (a fixture).
#[must_use]
pub fn binary_model(semantics: Semantics, features: u32, trees: usize, depth: u32) -> TreeEnsemble {
    let mut rng = Rng::new(15);
    TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics,
        n_features: features,
        classes: vec![Value::Int64(0), Value::Int64(1)],
        base_score: vec![0.0],
        trees: (0..trees)
            .map(|_| tree(semantics, features, depth, &mut rng))
            .collect(),
        transform: OutputTransform::Sigmoid { scale: 1.0 },
    })
    .expect("the tree fixture is known good")
}

/// `n` rows of `features` values in [-1, 1), 10% NaN, seeded, row-major.
#[must_use]
pub fn rows(n: usize, features: u32) -> Vec<f64> {
    let mut rng = Rng::new(7);
    (0..n * features as usize)
        .map(|_| {
            if rng.below(10) == 0 {
                f64::NAN
            } else {
                rng.unit() * 2.0 - 1.0
            }
        })
        .collect()
}

/// A bundle's bytes serving `model` over `cols` Float64 features `rows:f0…` of
/// one view keyed by an int64 `id`, with no imputer or scaler.
///
/// # Panics
///
/// When `model` does not read `cols` features.
#[must_use]
pub fn bundle(model: TreeEnsemble, cols: usize) -> Vec<u8> {
    let fields: Vec<Field> = (0..cols)
        .map(|i| Field::new(format!("f{i}"), DType::Float64))
        .collect();
    let keys = vec![Field::new("id", DType::Int64)];
    let ttl = Duration::from_days(1);
    let transforms = FittedTransforms::from_parts(TransformParts {
        inputs: fields
            .iter()
            .map(|f| InputColumn {
                name: format!("rows:{}", f.name),
                prep: ColumnPrep::Numeric,
            })
            .collect(),
        imputer: None,
        scaler: None,
        selector: None,
    })
    .expect("plain numeric inputs");
    let pipeline = transforms
        .with_estimator(Estimator::TreeEnsemble(model))
        .expect("the model reads `cols` features");
    BundleContents {
        registry_id: ContentId::of(b"tree bench"),
        service: "trees".into(),
        entity_keys: keys.clone(),
        request: vec![],
        views: vec![ViewRequirement {
            name: "rows".into(),
            fingerprint: view_fingerprint("rows", &keys, &fields, ttl),
            ttl,
            join_keys: keys,
            fields,
        }],
        features: (0..cols)
            .map(|i| ServiceFeature::View {
                name: format!("rows:f{i}"),
                view: 0,
                column: i as u32,
                dtype: DType::Float64,
            })
            .collect(),
        model: Some(ModelPart {
            name: "trees".into(),
            pipeline,
            training: TrainingMetadata {
                rows: 0,
                data_hash: ContentId::of(b""),
                label: "y".into(),
                metrics: vec![],
                trained_with: "verge-test-kit".into(),
                trained_at: Timestamp::from_micros(0),
            },
        }),
    }
    .to_bytes()
    .expect("the tree bundle encodes")
}
