//! Fresh values: rows pushed to a `[[push_source]]` (Feast's `PushSource`)
//! land in a durable online overlay ([`log`]) that online reads layer over the
//! snapshot and `materialize` folds into the next one.
//!
//! **Validation.** A push names a push source and carries rows in the layout of
//! [`crate::source::read_source`] for each online feature view reading that
//! source: its join keys, the batch source's event (and created) timestamp
//! columns, and every field, read through the same readers and conversions as
//! any source (so a bad value is named by row and column). A push is refused
//! whole, leaving the log unchanged, when the source is unknown, a column is
//! missing, a join key or event time is null, a value does not convert to its
//! type, or it has more than [`MAX_ROWS`] rows.
//!
//! **Record.** One push is one log record: for each view, its name and the
//! rows as an Arrow IPC stream (the exact typed batch, so reading it back needs
//! no second conversion and no per-type code).
//!
//! **Reading.** The pending rows become a delta snapshot ([`delta`]) holding
//! only the keys they touch, and reads go through the core's
//! [`verge_core::online::Layers`]: per key the newest `(event_ts, created_ts)`
//! of snapshot and delta wins exactly as in a materialization (on a complete
//! tie the pushed row, and of two pushed rows the later one).
//!
//! **Cost.** Building the delta costs about a materialization of the pushed
//! rows, not of the snapshot: `get-online-features` and `predict` pay it once
//! per call while rows are pending; `verge serve` builds it at start and then
//! per write merges the write's rows into the delta it serves (cost
//! proportional to the pending overlay). A read probes base and delta, no
//! rebuild. [`layer`] rebuilds a whole snapshot and is what `materialize`
//! folds with.

pub mod delta;
pub mod json;
pub mod log;

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use arrow_array::{Array as _, RecordBatch};
use serde::{Deserialize, Serialize};
use verge_core::Timestamp;
use verge_core::artifact::{Snapshot, SnapshotMeta};
use verge_core::definition::{Definitions, FeatureView, Source, SourceFormat};

use crate::materialize::{Sharding, ViewWindow, build_snapshots};
use crate::warnings::Warnings;
pub use log::{LOG_FILE, Log};

/// The most rows one push may carry; push more in several batches.
pub const MAX_ROWS: usize = 1_000_000;

/// Pushed rows: per view, a batch in the layout of [`crate::source::read_source`].
pub type ViewRows = Vec<(String, RecordBatch)>;

/// How much of the log a snapshot holds (see [`log`]'s "Folding").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folded {
    /// The log's epoch, hex.
    pub epoch: String,
    /// The offset past the last folded record.
    pub offset: u64,
}

/// What one push appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Rows pushed.
    pub rows: usize,
    /// The feature views they went to.
    pub views: Vec<String>,
}

/// The push source `name`, or an error listing the push sources.
///
/// # Errors
///
/// When `name` is not a declared push source.
pub fn push_source<'d>(defs: &'d Definitions, name: &str) -> Result<&'d Source> {
    if defs.push_source(name).is_none() {
        let names: Vec<&str> = defs.push_sources.iter().map(|p| p.name.as_str()).collect();
        let list = if names.is_empty() {
            "(none: declare a [[push_source]] with a batch_source in verge.toml and apply)".into()
        } else {
            names.join(", ")
        };
        bail!("unknown push source `{name}`; push sources: {list}");
    }
    defs.source(name)
        .with_context(|| format!("push source `{name}`: its batch source is not declared"))
}

/// The online views reading push source `name`, or an error if there are none.
fn views<'d>(defs: &'d Definitions, name: &str) -> Result<Vec<&'d FeatureView>> {
    let views = defs.push_views(name);
    if views.is_empty() {
        bail!(
            "no online feature view reads push source `{name}`; set a [[feature_view]]'s source to it"
        );
    }
    Ok(views)
}

