//! A fitted pipeline: per-column preparation → imputer → scaler → selector → estimator.
//!
//! This is the one code path from a row of feature values (in the feature
//! service's order, nulls allowed) to a [`Prediction`], used by the host when it
//! evaluates a model and by every edge runtime when it serves one, so the two
//! cannot drift apart. [`fit_transforms`] and [`fit_pipeline`] fit the stages on
//! training rows with the same preparation code that serving runs.
//!
//! Stages, in order:
//!
//! | stage | what it does | unknown / missing input |
//! |---|---|---|
//! | preparation | numbers pass through; text goes through an ordinal or one-hot encoder | null → NaN; unseen category → NaN (ordinal) or all zeros (one-hot) |
//! | imputer (optional) | fills NaN with a training statistic | without one, a missing value is an error |
//! | scaler (optional) | standard or min-max | |
//! | selector (optional) | keeps the k best columns by ANOVA F | |
//! | estimator | Gaussian NB, logistic or linear regression | |
//!
//! Serving never panics: a row of the wrong width is [`Error::Shape`], a value of
//! the wrong type is [`Error::Request`] naming the feature. [`FittedPipeline::predict_into`]
//! reuses a [`Scratch`] and does not allocate.
//!
//! # Examples
//!
//! ```
//! use verge_core::definition::{EstimatorSpec, Imputation};
//! use verge_core::pipeline::{ColumnMeta, PipelineParams, Prediction, fit_pipeline};
//! use verge_core::{DType, Value};
//!
//! let columns = [ColumnMeta::new("temperature", DType::Float64), ColumnMeta::new("colour", DType::String)];
//! let row = |t: f64, c: &str| vec![Value::Float64(t), Value::String(c.into())];
//! let rows = vec![row(37.5, "pink"), row(38.0, "pink"), row(39.5, "blue"), row(40.1, "blue")];
//! let y = [Value::Int64(1), Value::Int64(1), Value::Int64(2), Value::Int64(2)];
//! let params = PipelineParams::new(EstimatorSpec::GaussianNb { var_smoothing: 1e-9 })
//!     .impute(Some(Imputation::Median));
//! let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
//!
//! let p = pipeline.predict(&[Value::Null, Value::String("blue".into())]).unwrap();
//! assert_eq!(p.label_value(), Some(&Value::Int64(2)));
//! assert!(pipeline.predict(&[Value::Float64(38.0)]).is_err()); // wrong width
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::definition::{Encoding, EstimatorSpec, Imputation, ModelSpec, Scaling};
use crate::model::{Estimator, GaussianNbParams, encode_labels};
use crate::transform::{
    Matrix, OneHotEncoder, OrdinalEncoder, Scaler, SelectKBest, SimpleImputer, check_finite,
};
use crate::value::{DType, Value};
use crate::{Error, Result};

pub use crate::model::{Prediction, PredictionView};

/// A training column: its name and declared type (the feature service's field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMeta {
    /// Feature name, used in messages and by [`FittedPipeline::input_names`].
    pub name: String,
    /// Declared type: text columns are encoded, the others read as numbers.
    pub dtype: DType,
}

impl ColumnMeta {
    /// A column named `name` of type `dtype`.
    #[must_use]
    pub fn new(name: impl Into<String>, dtype: DType) -> Self {
        ColumnMeta {
            name: name.into(),
            dtype,
        }
    }
}

/// How one input column becomes model columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnPrep {
    /// A number (bools are 0/1); null becomes NaN.
    Numeric,
    /// Text to one ordinal code.
    Ordinal(OrdinalEncoder),
    /// Text to one 0/1 column per category.
    OneHot(OneHotEncoder),
}

impl ColumnPrep {
    /// Number of model columns this input produces.
    #[must_use]
    pub fn width(&self) -> usize {
        match self {
            ColumnPrep::Numeric | ColumnPrep::Ordinal(_) => 1,
            ColumnPrep::OneHot(e) => e.n_outputs(),
        }
    }
}

/// One input of a pipeline: its name and its preparation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputColumn {
    /// Feature name.
    pub name: String,
    /// How the value is turned into numbers.
    pub prep: ColumnPrep,
}

