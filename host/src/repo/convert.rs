//! From the file's shapes ([`super::raw`]) to core definitions, collecting every
//! mistake with the file, the table, the object and the key it concerns.
//!
//! Conversion does not stop at the first problem: a user fixing a new
//! `verge.toml` should see all of them at once.

use verge_core::DType;
use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureRef, FeatureService, FeatureView, Field,
    Imputation, ModelSpec, ObjectKind, OnDemandFeatureView, OnDemandField, PushSource, Scaling,
};
use verge_core::expr::Program;

use super::duration;
use super::raw::{
    RawEntity, RawFeatureService, RawFeatureView, RawField, RawFile, RawJoinKey, RawModel,
    RawOnDemandView,
};
use crate::source::schema::SchemaHints;

mod source;
mod trees;

/// Scikit-learn's default for Gaussian naive Bayes.
const DEFAULT_VAR_SMOOTHING: f64 = 1e-9;
/// Scikit-learn's default inverse regularisation strength.
const DEFAULT_C: f64 = 1.0;
/// Scikit-learn's default iteration limit for logistic regression.
const DEFAULT_MAX_ITER: u32 = 100;

/// Collects problems, each already formatted with its location.
pub(crate) struct Converter<'a> {
    file: &'a str,
    pub problems: Vec<String>,
    /// What the schema check needs beyond the definitions: untyped join keys
    /// and `cast = true` fields.
    pub hints: SchemaHints,
}

impl<'a> Converter<'a> {
    pub fn new(file: &'a str) -> Self {
        Converter {
            file,
            problems: Vec::new(),
            hints: SchemaHints::default(),
        }
    }

    fn problem(&mut self, kind: ObjectKind, name: &str, key: &str, message: impl AsRef<str>) {
        self.problems.push(format!(
            "{}: [[{kind}]] \"{name}\": key \"{key}\": {}",
            self.file,
            message.as_ref()
        ));
    }

    fn dtype(&mut self, kind: ObjectKind, name: &str, key: &str, field: &RawField) -> DType {
        self.dtype_text(kind, name, key, &field.name, &field.dtype)
    }

    fn dtype_text(
        &mut self,
        kind: ObjectKind,
        name: &str,
        key: &str,
        field: &str,
        text: &str,
    ) -> DType {
        DType::parse(text).unwrap_or_else(|| {
            self.problem(
                kind,
                name,
                key,
                format!("field \"{field}\": {}", unknown_type(text)),
            );
            DType::String
        })
    }

    /// Converts the whole file; check [`Converter::problems`] afterwards.
    pub fn convert(&mut self, raw: RawFile) -> Definitions {
        let entities = raw.entity.into_iter().map(|e| self.entity(e)).collect();
        let sources = raw.source.into_iter().map(|s| self.source(s)).collect();
        let feature_views: Vec<FeatureView> = raw
            .feature_view
            .into_iter()
            .map(|v| self.feature_view(v))
            .collect();
        let on_demand_views: Vec<OnDemandFeatureView> = raw
            .on_demand_feature_view
            .into_iter()
            .map(|v| self.on_demand_view(v, &feature_views))
            .collect();
        let feature_services = raw
            .feature_service
            .into_iter()
            .map(|s| self.feature_service(s, &feature_views, &on_demand_views))
            .collect();
        let models = raw.model.into_iter().map(|m| self.model(m)).collect();
        // Nothing to interpret: validation checks that the batch source exists.
        let push_sources = raw
            .push_source
            .into_iter()
            .map(|p| PushSource {
                name: p.name,
                batch_source: p.batch_source,
                description: p.description,
            })
            .collect();
        Definitions {
            project: raw.project,
            entities,
            sources,
            feature_views,
            on_demand_views,
            feature_services,
            models,
            push_sources,
        }
    }

    fn entity(&mut self, e: RawEntity) -> Entity {
        let kind = ObjectKind::Entity;
        let default = match &e.dtype {
            None => DType::String,
            Some(text) => match DType::parse(text) {
                Some(t) if t.is_key() => t,
                _ => {
                    self.problem(
                        kind,
                        &e.name,
                        "dtype",
                        format!("\"{text}\" cannot type a join key; use \"int32\", \"int64\" or \"string\""),
                    );
                    DType::String
                }
            },
        };
        let join_keys = e
            .join_keys
            .iter()
            .map(|k| match k {
                RawJoinKey::Name(n) => {
                    if e.dtype.is_none() {
                        self.hints.untyped_key(&e.name, n);
                    }
                    Field::new(n.clone(), default)
                }
                RawJoinKey::Typed(f) => match &f.dtype {
                    Some(text) => Field::new(
                        f.name.clone(),
                        self.dtype_text(kind, &e.name, "join_keys", &f.name, text),
                    ),
                    None => {
                        self.hints.untyped_key(&e.name, &f.name);
                        Field::new(f.name.clone(), default)
                    }
                },
            })
            .collect();
        Entity {
            name: e.name,
            join_keys,
            description: e.description,
        }
    }

