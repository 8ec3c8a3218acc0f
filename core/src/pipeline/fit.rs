//! Fitting the pipeline's stages on training rows: [`fit_transforms`] (encoders,
//! imputer, scaler, selector) and [`fit_pipeline`] (the same, then the estimator).
//!
//! Fitting prepares each row with the very code serving runs (`FittedTransforms::prepare`),
//! so a training row and a served row of equal values become equal numbers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    ColumnMeta, ColumnPrep, FittedPipeline, FittedTransforms, InputColumn, PipelineParams,
    TransformParts,
};
use crate::definition::{Encoding, EstimatorSpec};
use crate::model::{Estimator, GaussianNbParams, encode_labels};
use crate::transform::{
    Matrix, OneHotEncoder, OrdinalEncoder, Scaler, SelectKBest, SimpleImputer, check_finite,
};
use crate::value::{DType, Value};
use crate::{Error, Result};

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
    let inputs = columns
        .iter()
        .enumerate()
        .map(|(j, column)| {
            Ok(InputColumn {
                name: column.name.clone(),
                prep: column_prep(params, column, rows.iter().filter_map(|r| r.get(j)))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
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
        // A tree routes a missing value itself; anything else needs it filled.
        None => check_finite(&x, &names, "pipeline", params.estimator.is_tree())?,
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
        EstimatorSpec::XgBoost { .. } => Some("an XGBoost model"),
        EstimatorSpec::LightGbm { .. } => Some("a LightGBM model"),
        EstimatorSpec::RandomForest { .. } => Some("a random forest"),
        EstimatorSpec::DecisionTree { .. } => Some("a decision tree"),
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

/// The one length every non-null training array of feature `name` has.
fn array_len<'v>(name: &str, values: impl Iterator<Item = &'v Value>) -> Result<u32> {
    let mut len: Option<usize> = None;
    for v in values {
        let Value::Array(a) = v else { continue };
        match len {
            None => len = Some(a.len()),
            Some(n) if n != a.len() => {
                return Err(pipeline_fit_error(format!(
                    "array feature `{name}` has lengths {n} and {} in training; a model input \
                     needs one length (pad or truncate the arrays in the source)",
                    a.len()
                )));
            }
            Some(_) => {}
        }
    }
    let len = len.ok_or_else(|| {
        pipeline_fit_error(format!(
            "array feature `{name}` is null in every training row; its length is unknown"
        ))
    })?;
    u32::try_from(len)
        .map_err(|_| pipeline_fit_error(format!("array feature `{name}` is too long")))
}

/// How input `column` becomes numbers, fitted on its training values.
fn column_prep<'v>(
    params: &PipelineParams,
    column: &ColumnMeta,
    values: impl Iterator<Item = &'v Value> + Clone,
) -> Result<ColumnPrep> {
    let texts = values.clone().filter_map(|v| match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    });
    Ok(match (column.dtype, params.encode) {
        (DType::String, Encoding::Ordinal) => {
            ColumnPrep::Ordinal(OrdinalEncoder::fit(&column.name, texts)?)
        }
        (DType::String, Encoding::OneHot) => {
            ColumnPrep::OneHot(OneHotEncoder::fit(&column.name, texts)?)
        }
        (DType::Array(elem), _) if elem.is_numeric() => ColumnPrep::Flatten {
            len: array_len(&column.name, values)?,
        },
        (d, _) if d.is_numeric() => ColumnPrep::Numeric,
        (d, _) => {
            return Err(pipeline_fit_error(format!(
                "feature `{}` is {d}, which a model cannot read; use numbers, text, \
                 numeric arrays, or an on-demand feature computed from it",
                column.name
            )));
        }
    })
}
