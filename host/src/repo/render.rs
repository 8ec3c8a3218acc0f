//! Definitions back to `verge.toml` text.
//!
//! `verge registry show` prints an old version in the same language the user
//! writes, so any version can be read at a glance, diffed with plain tools, or
//! restored by saving the output as `verge.toml`. Parsing the rendered text gives
//! back equal definitions (tested below).

use std::fmt::Write as _;

use verge_core::definition::{
    Definitions, Encoding, Entity, EstimatorSpec, FeatureService, FeatureView, Field, Imputation,
    ModelSpec, OnDemandFeatureView, Scaling, Source, SourceFormat, SplitCriterion, TreeParams,
    TreeTask,
};

use super::duration;

/// Renders `defs` as a `verge.toml` document.
///
/// # Examples
///
/// ```
/// use verge_core::definition::Definitions;
/// let defs = Definitions { project: "demo".into(), ..Definitions::default() };
/// let text = verge_host::repo::render::to_toml(&defs);
/// assert_eq!(text, "project = \"demo\"\n");
/// assert_eq!(verge_host::repo::parse_str(&text, "verge.toml").unwrap(), defs);
/// ```
#[must_use]
pub fn to_toml(defs: &Definitions) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, so the fmt::Results below are ignored.
    let _ = writeln!(out, "project = {}", quote(&defs.project));
    for e in &defs.entities {
        entity(&mut out, e);
    }
    for s in &defs.sources {
        source(&mut out, s);
    }
    for p in &defs.push_sources {
        let _ = writeln!(out, "\n[[push_source]]\nname = {}", quote(&p.name));
        let _ = writeln!(out, "batch_source = {}", quote(&p.batch_source));
        optional(&mut out, "description", &p.description);
    }
    for v in &defs.feature_views {
        feature_view(&mut out, v);
    }
    for v in &defs.on_demand_views {
        on_demand_view(&mut out, v);
    }
    for s in &defs.feature_services {
        feature_service(&mut out, s);
    }
    for m in &defs.models {
        model(&mut out, m);
    }
    out
}

/// An `[[entity]]` table.
fn entity(out: &mut String, e: &Entity) {
    let _ = writeln!(out, "\n[[entity]]\nname = {}", quote(&e.name));
    let keys: Vec<String> = e.join_keys.iter().map(field).collect();
    let _ = writeln!(out, "join_keys = [{}]", keys.join(", "));
    optional(out, "description", &e.description);
}

/// A `[[source]]` table.
fn source(out: &mut String, s: &Source) {
    let _ = writeln!(out, "\n[[source]]\nname = {}", quote(&s.name));
    if !s.path.is_empty() {
        let _ = writeln!(out, "path = {}", quote(&s.path));
    }
    match &s.format {
        SourceFormat::Sqlite { table } => {
            let _ = writeln!(out, "table = {}", quote(table));
        }
        SourceFormat::Postgres {
            table,
            url,
            url_env,
        } => {
            let _ = writeln!(out, "format = \"postgres\"\ntable = {}", quote(table));
            if let Some(url) = url {
                let _ = writeln!(out, "url = {}", quote(url));
            }
            if let Some(var) = url_env {
                let _ = writeln!(out, "url_env = {}", quote(var));
            }
        }
        // A directory without a trailing `/` (or a glob without an extension)
        // does not say it is Parquet.
        SourceFormat::Parquet if !parquet_by_path(&s.path) => {
            let _ = writeln!(out, "format = \"parquet\"");
        }
        SourceFormat::Csv | SourceFormat::Parquet => {}
    }
    let _ = writeln!(out, "timestamp_field = {}", quote(&s.timestamp_field));
    if let Some(created) = &s.created_timestamp_field {
        let _ = writeln!(out, "created_timestamp_field = {}", quote(created));
    }
    if !s.field_mapping.is_empty() {
        let _ = writeln!(out, "field_mapping = {}", inline_map(&s.field_mapping));
    }
}

/// Whether `path` alone makes a source Parquet when read back.
fn parquet_by_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.ends_with('/') || lower.ends_with(".parquet") || lower.ends_with(".pq")
}