/// What to fit: the training recipe of a [`ModelSpec`], minus names.
///
/// | field | default in [`PipelineParams::new`] | meaning |
/// |---|---|---|
/// | `impute` | `Some(Mean)` | fill missing values; `None` makes a missing value an error |
/// | `scale` | `None` | scaling after imputation |
/// | `encode` | `Ordinal` | how text columns become numbers |
/// | `select_k_best` | `None` | keep the k best columns by ANOVA F (classifiers only) |
/// | `estimator` | given | the model |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[must_use]
pub struct PipelineParams {
    /// Imputation of missing values.
    pub impute: Option<Imputation>,
    /// Scaling after imputation.
    pub scale: Scaling,
    /// Encoding of text columns.
    pub encode: Encoding,
    /// Number of columns to keep by ANOVA F, or all.
    pub select_k_best: Option<usize>,
    /// The estimator and its hyper-parameters.
    pub estimator: EstimatorSpec,
}

impl PipelineParams {
    /// Mean imputation, no scaling, ordinal encoding, no selection.
    pub fn new(estimator: EstimatorSpec) -> Self {
        PipelineParams {
            impute: Some(Imputation::Mean),
            scale: Scaling::None,
            encode: Encoding::Ordinal,
            select_k_best: None,
            estimator,
        }
    }

    /// Sets the imputation (`None`: missing values are errors).
    pub fn impute(mut self, impute: Option<Imputation>) -> Self {
        self.impute = impute;
        self
    }

    /// Sets the scaling.
    pub fn scale(mut self, scale: Scaling) -> Self {
        self.scale = scale;
        self
    }

    /// Sets the encoding of text columns.
    pub fn encode(mut self, encode: Encoding) -> Self {
        self.encode = encode;
        self
    }

    /// Keeps the `k` best columns (`None`: all).
    pub fn select_k_best(mut self, k: Option<usize>) -> Self {
        self.select_k_best = k;
        self
    }
}

impl From<&ModelSpec> for PipelineParams {
    fn from(spec: &ModelSpec) -> Self {
        PipelineParams {
            impute: Some(spec.impute),
            scale: spec.scale,
            encode: spec.encode,
            select_k_best: spec.select_k_best.map(|k| k as usize),
            estimator: spec.estimator,
        }
    }
}

/// The stored form of [`FittedTransforms`]; deserializing re-checks the widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformParts {
    /// The inputs, in feature-service order.
    pub inputs: Vec<InputColumn>,
    /// Imputer over the prepared columns.
    pub imputer: Option<SimpleImputer>,
    /// Scaler over the prepared columns.
    pub scaler: Option<Scaler>,
    /// Selector over the prepared columns.
    pub selector: Option<SelectKBest>,
}

/// Every fitted stage before the estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TransformParts", into = "TransformParts")]
pub struct FittedTransforms {
    parts: TransformParts,
    /// Number of prepared columns (the sum of the inputs' widths).
    width: usize,
}

impl TryFrom<TransformParts> for FittedTransforms {
    type Error = Error;
    fn try_from(parts: TransformParts) -> Result<Self> {
        FittedTransforms::from_parts(parts)
    }
}

impl From<FittedTransforms> for TransformParts {
    fn from(t: FittedTransforms) -> Self {
        t.parts
    }
}

fn malformed(message: String) -> Error {
    Error::Malformed {
        kind: "pipeline",
        message,
    }
}

impl FittedTransforms {
    /// Assembles fitted stages, checking that their widths agree.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when a stage was fitted on a different number of columns.
    pub fn from_parts(parts: TransformParts) -> Result<Self> {
        let width: usize = parts.inputs.iter().map(|c| c.prep.width()).sum();
        let check = |stage: &str, n: usize| {
            if n == width {
                Ok(())
            } else {
                Err(malformed(format!(
                    "the {stage} expects {n} columns but the inputs prepare {width}"
                )))
            }
        };
        if let Some(i) = &parts.imputer {
            check("imputer", i.n_features())?;
        }
        if let Some(s) = &parts.scaler {
            check("scaler", s.n_features())?;
        }
        if let Some(s) = &parts.selector {
            check("selector", s.n_features_in())?;
            if s.support().iter().any(|&j| j >= width) {
                return Err(malformed("the selector keeps a column past the end".into()));
            }
        }
        Ok(FittedTransforms { parts, width })
    }

    /// The stages.
    #[must_use]
    pub fn parts(&self) -> &TransformParts {
        &self.parts
    }

    /// Number of values the estimator receives.
    #[must_use]
    pub fn n_outputs(&self) -> usize {
        self.parts
            .selector
            .as_ref()
            .map_or(self.width, SelectKBest::k)
    }

