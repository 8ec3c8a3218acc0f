//! Training (`verge train`): from an entity table to a bundle the edge can serve.
//!
//! The steps, each in its own module:
//!
//! 1. [`dataset`]: the point-in-time join of the model's feature service onto the
//!    entity table, and the label (an entity column, or a feature-view field);
//! 2. the recipe's transforms (encoders, imputer, scaler, `select_k_best`) fitted
//!    by the core's own [`fit_transforms`], so training prepares rows with exactly
//!    the code serving runs;
//! 3. the estimator, trained on the transformed matrix by a Rust ML library and
//!    converted into the core's parameter types: [`linfa_nb`] (Gaussian naive
//!    Bayes, linfa-bayes), [`linfa_logistic`] (linfa-logistic) and
//!    [`linfa_linear`] (linfa-linear), [`smartcore_trees`] (forests, trees: smartcore);
//! 4. [`metrics`] on the training set and an optional holdout set, computed with
//!    the core's predictions;
//! 5. a [`BundleContents`] with the feature plan, the fitted pipeline and
//!    [`TrainingMetadata`], encoded and checked by loading it back;
//! 6. [`sanity`]: doubts about a model that fitted but learned nonsense (a
//!    constant regression label, a very wide one-hot encoding, an RMSE worse
//!    than the mean's), returned as warnings or refused by the caller.
//!
//! Bad input fails before any fitting with a message that names the model, the
//! label or the feature and says what to do: a missing label (and where it was
//! looked for), a constant label, a text label for a regressor, `select_k_best`
//! larger than the feature count, an empty training set.

pub mod dataset;
pub mod import;
pub mod linfa_linear;
pub mod linfa_logistic;
pub mod linfa_nb;
pub mod metrics;
pub mod sanity;
pub mod smartcore_trees;

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use arrow_array::RecordBatch;
use verge_core::artifact::{Bundle, BundleContents, ModelPart, TrainingMetadata};
use verge_core::definition::{Definitions, EstimatorSpec, ModelSpec};
use verge_core::model::{Estimator, encode_labels};
use verge_core::pipeline::{FittedPipeline, PipelineParams, PreparedTraining, fit_transforms};
use verge_core::transform::Matrix;
use verge_core::{ContentId, Timestamp, Value};

use crate::warnings::Warnings;

use crate::historical::HistoricalOptions;
use dataset::{LabelSource, TrainingSet};

/// A fitted pipeline and what it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Transforms and estimator, in the core's types.
    pub pipeline: FittedPipeline,
    /// The training rows as the estimator saw them (after every transform).
    pub x: Matrix,
    /// The library that fitted the estimator, with its version (for an imported
    /// model, also the model file's hash).
    pub trained_with: String,
}

/// A human name for an estimator, for messages.
#[must_use]
pub fn estimator_name(spec: &EstimatorSpec) -> &'static str {
    match spec {
        EstimatorSpec::GaussianNb { .. } => "gaussian naive bayes",
        EstimatorSpec::LogisticRegression { .. } => "logistic regression",
        EstimatorSpec::LinearRegression => "linear regression",
        EstimatorSpec::XgBoost { .. } => "xgboost",
        EstimatorSpec::LightGbm { .. } => "lightgbm",
        EstimatorSpec::RandomForest { .. } => "random forest",
        EstimatorSpec::DecisionTree { .. } => "decision tree",
    }
}

/// Checks a training set against the model's recipe before anything is fitted.
///
/// `place` names where the rows came from (e.g. `entity table entities.csv`).
///
/// # Errors
///
/// An empty set (no entity rows, or every label null), `select_k_best` of 0 or
/// larger than the number of features, a constant or mixed-type label for a
/// classifier, a label that is not a number for a regressor.
pub fn check(spec: &ModelSpec, set: &TrainingSet, place: &str) -> Result<()> {
    let name = &spec.name;
    let label = &spec.label;
    if set.rows.is_empty() {
        if set.dropped_null_labels == 0 {
            bail!("model `{name}`: {place} has no rows; give at least one entity row per class");
        }
        bail!(
            "model `{name}`: all {} rows of {place} have a null label `{label}` (from {}); nothing to train on",
            set.dropped_null_labels,
            set.label_source
        );
    }
    let n = set.columns.len();
    if let Some(k) = spec.select_k_best
        && (k == 0 || k as usize > n)
    {
        bail!(
            "model `{name}`: select_k_best = {k} but feature service `{}` has {n} features; use 1..={n} or remove select_k_best",
            spec.feature_service
        );
    }
    if spec.estimator.is_classifier() {
        let (classes, _) = encode_labels(&set.labels)
            .map_err(|e| anyhow!("model `{name}`: label `{label}`: {e}"))?;
        if let [only] = classes.as_slice() {
            bail!(
                "model `{name}`: label `{label}` is constant: all {} training rows have {}; a classifier needs at least two classes",
                set.rows.len(),
                show(only)
            );
        }
    } else if let Some((i, v)) = set
        .labels
        .iter()
        .enumerate()
        .find(|(_, v)| v.as_f64().is_none())
    {
        bail!(
            "model `{name}`: {} is a numeric estimator but label `{label}` is not a number ({} in training row {}); use a classifier (gaussian_nb, logistic_regression; a tree with task = \"classification\") or a numeric label",
            estimator_name(&spec.estimator),
            show(v),
            i + 1
        );
    }
    Ok(())
}

