//! One small, real deployment shared by the fuzz targets (`fuzz/`), the seed
//! writer and the hostile-input tests: definitions, a bundle, a snapshot, a
//! registry version, example expressions and example requests.
//!
//! It lives here, under `core/tests/`, so the regression tests in the normal
//! `cargo test` and the fuzz targets (which include this file with `#[path]`)
//! exercise the very same artifacts: a crash the fuzzer found against this
//! fixture replays byte for byte as a test.
#![allow(dead_code)] // each includer uses a different subset
#![allow(clippy::unwrap_used)] // fixture code: the fixture is known good

use verge_core::api::{Api, Limits};
use verge_core::artifact::{
    Bundle, BundleContents, Snapshot, SnapshotBuilder, TrainingMetadata, ViewBuilder,
};
use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, OnDemandFeatureView, OnDemandField, Scaling, Source, SourceFormat,
};
use verge_core::expr::{Program, Schema};
use verge_core::online::Predictor;
use verge_core::pipeline::{ColumnMeta, PipelineParams, fit_pipeline};
use verge_core::registry::RegistryVersion;
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};

/// The request time every fixture request is evaluated at: day 10.
pub fn now() -> Timestamp {
    Timestamp(10 * Duration::from_days(1).as_micros())
}

/// The limits the fixture API serves with: small, so the 413 paths are cheap to reach.
pub fn limits() -> Limits {
    Limits {
        max_body_bytes: 64 << 10,
        max_entities: 100,
    }
}

/// The fields of the `stats` view: two numbers in the service, a string and a bool outside it.
fn stats_fields() -> Vec<Field> {
    vec![
        Field::new("temp", DType::Float64),
        Field::new("pulse", DType::Float64),
        Field::new("pain", DType::String),
        Field::new("lame", DType::Bool),
    ]
}

/// Definitions: entity `horse` (int64 `id`), view `stats`, on-demand view
/// `derived` with request field `ambient`, service `svc`, model `m`.
pub fn definitions() -> Definitions {
    let fields = stats_fields();
    let view = FeatureView {
        name: "stats".into(),
        entities: vec!["horse".into()],
        source: "records".into(),
        ttl: Duration::from_days(1),
        online: true,
        fields: fields.clone(),
        description: "vital signs".into(),
        owner: "vet@example.invalid".into(),
        tags: vec![("team".into(), "clinic".into())],
    };
    let mut schema = vec![("ambient".to_string(), DType::Float64)];
    schema.extend(fields.iter().map(|f| (f.name.clone(), f.dtype)));
    let program = Program::compile(
        r#"if(pain == "severe", temp, max(temp - ambient, 0))"#,
        &Schema::new(schema),
    )
    .unwrap();
    let mut defs = Definitions {
        project: "fuzz".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("id", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "records".into(),
            path: "r.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "ts".into(),
            created_timestamp_field: None,
            field_mapping: vec![],
        }],
        feature_views: vec![view],
        on_demand_views: vec![OnDemandFeatureView {
            name: "derived".into(),
            sources: vec!["stats".into()],
            request: vec![Field::new("ambient", DType::Float64)],
            fields: vec![OnDemandField {
                name: "excess".into(),
                dtype: DType::Float64,
                program,
            }],
        }],
        feature_services: vec![FeatureService {
            name: "svc".into(),
            features: vec![
                FeatureRef::parse("stats:temp").unwrap(),
                FeatureRef::parse("stats:pulse").unwrap(),
                FeatureRef::parse("derived:excess").unwrap(),
            ],
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "m".into(),
            feature_service: "svc".into(),
            label: "y".into(),
            impute: Imputation::Mean,
            scale: Scaling::Standard,
            encode: Encoding::OneHot,
            select_k_best: Some(2),
            estimator: EstimatorSpec::GaussianNb {
                var_smoothing: 1e-9,
            },
        }],
    };
    defs.canonicalize();
    defs
}