    fn feature_view(&mut self, v: RawFeatureView) -> FeatureView {
        let kind = ObjectKind::FeatureView;
        let ttl = match &v.ttl {
            None => verge_core::Duration::ZERO,
            Some(toml::Value::Integer(0)) => verge_core::Duration::ZERO,
            Some(toml::Value::String(text)) => duration::parse(text).unwrap_or_else(|| {
                self.problem(
                    kind,
                    &v.name,
                    "ttl",
                    format!("\"{text}\" is not a duration; {}", duration::HINT),
                );
                verge_core::Duration::ZERO
            }),
            Some(other) => {
                self.problem(
                    kind,
                    &v.name,
                    "ttl",
                    format!(
                        "{other} is not a duration (a number needs a unit); {}",
                        duration::HINT
                    ),
                );
                verge_core::Duration::ZERO
            }
        };
        let fields = v
            .fields
            .iter()
            .map(|f| {
                if f.cast {
                    self.hints.cast_field(&v.name, &f.name);
                }
                Field::new(f.name.clone(), self.dtype(kind, &v.name, "fields", f))
            })
            .collect();
        FeatureView {
            name: v.name,
            entities: v.entities,
            source: v.source,
            ttl,
            online: v.online,
            fields,
            description: v.description,
            owner: v.owner,
            tags: v.tags.into_iter().collect(),
        }
    }

    fn on_demand_view(&mut self, v: RawOnDemandView, views: &[FeatureView]) -> OnDemandFeatureView {
        let kind = ObjectKind::OnDemandFeatureView;
        let request = v
            .request
            .iter()
            .map(|f| {
                if f.cast {
                    // Request data comes with each call, not from a source:
                    // there is no column to narrow.
                    self.problem(
                        kind,
                        &v.name,
                        "request",
                        format!("field \"{}\": `cast` applies only to feature-view fields (read from a source); remove it", f.name),
                    );
                }
                Field::new(f.name.clone(), self.dtype(kind, &v.name, "request", f))
            })
            .collect();
        let mut out = OnDemandFeatureView {
            name: v.name,
            sources: v.sources,
            request,
            fields: Vec::new(),
        };
        let schema = match out.input_schema(views) {
            Ok(schema) => schema,
            Err(e) => {
                self.problem(kind, &out.name, "sources", e.to_string());
                return out;
            }
        };
        for f in &v.fields {
            let dtype = self.dtype_text(kind, &out.name, "fields", &f.name, &f.dtype);
            match Program::compile(&f.expr, &schema) {
                Ok(program) => out.fields.push(OnDemandField {
                    name: f.name.clone(),
                    dtype,
                    program,
                }),
                Err(e) => self.problem(
                    kind,
                    &out.name,
                    "fields",
                    format!("field \"{}\": expr: {e}", f.name),
                ),
            }
        }
        out
    }

    /// A service's features: `view:field`, or a view's name alone for all of
    /// its fields in order (as Feast's `FeatureService(features=[view])`).
    fn feature_service(
        &mut self,
        s: RawFeatureService,
        views: &[FeatureView],
        on_demand: &[OnDemandFeatureView],
    ) -> FeatureService {
        let kind = ObjectKind::FeatureService;
        let mut features = Vec::with_capacity(s.features.len());
        for text in &s.features {
            let whole_view: Option<Vec<&str>> = views
                .iter()
                .find(|v| v.name == *text)
                .map(|v| v.fields.iter().map(|f| f.name.as_str()).collect())
                .or_else(|| {
                    on_demand
                        .iter()
                        .find(|v| v.name == *text)
                        .map(|v| v.fields.iter().map(|f| f.name.as_str()).collect())
                });
            match (FeatureRef::parse(text), whole_view) {
                (Some(r), _) => features.push(r),
                (None, Some(fields)) => features.extend(fields.into_iter().map(|f| FeatureRef {
                    view: text.clone(),
                    field: f.to_owned(),
                })),
                (None, None) => self.problem(
                    kind,
                    &s.name,
                    "features",
                    format!(
                        "\"{text}\" is not a feature reference; write \"view:field\", or the name of a view for all its fields"
                    ),
                ),
            }
        }
        FeatureService {
            name: s.name,
            features,
            description: s.description,
        }
    }

