//! The tiny deployment: definitions → a fitted bundle + a snapshot, small enough
//! to build in a millisecond and rich enough to reach every status, every value
//! type and the on-demand path.
//!
//! One entity `horse` (int64 `id`), a view `stats` (`temp`, `pulse`, …), an
//! on-demand view `derived` computing `excess` from request field `ambient`, a
//! service `svc` (`stats:temp`, `stats:pulse`, `derived:excess`) and a Gaussian
//! naive Bayes model `m` fitted on rows generated from a formula.
//!
//! The tests differ in what they need around that shape, so [`Tiny`] names the
//! knobs and three presets fix them:
//!
//! | preset | used by | what it adds |
//! | --- | --- | --- |
//! | [`Tiny::rich`] | fuzz targets, seeds, hostile-input tests | strings and bools, created times, a real registry version, standard scaling |
//! | [`Tiny::plain`] | the core's online tests | two numbers; [`Tiny::with_field`] makes an incompatible twin |
//! | [`Tiny::many`] | the Worker tests | 2000 entities; `variant` shifts data so ids differ |
//!
//! The free functions ([`definitions`], [`bundle_bytes`], [`snapshot_bytes`],
//! [`registry`], [`api`], …) are [`Tiny::rich`]'s, under the names the fuzz
//! targets use: a crash the fuzzer finds against them replays byte for byte as a
//! test in `cargo test`.

use verge_core::api::{Api, Limits};
use verge_core::artifact::{
    Bundle, BundleContents, ModelPart, Snapshot, SnapshotBuilder, TrainingMetadata, ViewBuilder,
    shard_of,
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

/// How many entities [`Tiny::many`]'s snapshot holds.
pub const MANY: i64 = 2000;

/// The naive Bayes every preset fits.
const NB: EstimatorSpec = EstimatorSpec::GaussianNb {
    var_smoothing: 1e-9,
};

/// What a [`Tiny`] snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Ids 1..=3 fresh, null and stale (a day and a microsecond old at [`now`]),
    /// 4 with text and bools; every row carries a created time.
    Rich,
    /// Ids 1..=3 as in `Rich`, numbers only, no created times; fields past
    /// `temp` and `pulse` are null.
    Plain,
    /// Ids `0..entities`: every 17th stale, every 9th with a null pulse.
    Many {
        /// How many entities.
        entities: i64,
    },
}

/// A tiny deployment's knobs; see the module docs for the presets.
#[derive(Debug, Clone)]
pub struct Tiny {
    /// The project name in the definitions.
    pub project: &'static str,
    /// The `stats` view's fields; the service reads `temp` and `pulse`.
    pub fields: Vec<Field>,
    /// Whether the view has a description, an owner and a tag.
    pub documented: bool,
    /// The on-demand `excess` expression, over `ambient` and the view's fields.
    pub excess: &'static str,
    /// Model `m`'s scaling.
    pub scale: Scaling,
    /// Model `m`'s SelectKBest.
    pub select_k_best: Option<u32>,
    /// How many generated training rows the model is fitted on.
    pub training_rows: usize,
    /// Shifts training temperatures by 0.3 and snapshot temperatures by 0.1 per step.
    pub variant: u32,
    /// The registry id the bundle and the snapshot name.
    pub registry_id: ContentId,
    /// The training metrics the bundle carries.
    pub metrics: Vec<(String, f64)>,
    /// The training data hash the bundle carries.
    pub data_hash: ContentId,
    /// What the snapshot holds.
    pub rows: Rows,
}

impl Tiny {
    /// The fuzz fixture: `temp`, `pulse`, a string `pain`, a bool `lame`.
    #[must_use]
    pub fn rich() -> Tiny {
        let mut tiny = Tiny {
            project: "fuzz",
            fields: vec![
                Field::new("temp", DType::Float64),
                Field::new("pulse", DType::Float64),
                Field::new("pain", DType::String),
                Field::new("lame", DType::Bool),
            ],
            documented: true,
            excess: r#"if(pain == "severe", temp, max(temp - ambient, 0))"#,
            scale: Scaling::Standard,
            select_k_best: Some(2),
            training_rows: 40,
            variant: 0,
            registry_id: ContentId::of(b"registry"),
            metrics: vec![("holdout_accuracy".into(), 0.75)],
            data_hash: ContentId::of(b"data"),
            rows: Rows::Rich,
        };
        tiny.registry_id = tiny.registry().id().expect("the fixture registry encodes");
        tiny
    }

