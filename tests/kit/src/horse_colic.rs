//! The horse-colic pair the edge tests and the Wasm benchmark share: a bundle +
//! snapshot built from the UCI data through the core (the same calls `verge
//! train` and `verge materialize` make): 8 float features, mean imputation,
//! SelectKBest k = 5, Gaussian naive Bayes, optionally an on-demand feature fed
//! by request data. Every 7th row is past the view's ttl at [`now`].

use verge_core::artifact::{
    BundleContents, ModelPart, SnapshotBuilder, TrainingMetadata, ViewBuilder,
};
use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, OnDemandFeatureView, OnDemandField, Scaling, Source, SourceFormat,
};
use verge_core::expr::{Program, Schema};
use verge_core::pipeline::{ColumnMeta, PipelineParams, fit_pipeline};
use verge_core::{ContentId, DType, Duration, EntityKey, KeyPart, Timestamp, Value};

/// The UCI horse-colic training file (300 visits, whitespace separated, `?` for missing).
pub const DATA: &str = include_str!("../../../examples/horse-colic/data/horse-colic.data");

/// The view's fields and their (1-based) UCI columns.
pub const FIELDS: [(&str, usize); 8] = [
    ("rectal_temperature", 4),
    ("pulse", 5),
    ("respiratory_rate", 6),
    ("pain", 11),
    ("nasogastric_reflux_ph", 16),
    ("packed_cell_volume", 19),
    ("total_protein", 20),
    ("abdomcentesis_total_protein", 22),
];
const HOSPITAL_NUMBER: usize = 3;
const LABEL: usize = 24;
/// The feature view.
pub const VIEW: &str = "horse_colic_stats";
/// The view's ttl in days.
pub const TTL_DAYS: i64 = 30;

/// `now` for the fixture: the snapshot window's end.
pub fn now() -> Timestamp {
    Timestamp::from_secs(1_625_486_400) // 2021-07-05T12:00:00Z
}

/// A bundle + snapshot pair and what went into it.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The framed bundle.
    pub bundle: Vec<u8>,
    /// The framed snapshot.
    pub snapshot: Vec<u8>,
    /// Hospital numbers in the snapshot.
    pub keys: Vec<i64>,
    /// Feature rows of the training set (service order), for scoring.
    pub rows: Vec<Vec<Value>>,
}

fn definitions(on_demand: bool) -> Definitions {
    let fields: Vec<Field> = FIELDS
        .iter()
        .map(|(n, _)| Field::new(*n, DType::Float64))
        .collect();
    let mut features: Vec<FeatureRef> = FIELDS
        .iter()
        .map(|(n, _)| {
            FeatureRef::parse(&format!("{VIEW}:{n}"))
                .expect("the horse-colic fixture is known good")
        })
        .collect();
    let mut on_demand_views = vec![];
    if on_demand {
        let mut schema = vec![("ambient_temperature".to_string(), DType::Float64)];
        schema.extend(fields.iter().map(|f| (f.name.clone(), f.dtype)));
        let program = Program::compile(
            "max(rectal_temperature - 38.5, 0) + ambient_temperature / 100",
            &Schema::new(schema),
        )
        .expect("the horse-colic fixture is known good");
        on_demand_views.push(OnDemandFeatureView {
            name: "derived".into(),
            sources: vec![VIEW.into()],
            request: vec![Field::new("ambient_temperature", DType::Float64)],
            fields: vec![OnDemandField {
                name: "fever".into(),
                dtype: DType::Float64,
                program,
            }],
        });
        features.push(
            FeatureRef::parse("derived:fever").expect("the horse-colic fixture is known good"),
        );
    }
    let mut defs = Definitions {
        project: "horse_colic".into(),
        entities: vec![Entity {
            name: "horse".into(),
            join_keys: vec![Field::new("hospital_number", DType::Int64)],
            description: String::new(),
        }],
        sources: vec![Source {
            name: "records".into(),
            path: "horse_colic.csv".into(),
            format: SourceFormat::Csv,
            timestamp_field: "event_timestamp".into(),
            created_timestamp_field: None,
            field_mapping: vec![],
        }],
        feature_views: vec![FeatureView {
            name: VIEW.into(),
            entities: vec!["horse".into()],
            source: "records".into(),
            ttl: Duration::from_days(TTL_DAYS),
            online: true,
            fields,
            description: String::new(),
            owner: String::new(),
            tags: vec![],
        }],
        on_demand_views,
        feature_services: vec![FeatureService {
            name: "surgery_v1".into(),
            features,
            description: String::new(),
        }],
        models: vec![ModelSpec {
            name: "surgical_lesion".into(),
            feature_service: "surgery_v1".into(),
            label: "surgical_lesion".into(),
            impute: Imputation::Mean,
            scale: Scaling::None,
            encode: Encoding::OneHot,
            select_k_best: Some(5),
            estimator: EstimatorSpec::GaussianNb {
                var_smoothing: 1e-9,
            },
        }],
        push_sources: vec![],
    };
    defs.canonicalize();
    defs
}

