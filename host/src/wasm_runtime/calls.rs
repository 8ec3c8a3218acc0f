//! The typed calls on a [`WasmRuntime`]: loading a bundle and a snapshot,
//! request limits, HTTP answers through the module's `Api::handle`, model info,
//! and the batch scoring paths benchmarks and `verify` use.

use anyhow::{Context as _, bail};
use verge_core::Timestamp;

use super::runtime::Load;
use super::{WasmRuntime, to_u32};

impl WasmRuntime {
    /// Loads a bundle (paired with the loaded snapshot, if any).
    ///
    /// # Errors
    ///
    /// An [`AbiError`] with `ERR_ARTIFACT` for bytes that are not a valid bundle,
    /// `ERR_INCOMPATIBLE` when it does not fit the loaded snapshot (the previous
    /// pair stays loaded).
    pub fn load_bundle(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, Load::Bundle)
    }

    /// Adds a bundle beside those loaded (in place of the bundle of the same
    /// model, or the feature bundle of the same service).
    ///
    /// # Errors
    ///
    /// As [`WasmRuntime::load_bundle`], and `ERR_INCOMPATIBLE` for a bundle a
    /// request could not tell from one already loaded.
    pub fn add_bundle(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, Load::AddBundle)
    }

    /// Loads a snapshot or shard (paired with the loaded bundle, if any).
    ///
    /// # Errors
    ///
    /// As [`WasmRuntime::load_bundle`].
    pub fn load_snapshot(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, Load::Snapshot)
    }

    /// Layers a delta snapshot over the snapshot loaded (and earlier deltas).
    ///
    /// # Errors
    ///
    /// A module without `verge_add_delta`, a refused delta (no snapshot, or
    /// another shape or shard), or a trap.
    pub fn add_delta(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, Load::Delta)
    }

    /// Sets the request limits (as [`verge_core::api::Limits`]).
    ///
    /// # Errors
    ///
    /// When a limit does not fit in 32 bits, or on a trap.
    pub fn set_limits(&mut self, limits: verge_core::api::Limits) -> anyhow::Result<()> {
        self.ensure_live()?;
        let body = to_u32(limits.max_body_bytes, "max_body_bytes")?;
        let entities = u32::try_from(limits.max_entities).context("max_entities is too large")?;
        let cells = u32::try_from(limits.max_cells).context("max_cells is too large")?;
        let code = self.call("verge_set_limits", |r| {
            r.exports
                .set_limits
                .call(&mut r.store, (body, entities, cells))
        })?;
        self.check("verge_set_limits", code)?;
        self.limits = Some((body, entities, cells));
        Ok(())
    }

    fn result(&mut self) -> anyhow::Result<Vec<u8>> {
        let ptr = self.call("verge_result_ptr", |r| {
            r.exports.result_ptr.call(&mut r.store, ())
        })?;
        let len = self.call("verge_result_len", |r| {
            r.exports.result_len.call(&mut r.store, ())
        })?;
        self.read_memory(ptr, len)
    }

    /// Answers an HTTP request through the module's `Api::handle`: (status, JSON body).
    ///
    /// # Errors
    ///
    /// An [`AbiError`] (`ERR_NOT_LOADED` before a bundle and a snapshot are
    /// loaded), or a trap. HTTP errors are answers, not errors.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        now: Timestamp,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        self.ensure_live()?;
        let (m, p) = (method.len(), path.len());
        let total = to_u32(m + p + body.len(), "the request")?;
        let base = self.scratch(total)?;
        let mut request = Vec::with_capacity(total as usize);
        request.extend_from_slice(method.as_bytes());
        request.extend_from_slice(path.as_bytes());
        request.extend_from_slice(body);
        self.write(base, &request)?;
        let (m, p) = (m as u32, p as u32);
        let args = (
            base,
            m,
            base + m,
            p,
            base + m + p,
            total - m - p,
            now.as_micros(),
        );
        let code = self.call("verge_handle", |r| {
            r.exports.handle.call(&mut r.store, args)
        })?;
        let status = self.check("verge_handle", code)?;
        let status = u16::try_from(status).context("the module returned a status out of range")?;
        Ok((status, self.result()?))
    }

    /// The loaded bundle described as JSON (features, classes, outputs).
    ///
    /// # Errors
    ///
    /// `ERR_NOT_LOADED` without a bundle, or a trap.
    pub fn model_info(&mut self) -> anyhow::Result<serde_json::Value> {
        self.ensure_live()?;
        let code = self.call("verge_model_info", |r| {
            r.exports.model_info.call(&mut r.store, ())
        })?;
        self.check("verge_model_info", code)?;
        serde_json::from_slice(&self.result()?).context("the module's model info is not JSON")
    }

    /// The size of the instance's linear memory in bytes. Wasm memory only
    /// grows, so this is the peak of every request the instance has answered.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.exports.memory.data_size(&self.store)
    }

    /// Floats per row the batch paths write (the class count, or 1).
    ///
    /// # Errors
    ///
    /// `ERR_NOT_LOADED` without a bundle, or a trap.
    pub fn output_width(&mut self) -> anyhow::Result<usize> {
        self.ensure_live()?;
        let code = self.call("verge_output_width", |r| {
            r.exports.output_width.call(&mut r.store, ())
        })?;
        Ok(self.check("verge_output_width", code)? as usize)
    }

    fn batch(
        &mut self,
        input: &[u8],
        rows: usize,
        run: impl FnOnce(&mut Self, u32, u32) -> wasmtime::Result<i32>,
        export: &'static str,
    ) -> anyhow::Result<Vec<f64>> {
        let width = self.output_width()?;
        let in_len = to_u32(input.len(), "the batch")?;
        let out_len = to_u32(rows * width * 8, "the batch output")?;
        let total = in_len
            .checked_add(out_len)
            .context("the batch is too large")?;
        let base = self.scratch(total.max(1))?;
        self.write(base, input)?;
        let out_ptr = base + in_len;
        let code = self.call(export, |r| run(r, base, out_ptr))?;
        self.check(export, code)?;
        let bytes = self.read_memory(out_ptr, out_len)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect())
    }

    /// Scores rows of feature values the caller already has (`rows.len()` is a
    /// multiple of `cols`; NaN marks a missing value). Returns `rows ×
    /// output_width` floats: class probabilities row by row, or values.
    ///
    /// # Errors
    ///
    /// `ERR_INPUT` naming the row for a wrong width or a value the model cannot
    /// take; `ERR_NOT_LOADED` without a bundle.
    pub fn score_batch(&mut self, values: &[f64], cols: usize) -> anyhow::Result<Vec<f64>> {
        if cols == 0 || !values.len().is_multiple_of(cols) {
            bail!("{} values do not make rows of {cols}", values.len());
        }
        let rows = values.len() / cols;
        let input: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let (r32, c32) = (to_u32(rows, "rows")?, to_u32(cols, "cols")?);
        self.batch(
            &input,
            rows,
            |r, ptr, out| {
                r.exports
                    .score_batch
                    .call(&mut r.store, (ptr, r32, c32, out))
            },
            "verge_score_batch",
        )
    }

    /// Predicts for int64 entity keys at `now` (request fields null). Returns
    /// `keys.len() × output_width` floats.
    ///
    /// # Errors
    ///
    /// `ERR_INPUT` for a model whose entity is not one int64 join key;
    /// `ERR_NOT_LOADED` before a bundle and a snapshot are loaded.
    pub fn predict_batch_i64(&mut self, keys: &[i64], now: Timestamp) -> anyhow::Result<Vec<f64>> {
        let input: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
        let n = to_u32(keys.len(), "keys")?;
        let now = now.as_micros();
        self.batch(
            &input,
            keys.len(),
            |r, ptr, out| {
                r.exports
                    .predict_batch_i64
                    .call(&mut r.store, (ptr, n, now, out))
            },
            "verge_predict_batch_i64",
        )
    }
}