    /// Two numbers, `temp` and `pulse`; `excess = max(temp - ambient, 0)`.
    #[must_use]
    pub fn plain() -> Tiny {
        Tiny {
            project: "test",
            fields: vec![
                Field::new("temp", DType::Float64),
                Field::new("pulse", DType::Float64),
            ],
            documented: false,
            excess: "max(temp - ambient, 0)",
            scale: Scaling::None,
            select_k_best: Some(2),
            training_rows: 40,
            variant: 0,
            registry_id: ContentId::of(b"registry"),
            metrics: vec![],
            data_hash: ContentId::of(b"data"),
            rows: Rows::Plain,
        }
    }

    /// [`Tiny::plain`] with [`MANY`] entities and 60 training rows, no SelectKBest;
    /// each `variant` gives a pair with other ids.
    #[must_use]
    pub fn many(variant: u32) -> Tiny {
        Tiny {
            project: "worker-test",
            select_k_best: None,
            training_rows: 60,
            variant,
            data_hash: ContentId::of(&variant.to_le_bytes()),
            rows: Rows::Many { entities: MANY },
            ..Tiny::plain()
        }
    }

    /// [`Tiny::many`] with `entities` entities (ids `0..entities`) in the
    /// snapshot, for tests at scale.
    #[must_use]
    pub fn with_entities(mut self, entities: i64) -> Tiny {
        self.rows = Rows::Many { entities };
        self
    }

    /// The same deployment with one more float64 field in `stats`: its snapshot
    /// no longer fits the original's bundle.
    #[must_use]
    pub fn with_field(mut self, name: &str) -> Tiny {
        self.fields.push(Field::new(name, DType::Float64));
        self
    }

    /// The canonical definitions.
    ///
    /// # Panics
    ///
    /// When `excess` does not compile against the view.
    #[must_use]
    pub fn definitions(&self) -> Definitions {
        let mut defs = Definitions {
            project: self.project.into(),
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
            feature_views: vec![self.view()],
            on_demand_views: vec![self.derived()],
            feature_services: vec![FeatureService {
                name: "svc".into(),
                features: ["stats:temp", "stats:pulse", "derived:excess"]
                    .iter()
                    .map(|r| FeatureRef::parse(r).expect("a valid reference"))
                    .collect(),
                description: String::new(),
            }],
            models: vec![ModelSpec {
                name: "m".into(),
                feature_service: "svc".into(),
                label: "y".into(),
                impute: Imputation::Mean,
                scale: self.scale,
                encode: Encoding::OneHot,
                select_k_best: self.select_k_best,
                estimator: NB,
            }],
            push_sources: vec![],
        };
        defs.canonicalize();
        defs
    }

    fn view(&self) -> FeatureView {
        let (description, owner, tags) = if self.documented {
            (
                "vital signs".into(),
                "vet@example.invalid".into(),
                vec![("team".into(), "clinic".into())],
            )
        } else {
            (String::new(), String::new(), vec![])
        };
        FeatureView {
            name: "stats".into(),
            entities: vec!["horse".into()],
            source: "records".into(),
            ttl: Duration::from_days(1),
            online: true,
            fields: self.fields.clone(),
            description,
            owner,
            tags,
        }
    }

    fn derived(&self) -> OnDemandFeatureView {
        let mut schema = vec![("ambient".to_string(), DType::Float64)];
        schema.extend(self.fields.iter().map(|f| (f.name.clone(), f.dtype)));
        let program = Program::compile(self.excess, &Schema::new(schema))
            .unwrap_or_else(|e| panic!("`{}` does not compile: {e}", self.excess));
        OnDemandFeatureView {
            name: "derived".into(),
            sources: vec!["stats".into()],
            request: vec![Field::new("ambient", DType::Float64)],
            fields: vec![OnDemandField {
                name: "excess".into(),
                dtype: DType::Float64,
                program,
            }],
        }
    }

    /// The registry version over [`Tiny::definitions`] (what [`Tiny::rich`] names).
    #[must_use]
    pub fn registry(&self) -> RegistryVersion {
        RegistryVersion::new(
            Some(ContentId::of(b"parent")),
            Timestamp::from_secs(1_700_000_000),
            "fuzz fixture",
            self.definitions(),
        )
    }

