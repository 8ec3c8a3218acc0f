//! Proves the edge computes what the host computes: the same requests go to
//! the native core ([`Api::handle`]) and to the raw Wasm ABI module under
//! wasmtime, and every answer must match byte for byte. `verge verify` and
//! `verge run`'s verify step both call [`run`].

mod rows;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::{DType, KeyPart, Timestamp};

use crate::resolve::pair_predictor;
use crate::wasm_runtime::{WasmModule, WasmRuntime};
pub use rows::{Row, every_key_rows, key_json, snapshot_key_rows};

/// Which entity rows to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entities {
    /// Every key of the bundle's views in the snapshot (or a seeded random
    /// sample of `sample` of them), a few unknown keys, and seeded request data.
    Snapshot {
        /// Check this many keys drawn at random instead of all of them.
        sample: Option<usize>,
        /// Seed for the sample and the generated request data.
        seed: u64,
    },
    /// The join-key columns of an entity table (CSV or Parquet); columns named
    /// like request fields are sent as request data.
    File(PathBuf),
    /// [`every_key_rows`]: every key, one unknown key, null request data.
    EveryKey,
}

/// What to verify: a pair's bytes, the rows, and the time.
#[derive(Debug, Clone)]
pub struct Verification<'a> {
    /// The bundle's bytes, as stored.
    pub bundle: &'a [u8],
    /// The snapshot's bytes, as stored.
    pub snapshot: &'a [u8],
    /// The rows to send.
    pub entities: Entities,
    /// Evaluate TTLs at this time; `None` is the snapshot's window end, so
    /// reruns give the same answers.
    pub now: Option<Timestamp>,
}

/// A finished verification: the report and the time it evaluated TTLs at.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What was compared and what differed.
    pub report: Report,
    /// The request time used.
    pub now: Timestamp,
}

/// Loads the pair natively and into a fresh instance of `module`, then sends
/// every check to both and compares.
///
/// # Errors
///
/// Artifacts that fail their checks or do not fit together, an unreadable
/// entity table, or a Wasm module that fails outright (an ABI error or a trap).
pub fn run(module: &WasmModule, job: &Verification<'_>) -> anyhow::Result<Outcome> {
    let bundle = Bundle::load(job.bundle).context("loading the bundle")?;
    let snapshot = Snapshot::load(job.snapshot.to_vec()).context("loading the snapshot")?;
    let now = job.now.unwrap_or(snapshot.meta().window_end);
    let mut runtime = module.instantiate()?;
    // Large bodies are fine here; batches stay at BATCH rows.
    let limits = Limits {
        max_body_bytes: u32::MAX as usize,
        max_entities: BATCH,
        max_cells: u32::MAX as usize,
    };
    runtime.set_limits(limits)?;
    runtime
        .load_bundle(job.bundle)
        .context("the Wasm module refused the bundle")?;
    runtime
        .load_snapshot(job.snapshot)
        .context("the Wasm module refused the snapshot")?;
    let rows = match &job.entities {
        Entities::Snapshot { sample, seed } => {
            rows::rows_from_snapshot(&bundle, &snapshot, *sample, &mut rows::Rng::new(*seed))
        }
        Entities::File(path) => rows::rows_from_file(path, &bundle)?,
        Entities::EveryKey => every_key_rows(&bundle, &snapshot),
    };
    let api = Api::new(pair_predictor(bundle, snapshot)?, limits);
    let report = check(&api, &mut runtime, &rows, now)?;
    Ok(Outcome { report, now })
}

/// The outcome of a verification.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// Entity rows checked.
    pub rows: usize,
    /// Requests sent to both sides.
    pub requests: usize,
    /// Requests (and batch rows) whose answers differ.
    pub mismatches: usize,
    /// Largest absolute difference between probabilities (or values) seen.
    pub largest_difference: f64,
    /// The first difference, described.
    pub first: Option<String>,
}

/// Entity rows per batched request.
const BATCH: usize = 100;

/// The body of a request for `rows`: columns of entity keys and request data.
fn body(rows: &[Row], service: Option<&str>) -> Vec<u8> {
    let mut entities: Map<String, Json> = Map::new();
    let mut context: Map<String, Json> = Map::new();
    for (keys, request) in rows {
        for (target, source) in [(&mut entities, keys), (&mut context, request)] {
            for (name, value) in source {
                if let Json::Array(values) = target
                    .entry(name.clone())
                    .or_insert_with(|| Json::Array(Vec::new()))
                {
                    values.push(value.clone());
                }
            }
        }
    }
    let mut body = Map::new();
    if let Some(service) = service {
        body.insert("feature_service".into(), json!(service));
    }
    body.insert("entities".into(), Json::Object(entities));
    if !context.is_empty() {
        body.insert("request_context".into(), Json::Object(context));
    }
    serde_json::to_vec(&Json::Object(body)).unwrap_or_default()
}

/// Numbers at the same places in two JSON documents: the largest absolute difference.
fn largest_difference(a: &Json, b: &Json) -> f64 {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => (x - y).abs(),
            _ => 0.0,
        },
        (Json::Array(x), Json::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(x, y)| largest_difference(x, y))
            .fold(0.0, f64::max),
        (Json::Object(x), Json::Object(y)) => x
            .iter()
            .filter_map(|(k, v)| Some(largest_difference(v, y.get(k)?)))
            .fold(0.0, f64::max),
        _ => 0.0,
    }
}

