//! The module's one piece of state: the loaded bundle and snapshot, the API over
//! them, and the buffers the last answer and the last error live in.
//!
//! Everything here is safe Rust over byte slices; `abi.rs` turns host pointers into
//! those slices (through [`super::memory`]) and results into return codes.

use std::cell::RefCell;

use verge_core::api::{Api, Limits};
use verge_core::pipeline::{BatchScratch, Prediction};
use verge_core::{DType, KeyPart, Timestamp, Value};

use crate::loaded::{self, LoadError, Loaded};
use verge_core::abi::codes::{ERR_ARTIFACT, ERR_INCOMPATIBLE, ERR_INPUT, ERR_NOT_LOADED};

/// A failed call: the code the export returns and the message `verge_last_error` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        let code = if e.is_incompatible() {
            ERR_INCOMPATIBLE
        } else {
            ERR_ARTIFACT
        };
        Failure::new(code, e.to_string())
    }
}

/// What is loaded, and the answer buffers.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The bundle and snapshot, paired or waiting (the layer every face shares).
    loaded: Loaded,
    /// The last answer (JSON), read by `verge_result_ptr/len`.
    pub(crate) result: Vec<u8>,
    /// Reused by the batch paths so a warm batch does not allocate per row.
    batch: BatchScratch,
    /// The batch's input as floats.
    cells: Vec<f64>,
    values: Vec<f64>,
}

thread_local! {
    /// Wasm is single-threaded: one state per instance. (Natively, as in unit tests,
    /// each thread gets its own.)
    pub(crate) static STATE: RefCell<State> = RefCell::new(State::default());
}

fn no_bundle() -> Failure {
    Failure::new(
        ERR_NOT_LOADED,
        "no bundle loaded: call verge_load_bundle first",
    )
}

impl State {
    fn api(&self) -> Result<&Api, Failure> {
        self.loaded.api().ok_or_else(|| {
            Failure::new(
                ERR_NOT_LOADED,
                format!(
                    "nothing to serve yet: load {} first (verge_load_bundle, verge_load_snapshot)",
                    self.loaded.missing()
                ),
            )
        })
    }

    /// Loads a bundle. Paired with the snapshot already loaded, if any; a bundle the
    /// snapshot does not fit is refused and the previous state kept.
    pub(crate) fn load_bundle(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let bundle = loaded::bundle(bytes)?;
        Ok(self.loaded.set_bundle(bundle)?)
    }

    /// Adds a bundle to those loaded (in place of one of the same model or
    /// feature service), so one snapshot serves several; refused, keeping the
    /// previous state, as [`State::load_bundle`] is.
    pub(crate) fn add_bundle(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let bundle = loaded::bundle(bytes)?;
        Ok(self.loaded.add_bundle(bundle)?)
    }

    /// Loads a snapshot (or one shard of one), as [`State::load_bundle`] does a bundle.
    pub(crate) fn load_snapshot(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        let snapshot = loaded::snapshot(bytes)?;
        Ok(self.loaded.set_snapshot(snapshot)?)
    }

    /// Layers a delta snapshot over the snapshot loaded, as
    /// [`crate::loaded::Loaded::add_delta`].
    pub(crate) fn add_delta(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        if matches!(
            self.loaded.missing(),
            "a snapshot" | "a bundle and a snapshot"
        ) {
            return Err(Failure::new(
                ERR_NOT_LOADED,
                "no snapshot to layer the delta over: verge_load_snapshot the base first",
            ));
        }
        let delta = loaded::snapshot(bytes)?;
        Ok(self.loaded.add_delta(delta)?)
    }

    /// Drops everything loaded.
    pub(crate) fn unload(&mut self) {
        self.loaded.unload();
    }

    /// Sets the request limits (zero keeps a limit's current value).
    pub(crate) fn set_limits(
        &mut self,
        max_body_bytes: usize,
        max_entities: usize,
        max_cells: usize,
    ) {
        let mut limits: Limits = self.loaded.limits();
        if max_body_bytes > 0 {
            limits.max_body_bytes = max_body_bytes;
        }
        if max_entities > 0 {
            limits.max_entities = max_entities;
        }
        if max_cells > 0 {
            limits.max_cells = max_cells;
        }
        self.loaded.set_limits(limits);
    }