    /// The generated training set: service-order rows and labels (1 above 38.2°, else 2).
    #[must_use]
    pub fn training_set(&self) -> (Vec<Vec<Value>>, Vec<Value>) {
        let shift = f64::from(self.variant) * 0.3;
        let temp = |i: usize| 37.0 + (i % 7) as f64 * 0.4 + shift;
        let rows = (0..self.training_rows)
            .map(|i| {
                let pulse = if i % 5 == 0 {
                    Value::Null
                } else {
                    Value::Float64(40.0 + (i * 13 % 50) as f64)
                };
                vec![
                    Value::Float64(temp(i)),
                    pulse,
                    Value::Float64((temp(i) - 38.0).max(0.0)),
                ]
            })
            .collect();
        let labels = (0..self.training_rows)
            .map(|i| Value::Int64(if temp(i) > 38.2 { 1 } else { 2 }))
            .collect();
        (rows, labels)
    }

    /// A framed bundle for model `m`.
    ///
    /// # Panics
    ///
    /// When fitting or encoding fails (a broken fixture).
    #[must_use]
    pub fn bundle_bytes(&self) -> Vec<u8> {
        self.bundle_bytes_for(Some("m"))
    }

    /// A framed bundle of service `svc`: for model `model` (fitted as `m`
    /// is), or with `None` the service's feature bundle (no model).
    ///
    /// # Panics
    ///
    /// When fitting or encoding fails (a broken fixture).
    #[must_use]
    pub fn bundle_bytes_for(&self, model: Option<&str>) -> Vec<u8> {
        let defs = self.definitions();
        let columns = vec![
            ColumnMeta::new("stats:temp", DType::Float64),
            ColumnMeta::new("stats:pulse", DType::Float64),
            ColumnMeta::new("derived:excess", DType::Float64),
        ];
        let (rows, y) = self.training_set();
        let params = PipelineParams::new(NB)
            .impute(Some(Imputation::Mean))
            .scale(self.scale)
            .select_k_best(self.select_k_best.map(|k| k as usize));
        let pipeline = fit_pipeline(&params, &columns, &rows, &y).expect("the fixture fits");
        let plan = BundleContents::plan(&defs, "svc").expect("the fixture plans");
        BundleContents {
            registry_id: self.registry_id,
            service: "svc".into(),
            entity_keys: plan.entity_keys,
            request: plan.request,
            views: plan.views,
            features: plan.features,
            model: model.map(|name| ModelPart {
                name: name.into(),
                pipeline,
                training: TrainingMetadata {
                    rows: self.training_rows as u64,
                    data_hash: self.data_hash,
                    label: "y".into(),
                    metrics: self.metrics.clone(),
                    trained_with: "verge-core".into(),
                    trained_at: Timestamp(0),
                },
            }),
        }
        .to_bytes()
        .expect("the fixture bundle encodes")
    }

