//! `verge verify`: proves the edge computes what the host computes. The same
//! requests go to the native core (`Api::handle`) and to the raw Wasm ABI module
//! under wasmtime, and every answer must match byte for byte.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use arrow_array::{
    Array, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
    StringArray,
};
use clap::Args;
use serde_json::{Map, Value as Json, json};
use verge_core::api::{Api, Limits};
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::Field;
use verge_core::{DType, KeyPart, Timestamp};

use super::get_online_features::{locate, predictor, read_time};
use super::output::spinner;
use super::{Ctx, ExitStatus};
use crate::materialize::LATEST;
use crate::table_io::read_table;
use crate::wasm_runtime::{WasmModule, WasmRuntime};

/// Check that the Wasm module answers exactly as the native core.
///
/// Runs every entity through `POST /predict` and `POST /get-online-features`
/// (one at a time and in batches), natively and in the raw ABI module under
/// wasmtime, and demands byte-identical JSON; for models keyed by one int64 it
/// also compares the binary batch path's probabilities bit for bit. Exit 0 when
/// everything matches, 1 naming the first difference.
///
/// Entities: every key in the snapshot (default), a random `--sample N` of them,
/// or the join-key columns of `--entities FILE` (CSV or Parquet; columns named
/// like request fields are sent as request data). A few keys the snapshot does
/// not hold are always added. The module is `$VERGE_WASM`, else the build in the
/// workspace target directory (`cargo build -p verge-wasm --target
/// wasm32-unknown-unknown --profile wasm`).
///
/// Examples:
///   verge verify --bundle model/surgical_lesion
///   verge verify --bundle model/surgical_lesion --snapshot snapshot/latest --sample 200 --seed 7
///   verge verify --bundle 3fa1 --entities entities.csv --now 2021-07-05T12:00:00Z
#[derive(Debug, Args)]
pub struct Verify {
    /// The model bundle: a path, an id or unique prefix, or a ref (`model/NAME`).
    #[arg(long, value_name = "B")]
    pub bundle: String,
    /// The snapshot: a path, an id or unique prefix, or a ref.
    #[arg(long, value_name = "S", default_value = LATEST)]
    pub snapshot: String,
    /// Entity table (.csv or .parquet) whose join-key columns to check.
    #[arg(long, value_name = "FILE", conflicts_with = "sample")]
    pub entities: Option<PathBuf>,
    /// Check N keys drawn at random from the snapshot instead of all of them.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Evaluate TTLs at this time (RFC 3339, `now`, `now-1d`); default: the
    /// snapshot's window end, so reruns give the same answers.
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
    /// Seed for `--sample` and the generated request data.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The Wasm module (default: `$VERGE_WASM`, else the workspace build).
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,
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

/// A small deterministic generator (xorshift64*): samples replay with `--seed`.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One entity row: join key → value, request field → value.
pub type Row = (Map<String, Json>, Map<String, Json>);

impl Verify {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// Unreadable or incompatible artifacts, a missing Wasm module (the message
    /// gives the build command), an unreadable entity table.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let bundle_path = locate(ctx, &self.bundle, "bundle")?;
        let snapshot_path = locate(ctx, &self.snapshot, "snapshot")?;
        let bundle_bytes = fs::read(&bundle_path)
            .with_context(|| format!("cannot read {}", bundle_path.display()))?;
        let snapshot_bytes = fs::read(&snapshot_path)
            .with_context(|| format!("cannot read {}", snapshot_path.display()))?;
        let bundle = Bundle::load(&bundle_bytes)
            .with_context(|| format!("loading bundle {}", bundle_path.display()))?;
        let snapshot = Snapshot::load(snapshot_bytes.clone())
            .with_context(|| format!("loading snapshot {}", snapshot_path.display()))?;
        let now = match &self.now {
            Some(t) => read_time(Some(t))?,
            None => snapshot.meta().window_end,
        };
        let wasm_path = match &self.wasm {
            Some(p) => p.clone(),
            None => WasmModule::locate()?,
        };
        let progress = spinner(ctx.quiet, "compiling the Wasm module");
        let module = WasmModule::load(&wasm_path)?;
        let mut runtime = module.instantiate()?;
        // Large bodies are fine here; batches stay at BATCH rows.
        let limits = Limits {
            max_body_bytes: u32::MAX as usize,
            max_entities: BATCH,
        };
        runtime.set_limits(limits)?;
        runtime
            .load_bundle(&bundle_bytes)
            .context("the Wasm module refused the bundle")?;
        runtime
            .load_snapshot(&snapshot_bytes)
            .context("the Wasm module refused the snapshot")?;
        let mut rng = Rng::new(self.seed);
        let rows = match &self.entities {
            Some(path) => rows_from_file(path, &bundle)?,
            None => rows_from_snapshot(&bundle, &snapshot, self.sample, &mut rng),
        };
        let api = Api::new(predictor(bundle, snapshot)?, limits);
        if let Some(p) = &progress {
            p.set_message(format!("checking {} entities", rows.len()));
        }
        let report = check(&api, &mut runtime, &rows, now)?;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        let summary = json!({
            "rows": report.rows,
            "requests": report.requests,
            "mismatches": report.mismatches,
            "largest_difference": report.largest_difference,
            "first_difference": report.first,
            "now": now.to_rfc3339(),
            "wasm": wasm_path.display().to_string(),
        });
        if self.json {
            println!("{summary}");
        } else {
            let mut out = format!(
                "checked {} entity rows in {} requests, natively and under wasmtime ({}): {} mismatches, largest difference {:e}",
                report.rows,
                report.requests,
                wasm_path.display(),
                report.mismatches,
                report.largest_difference
            );
            if let Some(first) = &report.first {
                let _ = write!(out, "\nfirst difference: {first}");
            }
            println!("{out}");
        }
        Ok(if report.mismatches == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::CheckFailed
        })
    }
}