    fn model(&mut self, m: RawModel) -> ModelSpec {
        let kind = ObjectKind::Model;
        let name = m.name.clone();
        // Trees route missing values themselves, so they default to no imputer.
        let tree = matches!(m.estimator.as_deref(), Some("xgboost" | "lightgbm"));
        let default = if tree { "none" } else { "mean" };
        let impute = match (m.impute.as_deref().unwrap_or(default), m.impute_value) {
            ("none", None) => Imputation::None,
            ("mean", None) => Imputation::Mean,
            ("median", None) => Imputation::Median,
            ("most_frequent", None) => Imputation::MostFrequent,
            ("constant", Some(x)) => Imputation::Constant(x),
            ("constant", None) => {
                self.problem(
                    kind,
                    &name,
                    "impute_value",
                    "impute = \"constant\" needs `impute_value = <number>`",
                );
                Imputation::Mean
            }
            ("none" | "mean" | "median" | "most_frequent", Some(_)) => {
                self.problem(
                    kind,
                    &name,
                    "impute_value",
                    "only impute = \"constant\" takes a value; remove it",
                );
                Imputation::Mean
            }
            (other, _) => {
                self.problem(
                    kind,
                    &name,
                    "impute",
                    format!("\"{other}\" is not an imputation; use mean, median, most_frequent, constant, or none (tree models)"),
                );
                Imputation::Mean
            }
        };
        let scale = match m.scale.as_deref().unwrap_or("none") {
            "none" => Scaling::None,
            "standard" => Scaling::Standard,
            "minmax" => Scaling::MinMax,
            other => {
                self.problem(
                    kind,
                    &name,
                    "scale",
                    format!("\"{other}\" is not a scaling; use none, standard or minmax"),
                );
                Scaling::None
            }
        };
        // An imported model's categorical inputs are codes already; default to ordinal
        // there so a text feature stays one column, as the model was trained.
        let encode = match m
            .encode
            .as_deref()
            .unwrap_or(if tree { "ordinal" } else { "one_hot" })
        {
            "one_hot" => Encoding::OneHot,
            "ordinal" => Encoding::Ordinal,
            other => {
                self.problem(
                    kind,
                    &name,
                    "encode",
                    format!("\"{other}\" is not an encoding; use one_hot or ordinal"),
                );
                Encoding::OneHot
            }
        };
        let estimator = self.estimator(&m);
        ModelSpec {
            name: m.name,
            feature_service: m.feature_service,
            label: m.label,
            impute,
            scale,
            encode,
            select_k_best: m.select_k_best,
            estimator,
        }
    }

    fn estimator(&mut self, m: &RawModel) -> EstimatorSpec {
        let kind = ObjectKind::Model;
        let name = m.estimator.as_deref().unwrap_or("gaussian_nb");
        // Hyper-parameters of another estimator are a mistake, not something to ignore.
        let refuse = |this: &mut Self, key: &str, given: bool| {
            if given {
                this.problem(
                    kind,
                    &m.name,
                    key,
                    format!("estimator \"{name}\" does not take `{key}`; remove it"),
                );
            }
        };
        if !matches!(name, "xgboost" | "lightgbm") {
            refuse(self, "model_file", m.model_file.is_some());
        }
        if matches!(name, "random_forest" | "decision_tree") {
            refuse(self, "var_smoothing", m.var_smoothing.is_some());
            refuse(self, "c", m.c.is_some());
            refuse(self, "max_iter", m.max_iter.is_some());
            return self.smartcore_estimator(m, name == "random_forest");
        }
        for (key, given) in trees::keys(m) {
            refuse(self, key, given);
        }
        match name {
            "xgboost" | "lightgbm" => {
                refuse(self, "var_smoothing", m.var_smoothing.is_some());
                refuse(self, "c", m.c.is_some());
                refuse(self, "max_iter", m.max_iter.is_some());
                let model_file = m.model_file.clone().unwrap_or_else(|| {
                    self.problem(
                        kind,
                        &m.name,
                        "model_file",
                        format!("estimator \"{name}\" imports a trained model; add `model_file = \"path/to/model.{}\"` (relative to the repository)", if name == "xgboost" { "json" } else { "txt" }),
                    );
                    String::new()
                });
                if name == "xgboost" {
                    EstimatorSpec::XgBoost { model_file }
                } else {
                    EstimatorSpec::LightGbm { model_file }
                }
            }
            "gaussian_nb" => {
                refuse(self, "c", m.c.is_some());
                refuse(self, "max_iter", m.max_iter.is_some());
                EstimatorSpec::GaussianNb {
                    var_smoothing: m.var_smoothing.unwrap_or(DEFAULT_VAR_SMOOTHING),
                }
            }
            "logistic_regression" => {
                refuse(self, "var_smoothing", m.var_smoothing.is_some());
                EstimatorSpec::LogisticRegression {
                    c: m.c.unwrap_or(DEFAULT_C),
                    max_iter: m.max_iter.unwrap_or(DEFAULT_MAX_ITER),
                }
            }
            "linear_regression" => {
                refuse(self, "var_smoothing", m.var_smoothing.is_some());
                refuse(self, "c", m.c.is_some());
                refuse(self, "max_iter", m.max_iter.is_some());
                EstimatorSpec::LinearRegression
            }
            other => {
                self.problem(
                    kind,
                    &m.name,
                    "estimator",
                    format!("\"{other}\" is not an estimator; use gaussian_nb, logistic_regression, linear_regression, random_forest, decision_tree, xgboost or lightgbm"),
                );
                EstimatorSpec::GaussianNb {
                    var_smoothing: DEFAULT_VAR_SMOOTHING,
                }
            }
        }
    }
}

/// Why `text` is not a type, and which names are.
fn unknown_type(text: &str) -> String {
    format!(
        "\"{text}\" is not a type; use one of {} (names are case-insensitive, so Feast's Float32 is float32 and Array(Int64) is array<int64>)",
        DType::NAMES
    )
}
