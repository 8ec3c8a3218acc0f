//! Golden bytes for the bundle and the registry version, as `snapshot.rs` holds
//! them for the snapshot: a tiny, deterministic object of each kind, encoded and
//! compared with the hex committed under `core/tests/golden/`, then the committed
//! bytes decoded back into the very object they were made from.
//!
//! A difference here is a byte-format change: it needs a format version bump
//! (`docs/format.md`), or, when the change is intended and reviewed, a rerun with
//! `BLESS=1` to rewrite the files. Everything is built here, not taken from the
//! test kit, so a fixture that changes for another test cannot move these bytes.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use verge_core::artifact::{
    ArtifactKind, Bundle, BundleContents, HEADER_LEN, Header, ModelPart, TrainingMetadata,
};
use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, OnDemandFeatureView, OnDemandField, Scaling, Source, SourceFormat,
};
use verge_core::expr::{Program, Schema};
use verge_core::model::Estimator;
use verge_core::model::tree::{
    Missing, Node, OutputTransform, Semantics, Tree, TreeEnsemble, TreeEnsembleParts,
};
use verge_core::pipeline::{
    ColumnMeta, ColumnPrep, FittedTransforms, InputColumn, PipelineParams, TransformParts,
    fit_pipeline,
};
use verge_core::registry::{self, RegistryVersion};
use verge_core::{ContentId, DType, Duration, Timestamp, Value};

const NB: EstimatorSpec = EstimatorSpec::GaussianNb {
    var_smoothing: 1e-9,
};

/// One entity, one source, one view of two fields, one on-demand field over a
/// request value, one service and one model: every kind of definition once.
fn definitions() -> Definitions {
    let schema = Schema::new(vec![
        ("ambient".into(), DType::Float64),
        ("temp".into(), DType::Float64),
        ("pulse".into(), DType::Float64),
    ]);
    let mut defs = Definitions {
        project: "golden".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("id", DType::Int64)],
            description: "a patient".into(),
        }],
        sources: vec![Source {
            name: "records".into(),
            path: "records.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "ts".into(),
            created_timestamp_field: None,
            field_mapping: vec![("temperature".into(), "temp".into())],
        }],
        feature_views: vec![FeatureView {
            name: "stats".into(),
            entities: vec!["horse".into()],
            source: "records".into(),
            ttl: Duration::from_days(1),
            online: true,
            fields: vec![
                Field::new("temp", DType::Float64),
                Field::new("pulse", DType::Float64),
            ],
            description: "vital signs".into(),
            owner: "vet@example.invalid".into(),
            tags: vec![("team".into(), "clinic".into())],
        }],
        on_demand_views: vec![OnDemandFeatureView {
            name: "derived".into(),
            sources: vec!["stats".into()],
            request: vec![Field::new("ambient", DType::Float64)],
            fields: vec![OnDemandField {
                name: "excess".into(),
                dtype: DType::Float64,
                program: Program::compile("max(temp - ambient, 0)", &schema).unwrap(),
            }],
        }],
        feature_services: vec![FeatureService {
            name: "svc".into(),
            features: ["stats:temp", "stats:pulse", "derived:excess"]
                .iter()
                .map(|r| FeatureRef::parse(r).unwrap())
                .collect(),
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "m".into(),
            feature_service: "svc".into(),
            label: "y".into(),
            impute: Imputation::Mean,
            scale: Scaling::None,
            encode: Encoding::OneHot,
            select_k_best: None,
            estimator: NB,
        }],
        push_sources: vec![],
    };
    defs.canonicalize();
    defs
}

fn registry_version() -> RegistryVersion {
    RegistryVersion::new(
        Some(ContentId([3; 32])),
        Timestamp::from_secs(1_700_000_000),
        "golden",
        definitions(),
    )
}

