//! The binary batch path: many rows of numbers scored at once, for the Wasm
//! ABI's `verge_score_batch` and any caller that already holds a matrix.
//!
//! [`FittedPipeline::predict_into`] takes one row of [`Value`]s; a batch of
//! numbers would pay, per row, for building those values, for the per-input
//! preparation and for the buffers' bookkeeping. Here, when every input is a
//! number (the common shape), the rows go through each stage a block at a time
//! over one row-major matrix: NaN to missing, the imputer, the scaler, the
//! selector, then the estimator's own batch walk (a tree ensemble walks each
//! tree over the block). The arithmetic is the row path's, operation for
//! operation, so the answers are the same bits.
//!
//! Any row the fast path cannot take (an infinite value, a missing value
//! without an imputer, a scaling overflow, an estimator error), and any
//! pipeline it does not cover (text or array inputs), sends the whole batch
//! through the row path instead, which names the first failing row exactly as
//! a row-by-row caller would see it. A failure is the rare case; it costs a
//! second pass, never a different answer.

use alloc::vec::Vec;

use super::{ColumnPrep, FittedPipeline, Scratch};
use crate::model::PredictionView;
use crate::value::Value;
use crate::{Error, Result};

/// Rows taken through the stages together: 64 rows of a few dozen features
/// stay in the first-level cache between stages.
const BLOCK: usize = 64;

/// Reusable buffers for [`FittedPipeline::predict_batch_into`].
#[derive(Debug, Clone, Default)]
pub struct BatchScratch {
    prepared: Vec<f64>,
    selected: Vec<f64>,
    row: Vec<Value>,
    scratch: Scratch,
}

impl BatchScratch {
    /// Empty buffers; they grow on first use and are then reused.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// A row of a batch that failed: its index and the row path's error for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// Index of the row in the batch (0-based).
    pub row: usize,
    /// Why [`FittedPipeline::predict_into`] refused it.
    pub error: Error,
}

impl FittedPipeline {
    /// Floats per row that [`FittedPipeline::predict_batch_into`] writes: the
    /// class count, or 1 for a regressor.
    #[must_use]
    pub fn output_width(&self) -> usize {
        self.parts.estimator.output_width()
    }

    /// Scores a batch: `rows` holds the rows one after the other, `cols`
    /// numbers each in the inputs' order, NaN for a missing value (as
    /// [`Value::Null`] would be). Writes [`FittedPipeline::output_width`] floats
    /// per row into `out` (the probabilities, or the value), equal bit for bit
    /// to [`FittedPipeline::predict_into`] on each row of [`Value::Float64`]s.
    /// Allocation-free once `scratch` and `out` are warm.
    ///
    /// # Errors
    ///
    /// [`RowError`] for the first row the row path refuses (a wrong `cols` is
    /// row 0's [`Error::Shape`], a partial last row that row's); `out` is then
    /// cleared.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::definition::{EstimatorSpec, Imputation};
    /// use verge_core::pipeline::{BatchScratch, ColumnMeta, PipelineParams, fit_pipeline};
    /// use verge_core::{DType, Value};
    ///
    /// let columns = [ColumnMeta::new("t", DType::Float64)];
    /// let rows: Vec<Vec<Value>> = [37.0, 38.0, 40.0, 41.0].map(|t| vec![Value::Float64(t)]).into();
    /// let y = [1, 1, 2, 2].map(Value::Int64);
    /// let params = PipelineParams::new(EstimatorSpec::GaussianNb { var_smoothing: 1e-9 })
    ///     .impute(Some(Imputation::Mean));
    /// let pipeline = fit_pipeline(&params, &columns, &rows, &y).unwrap();
    ///
    /// let (mut scratch, mut out) = (BatchScratch::new(), Vec::new());
    /// pipeline.predict_batch_into(&[37.5, f64::NAN], 1, &mut scratch, &mut out).unwrap();
    /// assert_eq!(out.len(), 2 * pipeline.output_width());
    /// let e = pipeline.predict_batch_into(&[1.0, f64::INFINITY], 1, &mut scratch, &mut out);
    /// assert_eq!(e.unwrap_err().row, 1);
    /// ```
    pub fn predict_batch_into(
        &self,
        rows: &[f64],
        cols: usize,
        scratch: &mut BatchScratch,
        out: &mut Vec<f64>,
    ) -> core::result::Result<(), RowError> {
        out.clear();
        if rows.is_empty() {
            return Ok(());
        }
        if self.numeric_inputs(cols) && self.fast_batch(rows, cols, scratch, out).is_ok() {
            return Ok(());
        }
        out.clear();
        let done = self.batch_by_rows(rows, cols, scratch, out);
        if done.is_err() {
            out.clear();
        }
        done
    }

    /// Whether every input is one plain number and a row is `cols` of them.
    fn numeric_inputs(&self, cols: usize) -> bool {
        let inputs = &self.parts.transforms.parts.inputs;
        cols == inputs.len() && inputs.iter().all(|c| matches!(c.prep, ColumnPrep::Numeric))
    }

