//! The `verify` step: every key of the snapshot through the native core and the
//! Wasm module, as `verge verify` checks them; a passing report is stored and
//! memoized, a difference is a failed check.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::{Value as Json, json};
use verge_core::ContentId;
use verge_core::artifact::ArtifactKind;

use super::report;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::verify::{Entities, Verification};
use crate::wasm_runtime::WasmModule;

/// Where `verify` keeps its reports, under the repository.
const CHECKS: &str = ".verge/checks";

/// `verify`: every key of the snapshot through the native core and the Wasm
/// module. A difference is a failed check (returned, not memoized), not an error.
pub(in crate::pipeline) fn verify(
    ctx: &Ctx<'_>,
    bundle: ContentId,
    snapshot: ContentId,
    wasm: Option<&Path>,
) -> anyhow::Result<(StepReport, Option<String>)> {
    let started = Instant::now();
    let (wasm_source, wasm_bytes) = WasmModule::configured_bytes(wasm)?;
    let key = Key::new("verify")
        .id("bundle", bundle)
        .id("snapshot", snapshot)
        .id("wasm", ContentId::of(&wasm_bytes))
        .time("now", ctx.now)
        .finish();
    let checks = ctx.repo.join(CHECKS);
    let read_report = |id: ContentId| -> Option<Json> {
        let bytes = fs::read(checks.join(format!("{id}.json"))).ok()?;
        (ContentId::of(&bytes) == id)
            .then(|| serde_json::from_slice(&bytes).ok())
            .flatten()
    };
    let describe = |r: &Json| {
        format!(
            "{} entities, {} requests: native = wasmtime, bit for bit",
            r["rows"], r["requests"]
        )
    };
    if let Some(id) = ctx.cached(key, |id| read_report(id).is_some())?
        && let Some(r) = read_report(id)
    {
        let rows = r["rows"].as_u64();
        return Ok((
            report(Step::Verify, true, key, id, rows, describe(&r), started),
            None,
        ));
    }
    let bundle_bytes =
        fs::read(ctx.store.path(bundle, ArtifactKind::Bundle)).context("cannot read the bundle")?;
    let snapshot_bytes = fs::read(ctx.store.path(snapshot, ArtifactKind::Snapshot))
        .context("cannot read the snapshot")?;
    let module = WasmModule::from_bytes_cached(&wasm_bytes)
        .with_context(|| format!("compiling {wasm_source}"))?;
    let job = Verification {
        bundle: &bundle_bytes,
        snapshot: &snapshot_bytes,
        entities: Entities::EveryKey,
        now: Some(ctx.now),
    };
    let checked = crate::verify::run(&module, &job)?.report;
    let body = json!({
        "bundle": bundle.to_string(),
        "snapshot": snapshot.to_string(),
        "wasm": ContentId::of(&wasm_bytes).to_string(),
        "now": ctx.now.to_rfc3339(),
        "rows": checked.rows,
        "requests": checked.requests,
        "mismatches": checked.mismatches,
        "largest_difference": checked.largest_difference,
    });
    let bytes = serde_json::to_vec_pretty(&body).context("encoding the report")?;
    let id = ContentId::of(&bytes);
    if checked.mismatches > 0 {
        let first = checked
            .first
            .unwrap_or_else(|| "(no description)".to_owned());
        let detail = format!(
            "{} of {} requests differ (largest difference {:e})",
            checked.mismatches, checked.requests, checked.largest_difference
        );
        return Ok((
            report(
                Step::Verify,
                false,
                key,
                id,
                Some(checked.rows as u64),
                detail,
                started,
            ),
            Some(first),
        ));
    }
    fs::create_dir_all(&checks).with_context(|| format!("cannot create {}", checks.display()))?;
    let path = checks.join(format!("{id}.json"));
    crate::store::atomic::replace(&path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    ctx.store.memo_put(key, id)?;
    Ok((
        report(
            Step::Verify,
            false,
            key,
            id,
            Some(checked.rows as u64),
            describe(&body),
            started,
        ),
        None,
    ))
}