/// The horse-colic fixture: 8 float features (mean imputation, SelectKBest k = 5,
/// Gaussian naive Bayes), plus an on-demand feature fed by request data when
/// `on_demand`.
pub fn fixture(on_demand: bool) -> Fixture {
    let defs = definitions(on_demand);
    let cell = |s: &str| s.parse().map_or(Value::Null, Value::Float64);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut records = Vec::new();
    for line in DATA.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Value::Float64(y) = cell(f[LABEL - 1]) else {
            continue;
        };
        let mut row: Vec<Value> = FIELDS.iter().map(|(_, c)| cell(f[c - 1])).collect();
        let key: i64 = f[HOSPITAL_NUMBER - 1]
            .parse()
            .expect("the horse-colic fixture is known good");
        records.push((key, row.clone()));
        if on_demand {
            let fever = match row[0] {
                Value::Float64(t) => Value::Float64((t - 38.5f64).max(0.0) + 0.2),
                _ => Value::Null,
            };
            row.push(fever);
        }
        rows.push(row);
        labels.push(Value::Int64(y as i64));
    }
    let plan =
        BundleContents::plan(&defs, "surgery_v1").expect("the horse-colic fixture is known good");
    let columns: Vec<ColumnMeta> = plan
        .features
        .iter()
        .map(|f| ColumnMeta::new(f.name(), DType::Float64))
        .collect();
    let params = PipelineParams::new(EstimatorSpec::GaussianNb {
        var_smoothing: 1e-9,
    })
    .impute(Some(Imputation::Mean))
    .select_k_best(Some(5));
    let pipeline = fit_pipeline(&params, &columns, &rows, &labels)
        .expect("the horse-colic fixture is known good");
    let registry_id = ContentId::of(b"horse-colic registry");
    let bundle = BundleContents {
        registry_id,
        service: "surgery_v1".into(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        model: Some(ModelPart {
            name: "surgical_lesion".into(),
            pipeline,
            training: TrainingMetadata {
                rows: rows.len() as u64,
                data_hash: ContentId::of(DATA.as_bytes()),
                label: "surgical_lesion".into(),
                metrics: vec![],
                trained_with: "verge-core".into(),
                trained_at: now(),
            },
        }),
    }
    .to_bytes()
    .expect("the horse-colic fixture is known good");

    let view = defs
        .feature_view(VIEW)
        .expect("the horse-colic fixture is known good");
    let mut b = ViewBuilder::new(
        VIEW,
        defs.join_keys(view),
        view.fields.clone(),
        view.ttl,
        false,
    );
    let hour = 3_600_000_000i64;
    let mut keys = Vec::new();
    for (i, (key, values)) in records.into_iter().enumerate() {
        if keys.contains(&key) {
            continue; // a few horses were admitted twice; the snapshot keeps the first
        }
        // Every 7th row is older than the ttl at `now`: OUTSIDE_MAX_AGE.
        let age = if i % 7 == 3 {
            (TTL_DAYS * 24 + 5) * hour
        } else {
            (i as i64 % 500) * hour
        };
        b.push_row(
            &EntityKey::single(KeyPart::Int64(key)),
            Timestamp(now().as_micros() - age),
            None,
            &values,
        )
        .expect("the horse-colic fixture is known good");
        keys.push(key);
    }
    let snapshot = SnapshotBuilder::new(registry_id, Timestamp(0), now())
        .with_view(b)
        .finish()
        .expect("the horse-colic fixture is known good");
    Fixture {
        bundle,
        snapshot,
        keys,
        rows,
    }
}