    /// Adds the estimator.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the estimator's width differs from [`Self::n_outputs`].
    pub fn with_estimator(self, estimator: Estimator) -> Result<FittedPipeline> {
        FittedPipeline::from_parts(PipelineParts {
            transforms: self,
            estimator,
        })
    }

    /// Names of the prepared columns: the input name, or `name=category` for a
    /// one-hot column.
    #[must_use]
    pub fn prepared_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width);
        for input in &self.parts.inputs {
            match &input.prep {
                ColumnPrep::OneHot(e) => {
                    names.extend(e.categories().iter().map(|c| format!("{}={c}", input.name)))
                }
                _ => names.push(input.name.clone()),
            }
        }
        names
    }

    /// Names of the columns the estimator sees.
    #[must_use]
    pub fn selected_names(&self) -> Vec<String> {
        let names = self.prepared_names();
        match &self.parts.selector {
            Some(s) => s
                .support()
                .iter()
                .filter_map(|&j| names.get(j).cloned())
                .collect(),
            None => names,
        }
    }

    /// Step 1: the row's values as numbers, into `out` (resized to the prepared width).
    fn prepare(&self, row: &[Value], out: &mut Vec<f64>) -> Result<()> {
        if row.len() != self.parts.inputs.len() {
            return Err(Error::Shape {
                stage: "pipeline",
                expected: self.parts.inputs.len(),
                actual: row.len(),
            });
        }
        out.clear();
        out.resize(self.width, 0.0);
        let mut at = 0;
        for (input, value) in self.parts.inputs.iter().zip(row) {
            let width = input.prep.width();
            let slot = out
                .get_mut(at..at + width)
                .ok_or_else(|| malformed("the inputs prepare more columns than recorded".into()))?;
            prepare_value(input, value, slot)?;
            at += width;
        }
        Ok(())
    }

    /// Steps 2–3: impute and scale `values` in place.
    fn impute_and_scale(&self, values: &mut [f64]) -> Result<()> {
        match &self.parts.imputer {
            Some(imputer) => imputer.transform_row(values)?,
            None => {
                if let Some(j) = values.iter().position(|v| v.is_nan()) {
                    let name = self.prepared_names().get(j).cloned().unwrap_or_default();
                    return Err(Error::Request(format!(
                        "feature `{name}` is missing and this model has no imputer; send a value"
                    )));
                }
            }
        }
        if let Some(scaler) = &self.parts.scaler {
            scaler.transform_row(values)?;
        }
        Ok(())
    }

    /// Step 4: the selected columns of `values`, into `out`.
    fn select(&self, values: &[f64], out: &mut Vec<f64>) -> Result<()> {
        match &self.parts.selector {
            Some(selector) => {
                out.clear();
                out.resize(selector.k(), 0.0);
                selector.transform_into(values, out)
            }
            None => {
                out.clear();
                out.extend_from_slice(values);
                Ok(())
            }
        }
    }

    /// Runs every stage on one row, writing the estimator's input into `out`.
    /// `prepared` is scratch space. Does not allocate once the buffers are warm.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong width; [`Error::Request`] for a value of the
    /// wrong type, an infinite number, or a missing value without an imputer.
    pub fn transform_into(
        &self,
        row: &[Value],
        prepared: &mut Vec<f64>,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        self.prepare(row, prepared)?;
        self.impute_and_scale(prepared)?;
        self.select(prepared, out)
    }
}

/// Writes one input value's model columns into `slot`.
fn prepare_value(input: &InputColumn, value: &Value, slot: &mut [f64]) -> Result<()> {
    let name = &input.name;
    match &input.prep {
        ColumnPrep::Numeric => {
            let x = match value {
                Value::Null => f64::NAN,
                Value::String(_) => {
                    return Err(Error::Request(format!(
                        "feature `{name}` expects a number, got text"
                    )));
                }
                v => v.as_f64().unwrap_or(f64::NAN),
            };
            if x.is_infinite() {
                return Err(Error::Request(format!(
                    "feature `{name}` is {x}; send a finite number or null"
                )));
            }
            if let Some(s) = slot.first_mut() {
                *s = x;
            }
        }
        ColumnPrep::Ordinal(encoder) => {
            let x = encoder.encode(text(name, value)?);
            if let Some(s) = slot.first_mut() {
                *s = x;
            }
        }
        ColumnPrep::OneHot(encoder) => encoder.encode_into(text(name, value)?, slot)?,
    }
    Ok(())
}