/// A value for messages: text quoted, numbers plain.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float32(x) => x.to_string(),
        Value::Float64(x) => x.to_string(),
        other => format!("{other:?}"),
    }
}

/// Fits the recipe of `spec` on `set`: the core's transforms, then the
/// estimator with linfa, exported into the core's types.
///
/// # Examples
///
/// ```
/// use verge_core::definition::{Encoding, EstimatorSpec, Imputation, ModelSpec, Scaling};
/// use verge_core::pipeline::ColumnMeta;
/// use verge_core::{DType, Value};
/// use verge_host::train::dataset::{LabelSource, TrainingSet};
///
/// let spec = ModelSpec {
///     name: "m".into(),
///     feature_service: "s".into(),
///     label: "y".into(),
///     impute: Imputation::Mean,
///     scale: Scaling::Standard,
///     encode: Encoding::OneHot,
///     select_k_best: None,
///     estimator: EstimatorSpec::GaussianNb { var_smoothing: 1e-9 },
/// };
/// let set = TrainingSet {
///     columns: vec![ColumnMeta::new("v:t", DType::Float64)],
///     rows: [37.5, 38.0, 39.5, 40.1].map(|t| vec![Value::Float64(t)]).to_vec(),
///     labels: [0, 0, 1, 1].map(Value::Int64).to_vec(),
///     label: "y".into(),
///     label_source: LabelSource::EntityColumn,
///     dropped_null_labels: 0,
/// };
/// let fitted = verge_host::train::fit(&spec, &set)?;
/// let p = fitted.pipeline.predict(&[Value::Float64(40.0)])?;
/// assert_eq!(p.label_value(), Some(&Value::Int64(1)));
/// assert_eq!(fitted.trained_with, "linfa-bayes 0.8.1");
/// # Ok::<(), anyhow::Error>(())
/// ```
///
/// # Errors
///
/// As [`check`] (with the place "the training set"), a transform that cannot be
/// fitted (a value of the wrong type or infinite, naming the row and feature; a
/// column with nothing to impute from), or an estimator that cannot be fitted.
pub fn fit(spec: &ModelSpec, set: &TrainingSet) -> Result<Fitted> {
    fit_in(spec, set, Path::new("."))
}