/// A framed bundle for model `m`: a Gaussian naive Bayes fitted on 40 rows.
pub fn bundle_bytes() -> Vec<u8> {
    let defs = definitions();
    let columns = vec![
        ColumnMeta::new("stats:temp", DType::Float64),
        ColumnMeta::new("stats:pulse", DType::Float64),
        ColumnMeta::new("derived:excess", DType::Float64),
    ];
    let rows: Vec<Vec<Value>> = (0..40)
        .map(|i| {
            let t = 37.0 + f64::from(i % 7) * 0.4;
            let p = if i % 5 == 0 {
                Value::Null
            } else {
                Value::Float64(40.0 + f64::from(i * 13 % 50))
            };
            vec![Value::Float64(t), p, Value::Float64((t - 38.0f64).max(0.0))]
        })
        .collect();
    let y: Vec<Value> = (0..40)
        .map(|i| {
            Value::Int64(if 37.0 + f64::from(i % 7) * 0.4 > 38.2 {
                1
            } else {
                2
            })
        })
        .collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .impute(Some(Imputation::Mean))
    .scale(Scaling::Standard)
    .select_k_best(Some(2));
    let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    let plan = BundleContents::plan(&defs, "svc").unwrap();
    BundleContents {
        registry_id: registry().id().unwrap(),
        model: "m".into(),
        service: "svc".into(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        pipeline,
        training: TrainingMetadata {
            rows: 40,
            data_hash: ContentId::of(b"data"),
            label: "y".into(),
            metrics: vec![("holdout_accuracy".into(), 0.75)],
            trained_with: "verge-core".into(),
            trained_at: Timestamp(0),
        },
    }
    .to_bytes()
    .unwrap()
}

/// A framed snapshot of `stats`: ids 1..=3 fresh, null and stale, 4 with text and bools.
pub fn snapshot_bytes() -> Vec<u8> {
    let defs = definitions();
    let view = defs.feature_view("stats").unwrap();
    let mut b = ViewBuilder::new(
        "stats",
        defs.join_keys(view),
        view.fields.clone(),
        view.ttl,
        true,
    );
    let day = Duration::from_days(1).as_micros();
    let rows = [
        (
            1,
            10 * day,
            [
                Value::Float64(39.0),
                Value::Float64(80.0),
                Value::String("severe".into()),
                Value::Bool(true),
            ],
        ),
        (
            2,
            10 * day,
            [
                Value::Float64(37.5),
                Value::Null,
                Value::Null,
                Value::Bool(false),
            ],
        ),
        (
            3,
            9 * day - 1,
            [
                Value::Float64(38.0),
                Value::Float64(60.0),
                Value::String("mild".into()),
                Value::Null,
            ],
        ),
        (
            4,
            10 * day,
            [
                Value::Null,
                Value::Float64(44.0),
                Value::String("é☃".into()),
                Value::Bool(true),
            ],
        ),
    ];
    for (id, ts, values) in rows {
        b.push_row(&key(id), Timestamp(ts), Some(Timestamp(ts)), &values)
            .unwrap();
    }
    SnapshotBuilder::new(registry().id().unwrap(), Timestamp(0), Timestamp(10 * day))
        .with_view(b)
        .finish()
        .unwrap()
}

/// A second snapshot with a composite (string, int64) key: exercises the general index.
pub fn composite_snapshot_bytes() -> Vec<u8> {
    let mut b = ViewBuilder::new(
        "visits",
        vec![
            Field::new("clinic", DType::String),
            Field::new("id", DType::Int64),
        ],
        vec![
            Field::new("count", DType::Int64),
            Field::new("weight", DType::Float32),
        ],
        Duration::ZERO,
        false,
    );
    for (clinic, id, count) in [("north", 1, 3), ("north", 2, 1), ("south", 1, 7)] {
        let key = EntityKey(vec![KeyPart::String(clinic.into()), KeyPart::Int64(id)]);
        b.push_row(
            &key,
            Timestamp(5),
            None,
            &[Value::Int64(count), Value::Float32(410.5)],
        )
        .unwrap();
    }
    SnapshotBuilder::new(ContentId::of(b"composite"), Timestamp(0), Timestamp(10))
        .shard(0, 2)
        .with_view(b)
        .finish()
        .unwrap()
}

/// The registry version the fixture artifacts name.
pub fn registry() -> RegistryVersion {
    RegistryVersion::new(
        Some(ContentId::of(b"parent")),
        Timestamp::from_secs(1_700_000_000),
        "fuzz fixture",
        definitions(),
    )
}

/// [`registry`]'s canonical bytes.
pub fn registry_bytes() -> Vec<u8> {
    registry().to_bytes().unwrap()
}

/// The API over the fixture bundle and snapshot, with [`limits`].
pub fn api() -> Api {
    let predictor = Predictor::new(
        Bundle::load(&bundle_bytes()).unwrap(),
        Snapshot::load(snapshot_bytes()).unwrap(),
    )
    .unwrap();
    Api::new(predictor, limits())
}

fn key(id: i64) -> EntityKey {
    EntityKey::single(KeyPart::Int64(id))
}

/// The schema the expression fuzz target compiles against.
pub fn expr_schema() -> Schema {
    Schema::new(vec![
        ("x".into(), DType::Int64),
        ("y".into(), DType::Float64),
        ("f".into(), DType::Float32),
        ("s".into(), DType::String),
        ("b".into(), DType::Bool),
    ])
}

/// A row matching [`expr_schema`].
pub fn expr_row() -> Vec<Value> {
    vec![
        Value::Int64(-7),
        Value::Float64(2.5),
        Value::Float32(0.25),
        Value::String("severe".into()),
        Value::Bool(true),
    ]
}

/// Expressions covering every operator and function of the language (seeds).
pub const EXPRESSIONS: &[&str] = &[
    "x + 1",
    "x * 1000000000000 - 3",
    "y / 0.0",
    "-x",
    "abs(x) + abs(y)",
    "ln(y) + exp(f) + sqrt(y) + pow(y, 2)",
    "min(x, y, f) < max(x, 2, 3.5)",
    "clamp(x, -3, 3) == 3",
    r#"if(s == "severe", x, 0)"#,
    "is_null(x) or not b",
    "coalesce(null, x, 1)",
    "x != 2 and y >= 1e-3 or f <= 2.5E+2",
    r#"s > "a" and s != "chest \"pain\"\n\u{e9}""#,
    "((((x))))",
    "if(b, y, x) * 2",
    "coalesce(y, f, x) / 2",
    "true and null",
    "null + 1",
];

/// `(method, path, body)` requests in the shapes of `docs/http.md` (seeds).
pub const REQUESTS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/get-online-features",
        r#"{"features": ["stats:temp", "derived:excess"], "entities": {"id": [1, 2, 99]}, "request_context": {"ambient": [21.5, 19.0, null]}, "full_feature_names": false, "now": "1970-01-11T00:00:00Z"}"#,
    ),
    (
        "POST",
        "/get-online-features",
        r#"{"feature_service": "svc", "entities": {"id": [1, 3], "ambient": [20, 22.5]}, "full_feature_names": true}"#,
    ),
    (
        "POST",
        "/get-online-features",
        r#"{"features": ["stats:pain", "stats:lame"], "entities": {"id": [4]}}"#,
    ),
    (
        "POST",
        "/predict",
        r#"{"entities": {"id": [1]}, "request_context": {"ambient": [38.25]}, "now": "1970-01-11T00:00:00Z"}"#,
    ),
    ("POST", "/predict", r#"{"entities": {"id": [2, 3, 4]}}"#),
    ("GET", "/healthz", ""),
    ("GET", "/version", ""),
    ("PUT", "/predict", "{}"),
    ("GET", "/nope?x=1", ""),
];