    /// Every stage a block at a time; any error means "ask the row path".
    fn fast_batch(
        &self,
        rows: &[f64],
        cols: usize,
        scratch: &mut BatchScratch,
        out: &mut Vec<f64>,
    ) -> Result<()> {
        let t = &self.parts.transforms;
        let estimator = &self.parts.estimator;
        let missing_ok = estimator.routes_missing();
        let k = t.n_outputs();
        let width = self.output_width();
        if cols == 0 || !rows.len().is_multiple_of(cols) || t.width != cols {
            return Err(Error::Request("not a numeric batch".into()));
        }
        let BatchScratch {
            prepared, selected, ..
        } = scratch;
        out.resize(rows.len() / cols * width, 0.0);
        for (block, answers) in rows.chunks(cols * BLOCK).zip(out.chunks_mut(width * BLOCK)) {
            prepared.clear();
            for &x in block {
                // Preparation: a NaN is a null (NaN), an infinity is refused.
                if x.is_infinite() {
                    return Err(Error::Request("an infinite value".into()));
                }
                prepared.push(if x.is_nan() { f64::NAN } else { x });
            }
            for row in prepared.chunks_exact_mut(cols) {
                t.impute_and_scale(row, missing_ok)?;
            }
            let input = match &t.parts.selector {
                Some(selector) => {
                    selected.clear();
                    selected.resize(block.len() / cols * k, 0.0);
                    for (row, o) in prepared
                        .chunks_exact(cols)
                        .zip(selected.chunks_exact_mut(k))
                    {
                        selector.transform_into(row, o)?;
                    }
                    &selected[..]
                }
                None => &prepared[..],
            };
            estimator.predict_batch_into(input, answers)?;
        }
        Ok(())
    }

    /// The reference: [`FittedPipeline::predict_into`] on each row.
    fn batch_by_rows(
        &self,
        rows: &[f64],
        cols: usize,
        scratch: &mut BatchScratch,
        out: &mut Vec<f64>,
    ) -> core::result::Result<(), RowError> {
        let BatchScratch { row, scratch, .. } = scratch;
        // A partial last row is a row too: the row path refuses its width.
        let count = if cols == 0 {
            1
        } else {
            rows.len().div_ceil(cols)
        };
        for i in 0..count {
            row.clear();
            let end = rows.len().min((i + 1) * cols);
            let cells = rows.get(i * cols..end).unwrap_or_default();
            row.extend(cells.iter().map(|&x| {
                if x.is_nan() {
                    Value::Null
                } else {
                    Value::Float64(x)
                }
            }));
            match self.predict_into(row, scratch) {
                Ok(PredictionView::Classes { probabilities, .. }) => {
                    out.extend_from_slice(probabilities);
                }
                Ok(PredictionView::Value(v)) => out.push(v),
                Err(error) => return Err(RowError { row: i, error }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::definition::{EstimatorSpec, Imputation};
    use crate::pipeline::{ColumnMeta, PipelineParams, fit_pipeline};
    use crate::value::DType;

    /// A clean batch takes the fast path whole (the properties in
    /// `core/tests/batch.rs` would pass on the fallback alone), and gives the
    /// reference's bits; an infinity sends it to the row path.
    #[test]
    fn clean_batches_take_the_fast_path() {
        let columns = [
            ColumnMeta::new("a", DType::Float64),
            ColumnMeta::new("b", DType::Float64),
        ];
        let rows: Vec<Vec<Value>> = (0..10)
            .map(|i| {
                let b = if i % 4 == 1 {
                    Value::Null
                } else {
                    Value::Float64(f64::from(i % 3))
                };
                vec![Value::Float64(f64::from(i)), b]
            })
            .collect();
        let y: Vec<Value> = (0..10).map(|i| Value::Bool(i > 4)).collect();
        let params = PipelineParams::new(EstimatorSpec::GaussianNb {
            var_smoothing: 1e-9,
        })
        .impute(Some(Imputation::Mean))
        .select_k_best(Some(1));
        let p = fit_pipeline(&params, &columns, &rows, &y).unwrap();
        let cells: Vec<f64> = (0..300)
            .map(|i| {
                if i % 5 == 0 {
                    f64::NAN
                } else {
                    f64::from(i % 11)
                }
            })
            .collect();
        let (mut scratch, mut fast, mut slow) = (BatchScratch::new(), Vec::new(), Vec::new());
        assert!(p.numeric_inputs(2));
        p.fast_batch(&cells, 2, &mut scratch, &mut fast).unwrap();
        p.batch_by_rows(&cells, 2, &mut scratch, &mut slow).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(fast.len(), 300);
        assert_eq!(bits(&fast), bits(&slow));
        let mut bad = cells.clone();
        bad[151] = f64::NEG_INFINITY;
        assert!(p.fast_batch(&bad, 2, &mut scratch, &mut fast).is_err());
        let e = p
            .predict_batch_into(&bad, 2, &mut scratch, &mut fast)
            .unwrap_err();
        assert_eq!(e.row, 75);
        assert!(fast.is_empty());
    }
}
