//! verge's side of `bench/trees/run`: imports a model file trained by XGBoost or
//! LightGBM with the host's own readers (what `verge train` does for
//! `estimator = "xgboost"` / `"lightgbm"`), checks its predictions against the
//! library's, and times single-row and batch predictions natively and through
//! the raw Wasm ABI module under wasmtime (the module `verge` embeds), on the
//! same rows the Python side timed.
//!
//! ```text
//! bench_trees --source xgboost|lightgbm --model FILE --rows ROWS.f64 --cols 30
//!             [--expect P1.f64] [--calls 2000] [--runs 30]
//! ```
//!
//! `ROWS.f64` is row-major little-endian f64 (NaN for missing), `P1.f64` the
//! library's probability of class 1 for each row. Prints one JSON object:
//! medians in microseconds per call (`one_*`) and per row of a 1,000-row batch
//! (`batch_*`), the bundle's size in bytes, and the check's result.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::json;
use verge_core::model::tree::TreeEnsemble;
use verge_host::train::import::{lightgbm, xgboost};
use verge_host::wasm_runtime::WasmModule;
use verge_test_kit::trees::bundle;

struct Args {
    source: String,
    model: PathBuf,
    rows: PathBuf,
    cols: usize,
    expect: Option<PathBuf>,
    calls: usize,
    runs: usize,
}

fn parse() -> anyhow::Result<Args> {
    let mut a = Args {
        source: String::new(),
        model: PathBuf::new(),
        rows: PathBuf::new(),
        cols: 0,
        expect: None,
        calls: 2000,
        runs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--source" => a.source = value,
            "--model" => a.model = value.into(),
            "--rows" => a.rows = value.into(),
            "--cols" => a.cols = value.parse().context("--cols")?,
            "--expect" => a.expect = Some(value.into()),
            "--calls" => a.calls = value.parse().context("--calls")?,
            "--runs" => a.runs = value.parse().context("--runs")?,
            other => bail!("unknown flag {other}"),
        }
    }
    if a.cols == 0 || a.calls == 0 || a.runs == 0 {
        bail!("--cols, --calls and --runs must be positive");
    }
    Ok(a)
}

fn read_f64(path: &PathBuf) -> anyhow::Result<Vec<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !bytes.len().is_multiple_of(8) {
        bail!("{}: not a whole number of f64 values", path.display());
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect())
}

fn import(source: &str, model: &PathBuf) -> anyhow::Result<TreeEnsemble> {
    let bytes = std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
    let imported = match source {
        "xgboost" => xgboost::read(&bytes)?,
        "lightgbm" => lightgbm::read(std::str::from_utf8(&bytes).context("model.txt is UTF-8")?)?,
        other => bail!("--source is xgboost or lightgbm, not {other}"),
    };
    Ok(TreeEnsemble::from_parts(imported.parts)?)
}

/// Median of `runs` timings of `f`, in microseconds, each divided by `per`.
fn median_us(
    runs: usize,
    per: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e6 / per as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(f64::NAN))
}

fn run(a: &Args) -> anyhow::Result<serde_json::Value> {
    let model = import(&a.source, &a.model)?;
    let values = read_f64(&a.rows)?;
    let rows: Vec<&[f64]> = values.chunks_exact(a.cols).collect();
    let batch: Vec<f64> = rows
        .iter()
        .take(1000)
        .flat_map(|r| r.iter().copied())
        .collect();
    let n_batch = batch.len() / a.cols;
    if rows.is_empty() || n_batch == 0 {
        bail!("{}: no rows of {} values", a.rows.display(), a.cols);
    }
    let mut out = vec![0.0; model.classes().len()];
    let mut p1 = Vec::with_capacity(rows.len());
    for r in &rows {
        model.predict_proba_into(r, &mut out)?;
        p1.push(out.get(1).copied().unwrap_or(f64::NAN));
    }
    // The bundle `verge train` would build for this file (no imputer).
    let bytes = bundle(model.clone(), a.cols);
    let mut wasm = WasmModule::embedded()?.instantiate()?;
    wasm.load_bundle(&bytes)?;
    let wasm_out = wasm.score_batch(&values, a.cols)?;
    let wasm_p1: Vec<f64> = wasm_out.chunks_exact(2).map(|p| p[1]).collect();
    let wasm_equal = wasm_p1
        .iter()
        .zip(&p1)
        .all(|(w, n)| w.to_bits() == n.to_bits());
    let (max_diff, bitwise) = match &a.expect {
        Some(path) => {
            let want = read_f64(path)?;
            if want.len() != p1.len() {
                bail!(
                    "{} has {} values for {} rows",
                    path.display(),
                    want.len(),
                    p1.len()
                );
            }
            let diff = p1
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let same = p1
                .iter()
                .zip(&want)
                .filter(|(a, b)| a.to_bits() == b.to_bits())
                .count();
            (Some(diff), Some(same))
        }
        None => (None, None),
    };

    let mut i = 0usize;
    let one_native = median_us(a.calls, 1, || {
        i = (i + 1) % rows.len();
        model.predict_proba_into(rows[i], &mut out)?;
        Ok(())
    })?;
    let mut probs = vec![0.0; n_batch * out.len()];
    let batch_native = median_us(a.runs, n_batch, || {
        model.predict_proba_batch_into(&batch, &mut probs)?;
        Ok(())
    })?;
    let one_wasm = median_us(a.calls, 1, || {
        i = (i + 1) % rows.len();
        wasm.score_batch(rows[i], a.cols)?;
        Ok(())
    })?;
    let batch_wasm = median_us(a.runs, n_batch, || {
        wasm.score_batch(&batch, a.cols)?;
        Ok(())
    })?;
    Ok(json!({
        "source": a.source,
        "trees": model.n_trees(),
        "one_native_us": one_native,
        "batch_native_us": batch_native,
        "one_wasm_us": one_wasm,
        "batch_wasm_us": batch_wasm,
        "bundle_bytes": bytes.len(),
        "model_file_bytes": std::fs::metadata(&a.model)?.len(),
        "rows": p1.len(),
        "max_abs_diff": max_diff,
        "bitwise_equal_rows": bitwise,
        "wasm_equals_native": wasm_equal,
    }))
}

fn main() -> ExitCode {
    match parse().and_then(|a| run(&a)) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_trees: {e:#}");
            ExitCode::from(2)
        }
    }
}
