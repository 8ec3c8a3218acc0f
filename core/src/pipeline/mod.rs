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
//! | preparation | numbers pass through; text goes through an ordinal or one-hot encoder; a numeric array becomes one column per element, in order (`emb[0]`, `emb[1]`, ...) | null → NaN (an array: every column NaN); unseen category → NaN (ordinal) or all zeros (one-hot); an array of another length than in training is refused |
//! | imputer (optional) | fills NaN with a training statistic | without one, a missing value is an error, except for a tree model, which routes NaN itself |
//! | scaler (optional) | standard or min-max | |
//! | selector (optional) | keeps the k best columns by ANOVA F | |
//! | estimator | Gaussian NB, logistic or linear regression, a tree ensemble | |
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
use crate::model::Estimator;
use crate::transform::{OneHotEncoder, OrdinalEncoder};
use crate::value::{DType, Value};
use crate::{Error, Result};

mod batch;
mod fit;
mod transforms;

use crate::artifact::wire::{decode_enum, decode_struct};
pub use crate::model::{Prediction, PredictionView};
pub use batch::{BatchScratch, RowError};
pub use fit::{PreparedTraining, fit_pipeline, fit_transforms};
use transforms::malformed;
pub use transforms::{FittedTransforms, TransformParts};

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
    /// A numeric array to one column per element, in element order
    /// (`name[0]`, `name[1]`, ...). The length is the one every training row
    /// had; a null array is all NaN, an array of another length is refused.
    Flatten {
        /// Elements per array.
        len: u32,
    },
}

impl ColumnPrep {
    /// Number of model columns this input produces.
    #[must_use]
    pub fn width(&self) -> usize {
        match self {
            ColumnPrep::Numeric | ColumnPrep::Ordinal(_) => 1,
            ColumnPrep::OneHot(e) => e.n_outputs(),
            ColumnPrep::Flatten { len } => *len as usize,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            impute: Some(spec.impute).filter(|i| *i != Imputation::None),
            scale: spec.scale,
            encode: spec.encode,
            select_k_best: spec.select_k_best.map(|k| k as usize),
            estimator: spec.estimator.clone(),
        }
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
        let missing_ok = self.parts.estimator.routes_missing();
        self.parts
            .transforms
            .transform_into_routing(row, prepared, selected, missing_ok)?;
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
        t.impute_and_scale(&mut scaled, self.parts.estimator.routes_missing())?;
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

decode_struct!(ColumnMeta { name, dtype });
decode_enum!(ColumnPrep { Numeric, Ordinal(encoder), OneHot(encoder), Flatten { len } });
decode_struct!(InputColumn { name, prep });
decode_struct!(FittedPipeline as PipelineParts { transforms, estimator });

#[cfg(test)]
mod tests;
