//! Writes the seed corpus of every fuzz target from real artifacts built by
//! verge-core: `cargo run --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus`.
//!
//! The committed corpus (`fuzz/corpus/<target>/`) is these seeds plus what the
//! fuzzer found, minimized with `cargo fuzz cmin`; rerun this after a format change
//! so the fuzzer starts from artifacts the loaders accept.

use std::path::Path;

use verge_core::ContentId;
use verge_core::Timestamp;
use verge_core::artifact::{BundleContents, SnapshotBuilder};
use verge_core::definition::Definitions;
use verge_core::registry::RegistryVersion;
use verge_fuzz::{METHODS, PATHS, fixture};

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn main() -> std::io::Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let root = Path::new(&root);

    write(root, "snapshot_load", "stats", &fixture::snapshot_bytes())?;
    write(
        root,
        "snapshot_load",
        "composite",
        &fixture::composite_snapshot_bytes(),
    )?;
    write(root, "snapshot_load", "typed", &fixture::typed_snapshot_bytes())?;
    let empty = SnapshotBuilder::new(verge_core::ContentId::of(b"e"), Timestamp(0), Timestamp(0))
        .finish()
        .expect("an empty snapshot builds");
    write(root, "snapshot_load", "empty", &empty)?;

    write(root, "bundle_load", "model", &fixture::bundle_bytes())?;
    let features =
        BundleContents::feature_bundle(&fixture::definitions(), ContentId::of(b"r"), "svc")
            .and_then(|b| b.to_bytes())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    write(root, "bundle_load", "features", &features)?;
    for (name, model) in tree_seeds() {
        let bytes = verge_core::artifact::encode_payload(&model, "tree model")
            .expect("a tree model encodes");
        write(root, "tree_load", name, &bytes)?;
    }

    write(
        root,
        "registry_decode",
        "fixture",
        &fixture::registry_bytes(),
    )?;
    let bare = RegistryVersion::new(None, Timestamp(0), "", Definitions::default());
    write(
        root,
        "registry_decode",
        "empty",
        &bare.to_bytes().expect("encodes"),
    )?;

    for (i, text) in fixture::EXPRESSIONS.iter().enumerate() {
        write(root, "expr_compile", &i.to_string(), text.as_bytes())?;
    }

    for (i, (method, path, body)) in fixture::REQUESTS.iter().enumerate() {
        let m = METHODS.iter().position(|x| x == method);
        let p = PATHS.iter().position(|x| x == path);
        let (Some(m), Some(p)) = (m, p) else {
            continue; // a path outside PATHS (the fuzzer reaches those by itself)
        };
        let mut bytes = vec![m as u8, p as u8];
        bytes.extend_from_slice(body.as_bytes());
        write(root, "api_handle", &i.to_string(), &bytes)?;
    }
    Ok(())
}

/// A numeric-and-categorical XGBoost classifier and a LightGBM regressor with every
/// missing type: seeds that reach each branch of the tree walk.
fn tree_seeds() -> Vec<(&'static str, verge_core::model::TreeEnsemble)> {
    use verge_core::Value;
    use verge_core::model::tree::{
        Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
    };
    let numeric = |missing, threshold| Node::Numeric {
        feature: 0,
        threshold,
        default_left: true,
        missing,
        left: 1,
        right: 2,
    };
    let tree = |split, group| Tree {
        group,
        nodes: vec![split, Node::Leaf(vec![0.5]), Node::Leaf(vec![-0.25])],
    };
    let categorical = Node::Categorical {
        feature: 1,
        categories: vec![0, 2, 7],
        set_goes_left: false,
        default_left: false,
        missing: Missing::NaN,
        left: 1,
        right: 2,
    };
    let xgb = TreeEnsembleParts {
        semantics: Semantics::XgBoost,
        n_features: 2,
        classes: (0..3).map(Value::Int64).collect(),
        base_score: vec![0.5; 3],
        trees: vec![
            tree(numeric(Missing::NaN, 0.5), 0),
            tree(categorical, 1),
            tree(numeric(Missing::NaN, -1.0), 2),
        ],
        transform: OutputTransform::Softmax,
    };
    let lgb = TreeEnsembleParts {
        semantics: Semantics::LightGbm,
        n_features: 1,
        classes: vec![],
        base_score: vec![0.0],
        trees: [Missing::None, Missing::Zero, Missing::NaN]
            .into_iter()
            .map(|m| tree(numeric(m, 0.0), 0))
            .collect(),
        transform: OutputTransform::Identity,
    };
    vec![
        ("xgboost", TreeEnsemble::from_parts(xgb).expect("a valid model")),
        ("lightgbm", TreeEnsemble::from_parts(lgb).expect("a valid model")),
    ]
}