/// A `[[feature_view]]` table.
fn feature_view(out: &mut String, v: &FeatureView) {
    let _ = writeln!(out, "\n[[feature_view]]\nname = {}", quote(&v.name));
    let entities: Vec<String> = v.entities.iter().map(|e| quote(e)).collect();
    let _ = writeln!(out, "entities = [{}]", entities.join(", "));
    let _ = writeln!(out, "source = {}", quote(&v.source));
    let _ = writeln!(out, "ttl = {}", quote(&duration::format(v.ttl)));
    let _ = writeln!(out, "online = {}", v.online);
    fields(out, "fields", v.fields.iter().map(field));
    optional(out, "description", &v.description);
    optional(out, "owner", &v.owner);
    if !v.tags.is_empty() {
        let _ = writeln!(out, "tags = {}", inline_map(&v.tags));
    }
}

/// An `[[on_demand_feature_view]]` table.
fn on_demand_view(out: &mut String, v: &OnDemandFeatureView) {
    let _ = writeln!(
        out,
        "\n[[on_demand_feature_view]]\nname = {}",
        quote(&v.name)
    );
    let sources: Vec<String> = v.sources.iter().map(|s| quote(s)).collect();
    let _ = writeln!(out, "sources = [{}]", sources.join(", "));
    if !v.request.is_empty() {
        fields(out, "request", v.request.iter().map(field));
    }
    fields(
        out,
        "fields",
        v.fields.iter().map(|f| {
            format!(
                "{{ name = {}, dtype = {}, expr = {} }}",
                quote(&f.name),
                quote(f.dtype.name()),
                quote(f.program.source_text())
            )
        }),
    );
}

/// A `[[feature_service]]` table.
fn feature_service(out: &mut String, s: &FeatureService) {
    let _ = writeln!(out, "\n[[feature_service]]\nname = {}", quote(&s.name));
    fields(
        out,
        "features",
        s.features.iter().map(|r| quote(&r.to_string())),
    );
    optional(out, "description", &s.description);
}

/// A `[[model]]` table: its features, label, fitted transforms and estimator.
fn model(out: &mut String, m: &ModelSpec) {
    let _ = writeln!(out, "\n[[model]]\nname = {}", quote(&m.name));
    let _ = writeln!(out, "feature_service = {}", quote(&m.feature_service));
    let _ = writeln!(out, "label = {}", quote(&m.label));
    let impute = match m.impute {
        Imputation::Mean => "mean",
        Imputation::Median => "median",
        Imputation::MostFrequent => "most_frequent",
        Imputation::Constant(_) => "constant",
        Imputation::None => "none",
    };
    let _ = writeln!(out, "impute = {}", quote(impute));
    if let Imputation::Constant(x) = m.impute {
        let _ = writeln!(out, "impute_value = {}", float(x));
    }
    let scale = match m.scale {
        Scaling::None => "none",
        Scaling::Standard => "standard",
        Scaling::MinMax => "minmax",
    };
    let _ = writeln!(out, "scale = {}", quote(scale));
    let encode = match m.encode {
        Encoding::OneHot => "one_hot",
        Encoding::Ordinal => "ordinal",
    };
    let _ = writeln!(out, "encode = {}", quote(encode));
    if let Some(k) = m.select_k_best {
        let _ = writeln!(out, "select_k_best = {k}");
    }
    estimator(out, &m.estimator);
}

/// A model's `estimator` and its hyper-parameters.
fn estimator(out: &mut String, spec: &EstimatorSpec) {
    match spec {
        EstimatorSpec::GaussianNb { var_smoothing } => {
            let var_smoothing = *var_smoothing;
            let _ = writeln!(
                out,
                "estimator = \"gaussian_nb\"\nvar_smoothing = {}",
                float(var_smoothing)
            );
        }
        EstimatorSpec::LogisticRegression { c, max_iter } => {
            let _ = writeln!(
                out,
                "estimator = \"logistic_regression\"\nc = {}\nmax_iter = {max_iter}",
                float(*c)
            );
        }
        EstimatorSpec::LinearRegression => {
            let _ = writeln!(out, "estimator = \"linear_regression\"");
        }
        EstimatorSpec::RandomForest {
            task,
            n_trees,
            max_features,
            tree,
        } => {
            let _ = writeln!(out, "estimator = \"random_forest\"\nn_trees = {n_trees}");
            if let Some(m) = max_features {
                let _ = writeln!(out, "max_features = {m}");
            }
            smartcore_tree(out, *task, tree);
        }
        EstimatorSpec::DecisionTree { task, tree } => {
            let _ = writeln!(out, "estimator = \"decision_tree\"");
            smartcore_tree(out, *task, tree);
        }
        EstimatorSpec::XgBoost { model_file } | EstimatorSpec::LightGbm { model_file } => {
            let kind = if matches!(spec, EstimatorSpec::XgBoost { .. }) {
                "xgboost"
            } else {
                "lightgbm"
            };
            let _ = writeln!(
                out,
                "estimator = {}\nmodel_file = {}",
                quote(kind),
                quote(model_file)
            );
        }
    }
}