/// [`fit`], with imported model files (`model_file`) read relative to `repo_root`.
///
/// # Errors
///
/// As [`fit`], and as [`import::fit`] for an imported model.
pub fn fit_in(spec: &ModelSpec, set: &TrainingSet, repo_root: &Path) -> Result<Fitted> {
    check(spec, set, "the training set")?;
    if spec.estimator.model_file().is_some() {
        return import::fit(spec, set, repo_root);
    }
    let name = &spec.name;
    let params = PipelineParams::from(spec);
    let PreparedTraining { transforms, x } =
        fit_transforms(&params, &set.columns, &set.rows, &set.labels)
            .map_err(|e| anyhow!("model `{name}`: {e}"))?;
    let context = || {
        format!(
            "model `{name}`: training {} on {} rows x {} columns",
            estimator_name(&spec.estimator),
            x.n_rows(),
            x.n_cols()
        )
    };
    let (estimator, trained_with) = match spec.estimator {
        EstimatorSpec::XgBoost { .. } | EstimatorSpec::LightGbm { .. } => {
            bail!("model `{name}`: an imported model is read, not trained")
        }
        EstimatorSpec::GaussianNb { var_smoothing } => {
            let (classes, y) = encode_labels(&set.labels)?;
            let model = linfa_nb::fit(&x, classes, &y, var_smoothing).with_context(context)?;
            (Estimator::GaussianNb(model), linfa_nb::TRAINED_WITH)
        }
        EstimatorSpec::LogisticRegression { c, max_iter } => {
            let (classes, y) = encode_labels(&set.labels)?;
            let model = linfa_logistic::fit(&x, classes, &y, c, max_iter).with_context(context)?;
            (
                Estimator::LogisticRegression(model),
                linfa_logistic::TRAINED_WITH,
            )
        }
        EstimatorSpec::RandomForest { .. } | EstimatorSpec::DecisionTree { .. } => {
            let fit = smartcore_trees::fit(&x, &set.labels, &spec.estimator);
            (
                Estimator::TreeEnsemble(fit.with_context(context)?),
                smartcore_trees::TRAINED_WITH,
            )
        }
        EstimatorSpec::LinearRegression => {
            let y: Vec<f64> = set
                .labels
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            let model = linfa_linear::fit(&x, &y).with_context(context)?;
            (
                Estimator::LinearRegression(model),
                linfa_linear::TRAINED_WITH,
            )
        }
    };
    let pipeline = transforms
        .with_estimator(estimator)
        .map_err(|e| anyhow!("model `{name}`: {e}"))?;
    Ok(Fitted {
        pipeline,
        x,
        trained_with: trained_with.to_owned(),
    })
}

/// An entity table and the name to use for it in messages.
#[derive(Debug, Clone, Copy)]
pub struct EntityInput<'a> {
    /// The rows: join keys, event time, and possibly the label.
    pub batch: &'a RecordBatch,
    /// E.g. `entity table data/entities.csv`.
    pub place: &'a str,
}

/// Everything [`train`] needs.
#[derive(Debug, Clone)]
pub struct TrainRequest<'a> {
    /// The registry version's definitions.
    pub defs: &'a Definitions,
    /// That version's id, recorded in the bundle.
    pub registry_id: ContentId,
    /// Where source paths are relative to.
    pub repo_root: &'a Path,
    /// The model to train.
    pub model: &'a str,
    /// Training rows.
    pub entities: EntityInput<'a>,
    /// Held-out rows to score on, if any.
    pub holdout: Option<EntityInput<'a>>,
    /// Join options (the entity tables' timestamp column; `full_feature_names`
    /// is ignored: training always joins with full names).
    pub options: HistoricalOptions,
    /// When training ran (recorded in the bundle).
    pub now: Timestamp,
}

/// Where [`train_from_files`] reads its entity tables.
#[derive(Debug, Clone)]
pub struct EntityFiles<'a> {
    /// The training entity table (CSV or Parquet).
    pub train: &'a Path,
    /// The held-out entity table, if any.
    pub holdout: Option<&'a Path>,
    /// The tables' event-time column.
    pub timestamp_column: &'a str,
}

/// Reads the entity tables and trains: what `verge train` and `verge run`'s
/// train step both do. `display` names each path in messages as the caller
/// knows it (relative to the repository, say).
///
/// # Errors
///
/// Unreadable entity tables, or as [`train`].
pub fn train_from_files(
    defs: &Definitions,
    registry_id: ContentId,
    repo_root: &Path,
    model: &str,
    files: &EntityFiles<'_>,
    display: impl Fn(&Path) -> String,
    now: Timestamp,
) -> Result<Trained> {
    let options = HistoricalOptions {
        timestamp_column: files.timestamp_column.to_owned(),
        ..HistoricalOptions::default()
    };
    let mut warnings = Warnings::default();
    let entities =
        crate::table_io::read_entity_table(files.train, files.timestamp_column, &mut warnings)?;
    let place = format!("entity table {}", display(files.train));
    let holdout = match files.holdout {
        Some(path) => Some((
            crate::table_io::read_entity_table(path, files.timestamp_column, &mut warnings)?,
            format!("holdout table {}", display(path)),
        )),
        None => None,
    };
    train(&TrainRequest {
        defs,
        registry_id,
        repo_root,
        model,
        entities: EntityInput {
            batch: &entities,
            place: &place,
        },
        holdout: holdout.as_ref().map(|(batch, place)| EntityInput {
            batch,
            place: place.as_str(),
        }),
        options,
        now,
    })
    .map(|mut trained| {
        // The tables' warnings first: they were found first.
        warnings.append(&mut trained.warnings);
        trained.warnings = warnings;
        trained
    })
}

