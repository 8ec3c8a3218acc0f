//! [`FittedTransforms`]: every fitted stage before the estimator, checked for
//! agreeing widths when assembled or decoded, and the per-value preparation
//! (numbers pass, text is encoded, null is NaN) shared by fitting and serving.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{ColumnPrep, FittedPipeline, InputColumn, PipelineParts};
use crate::artifact::wire::decode_struct;
use crate::model::Estimator;
use crate::transform::{Scaler, SelectKBest, SimpleImputer};
use crate::value::{DType, Value};
use crate::{Error, Result};

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
    pub(super) parts: TransformParts,
    /// Number of prepared columns (the sum of the inputs' widths).
    pub(super) width: usize,
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

pub(super) fn malformed(message: String) -> Error {
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
                ColumnPrep::Flatten { len } => {
                    names.extend((0..*len).map(|i| format!("{}[{i}]", input.name)));
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
    pub(super) fn prepare(&self, row: &[Value], out: &mut Vec<f64>) -> Result<()> {
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

    /// Steps 2–3: impute and scale `values` in place. Without an imputer a NaN is
    /// an error unless `missing_ok` (the estimator routes missing values itself).
    pub(super) fn impute_and_scale(&self, values: &mut [f64], missing_ok: bool) -> Result<()> {
        match &self.parts.imputer {
            Some(imputer) => imputer.transform_row(values)?,
            None if missing_ok => {}
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
            // A finite value far outside the training range can scale past f64::MAX
            // (a scale below 1 multiplies it). No model answers infinity, and the
            // caller did nothing wrong in sending a finite number: an Eval for this row.
            if let Some(j) = values.iter().position(|v| v.is_infinite()) {
                let name = self.prepared_names().get(j).cloned().unwrap_or_default();
                return Err(Error::Eval(format!(
                    "feature `{name}` is so far outside the training range that scaling overflows"
                )));
            }
        }
        Ok(())
    }

    /// Step 4: the selected columns of `values`, into `out`.
    pub(super) fn select(&self, values: &[f64], out: &mut Vec<f64>) -> Result<()> {
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
        self.transform_into_routing(row, prepared, out, false)
    }

    /// [`FittedTransforms::transform_into`] for an estimator that routes missing
    /// values itself when `missing_ok`: without an imputer, a missing value reaches
    /// it as NaN.
    ///
    /// # Errors
    ///
    /// As [`FittedTransforms::transform_into`].
    pub fn transform_into_routing(
        &self,
        row: &[Value],
        prepared: &mut Vec<f64>,
        out: &mut Vec<f64>,
        missing_ok: bool,
    ) -> Result<()> {
        self.prepare(row, prepared)?;
        self.impute_and_scale(prepared, missing_ok)?;
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
        ColumnPrep::Flatten { len } => match value {
            Value::Null => slot.fill(f64::NAN),
            Value::Array(a) if a.len() == *len as usize && a.elem().is_numeric() => {
                for (i, s) in slot.iter_mut().enumerate() {
                    let x = a.f64_at(i).unwrap_or(f64::NAN);
                    if x.is_infinite() {
                        return Err(Error::Request(format!(
                            "feature `{name}` element {i} is {x}; send finite numbers"
                        )));
                    }
                    *s = x;
                }
            }
            Value::Array(a) => {
                return Err(Error::Request(format!(
                    "feature `{name}` is an array of {len} numbers for this model; got {} {}",
                    a.len(),
                    a.elem()
                )));
            }
            other => {
                return Err(Error::Request(format!(
                    "feature `{name}` expects an array, got a {}",
                    other.dtype().map_or("null", DType::name)
                )));
            }
        },
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

decode_struct!(FittedTransforms as TransformParts { inputs, imputer, scaler, selector });