    /// A framed snapshot of `stats` over the window day 0 to day 10.
    ///
    /// # Panics
    ///
    /// When building fails (a broken fixture).
    #[must_use]
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        self.shard_bytes(0, 1)
    }

    /// Shard `index` of the snapshot split `count` ways: the rows whose key
    /// [`shard_of`](verge_core::artifact::shard_of) routes there, as
    /// `verge materialize --shards` would cut them (`count` 1: the whole
    /// snapshot).
    ///
    /// # Panics
    ///
    /// When building fails (a broken fixture).
    #[must_use]
    pub fn shard_bytes(&self, index: u32, count: u32) -> Vec<u8> {
        let defs = self.definitions();
        let view = defs.feature_view("stats").expect("the fixture has `stats`");
        let created = self.rows == Rows::Rich;
        let mut b = ViewBuilder::new(
            "stats",
            defs.join_keys(view),
            view.fields.clone(),
            view.ttl,
            created,
        );
        let rows = self.snapshot_rows().into_iter();
        for (id, ts, mut values) in rows.filter(|(id, _, _)| shard_of(&key(*id), count) == index) {
            values.resize(view.fields.len(), Value::Null);
            let created_ts = created.then_some(Timestamp(ts));
            b.push_row(&key(id), Timestamp(ts), created_ts, &values)
                .expect("the fixture rows fit the view");
        }
        SnapshotBuilder::new(self.registry_id, Timestamp(0), Timestamp(10 * DAY))
            .shard(index, count)
            .with_view(b)
            .finish()
            .expect("the fixture snapshot builds")
    }

    /// `(id, event time, values)` of every snapshot row, before null padding.
    fn snapshot_rows(&self) -> Vec<(i64, i64, Vec<Value>)> {
        match self.rows {
            Rows::Rich => rich_rows(),
            Rows::Plain => rich_rows()
                .into_iter()
                .take(3)
                .map(|(id, ts, v)| (id, ts, v[..2].to_vec()))
                .collect(),
            Rows::Many { entities } => (0..entities)
                .map(|id| {
                    let ts = if id % 17 == 0 { 8 * DAY } else { 10 * DAY - id };
                    let temp = 37.0 + (id % 11) as f64 * 0.25 + f64::from(self.variant) * 0.1;
                    let pulse = if id % 9 == 0 {
                        Value::Null
                    } else {
                        Value::Float64(30.0 + (id % 60) as f64)
                    };
                    (id, ts, vec![Value::Float64(temp), pulse])
                })
                .collect(),
        }
    }

    /// The loaded pair.
    ///
    /// # Panics
    ///
    /// When the pair does not load (a broken fixture).
    #[must_use]
    pub fn predictor(&self) -> Predictor {
        Predictor::new(
            Bundle::load(&self.bundle_bytes()).expect("the fixture bundle loads"),
            Snapshot::load(self.snapshot_bytes()).expect("the fixture snapshot loads"),
        )
        .expect("the fixture pair is compatible")
    }
}

/// A day in microseconds.
const DAY: i64 = 86_400_000_000;

fn rich_rows() -> Vec<(i64, i64, Vec<Value>)> {
    vec![
        (
            1,
            10 * DAY,
            vec![
                Value::Float64(39.0),
                Value::Float64(80.0),
                Value::String("severe".into()),
                Value::Bool(true),
            ],
        ),
        (
            2,
            10 * DAY,
            vec![
                Value::Float64(37.5),
                Value::Null,
                Value::Null,
                Value::Bool(false),
            ],
        ),
        (
            3,
            9 * DAY - 1,
            vec![
                Value::Float64(38.0),
                Value::Float64(60.0),
                Value::String("mild".into()),
                Value::Null,
            ],
        ),
        (
            4,
            10 * DAY,
            vec![
                Value::Null,
                Value::Float64(44.0),
                Value::String("é☃".into()),
                Value::Bool(true),
            ],
        ),
    ]
}

/// The single int64 key `id`.
#[must_use]
pub fn key(id: i64) -> EntityKey {
    EntityKey::single(KeyPart::Int64(id))
}

/// The request time every fixture request is evaluated at: day 10.
#[must_use]
pub fn now() -> Timestamp {
    Timestamp(10 * DAY)
}

/// The limits the fixture API serves with: small, so the 413 paths are cheap to reach.
#[must_use]
pub fn limits() -> Limits {
    Limits {
        max_body_bytes: 64 << 10,
        max_entities: 100,
        ..Limits::default()
    }
}

/// [`Tiny::rich`]'s definitions.
#[must_use]
pub fn definitions() -> Definitions {
    Tiny::rich().definitions()
}

/// [`Tiny::rich`]'s bundle.
#[must_use]
pub fn bundle_bytes() -> Vec<u8> {
    Tiny::rich().bundle_bytes()
}

/// [`Tiny::rich`]'s snapshot.
#[must_use]
pub fn snapshot_bytes() -> Vec<u8> {
    Tiny::rich().snapshot_bytes()
}

/// The registry version [`Tiny::rich`]'s artifacts name.
#[must_use]
pub fn registry() -> RegistryVersion {
    Tiny::rich().registry()
}

/// [`registry`]'s canonical bytes.
///
/// # Panics
///
/// When the registry does not encode (a broken fixture).
#[must_use]
pub fn registry_bytes() -> Vec<u8> {
    registry().to_bytes().expect("the fixture registry encodes")
}

/// The API over [`Tiny::rich`]'s pair, with [`limits`].
#[must_use]
pub fn api() -> Api {
    Api::new(Tiny::rich().predictor(), limits())
}

pub use seeds::{
    EXPRESSIONS, REQUESTS, composite_snapshot_bytes, expr_row, expr_schema, typed_snapshot_bytes,
};

mod seeds;
#[cfg(test)]
mod tests;