    /// Answers one HTTP request into `result`; returns the status.
    pub(crate) fn handle(
        &mut self,
        method: &[u8],
        path: &[u8],
        body: &[u8],
        now: i64,
    ) -> Result<u16, Failure> {
        let method = std::str::from_utf8(method)
            .map_err(|_| Failure::new(ERR_INPUT, "the method is not UTF-8"))?;
        let path = std::str::from_utf8(path)
            .map_err(|_| Failure::new(ERR_INPUT, "the path is not UTF-8"))?;
        let response = self.api()?.handle(method, path, body, Timestamp(now));
        self.result = response.body;
        Ok(response.status)
    }

    /// Floats per row that the batch paths write: the class count, or 1 for a regressor.
    pub(crate) fn output_width(&self) -> Result<usize, Failure> {
        let bundle = self.loaded.bundle().ok_or_else(no_bundle)?;
        Ok(verge_core::api::output_width(bundle))
    }

    /// The input width of [`State::score_batch`]: the service's feature count.
    pub(crate) fn input_width(&self) -> Result<usize, Failure> {
        let bundle = self.loaded.bundle().ok_or_else(no_bundle)?;
        Ok(bundle.contents().features.len())
    }

    /// The core's model info for the loaded bundle (one shape for every face)
    /// into `result`.
    pub(crate) fn model_info(&mut self) -> Result<(), Failure> {
        self.result = self.loaded.model_info().ok_or_else(no_bundle)?;
        Ok(())
    }

    /// Scores `rows` rows of `cols` little-endian f64 features (NaN = missing) into
    /// `out` (`rows × output_width` floats), through the core's batch path
    /// ([`verge_core::pipeline::FittedPipeline::predict_batch_into`]): the same
    /// bits as the row path, without building a row of values per row.
    pub(crate) fn score_batch(
        &mut self,
        input: &[u8],
        rows: usize,
        cols: usize,
        out: &mut Vec<f64>,
    ) -> Result<(), Failure> {
        let width = self.input_width()?;
        if cols != width {
            return Err(Failure::new(
                ERR_INPUT,
                format!("the model reads {width} features per row, got cols = {cols}"),
            ));
        }
        let State {
            loaded,
            batch,
            cells,
            ..
        } = self;
        let Some(bundle) = loaded.bundle() else {
            return Err(no_bundle());
        };
        let pipeline = &bundle
            .contents()
            .require_model()
            .map_err(|e| Failure::new(ERR_INPUT, format!("{e}")))?
            .pipeline;
        cells.clear();
        cells.extend(
            input
                .chunks_exact(8)
                .take(rows.saturating_mul(cols))
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
        );
        pipeline
            .predict_batch_into(cells, cols, batch, out)
            .map_err(|e| Failure::new(ERR_INPUT, format!("row {}: {}", e.row, e.error)))
    }

    /// Predicts for `keys` (the bundle's single int64 join key) at `now`, writing
    /// `n × output_width` floats into `out`; request fields are sent as null.
    pub(crate) fn predict_batch_i64(
        &mut self,
        keys: &[u8],
        now: i64,
        out: &mut Vec<f64>,
    ) -> Result<(), Failure> {
        let api = self.api()?;
        let predictor = api.predictor();
        let contents = predictor.bundle().contents();
        match contents.entity_keys.as_slice() {
            [k] if k.dtype == DType::Int64 => {}
            other => {
                return Err(Failure::new(
                    ERR_INPUT,
                    format!(
                        "verge_predict_batch_i64 needs a model with one int64 join key; this one has {}: use verge_predict_json",
                        other
                            .iter()
                            .map(|k| format!("{} ({})", k.name, k.dtype))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let request = vec![Value::Null; contents.request.len()];
        out.clear();
        for (i, b) in keys.chunks_exact(8).enumerate() {
            let key = i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            let p = predictor
                .predict(&[KeyPart::Int64(key)], &request, Timestamp(now))
                .map_err(|e| Failure::new(ERR_INPUT, format!("row {i} (key {key}): {e}")))?;
            match p.prediction {
                Prediction::Classes { probabilities, .. } => out.extend_from_slice(&probabilities),
                Prediction::Value(v) => out.push(v),
            }
        }
        Ok(())
    }

    /// A reusable float buffer for batch outputs (taken and given back by the caller).
    pub(crate) fn take_values(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.values)
    }

    /// Gives back the buffer from [`State::take_values`].
    pub(crate) fn put_values(&mut self, values: Vec<f64>) {
        self.values = values;
    }
}