/// The text of a categorical value (`None` for null).
fn text<'v>(name: &str, value: &'v Value) -> Result<Option<&'v str>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(Error::Request(format!(
            "feature `{name}` is categorical text, got a {}",
            other.dtype().map_or("null", DType::name)
        ))),
    }
}

/// The stored form of a [`FittedPipeline`]; deserializing re-checks the widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineParts {
    /// The stages before the estimator.
    pub transforms: FittedTransforms,
    /// The estimator.
    pub estimator: Estimator,
}

/// Fitted transforms followed by an estimator: what a bundle carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PipelineParts", into = "PipelineParts")]
pub struct FittedPipeline {
    parts: PipelineParts,
}

impl TryFrom<PipelineParts> for FittedPipeline {
    type Error = Error;
    fn try_from(parts: PipelineParts) -> Result<Self> {
        FittedPipeline::from_parts(parts)
    }
}

impl From<FittedPipeline> for PipelineParts {
    fn from(p: FittedPipeline) -> Self {
        p.parts
    }
}

/// Reusable buffers for [`FittedPipeline::predict_into`].
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    prepared: Vec<f64>,
    selected: Vec<f64>,
    probabilities: Vec<f64>,
}

impl Scratch {
    /// Empty buffers; they grow on first use and are then reused.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// A row after each stage, for debugging and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformTrace {
    /// After preparation (encoders; nulls as NaN).
    pub prepared: Vec<f64>,
    /// After the imputer (equal to `prepared` without one).
    pub imputed: Vec<f64>,
    /// After the scaler (equal to `imputed` without one).
    pub scaled: Vec<f64>,
    /// After the selector: the estimator's input.
    pub selected: Vec<f64>,
}

impl FittedPipeline {
    /// Assembles a pipeline, checking that the estimator reads as many values as
    /// the transforms produce.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the widths disagree.
    pub fn from_parts(parts: PipelineParts) -> Result<Self> {
        let produced = parts.transforms.n_outputs();
        let expected = parts.estimator.n_features();
        if produced != expected {
            return Err(malformed(format!(
                "the transforms produce {produced} values but the estimator reads {expected}"
            )));
        }
        Ok(FittedPipeline { parts })
    }

    /// The stages before the estimator.
    #[must_use]
    pub fn transforms(&self) -> &FittedTransforms {
        &self.parts.transforms
    }

    /// The estimator.
    #[must_use]
    pub fn estimator(&self) -> &Estimator {
        &self.parts.estimator
    }

    /// The input feature names, in the order `predict` expects values.
    #[must_use]
    pub fn input_names(&self) -> Vec<&str> {
        self.parts
            .transforms
            .parts
            .inputs
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Names of the columns the estimator sees (after encoding and selection).
    #[must_use]
    pub fn selected_names(&self) -> Vec<String> {
        self.parts.transforms.selected_names()
    }

    /// Predicts for one row without allocating once `scratch` is warm. The view
    /// borrows the class labels from the model and the probabilities from `scratch`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` is not one value per input; [`Error::Request`]
    /// naming the feature for a value of the wrong type, an infinite number, or a
    /// missing value the model cannot impute; [`Error::Eval`] when the estimator's
    /// arithmetic overflows on an extreme input.
    pub fn predict_into<'a>(
        &'a self,
        row: &[Value],
        scratch: &'a mut Scratch,
    ) -> Result<PredictionView<'a>> {
        let Scratch {
            prepared,
            selected,
            probabilities,
        } = scratch;
        self.parts
            .transforms
            .transform_into(row, prepared, selected)?;
        self.parts.estimator.predict_into(selected, probabilities)
    }

    /// Predicts for one row.
    ///
    /// # Errors
    ///
    /// As [`FittedPipeline::predict_into`].
    pub fn predict(&self, row: &[Value]) -> Result<Prediction> {
        let mut scratch = Scratch::new();
        Ok(self.predict_into(row, &mut scratch)?.to_prediction())
    }

    /// The row after each stage.
    ///
    /// # Errors
    ///
    /// As [`FittedPipeline::predict_into`], for the transform stages.
    pub fn transform_row(&self, row: &[Value]) -> Result<TransformTrace> {
        let t = &self.parts.transforms;
        let mut prepared = Vec::new();
        t.prepare(row, &mut prepared)?;
        let mut imputed = prepared.clone();
        if let Some(imputer) = &t.parts.imputer {
            imputer.transform_row(&mut imputed)?;
        }
        let mut scaled = imputed.clone();
        // Re-run imputation + scaling as serving does, so a missing value without an
        // imputer is reported the same way here.
        t.impute_and_scale(&mut scaled)?;
        let mut selected = Vec::new();
        t.select(&scaled, &mut selected)?;
        Ok(TransformTrace {
            prepared,
            imputed,
            scaled,
            selected,
        })
    }
}