/// What held-out scoring found.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutReport {
    /// Rows scored.
    pub rows: usize,
    /// Rows dropped for a null label.
    pub dropped_null_labels: usize,
    /// `holdout_accuracy` or `holdout_rmse`.
    pub metric: &'static str,
    /// Its value.
    pub value: f64,
    /// For a regressor, the RMSE of predicting the training mean for every
    /// holdout row: the bar `value` has to beat. `None` for a classifier.
    pub baseline_rmse: Option<f64>,
}

/// A trained model: the bundle and a summary for people.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The bundle's content id.
    pub id: ContentId,
    /// The framed bundle bytes.
    pub bytes: Vec<u8>,
    /// What is in it.
    pub contents: BundleContents,
    /// Where the label came from.
    pub label_source: LabelSource,
    /// Training rows dropped for a null label.
    pub dropped_null_labels: usize,
    /// Holdout results, when a holdout set was given.
    pub holdout: Option<HoldoutReport>,
    /// What the training and holdout data did not make an error of: source
    /// rows skipped, mappings that map nothing, holdout labels never trained on.
    pub warnings: Warnings,
    /// Signs that the model learned nonsense (see [`sanity`]); shown as
    /// warnings after `warnings`, or refused by [`Trained::refuse_doubts`].
    pub doubts: Warnings,
}

impl Trained {
    /// The data warnings, then the doubts: everything a person should hear.
    #[must_use]
    pub fn all_warnings(&self) -> Warnings {
        let mut all = self.warnings.clone();
        all.append(&mut self.doubts.clone());
        all
    }

    /// Refuses a model with doubts (strict training): the error lists each.
    ///
    /// # Errors
    ///
    /// When [`Trained::doubts`] is not empty.
    pub fn refuse_doubts(&self) -> Result<()> {
        if self.doubts.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = self.doubts.iter().map(|d| format!("  - {d}")).collect();
        bail!(
            "the model looks like it learned nonsense, so strict training refuses it ({} {}):\n{}",
            self.doubts.len(),
            if self.doubts.len() == 1 {
                "doubt"
            } else {
                "doubts"
            },
            lines.join("\n")
        )
    }
}

/// Trains model `request.model` and builds its bundle (not yet stored).
///
/// # Errors
///
/// An unknown model (the message lists the known ones); the feature service
/// cannot be planned; building the training set fails (see [`dataset::build`]);
/// [`check`] or [`fit`] fail; the holdout set cannot be built or scored; the
/// bundle does not encode.
pub fn train(request: &TrainRequest<'_>) -> Result<Trained> {
    let defs = request.defs;
    let spec = defs.model(request.model).with_context(|| {
        let known: Vec<&str> = defs.models.iter().map(|m| m.name.as_str()).collect();
        format!(
            "model `{}` is not in the registry head; known models: {}",
            request.model,
            if known.is_empty() {
                "(none; declare a [[model]] in verge.toml and run `verge apply`)".to_owned()
            } else {
                known.join(", ")
            }
        )
    })?;
    let plan = BundleContents::plan(defs, &spec.feature_service)
        .map_err(|e| anyhow!("model `{}`: {e}", spec.name))?;

    let mut warnings = Warnings::default();
    let set = dataset::build(
        defs,
        request.repo_root,
        spec,
        request.entities.batch,
        request.entities.place,
        &request.options,
        &mut warnings,
    )?;
    check(spec, &set, request.entities.place)?;
    let fitted = fit_in(spec, &set, request.repo_root)?;

    let mut metrics: Vec<(String, f64)> = Vec::new();
    let (name, value) = metrics::score(&fitted.pipeline, &set.rows, &set.labels, "training")?;
    metrics.push((format!("training_{name}"), value));

    let holdout = match &request.holdout {
        None => None,
        Some(h) => Some(score_holdout(
            request,
            spec,
            &fitted.pipeline,
            &set.labels,
            h,
            &mut metrics,
            &mut warnings,
        )?),
    };
    let training_rmse = (name == "rmse").then_some(value);
    let doubts = sanity::doubts(spec, &set, training_rmse, holdout.as_ref());
    metrics.sort_by(|a, b| a.0.cmp(&b.0));

    let contents = BundleContents {
        registry_id: request.registry_id,
        service: spec.feature_service.clone(),
        entity_keys: plan.entity_keys,
        request: plan.request,
        views: plan.views,
        features: plan.features,
        model: Some(ModelPart {
            name: spec.name.clone(),
            pipeline: fitted.pipeline,
            training: TrainingMetadata {
                rows: set.rows.len() as u64,
                data_hash: set.data_hash(),
                label: spec.label.clone(),
                metrics,
                trained_with: fitted.trained_with,
                trained_at: request.now,
            },
        }),
    };
    let bytes = contents
        .to_bytes()
        .map_err(|e| anyhow!("encoding the bundle: {e}"))?;
    // Load it back: the bytes are what the edge will check, so check them here.
    let id = Bundle::load(&bytes)
        .map_err(|e| anyhow!("internal: the new bundle does not load: {e}"))?
        .id();
    Ok(Trained {
        id,
        bytes,
        contents,
        label_source: set.label_source,
        dropped_null_labels: set.dropped_null_labels,
        holdout,
        warnings,
        doubts,
    })
}