/// Reads `file` (`.csv`, `.parquet`, or `.json` columns as in [`json`]) as rows pushed to push source
/// `name` and checks them: one typed batch per view reading it.
///
/// # Errors
///
/// See the module docs; messages name the file, row and column.
pub fn read_file(
    defs: &Definitions,
    name: &str,
    file: &Path,
) -> Result<Vec<(String, RecordBatch)>> {
    let batch_source = push_source(defs, name)?;
    let text = file.display().to_string();
    let format = match file.extension().and_then(|e| e.to_str()) {
        Some("csv") => SourceFormat::Csv,
        Some("parquet") => SourceFormat::Parquet,
        Some("json") => return read_json(defs, name, file),
        _ => bail!("{text}: push rows from a .csv, .parquet or .json file"),
    };
    let source = Source {
        name: name.to_owned(),
        path: text,
        format,
        timestamp_field: batch_source.timestamp_field.clone(),
        created_timestamp_field: batch_source.created_timestamp_field.clone(),
        // Pushed rows use feature names, as Feast's push dataframes do.
        field_mapping: Vec::new(),
    };
    let mut out = Vec::new();
    for view in views(defs, name)? {
        let keys = defs.join_keys(view);
        let mut warnings = Warnings::default();
        let batch =
            crate::source::read_source(&source, Path::new(""), &keys, &view.fields, &mut warnings)?;
        check_batch(&source.path, &batch, keys.len())?;
        out.push((view.name.clone(), batch));
    }
    Ok(out)
}

/// The rows of a Feast `POST /push` body (`push_source_name`, `df`, `to`)
/// checked against every online view reading that push source. `to` may be
/// `online` (the default) or `online_and_offline`; the offline part is the
/// batch source's, which verge reads and never writes, so both go to the log.
///
/// # Errors
///
/// A body that is not such an object, an unknown source, `to = "offline"`,
/// or a row [`json::view_batch`] refuses.
pub fn push_body(defs: &Definitions, body: &serde_json::Value) -> Result<ViewRows> {
    let name = body
        .get("push_source_name")
        .and_then(serde_json::Value::as_str)
        .context("the body needs \"push_source_name\": the [[push_source]] to push to")?;
    match body.get("to").and_then(serde_json::Value::as_str) {
        None | Some("online" | "online_and_offline") => {}
        Some(other) => bail!(
            "\"to\": \"{other}\" is not supported; verge serve takes pushes to \"online\" (or \"online_and_offline\") and reads the offline rows from the batch source"
        ),
    }
    push_source(defs, name)?;
    let df = frame(body)?;
    let place = format!("push to `{name}`");
    views(defs, name)?
        .into_iter()
        .map(|v| Ok((v.name.clone(), json::view_batch(defs, v, df, &place)?)))
        .collect()
}

/// The rows of a Feast `POST /write-to-online-store` body
/// (`feature_view_name`, `df`) for that online feature view.
///
/// # Errors
///
/// An unknown or offline view, or a row [`json::view_batch`] refuses.
pub fn write_body(defs: &Definitions, body: &serde_json::Value) -> Result<ViewRows> {
    let name = body
        .get("feature_view_name")
        .and_then(serde_json::Value::as_str)
        .context("the body needs \"feature_view_name\": the feature view to write to")?;
    let view = crate::materialize::online_view(defs, name)?;
    let place = format!("write to `{name}`");
    Ok(vec![(
        view.name.clone(),
        json::view_batch(defs, view, frame(body)?, &place)?,
    )])
}

fn frame(body: &serde_json::Value) -> Result<&serde_json::Map<String, serde_json::Value>> {
    body.get("df")
        .and_then(serde_json::Value::as_object)
        .context("the body needs \"df\": an object of columns, {\"column\": [value, ...]}")
}

/// A `.json` push file: the column-oriented `df` object of Feast's bodies
/// ([`json`]), `{"column": [value, ...], ...}`.
fn read_json(defs: &Definitions, name: &str, file: &Path) -> Result<ViewRows> {
    let place = file.display().to_string();
    let text = std::fs::read(file).with_context(|| format!("cannot read {place}"))?;
    let df: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{place} is not JSON"))?;
    let df = df.as_object().with_context(|| {
        format!("{place}: write an object of columns, {{\"column\": [value, ...]}}")
    })?;
    views(defs, name)?
        .into_iter()
        .map(|v| Ok((v.name.clone(), json::view_batch(defs, v, df, &place)?)))
        .collect()
}

/// Refuses a batch over [`MAX_ROWS`] or with a null join key.
fn check_batch(place: &str, batch: &RecordBatch, keys: usize) -> Result<()> {
    if batch.num_rows() > MAX_ROWS {
        bail!(
            "{place}: {} rows is over the limit of {MAX_ROWS} rows per push; push them in smaller batches",
            batch.num_rows()
        );
    }
    for k in 0..keys {
        let column = batch.column(k);
        if let Some(row) = (0..column.len()).find(|&i| column.is_null(i)) {
            bail!(
                "{place}: row {}, column `{}`: the join key is empty; every pushed row needs its key",
                row + 1,
                batch.schema().field(k).name()
            );
        }
    }
    Ok(())
}