fn describe(route: &str, body: &[u8], native: (u16, &[u8]), wasm: (u16, &[u8])) -> String {
    let at = native
        .1
        .iter()
        .zip(wasm.1)
        .position(|(a, b)| a != b)
        .unwrap_or(native.1.len().min(wasm.1.len()));
    let around = |bytes: &[u8]| {
        let start = at.saturating_sub(40);
        String::from_utf8_lossy(&bytes[start..bytes.len().min(at + 40)]).into_owned()
    };
    format!(
        "{route} {}: native {} ({} bytes) vs wasm {} ({} bytes), first differing byte {at}: native …{}… wasm …{}…",
        String::from_utf8_lossy(&body[..body.len().min(200)]),
        native.0,
        native.1.len(),
        wasm.0,
        wasm.1.len(),
        around(native.1),
        around(wasm.1)
    )
}

/// Sends every check to both sides and compares.
///
/// # Errors
///
/// When the Wasm module fails outright (an ABI error or a trap), which is a
/// failure of the tool rather than a difference.
pub fn check(
    api: &Api,
    runtime: &mut WasmRuntime,
    rows: &[Row],
    now: Timestamp,
) -> anyhow::Result<Report> {
    let mut report = Report {
        rows: rows.len(),
        ..Report::default()
    };
    let service = api.predictor().bundle().contents().service.clone();
    let compare = |runtime: &mut WasmRuntime,
                   method: &str,
                   route: &str,
                   body: &[u8],
                   report: &mut Report|
     -> anyhow::Result<()> {
        let native = api.handle(method, route, body, now);
        let (status, wasm) = runtime.handle(method, route, body, now)?;
        report.requests += 1;
        if native.status != status || native.body != wasm {
            report.mismatches += 1;
            if let (Ok(a), Ok(b)) = (
                serde_json::from_slice::<Json>(&native.body),
                serde_json::from_slice::<Json>(&wasm),
            ) {
                report.largest_difference =
                    report.largest_difference.max(largest_difference(&a, &b));
            }
            if report.first.is_none() {
                report.first = Some(describe(
                    route,
                    body,
                    (native.status, &native.body),
                    (status, &wasm),
                ));
            }
        }
        Ok(())
    };
    compare(runtime, "GET", "/version", b"", &mut report)?;
    compare(runtime, "GET", "/healthz", b"", &mut report)?;
    for row in rows {
        let one = std::slice::from_ref(row);
        compare(runtime, "POST", "/predict", &body(one, None), &mut report)?;
        compare(
            runtime,
            "POST",
            "/get-online-features",
            &body(one, Some(&service)),
            &mut report,
        )?;
    }
    for chunk in rows.chunks(BATCH) {
        compare(runtime, "POST", "/predict", &body(chunk, None), &mut report)?;
        compare(
            runtime,
            "POST",
            "/get-online-features",
            &body(chunk, Some(&service)),
            &mut report,
        )?;
    }
    check_binary(api, runtime, rows, now, &mut report)?;
    Ok(report)
}

/// The binary batch path against the native predictor, bit for bit (models keyed
/// by one int64 and without request data only). A feature bundle has no model,
/// so it has no binary path to check: its JSON routes are all it serves.
fn check_binary(
    api: &Api,
    runtime: &mut WasmRuntime,
    rows: &[Row],
    now: Timestamp,
    report: &mut Report,
) -> anyhow::Result<()> {
    let contents = api.predictor().bundle().contents();
    if contents.model.is_none() {
        return Ok(());
    }
    let [key] = contents.entity_keys.as_slice() else {
        return Ok(());
    };
    if key.dtype != DType::Int64 || !contents.request.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = rows
        .iter()
        .filter_map(|(k, _)| k.get(&key.name).and_then(Json::as_i64))
        .collect();
    let width = runtime.output_width()?;
    for chunk in keys.chunks(1000) {
        let got = runtime.predict_batch_i64(chunk, now)?;
        report.requests += 1;
        for (i, k) in chunk.iter().enumerate() {
            let want: Vec<f64> = match api.predictor().predict(&[KeyPart::Int64(*k)], &[], now) {
                Ok(out) => match out.prediction {
                    verge_core::pipeline::Prediction::Classes { probabilities, .. } => {
                        probabilities
                    }
                    verge_core::pipeline::Prediction::Value(v) => vec![v],
                },
                Err(e) => bail!("the native core cannot predict for key {k}: {e}"),
            };
            let have = got.get(i * width..(i + 1) * width).unwrap_or(&[]);
            let same = have.len() == want.len()
                && have
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
            if !same {
                report.mismatches += 1;
                let diff = have
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                report.largest_difference = report.largest_difference.max(diff);
                if report.first.is_none() {
                    report.first = Some(format!(
                        "verge_predict_batch_i64 key {k}: native {want:?} vs wasm {have:?}"
                    ));
                }
            }
        }
    }
    Ok(())
}
