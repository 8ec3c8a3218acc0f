//! The six steps of [`super::run`]: each builds its key, returns the memo's
//! output when it has one, and otherwise does the work with the library
//! function its subcommand uses, stores the output, and only then records the
//! memo entry.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Bundle, BundleContents, Header, Snapshot};
use verge_core::definition::{Definitions, FeatureRef, Source};

use super::{Ctx, Key, Step, StepReport};
use crate::artifacts::kind_of;
use crate::edge_pair::EdgePair;
use crate::historical::{HistoricalOptions, historical as join};
use crate::materialize::{
    LATEST, Sharding, State, ViewWindow, build_snapshots, incremental_windows,
};
use crate::resolve::Repository;
use crate::store::apply::{Applied, ApplyOptions};
use crate::table_io::{read_entity_table, write_table};
use crate::train::{EntityInput, TrainRequest};
use crate::verify::{Entities, Verification};
use crate::wasm_runtime::WasmModule;

/// Where `historical` keeps its training sets, under the repository.
const DATASETS: &str = ".verge/datasets";
/// Where `verify` keeps its reports, under the repository.
const CHECKS: &str = ".verge/checks";

fn report(
    step: Step,
    cached: bool,
    key: ContentId,
    output: ContentId,
    rows: Option<u64>,
    detail: String,
    started: Instant,
) -> StepReport {
    StepReport {
        step,
        cached,
        key,
        output,
        rows,
        detail,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `apply`: the registry head already holding these definitions is the cached
/// case (apply writes nothing then); otherwise a new version is recorded.
pub(super) fn apply(ctx: &Ctx<'_>) -> anyhow::Result<(StepReport, Definitions)> {
    let started = Instant::now();
    let mut defs = crate::repo::load(ctx.config_path)?;
    defs.canonicalize();
    let key = Key::new("apply")
        .part(
            "definitions",
            &serde_json::to_vec(&defs).context("encoding the definitions")?,
        )
        .finish();
    let store = crate::store::Store::open(ctx.repo);
    let options = ApplyOptions {
        message: "verge run".to_owned(),
        ..ApplyOptions::default()
    };
    let applied = crate::store::apply::apply(&store, defs, crate::store::apply::now(), &options)?;
    let id = applied.id();
    // Read back what the registry holds: every later step works from it, as the
    // subcommands (which read the head) do.
    let version = store.read(id)?;
    let count = version.definitions.entities.len()
        + version.definitions.sources.len()
        + version.definitions.feature_views.len()
        + version.definitions.on_demand_views.len()
        + version.definitions.feature_services.len()
        + version.definitions.models.len();
    let (cached, detail) = match &applied {
        Applied::Unchanged { .. } => (
            !ctx.force,
            format!("{count} definitions, unchanged since the head"),
        ),
        Applied::Created { changes, .. } => (
            false,
            format!(
                "{count} definitions, new version ({})",
                crate::store::apply::counts_text(changes)
            ),
        ),
    };
    ctx.store.memo_put(key, id)?;
    Ok((
        report(Step::Apply, cached, key, id, None, detail, started),
        version.definitions,
    ))
}

/// The sources that the features read, each once, in name order.
fn sources_of<'d>(defs: &'d Definitions, features: &[FeatureRef]) -> Vec<&'d Source> {
    let mut views: Vec<&str> = Vec::new();
    for f in features {
        if let Some(od) = defs.on_demand_view(&f.view) {
            views.extend(od.sources.iter().map(String::as_str));
        } else {
            views.push(&f.view);
        }
    }
    let mut out: Vec<&Source> = views
        .into_iter()
        .filter_map(|v| defs.feature_view(v))
        .filter_map(|v| defs.source(&v.source))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

fn key_sources(mut key: Key, repo: &Path, sources: &[&Source]) -> anyhow::Result<Key> {
    for s in sources {
        key = key
            .file(&format!("source {}", s.name), &repo.join(&s.path))
            .with_context(|| format!("source `{}`", s.name))?;
    }
    Ok(key)
}

/// What `historical` wrote: the training set and the optional holdout set.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Datasets {
    train: String,
    train_rows: u64,
    holdout: Option<String>,
    holdout_rows: Option<u64>,
}

fn dataset_path(repo: &Path, id: &str) -> PathBuf {
    repo.join(DATASETS).join(format!("{id}.csv"))
}