/// Appends checked batches (from [`read_file`] or [`check_rows`]) to the log
/// of the repository at `repo_root` as one record, synced before returning.
///
/// # Errors
///
/// Encoding or I/O errors; the log then holds no part of this push.
pub fn append(repo_root: &Path, batches: &[(String, RecordBatch)]) -> Result<Pushed> {
    let payload = encode(batches)?;
    Log::open(repo_root).append(&payload)?;
    Ok(Pushed {
        rows: batches.first().map_or(0, |(_, b)| b.num_rows()),
        views: batches.iter().map(|(v, _)| v.clone()).collect(),
    })
}

/// One record's payload: a count, then per view its name and IPC bytes, each
/// behind a u32 / u64 length.
fn encode(batches: &[(String, RecordBatch)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(&(batches.len() as u32).to_le_bytes());
    for (view, batch) in batches {
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())?;
        writer.write(batch)?;
        let ipc = writer.into_inner()?;
        out.extend_from_slice(&(view.len() as u32).to_le_bytes());
        out.extend_from_slice(view.as_bytes());
        out.extend_from_slice(&(ipc.len() as u64).to_le_bytes());
        out.extend_from_slice(&ipc);
    }
    Ok(out)
}

/// The batches of one record's payload.
fn decode(payload: &[u8]) -> Result<Vec<(String, RecordBatch)>> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let part = payload
            .get(at..at + n)
            .context("a push record ends early")?;
        at += n;
        Ok(part)
    };
    let word = |b: &[u8]| b.iter().rev().fold(0u64, |acc, x| acc << 8 | u64::from(*x));
    let count = word(take(4)?) as usize;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = word(take(4)?) as usize;
        let view = String::from_utf8(take(len)?.to_vec()).context("a view name is not UTF-8")?;
        let len = word(take(8)?) as usize;
        let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(take(len)?), None)?;
        for batch in reader {
            out.push((view.clone(), batch?));
        }
    }
    Ok(out)
}