/// Six training rows with a null to impute, fitted with mean imputation and
/// Gaussian naive Bayes: small numbers, so the fitted parameters are exact.
fn bundle_contents() -> BundleContents {
    let defs = definitions();
    let columns = [
        ColumnMeta::new("stats:temp", DType::Float64),
        ColumnMeta::new("stats:pulse", DType::Float64),
        ColumnMeta::new("derived:excess", DType::Float64),
    ];
    let row = |t: f64, p: Option<f64>, e: f64| {
        vec![
            Value::Float64(t),
            p.map_or(Value::Null, Value::Float64),
            Value::Float64(e),
        ]
    };
    let rows = vec![
        row(37.5, Some(40.0), 0.0),
        row(38.0, Some(44.0), 0.0),
        row(37.75, None, 0.0),
        row(39.5, Some(80.0), 1.5),
        row(40.0, Some(96.0), 2.0),
        row(39.75, Some(88.0), 1.75),
    ];
    let y: Vec<Value> = [2, 2, 2, 1, 1, 1].map(Value::Int64).to_vec();
    let params = PipelineParams::new(NB).impute(Some(Imputation::Mean));
    let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    let plan = BundleContents::plan(&defs, "svc").unwrap();
    BundleContents {
        registry_id: registry_version().id().unwrap(),
        service: "svc".into(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        model: Some(ModelPart {
            name: "m".into(),
            pipeline,
            training: TrainingMetadata {
                rows: 6,
                data_hash: ContentId([5; 32]),
                label: "y".into(),
                metrics: vec![("holdout_accuracy".into(), 1.0)],
                trained_with: "verge-core".into(),
                trained_at: Timestamp::from_secs(1_700_000_100),
            },
        }),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .chunks(32)
        .map(|c| c.concat() + "\n")
        .collect()
}

fn from_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Compares `bytes` with the golden file `name` (rewriting it under `BLESS=1`) and
/// returns the committed bytes, decoded from their hex.
fn golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let hex = to_hex(bytes);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &hex).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run with BLESS=1 once and review it",
            path.display()
        )
    });
    assert_eq!(
        hex, expected,
        "{name}: the bytes changed; that is a format change (bump the format version) — or rerun with BLESS=1 if intended"
    );
    from_hex(&expected)
}

#[test]
fn golden_tiny_bundle() {
    let contents = bundle_contents();
    let committed = golden("tiny_bundle.hex", &contents.to_bytes().unwrap());
    // The 48-byte header, field by field, as docs/format.md describes it.
    assert_eq!(&committed[0..4], b"VRGB");
    assert_eq!(u16::from_le_bytes([committed[4], committed[5]]), 4);
    assert_eq!(&committed[6..8], &[0, 0]);
    assert_eq!(
        u64::from_le_bytes(committed[8..16].try_into().unwrap()) as usize,
        committed.len() - HEADER_LEN
    );
    assert_eq!(&committed[16..48], &ContentId::of(&committed[48..]).0);
    let header = Header::peek(&committed, ArtifactKind::Bundle).unwrap();
    // The committed bytes decode back into the object they were made from.
    let bundle = Bundle::load(&committed).unwrap();
    assert_eq!(bundle.id(), header.id);
    assert_eq!(bundle.contents(), &contents);
    assert_eq!(
        bundle.contents().registry_id,
        registry_version().id().unwrap()
    );
}