/// Entity rows per batched request.
const BATCH: usize = 100;

/// A join-key value as JSON, as the HTTP API takes it.
#[must_use]
pub fn key_json(part: &KeyPart) -> Json {
    match part {
        KeyPart::Int64(v) => json!(v),
        KeyPart::String(s) => json!(s),
    }
}

/// A key no snapshot is likely to hold, of the right type.
fn unknown_key(field: &Field, i: usize) -> Json {
    match field.dtype {
        DType::String => json!(format!("verge-verify-unknown-{i}")),
        _ => json!([-1i64, 0, i64::MAX, i64::MIN + 1][i % 4]),
    }
}

fn request_value(field: &Field, rng: &mut Rng) -> Json {
    match (field.dtype, rng.below(4)) {
        (_, 0) => Json::Null,
        (DType::Float64 | DType::Float32, _) => {
            json!(rng.below(100_000) as f64 / 1000.0 - 20.0)
        }
        (DType::Int64, _) => json!(rng.below(200) as i64 - 50),
        (DType::Bool, n) => json!(n % 2 == 0),
        (DType::String, n) => json!(format!("v{n}")),
    }
}

/// Every key of the bundle's views present in the snapshot, once each, sorted;
/// request data empty. `verify` and `verge run`'s verify step both start here.
#[must_use]
pub fn snapshot_key_rows(bundle: &Bundle, snapshot: &Snapshot) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for view in &bundle.contents().views {
        let Some(t) = snapshot.table_index(&view.name) else {
            continue;
        };
        let n = snapshot
            .table(t)
            .map_or(0, verge_core::artifact::ViewTable::rows);
        for r in 0..n {
            let Some(key) = snapshot.key(t, r) else {
                continue;
            };
            let mut keys = Map::new();
            for (field, part) in view.join_keys.iter().zip(key.parts()) {
                keys.insert(field.name.clone(), key_json(part));
            }
            rows.push((keys, Map::new()));
        }
    }
    rows.sort_by_key(|(k, _)| Json::Object(k.clone()).to_string());
    rows.dedup_by(|a, b| a.0 == b.0);
    rows
}

fn rows_from_snapshot(
    bundle: &Bundle,
    snapshot: &Snapshot,
    sample: Option<usize>,
    rng: &mut Rng,
) -> Vec<Row> {
    let contents = bundle.contents();
    let mut rows = snapshot_key_rows(bundle, snapshot);
    if let Some(n) = sample {
        // Partial Fisher–Yates: the first n are a uniform sample.
        let n = n.min(rows.len());
        for i in 0..n {
            let j = i + rng.below(rows.len() - i);
            rows.swap(i, j);
        }
        rows.truncate(n);
    }
    for i in 0..4 {
        let keys = contents
            .entity_keys
            .iter()
            .map(|f| (f.name.clone(), unknown_key(f, i)))
            .collect();
        rows.push((keys, Map::new()));
    }
    // Keys a view does not have (composite entities) and request data.
    for (keys, request) in &mut rows {
        for (i, f) in contents.entity_keys.iter().enumerate() {
            keys.entry(f.name.clone())
                .or_insert_with(|| unknown_key(f, i));
        }
        for f in &contents.request {
            request.insert(f.name.clone(), request_value(f, rng));
        }
    }
    rows
}

fn cell(column: &dyn Array, row: usize) -> Option<Json> {
    if column.is_null(row) {
        return Some(Json::Null);
    }
    let any = column.as_any();
    Some(if let Some(a) = any.downcast_ref::<Int64Array>() {
        json!(a.value(row))
    } else if let Some(a) = any.downcast_ref::<Int32Array>() {
        json!(a.value(row))
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        json!(a.value(row))
    } else if let Some(a) = any.downcast_ref::<Float32Array>() {
        json!(f64::from(a.value(row)))
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        json!(a.value(row))
    } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        json!(a.value(row))
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        json!(a.value(row))
    } else {
        return None;
    })
}

fn rows_from_file(path: &std::path::Path, bundle: &Bundle) -> anyhow::Result<Vec<Row>> {
    let table = read_table(path)?;
    let contents = bundle.contents();
    let schema = table.schema();
    let mut rows: Vec<Row> = (0..table.num_rows())
        .map(|_| (Map::new(), Map::new()))
        .collect();
    let mut found = false;
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name();
        let is_key = contents.entity_keys.iter().any(|k| &k.name == name);
        let is_request = contents.request.iter().any(|k| &k.name == name);
        if !is_key && !is_request {
            continue;
        }
        found |= is_key;
        let column = table.column(i);
        for (r, row) in rows.iter_mut().enumerate() {
            let value = cell(column.as_ref(), r).with_context(|| {
                format!(
                    "{}: column `{name}` has type {}; verify reads integer, float, text and boolean columns",
                    path.display(),
                    field.data_type()
                )
            })?;
            let target = if is_key { &mut row.0 } else { &mut row.1 };
            target.insert(name.clone(), value);
        }
    }
    if !found {
        bail!(
            "{}: no column is a join key of the model (wanted {}; the file has {})",
            path.display(),
            contents
                .entity_keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(rows)
}

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
/// by one int64 and without request data only).
fn check_binary(
    api: &Api,
    runtime: &mut WasmRuntime,
    rows: &[Row],
    now: Timestamp,
    report: &mut Report,
) -> anyhow::Result<()> {
    let contents = api.predictor().bundle().contents();
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