/// Training data after the fitted transforms, ready for an estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedTraining {
    /// The fitted stages.
    pub transforms: FittedTransforms,
    /// The training rows as the estimator will see them.
    pub x: Matrix,
}

fn pipeline_fit_error(message: String) -> Error {
    Error::Fit {
        stage: "pipeline",
        message,
    }
}

/// Fits encoders, imputer, scaler and selector on training rows (values in
/// `columns` order) and returns them with the transformed training matrix, for the
/// host to train an estimator on before calling [`FittedTransforms::with_estimator`].
///
/// # Errors
///
/// [`Error::Fit`] for an empty training set, rows of the wrong width, a label count
/// that differs from the row count, a value of the wrong type or infinite (naming
/// the column and row), a column with no values to impute or encode from, a missing
/// value without an imputer, `k` larger than the column count, selection for a
/// regressor, or a constant label.
pub fn fit_transforms(
    params: &PipelineParams,
    columns: &[ColumnMeta],
    rows: &[Vec<Value>],
    y: &[Value],
) -> Result<PreparedTraining> {
    if rows.is_empty() {
        return Err(pipeline_fit_error(
            "the training set is empty; check the entity rows and the time window".into(),
        ));
    }
    if columns.is_empty() {
        return Err(pipeline_fit_error("the model has no input features".into()));
    }
    if y.len() != rows.len() {
        return Err(pipeline_fit_error(format!(
            "{} rows but {} labels; give one label per row",
            rows.len(),
            y.len()
        )));
    }
    if let Some((i, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != columns.len())
    {
        return Err(pipeline_fit_error(format!(
            "training row {i} has {} values but there are {} features",
            row.len(),
            columns.len()
        )));
    }
    let mut inputs = Vec::with_capacity(columns.len());
    for (j, column) in columns.iter().enumerate() {
        let values = rows.iter().filter_map(|r| match r.get(j) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        });
        let prep = match (column.dtype, params.encode) {
            (DType::String, Encoding::Ordinal) => {
                ColumnPrep::Ordinal(OrdinalEncoder::fit(&column.name, values)?)
            }
            (DType::String, Encoding::OneHot) => {
                ColumnPrep::OneHot(OneHotEncoder::fit(&column.name, values)?)
            }
            _ => ColumnPrep::Numeric,
        };
        inputs.push(InputColumn {
            name: column.name.clone(),
            prep,
        });
    }
    let mut transforms = FittedTransforms::from_parts(TransformParts {
        inputs,
        imputer: None,
        scaler: None,
        selector: None,
    })?;
    // Training rows go through the very preparation code serving runs.
    let mut x = Matrix::with_cols(transforms.width);
    let mut buffer = Vec::with_capacity(transforms.width);
    for (i, row) in rows.iter().enumerate() {
        transforms.prepare(row, &mut buffer).map_err(|e| match e {
            Error::Request(m) => pipeline_fit_error(format!("training row {i}: {m}")),
            other => other,
        })?;
        x.push_row(&buffer)?;
    }
    let names = transforms.prepared_names();
    match params.impute {
        Some(strategy) => {
            let imputer = SimpleImputer::fit(&x, strategy, &names)?;
            imputer.transform(&mut x)?;
            transforms.parts.imputer = Some(imputer);
        }
        None => check_finite(&x, &names, "pipeline", false)?,
    }
    if let Some(scaler) = Scaler::fit(&x, params.scale, &names)? {
        scaler.transform(&mut x)?;
        transforms.parts.scaler = Some(scaler);
    }
    if let Some(k) = params.select_k_best {
        if !params.estimator.is_classifier() {
            return Err(pipeline_fit_error(
                "select_k_best ranks features by ANOVA F against class labels; \
                 it does not apply to a regressor"
                    .into(),
            ));
        }
        let (_, labels) = encode_labels(y)?;
        let selector = SelectKBest::fit(&x, &labels, k, &names)?;
        x = x.select_columns(selector.support())?;
        transforms.parts.selector = Some(selector);
    }
    Ok(PreparedTraining {
        transforms: FittedTransforms::from_parts(transforms.parts)?,
        x,
    })
}