fn read_datasets(repo: &Path, output: ContentId) -> Option<Datasets> {
    let bytes = fs::read(repo.join(DATASETS).join(format!("{output}.json"))).ok()?;
    if ContentId::of(&bytes) != output {
        return None;
    }
    let sets: Datasets = serde_json::from_slice(&bytes).ok()?;
    let intact = |id: &str| {
        fs::read(dataset_path(repo, id)).is_ok_and(|b| ContentId::of(&b).to_string() == id)
    };
    (intact(&sets.train) && sets.holdout.as_deref().is_none_or(intact)).then_some(sets)
}

/// Joins `entities` and stores the CSV `verge historical` would write, named by
/// its hash; returns the hash and the row count.
fn write_dataset(
    ctx: &Ctx<'_>,
    defs: &Definitions,
    features: &[FeatureRef],
    entities: &Path,
) -> anyhow::Result<(String, u64)> {
    let options = HistoricalOptions {
        timestamp_column: ctx.config.timestamp_column.clone(),
        ..HistoricalOptions::default()
    };
    let table = read_entity_table(&ctx.repo.join(entities), &options.timestamp_column)?;
    let joined = join(defs, ctx.repo, &table, features, &options)
        .with_context(|| format!("joining features onto {}", entities.display()))?;
    let dir = ctx.repo.join(DATASETS);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let scratch = tempfile::tempdir_in(&dir)
        .with_context(|| format!("cannot create a temporary directory in {}", dir.display()))?;
    let tmp = scratch.path().join("set.csv");
    write_table(&joined, &tmp)?;
    let bytes = fs::read(&tmp).with_context(|| format!("cannot read {}", tmp.display()))?;
    let id = ContentId::of(&bytes).to_string();
    let path = dataset_path(ctx.repo, &id);
    fs::rename(&tmp, &path).with_context(|| format!("cannot move into {}", path.display()))?;
    Ok((id, joined.num_rows() as u64))
}