/// The pushed rows not yet folded into the snapshot, per view in log order,
/// and where the log ends (for a fold).
///
/// # Errors
///
/// An unreadable log or a record that does not decode.
pub fn pending(
    repo_root: &Path,
    folded: Option<&Folded>,
) -> Result<(Vec<(String, RecordBatch)>, Folded)> {
    let log = Log::open(repo_root);
    // One read, so the rows returned and the end offset describe the same bytes.
    let head = log.read(0)?;
    let epoch = hex(&head.epoch);
    let from = match folded {
        Some(f) if f.epoch == epoch => f.offset,
        _ => 0,
    };
    let mut out = Vec::new();
    for (payload, _) in head
        .payloads
        .iter()
        .zip(&head.starts)
        .filter(|(_, s)| **s >= from)
    {
        out.extend(decode(payload).with_context(|| format!("reading {}", log.path().display()))?);
    }
    Ok((
        out,
        Folded {
            epoch,
            offset: head.end,
        },
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The epoch bytes of a [`Folded`] record, if it is well formed.
#[must_use]
pub fn epoch_bytes(folded: &Folded) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(folded.epoch.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `snapshots` (one, or every shard) with the pushed `rows` layered on top,
/// by `defs` (the definitions the snapshot was built from); `None` when no
/// row applies. Rows of a view `defs` does not have online, or whose columns
/// no longer match it, are left out.
///
/// # Errors
///
/// As [`build_snapshots`].
pub fn layer(
    defs: &Definitions,
    snapshots: &[Snapshot],
    rows: &[(String, RecordBatch)],
) -> Result<Option<Vec<Snapshot>>> {
    let Some(first) = snapshots.first() else {
        return Ok(None);
    };
    let Some(shards) = overlay_shards(defs, first.meta(), snapshots, rows)? else {
        return Ok(None);
    };
    let shards = shards
        .into_iter()
        .map(Snapshot::load)
        .collect::<verge_core::Result<Vec<_>>>()?;
    Ok(Some(shards))
}

/// The snapshot builder over `previous` (the snapshot, its shards, or an
/// earlier delta) with the pushed `rows` on top, sharded as `base` is: the
/// encoded shards, or `None` when no row applies to a view of `defs`. What
/// [`layer`] and [`delta::delta`] share.
///
/// # Errors
///
/// As [`build_snapshots`].
fn overlay_shards(
    defs: &Definitions,
    base: &SnapshotMeta,
    previous: &[Snapshot],
    rows: &[(String, RecordBatch)],
) -> Result<Option<Vec<Vec<u8>>>> {
    let (windows, batches) = group(defs, rows)?;
    if windows.is_empty() {
        return Ok(None);
    }
    let sharding = if base.shard_count > 1 {
        Sharding::Count(base.shard_count)
    } else {
        Sharding::None
    };
    let built = build_snapshots(
        defs,
        base.registry_id,
        &windows,
        previous,
        sharding,
        |view| {
            batches
                .iter()
                .find(|(v, _)| *v == view.name)
                .map(|(_, b)| b.clone())
                .context("internal: no overlay rows for a windowed view")
        },
    )?;
    Ok(Some(built.shards))
}

/// Per view of `defs` with pushed rows: the window spanning them and the rows
/// concatenated in log order.
fn group(
    defs: &Definitions,
    rows: &[(String, RecordBatch)],
) -> Result<(Vec<ViewWindow>, ViewRows)> {
    let mut windows = Vec::new();
    let mut batches = Vec::new();
    for view in defs.feature_views.iter().filter(|v| v.online) {
        let Some(schema) = rows
            .iter()
            .find(|(v, _)| *v == view.name)
            .map(|(_, b)| b.schema())
        else {
            continue;
        };
        if !expected_layout(defs, view, &schema) {
            continue;
        }
        let parts: Vec<&RecordBatch> = rows
            .iter()
            .filter(|(v, b)| *v == view.name && b.schema() == schema)
            .map(|(_, b)| b)
            .collect();
        let batch = arrow_select::concat::concat_batches(&schema, parts)?;
        let keys = defs.join_keys(view).len();
        let ts = batch
            .column(keys)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .context("internal: an overlay event time is not a timestamp")?;
        let (Some(start), Some(end)) = (ts.iter().flatten().min(), ts.iter().flatten().max())
        else {
            continue;
        };
        windows.push(ViewWindow {
            view: view.name.clone(),
            start: Timestamp(start),
            end: Timestamp(end),
        });
        batches.push((view.name.clone(), batch));
    }
    Ok((windows, batches))
}

/// Whether `schema` is the layout `read_source` gives `view` under `defs`.
fn expected_layout(defs: &Definitions, view: &FeatureView, schema: &arrow_schema::Schema) -> bool {
    let Some(source) = defs.source(&view.source) else {
        return false;
    };
    let mut want: Vec<(String, arrow_schema::DataType)> = defs
        .join_keys(view)
        .into_iter()
        .map(|k| (k.name, crate::source::dtype_to_arrow(k.dtype)))
        .collect();
    want.push((
        source.timestamp_field.clone(),
        crate::source::timestamp_type(),
    ));
    if let Some(c) = &source.created_timestamp_field {
        want.push((c.clone(), crate::source::timestamp_type()));
    }
    want.extend(
        view.fields
            .iter()
            .map(|f| (f.name.clone(), crate::source::dtype_to_arrow(f.dtype))),
    );
    schema.fields().len() == want.len()
        && schema
            .fields()
            .iter()
            .zip(&want)
            .all(|(f, (n, t))| f.name() == n && f.data_type() == t)
}

/// The definitions whose id is `id` (what an artifact names as its registry):
/// the head's, else the newest version in the head's history with them.
///
/// # Errors
///
/// An unreadable registry, or no version with those definitions.
pub fn definitions_of(repo_root: &Path, id: verge_core::ContentId) -> Result<Definitions> {
    let store = crate::store::Store::open(repo_root);
    let Some((head_defs, head)) = store.head_definitions()? else {
        bail!("the registry is empty; run `verge apply` first");
    };
    if head_defs == id {
        return Ok(head.definitions);
    }
    let head_id = store.head()?.context("the registry head moved away")?;
    for (_, version) in store.history(head_id)? {
        if version.definitions_id()? == id {
            return Ok(version.definitions);
        }
    }
    bail!(
        "no registry version has the definitions {id} the snapshot was built from; materialize again"
    )
}