/// Fits a whole pipeline: [`fit_transforms`], then Gaussian naive Bayes in the
/// core. Other estimators are trained on the host (linfa or smartcore) and joined
/// with [`FittedTransforms::with_estimator`].
///
/// # Errors
///
/// As [`fit_transforms`] and [`GaussianNbParams::fit`] (a constant label, a zero
/// variance), and [`Error::Fit`] for an estimator the core does not train.
pub fn fit_pipeline(
    params: &PipelineParams,
    columns: &[ColumnMeta],
    rows: &[Vec<Value>],
    y: &[Value],
) -> Result<FittedPipeline> {
    let estimator_name = match params.estimator {
        EstimatorSpec::GaussianNb { .. } => None,
        EstimatorSpec::LogisticRegression { .. } => Some("logistic regression"),
        EstimatorSpec::LinearRegression => Some("linear regression"),
    };
    if let Some(name) = estimator_name {
        return Err(pipeline_fit_error(format!(
            "{name} is trained by the host (`verge train`); the core fits Gaussian naive Bayes only. \
             Use fit_transforms, train on its matrix, then FittedTransforms::with_estimator"
        )));
    }
    let prepared = fit_transforms(params, columns, rows, y)?;
    let EstimatorSpec::GaussianNb { var_smoothing } = params.estimator else {
        return Err(pipeline_fit_error("unsupported estimator".into()));
    };
    let model = GaussianNbParams::new()
        .var_smoothing(var_smoothing)
        .fit(&prepared.x, y)?;
    prepared
        .transforms
        .with_estimator(Estimator::GaussianNb(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn nb() -> PipelineParams {
        PipelineParams::new(EstimatorSpec::GaussianNb {
            var_smoothing: 1e-9,
        })
    }

    fn data() -> (Vec<ColumnMeta>, Vec<Vec<Value>>, Vec<Value>) {
        let columns = vec![
            ColumnMeta::new("a", DType::Float64),
            ColumnMeta::new("b", DType::Int64),
            ColumnMeta::new("c", DType::String),
        ];
        let rows = vec![
            vec![
                Value::Float64(1.0),
                Value::Int64(3),
                Value::String("x".into()),
            ],
            vec![Value::Null, Value::Int64(4), Value::String("y".into())],
            vec![Value::Float64(2.0), Value::Int64(9), Value::Null],
            vec![
                Value::Float64(6.0),
                Value::Int64(8),
                Value::String("y".into()),
            ],
            vec![Value::Float64(7.0), Value::Null, Value::String("x".into())],
        ];
        let y = [1, 1, 2, 2, 2].map(Value::Int64).to_vec();
        (columns, rows, y)
    }

    #[test]
    fn stages_and_names() {
        let (columns, rows, y) = data();
        let params = nb()
            .encode(Encoding::OneHot)
            .scale(Scaling::MinMax)
            .select_k_best(Some(3));
        let p = fit_pipeline(&params, &columns, &rows, &y).unwrap();
        assert_eq!(p.input_names(), vec!["a", "b", "c"]);
        assert_eq!(
            p.transforms().prepared_names(),
            vec!["a", "b", "c=x", "c=y"]
        );
        assert_eq!(p.selected_names().len(), 3);
        let trace = p
            .transform_row(&[Value::Null, Value::Int64(5), Value::String("new".into())])
            .unwrap();
        assert!(trace.prepared[0].is_nan());
        assert_eq!(
            &trace.prepared[2..],
            &[0.0, 0.0],
            "unknown category is all zeros"
        );
        assert_eq!(trace.imputed[0], 4.0, "mean of 1, 2, 6, 7");
        assert!((trace.scaled[0] - 0.5).abs() < 1e-15, "(4 - 1) / 6");
        assert_eq!(trace.selected.len(), 3);
        let Prediction::Classes { probabilities, .. } = p.predict(&vec![Value::Null; 3]).unwrap()
        else {
            panic!("a classifier")
        };
        assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ordinal_unknown_is_imputed() {
        let (columns, rows, y) = data();
        let p = fit_pipeline(
            &nb().impute(Some(Imputation::MostFrequent)),
            &columns,
            &rows,
            &y,
        )
        .unwrap();
        let trace = p
            .transform_row(&[
                Value::Float64(1.0),
                Value::Bool(true),
                Value::String("zzz".into()),
            ])
            .unwrap();
        assert_eq!(trace.prepared[1], 1.0, "bools are 0/1");
        assert!(trace.prepared[2].is_nan());
        assert_eq!(
            trace.imputed[2], 0.0,
            "x and y tie twice each: the smaller code wins"
        );
    }

    #[test]
    fn serving_errors_name_the_feature() {
        let (columns, rows, y) = data();
        let p = fit_pipeline(&nb(), &columns, &rows, &y).unwrap();
        let err = p
            .predict(&[Value::String("hot".into()), Value::Null, Value::Null])
            .unwrap_err();
        assert!(
            matches!(&err, Error::Request(m) if m.contains("`a`")),
            "{err}"
        );
        let err = p
            .predict(&[Value::Null, Value::Null, Value::Int64(1)])
            .unwrap_err();
        assert!(
            matches!(&err, Error::Request(m) if m.contains("`c`")),
            "{err}"
        );
        let err = p.predict(&[Value::Float64(f64::INFINITY), Value::Null, Value::Null]);
        assert!(matches!(err, Err(Error::Request(_))));
        assert!(matches!(
            p.predict(&[]),
            Err(Error::Shape {
                expected: 3,
                actual: 0,
                ..
            })
        ));
        // Without an imputer a missing value is refused, by name.
        let full: Vec<Vec<Value>> = rows.iter().take(2).cloned().collect();
        let strict = fit_pipeline(&nb().impute(None), &columns, &full, &y[..2]);
        assert!(strict.is_err(), "row 1 has a null and there is no imputer");
    }

    #[test]
    fn fit_errors_are_clear() {
        let (columns, rows, y) = data();
        let e = fit_pipeline(&nb(), &columns, &[], &[]).unwrap_err();
        assert!(format!("{e}").contains("empty"), "{e}");
        let e = fit_pipeline(&nb(), &columns, &rows, &vec![Value::Int64(1); 5]).unwrap_err();
        assert!(format!("{e}").contains("single class"), "{e}");
        let e = fit_pipeline(&nb().select_k_best(Some(4)), &columns, &rows, &y).unwrap_err();
        assert!(format!("{e}").contains("k = 4"), "{e}");
        let mut nulls = rows.clone();
        for r in &mut nulls {
            r[1] = Value::Null;
        }
        let e = fit_pipeline(&nb(), &columns, &nulls, &y).unwrap_err();
        assert!(format!("{e}").contains("`b`"), "{e}");
        let mut text = rows.clone();
        text[3][0] = Value::String("six".into());
        let e = fit_pipeline(&nb(), &columns, &text, &y).unwrap_err();
        assert!(
            format!("{e}").contains("training row 3") && format!("{e}").contains("`a`"),
            "{e}"
        );
        let mut inf = rows.clone();
        inf[0][0] = Value::Float64(f64::NEG_INFINITY);
        assert!(fit_pipeline(&nb(), &columns, &inf, &y).is_err());
        let lr = PipelineParams::new(EstimatorSpec::LinearRegression);
        let e = fit_pipeline(&lr, &columns, &rows, &y).unwrap_err();
        assert!(format!("{e}").contains("host"), "{e}");
        assert!(fit_transforms(&lr, &columns, &rows, &y).is_ok());
        assert!(fit_transforms(&lr.select_k_best(Some(1)), &columns, &rows, &y).is_err());
    }

    #[test]
    fn mismatched_parts_are_rejected() {
        let (columns, rows, y) = data();
        let p = fit_pipeline(&nb(), &columns, &rows, &y).unwrap();
        let parts = PipelineParts::from(p.clone());
        let mut stages = TransformParts::from(parts.transforms.clone());
        stages.inputs.pop();
        assert!(
            FittedTransforms::from_parts(stages).is_err(),
            "imputer is wider"
        );
        let narrow = Estimator::LinearRegression(
            crate::model::LinearRegression::new(vec![1.0], 0.0).unwrap(),
        );
        assert!(
            parts.transforms.with_estimator(narrow).is_err(),
            "estimator is narrower"
        );
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&p, config).unwrap();
        let (back, _): (FittedPipeline, _) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, p);
    }
}