/// `historical`: the training (and holdout) set of the model's feature service.
pub(super) fn historical(
    ctx: &Ctx<'_>,
    defs: &Definitions,
    registry: ContentId,
    model: &str,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let spec = defs
        .model(model)
        .with_context(|| format!("model `{model}` is not in the registry"))?;
    let service = defs
        .feature_service(&spec.feature_service)
        .with_context(|| {
            format!(
                "model `{model}` uses feature service `{}`, which is not declared",
                spec.feature_service
            )
        })?;
    let features = service.features.clone();
    let config = ctx.config;
    let mut key = Key::new("historical")
        .id("registry", registry)
        .text("model", model)
        .text("timestamp_column", &config.timestamp_column)
        .file("train_entities", &ctx.repo.join(&config.train_entities))
        .context("[run] train_entities")?;
    if let Some(h) = &config.holdout_entities {
        key = key
            .file("holdout_entities", &ctx.repo.join(h))
            .context("[run] holdout_entities")?;
    }
    let key = key_sources(key, ctx.repo, &sources_of(defs, &features))?.finish();
    let describe = |sets: &Datasets| match sets.holdout_rows {
        Some(h) => format!(
            "{} training + {h} holdout rows from {}",
            sets.train_rows,
            config.train_entities.display()
        ),
        None => format!(
            "{} training rows from {}",
            sets.train_rows,
            config.train_entities.display()
        ),
    };
    if let Some(id) = ctx.cached(key, |id| read_datasets(ctx.repo, id).is_some())?
        && let Some(sets) = read_datasets(ctx.repo, id)
    {
        let detail = describe(&sets);
        return Ok(report(
            Step::Historical,
            true,
            key,
            id,
            Some(sets.train_rows),
            detail,
            started,
        ));
    }
    let (train, train_rows) = write_dataset(ctx, defs, &features, &config.train_entities)?;
    let (holdout, holdout_rows) = match &config.holdout_entities {
        Some(h) => {
            let (id, rows) = write_dataset(ctx, defs, &features, h)?;
            (Some(id), Some(rows))
        }
        None => (None, None),
    };
    let sets = Datasets {
        train,
        train_rows,
        holdout,
        holdout_rows,
    };
    let bytes = serde_json::to_vec(&sets).context("encoding the dataset list")?;
    let output = ContentId::of(&bytes);
    let path = ctx.repo.join(DATASETS).join(format!("{output}.json"));
    crate::store::atomic::replace(&path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    ctx.store.memo_put(key, output)?;
    Ok(report(
        Step::Historical,
        false,
        key,
        output,
        Some(train_rows),
        describe(&sets),
        started,
    ))
}

fn load_bundle(ctx: &Ctx<'_>, id: ContentId) -> anyhow::Result<Bundle> {
    let path = ctx.store.path(id, ArtifactKind::Bundle);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Bundle::load(&bytes).with_context(|| format!("loading bundle {}", path.display()))
}

fn load_snapshot(ctx: &Ctx<'_>, id: ContentId) -> anyhow::Result<Snapshot> {
    let path = ctx.store.path(id, ArtifactKind::Snapshot);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Snapshot::load(bytes).with_context(|| format!("loading snapshot {}", path.display()))
}

/// `train`'s line: rows, the features kept, and the holdout metric.
fn describe_bundle(c: &BundleContents) -> String {
    let kept = c.pipeline.selected_names();
    let mut text = format!(
        "{} rows, {} of {} features kept",
        c.training.rows,
        kept.len(),
        c.pipeline.transforms().prepared_names().len()
    );
    for (name, value) in &c.training.metrics {
        if name == "holdout_accuracy" || name == "holdout_rmse" {
            text.push_str(&format!(", {} {value:.3}", name.replace('_', " ")));
        }
    }
    text
}

/// `train`: fits the model on the entity table and stores the bundle.
pub(super) fn train(
    ctx: &Ctx<'_>,
    defs: &Definitions,
    registry: ContentId,
    model: &str,
    data: ContentId,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let config = ctx.config;
    let key = Key::new("train")
        .id("registry", registry)
        .text("model", model)
        .id("historical", data)
        .text("timestamp_column", &config.timestamp_column)
        .time("trained_at", ctx.now)
        .finish();
    let ref_name = format!("model/{model}");
    if let Some(id) = ctx.cached(key, |id| ctx.store.path(id, ArtifactKind::Bundle).is_file())?
        && let Ok(bundle) = load_bundle(ctx, id)
    {
        ctx.store.set_ref(&ref_name, id)?;
        let c = bundle.contents();
        return Ok(report(
            Step::Train,
            true,
            key,
            id,
            Some(c.training.rows),
            describe_bundle(c),
            started,
        ));
    }
    let options = HistoricalOptions {
        timestamp_column: config.timestamp_column.clone(),
        ..HistoricalOptions::default()
    };
    let entities = read_entity_table(
        &ctx.repo.join(&config.train_entities),
        &options.timestamp_column,
    )?;
    let place = format!("entity table {}", config.train_entities.display());
    let holdout = match &config.holdout_entities {
        Some(path) => Some((
            read_entity_table(&ctx.repo.join(path), &options.timestamp_column)?,
            format!("holdout table {}", path.display()),
        )),
        None => None,
    };
    let trained = crate::train::train(&TrainRequest {
        defs,
        registry_id: registry,
        repo_root: ctx.repo,
        model,
        entities: EntityInput {
            batch: &entities,
            place: &place,
        },
        holdout: holdout.as_ref().map(|(batch, place)| EntityInput {
            batch,
            place: place.as_str(),
        }),
        options,
        now: ctx.now,
    })
    .with_context(|| format!("training model `{model}`"))?;
    let (id, _) = ctx.store.put(&trained.bytes)?;
    ctx.store.set_ref(&ref_name, id)?;
    ctx.store.memo_put(key, id)?;
    Ok(report(
        Step::Train,
        false,
        key,
        id,
        Some(trained.contents.training.rows),
        describe_bundle(&trained.contents),
        started,
    ))
}

/// `materialize`'s line: keys per view and the window.
fn describe_snapshot(s: &Snapshot) -> (u64, String) {
    let meta = s.meta();
    let mut rows = 0u64;
    let mut views = Vec::new();
    for (i, v) in meta.views.iter().enumerate() {
        let n = s.table(i).map_or(0, verge_core::artifact::ViewTable::rows);
        rows += n as u64;
        views.push(format!("{n} keys of {}", v.name));
    }
    (
        rows,
        format!(
            "{}, {} .. {}",
            views.join(", "),
            meta.window_start.to_rfc3339(),
            meta.window_end.to_rfc3339()
        ),
    )
}

/// `materialize`: a complete snapshot of every online view for its window.
pub(super) fn materialize(
    ctx: &Ctx<'_>,
    defs: &Definitions,
    registry: ContentId,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let mut windows = incremental_windows(defs, &State::default(), &[], ctx.now)?;
    if windows.is_empty() {
        bail!(
            "no feature view is online; set `online = true` on one in {}",
            ctx.config_path.display()
        );
    }
    if let Some(text) = &ctx.config.materialize_start {
        let start =
            crate::materialize::parse_time(text, ctx.now).context("[run] materialize_start")?;
        if start > ctx.now {
            bail!(
                "[run] materialize_start {} is after the run's clock {}; move it earlier or pass a later --now",
                start.to_rfc3339(),
                ctx.now.to_rfc3339()
            );
        }
        for w in &mut windows {
            w.start = start;
        }
    }
    let mut key = Key::new("materialize").id("registry", registry);
    for ViewWindow { view, start, end } in &windows {
        key = key
            .time(&format!("{view} start"), *start)
            .time(&format!("{view} end"), *end);
    }
    let online: Vec<&Source> = {
        let mut s: Vec<&Source> = windows
            .iter()
            .filter_map(|w| defs.feature_view(&w.view))
            .filter_map(|v| defs.source(&v.source))
            .collect();
        s.sort_by(|a, b| a.name.cmp(&b.name));
        s.dedup_by(|a, b| a.name == b.name);
        s
    };
    let key = key_sources(key, ctx.repo, &online)?.finish();
    if let Some(id) = ctx.cached(key, |id| {
        ctx.store.path(id, ArtifactKind::Snapshot).is_file()
    })? && let Ok(snapshot) = load_snapshot(ctx, id)
    {
        ctx.store.set_ref(LATEST, id)?;
        let (rows, detail) = describe_snapshot(&snapshot);
        return Ok(report(
            Step::Materialize,
            true,
            key,
            id,
            Some(rows),
            detail,
            started,
        ));
    }
    // No previous snapshot: the output depends on the window and the sources only.
    let built = build_snapshots(defs, registry, &windows, &[], Sharding::None, |view| {
        crate::source::read_feature_view(defs, ctx.repo, view, None)
    })?;
    let [bytes] = built.shards.as_slice() else {
        bail!(
            "internal: an unsharded snapshot came out in {} parts",
            built.shards.len()
        );
    };
    let (id, _) = ctx.store.put(bytes).context("storing the snapshot")?;
    ctx.store.set_ref(LATEST, id)?;
    ctx.store.memo_put(key, id)?;
    let (rows, detail) = describe_snapshot(&load_snapshot(ctx, id)?);
    Ok(report(
        Step::Materialize,
        false,
        key,
        id,
        Some(rows),
        detail,
        started,
    ))
}

/// The id inside an artifact file, if it is an intact artifact.
fn artifact_id(path: &Path) -> Option<ContentId> {
    let bytes = fs::read(path).ok()?;
    let kind = kind_of(&bytes).ok()?;
    Header::open(&bytes, kind).ok().map(|(h, _)| h.id)
}

/// `build`: the edge pair, written by `verge build`'s own code.
pub(super) fn build(
    ctx: &Ctx<'_>,
    model: &str,
    bundle: ContentId,
    snapshot: ContentId,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let dir = ctx.repo.join(&ctx.config.build_dir);
    let key = Key::new("build")
        .id("bundle", bundle)
        .id("snapshot", snapshot)
        .text("dir", &ctx.config.build_dir.display().to_string())
        .finish();
    let detail = |dir: &Path| {
        let size = |f: &str| fs::metadata(dir.join(f)).map_or(0, |m| m.len());
        format!(
            "{}/ (bundle {} B, snapshot {} B)",
            ctx.config.build_dir.display(),
            size("bundle.bin"),
            size("snapshot.bin")
        )
    };
    let intact = |id: ContentId| {
        fs::read(dir.join("manifest.json")).is_ok_and(|b| ContentId::of(&b) == id)
            && artifact_id(&dir.join("bundle.bin")) == Some(bundle)
            && artifact_id(&dir.join("snapshot.bin")) == Some(snapshot)
    };
    if let Some(id) = ctx.cached(key, intact)? {
        return Ok(report(
            Step::Build,
            true,
            key,
            id,
            None,
            detail(&dir),
            started,
        ));
    }
    // `verge build`'s own library call, with its defaults.
    let repo = Repository::new(ctx.repo, ctx.config_path);
    EdgePair::resolve(&repo, model, &snapshot.to_string())?.write_dir(&dir, None)?;
    let manifest = dir.join("manifest.json");
    let bytes =
        fs::read(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    if artifact_id(&dir.join("bundle.bin")) != Some(bundle) {
        bail!(
            "{} does not hold bundle {}: the ref model/{model} moved during the run; run again",
            dir.join("bundle.bin").display(),
            bundle.short()
        );
    }
    let id = ContentId::of(&bytes);
    ctx.store.memo_put(key, id)?;
    Ok(report(
        Step::Build,
        false,
        key,
        id,
        None,
        detail(&dir),
        started,
    ))
}

/// `verify`: every key of the snapshot through the native core and the Wasm
/// module. A difference is a failed check (returned, not memoized), not an error.
pub(super) fn verify(
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