/// Builds the holdout set `h` and scores the fitted `pipeline` (of `spec`,
/// trained on `trained_labels`) on it, adding `holdout_accuracy` (or
/// `holdout_rmse`) and `holdout_rows` to `metrics`, and a warning for holdout
/// labels a classifier never saw.
fn score_holdout(
    request: &TrainRequest<'_>,
    spec: &ModelSpec,
    pipeline: &FittedPipeline,
    trained_labels: &[Value],
    h: &EntityInput<'_>,
    metrics: &mut Vec<(String, f64)>,
    warnings: &mut Warnings,
) -> Result<HoldoutReport> {
    let held = dataset::build(
        request.defs,
        request.repo_root,
        spec,
        h.batch,
        h.place,
        &request.options,
        warnings,
    )
    .context("building the holdout set")?;
    if held.rows.is_empty() {
        bail!(
            "{} has no rows with a label `{}` ({} dropped for a null label); nothing to score",
            h.place,
            spec.label,
            held.dropped_null_labels
        );
    }
    let (name, value) = metrics::score(pipeline, &held.rows, &held.labels, "holdout")?;
    let (metric, baseline_rmse) = if name == "accuracy" {
        warn_unseen_labels(h.place, trained_labels, &held.labels, warnings);
        ("holdout_accuracy", None)
    } else {
        let baseline = sanity::baseline_rmse(trained_labels, &held.labels);
        ("holdout_rmse", baseline)
    };
    metrics.push((metric.to_owned(), value));
    metrics.push(("holdout_rows".to_owned(), held.rows.len() as f64));
    Ok(HoldoutReport {
        rows: held.rows.len(),
        dropped_null_labels: held.dropped_null_labels,
        metric,
        value,
        baseline_rmse,
    })
}

/// A classifier can never predict a class it was not trained on, so holdout
/// rows with such a label are wrong whatever it does: count them and name the
/// labels, since holdout accuracy alone hides why it is low.
fn warn_unseen_labels(place: &str, trained: &[Value], held: &[Value], warnings: &mut Warnings) {
    let mut unseen: Vec<&Value> = Vec::new();
    let mut rows = 0;
    for label in held.iter().filter(|l| !trained.contains(l)) {
        rows += 1;
        if !unseen.contains(&label) {
            unseen.push(label);
        }
    }
    warnings.add(rows, || {
        let names: Vec<String> = unseen.iter().take(10).map(|v| show(v)).collect();
        format!(
            "{place}: {rows} holdout {} a label the model never saw in training ({}); {} counted as wrong in holdout_accuracy (train on data with these labels, or drop the rows)",
            if rows == 1 { "row has" } else { "rows have" },
            names.join(", "),
            if rows == 1 { "it is" } else { "they are" },
        )
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    /// The versions in the `TRAINED_WITH` constants are the ones Cargo.lock pins,
    /// so a dependency upgrade cannot leave bundles misreporting their trainer.
    #[test]
    fn trained_with_matches_the_lock_file() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
        for trained_with in [
            super::linfa_nb::TRAINED_WITH,
            super::linfa_logistic::TRAINED_WITH,
            super::linfa_linear::TRAINED_WITH,
            super::smartcore_trees::TRAINED_WITH,
        ] {
            let (name, version) = trained_with.split_once(' ').unwrap();
            let entry = format!("name = \"{name}\"\nversion = \"{version}\"");
            assert!(lock.contains(&entry), "Cargo.lock has no {entry}");
        }
    }
}