/// The task and growth limits of a smartcore tree model.
fn smartcore_tree(out: &mut String, task: TreeTask, tree: &TreeParams) {
    match task {
        TreeTask::Classification { criterion } => {
            let criterion = match criterion {
                SplitCriterion::Gini => "gini",
                SplitCriterion::Entropy => "entropy",
                SplitCriterion::ClassificationError => "classification_error",
            };
            let _ = writeln!(
                out,
                "task = \"classification\"\ncriterion = {}",
                quote(criterion)
            );
        }
        TreeTask::Regression => {
            let _ = writeln!(out, "task = \"regression\"");
        }
    }
    if let Some(d) = tree.max_depth {
        let _ = writeln!(out, "max_depth = {d}");
    }
    let _ = writeln!(
        out,
        "min_samples_split = {}\nmin_samples_leaf = {}\nseed = {}",
        tree.min_samples_split, tree.min_samples_leaf, tree.seed
    );
}

/// A TOML string literal (also valid as a quoted key).
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn float(x: f64) -> String {
    toml::Value::Float(x).to_string()
}

fn field(f: &Field) -> String {
    format!(
        "{{ name = {}, dtype = {} }}",
        quote(&f.name),
        quote(f.dtype.name())
    )
}

fn inline_map(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

/// A multi-line array, one item per line, as people write `fields`.
fn fields(out: &mut String, key: &str, items: impl Iterator<Item = String>) {
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(out, "  {item},");
    }
    let _ = writeln!(out, "]");
}

fn optional(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        let _ = writeln!(out, "{key} = {}", quote(value));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::repo::parse_str;

    #[test]
    fn rendering_the_init_repository_parses_back_equal() {
        let defs = parse_str(include_str!("../cli/init/verge.toml"), "verge.toml").unwrap();
        let text = to_toml(&defs);
        assert_eq!(parse_str(&text, "rendered").unwrap(), defs, "{text}");
    }

    #[test]
    fn awkward_strings_and_every_option_round_trip() {
        let text = r#"
project = "p \"quoted\" \\ back"
[[entity]]
name = "e"
join_keys = ["k"]
[[source]]
name = "s"
path = "data/x.sqlite"
table = "t"
timestamp_field = "ts"
field_mapping = { "Weird Name" = "k", "a'b" = "v" }
[[push_source]]
name = "s_push"
batch_source = "s"
description = "fresh \"rows\""
[[feature_view]]
name = "v"
entities = ["e"]
source = "s_push"
ttl = "1h30m"
online = false
fields = [{ name = "v", dtype = "float32" }]
description = "line one\nline two"
tags = { "with space" = "x" }
[[feature_service]]
name = "fs"
features = ["v:v"]
[[model]]
name = "m"
feature_service = "fs"
label = "y"
impute = "constant"
impute_value = -1.5
scale = "minmax"
encode = "ordinal"
estimator = "logistic_regression"
c = 0.25
max_iter = 7
[[model]]
name = "imported"
feature_service = "fs"
label = "y"
impute = "none"
estimator = "xgboost"
model_file = "models/a \"b\".json"
[[model]]
name = "imported_lgb"
feature_service = "fs"
label = "y"
estimator = "lightgbm"
model_file = "m.txt"
[[model]]
name = "m2"
feature_service = "fs"
label = "y"
estimator = "linear_regression"
[[model]]
name = "forest"
feature_service = "fs"
label = "y"
estimator = "random_forest"
n_trees = 7
max_features = 1
max_depth = 4
min_samples_split = 3
min_samples_leaf = 2
criterion = "entropy"
seed = 42
[[model]]
name = "tree"
feature_service = "fs"
label = "y"
estimator = "decision_tree"
task = "regression"
"#;
        let defs = parse_str(text, "verge.toml").unwrap();
        assert_eq!(defs.push_sources.len(), 1);
        let rendered = to_toml(&defs);
        assert_eq!(
            parse_str(&rendered, "rendered").unwrap(),
            defs,
            "{rendered}"
        );
    }
}
