//! The entity rows `verify` sends: every key a snapshot holds (or a seeded
//! sample of them), the join-key columns of an entity table, and keys no
//! snapshot holds, with request data for on-demand features.

use anyhow::{Context as _, bail};
use arrow_array::{
    Array, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
    StringArray,
};
use serde_json::{Map, Value as Json, json};
use verge_core::DType;
use verge_core::artifact::{Bundle, Snapshot};
use verge_core::definition::Field;

use crate::table_io::read_table;

/// A small deterministic generator (xorshift64*): samples replay with `--seed`.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One entity row: join key → value, request field → value.
pub type Row = (Map<String, Json>, Map<String, Json>);

/// A join-key value as JSON, as the HTTP API takes it (the API's own printer).
pub use verge_core::api::key_to_json as key_json;

/// A key no snapshot is likely to hold, of the right type.
fn unknown_key(field: &Field, i: usize) -> Json {
    match field.dtype {
        DType::String => json!(format!("verge-verify-unknown-{i}")),
        DType::Int32 => json!([-1i64, 0, i64::from(i32::MAX), i64::from(i32::MIN) + 1][i % 4]),
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
        (DType::Int32, _) => json!(rng.below(200) as i64 - 50),
        (DType::Bytes, n) => json!(verge_core::api::base64_of(&[n as u8, 0xff])),
        (DType::UnixTimestamp, _) => json!(
            verge_core::Timestamp::from_secs(1_600_000_000 + rng.below(1_000_000) as i64)
                .to_rfc3339()
        ),
        (DType::Json, n) => json!({ "n": n, "tags": ["a", "b"] }),
        (DType::Array(elem), n) => {
            let one = |rng: &mut Rng| request_value(&Field::new("x", DType::from(elem)), rng);
            // Elements are never null: draw until one is not.
            let items: Vec<Json> = (0..n)
                .map(|_| {
                    loop {
                        let v = one(rng);
                        if !v.is_null() {
                            break v;
                        }
                    }
                })
                .collect();
            Json::Array(items)
        }
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

pub(crate) fn rows_from_snapshot(
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

pub(crate) fn rows_from_file(path: &std::path::Path, bundle: &Bundle) -> anyhow::Result<Vec<Row>> {
    let table = read_table(path)?;
    if table.num_rows() == 0 {
        // Zero rows would "verify" nothing and pass.
        anyhow::bail!(
            "{} has no rows, only a header; give at least one entity row to check",
            path.display()
        );
    }
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

/// Every key of the bundle's views in the snapshot, plus one key no snapshot
/// holds (so NOT_FOUND is compared too); request fields are null. What
/// `verge run`'s verify step checks: deterministic, so its report is memoizable.
#[must_use]
pub fn every_key_rows(bundle: &Bundle, snapshot: &Snapshot) -> Vec<Row> {
    let contents = bundle.contents();
    let mut rows = snapshot_key_rows(bundle, snapshot);
    let unknown: Map<String, Json> = contents
        .entity_keys
        .iter()
        .map(|f| {
            let v = match f.dtype {
                DType::String => json!("verge-run-unknown"),
                _ => json!(-1),
            };
            (f.name.clone(), v)
        })
        .collect();
    rows.push((unknown, Map::new()));
    for (keys, request) in &mut rows {
        for f in &contents.entity_keys {
            keys.entry(f.name.clone()).or_insert(Json::Null);
        }
        for f in &contents.request {
            request.insert(f.name.clone(), Json::Null);
        }
    }
    rows
}