/// The tiny bundle with a two-tree XGBoost-style classifier instead of naive
/// Bayes, and no imputer: one numeric split with a default direction, one
/// categorical split, one-value leaves and a sigmoid over a base margin.
fn tree_bundle_contents() -> BundleContents {
    let numeric = Tree {
        group: 0,
        nodes: vec![
            Node::Numeric {
                feature: 0,
                threshold: 38.5,
                default_left: true,
                missing: Missing::NaN,
                left: 1,
                right: 2,
            },
            Node::Leaf(vec![-0.5]),
            Node::Leaf(vec![0.75]),
        ],
    };
    let categorical = Tree {
        group: 0,
        nodes: vec![
            Node::Categorical {
                feature: 2,
                categories: vec![1, 4],
                set_goes_left: false,
                default_left: false,
                missing: Missing::NaN,
                left: 1,
                right: 2,
            },
            Node::Leaf(vec![0.25]),
            Node::Leaf(vec![-0.125]),
        ],
    };
    let model = TreeEnsemble::from_parts(TreeEnsembleParts {
        semantics: Semantics::XgBoost,
        n_features: 3,
        classes: vec![Value::Int64(1), Value::Int64(2)],
        base_score: vec![0.0],
        trees: vec![numeric, categorical],
        transform: OutputTransform::Sigmoid { scale: 1.0 },
    })
    .unwrap();
    let transforms = FittedTransforms::from_parts(TransformParts {
        inputs: ["stats:temp", "stats:pulse", "derived:excess"]
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
    let mut contents = bundle_contents();
    let part = contents.model.as_mut().unwrap();
    part.pipeline = transforms
        .with_estimator(Estimator::TreeEnsemble(model))
        .unwrap();
    part.training.trained_with = "xgboost 2.1.4".into();
    contents
}

#[test]
fn golden_tiny_tree_bundle() {
    let contents = tree_bundle_contents();
    let committed = golden("tiny_tree_bundle.hex", &contents.to_bytes().unwrap());
    assert_eq!(u16::from_le_bytes([committed[4], committed[5]]), 4);
    let bundle = Bundle::load(&committed).unwrap();
    assert_eq!(bundle.contents(), &contents);
    // The committed model answers as its trees say: 39 >= 38.5 (right, 0.75),
    // category 4 is listed (XGBoost: right, -0.125); margin 0.625.
    let pipeline = &bundle.contents().model.as_ref().unwrap().pipeline;
    let p = pipeline
        .predict(&[Value::Float64(39.0), Value::Null, Value::Float64(4.0)])
        .unwrap();
    let verge_core::pipeline::Prediction::Classes {
        probabilities,
        label,
        ..
    } = p
    else {
        panic!("a classifier answers classes");
    };
    assert_eq!(label, 1);
    assert!((probabilities[1] - 1.0 / (1.0 + (-0.625f64).exp())).abs() < 1e-6);
}

#[test]
fn golden_tiny_registry_version() {
    let version = registry_version();
    let committed = golden("tiny_registry_version.hex", &version.to_bytes().unwrap());
    // The registry version's own 6-byte header: magic and format version, then
    // the bincode payload with no length and no hash (the id is the hash of all).
    assert_eq!(&committed[0..4], b"VRGR");
    assert_eq!(&committed[0..4], &registry::MAGIC);
    assert_eq!(
        u16::from_le_bytes([committed[4], committed[5]]),
        registry::FORMAT_VERSION
    );
    assert_eq!(version.id().unwrap(), ContentId::of(&committed));
    // Not the artifact header: a loader of framed artifacts refuses these bytes.
    assert!(Header::open(&committed, ArtifactKind::Registry).is_err());
    let decoded = RegistryVersion::from_bytes(&committed).unwrap();
    assert_eq!(decoded, version);
    assert_eq!(decoded.definitions, definitions());
}

/// A registry version written by format 1 (before push sources; these are
/// the bytes the previous format's golden file held) still reads, with no
/// push sources, so a repository applied by an older verge keeps its history.
#[test]
fn a_version_1_registry_version_still_reads() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiny_registry_version_v1.hex");
    let bytes = from_hex(&std::fs::read_to_string(path).unwrap());
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 1);
    let old = RegistryVersion::from_bytes(&bytes).unwrap();
    let now = registry_version();
    assert_eq!(old.definitions, now.definitions);
    assert_eq!(
        (old.parent, old.applied_at, &old.message),
        (now.parent, now.applied_at, &now.message)
    );
    // Its definitions id is the one the same definitions have today.
    assert_eq!(old.definitions_id().unwrap(), now.definitions_id().unwrap());
    // Version 3 is not one this build knows.
    let mut future = bytes.clone();
    future[4] = 3;
    assert!(RegistryVersion::from_bytes(&future).is_err());
}
