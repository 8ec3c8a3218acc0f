//! The `historical` step: the training (and holdout) set of the model's feature
//! service, joined as `verge historical` joins it and stored as CSV named by its
//! hash, with a small JSON list naming the sets.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use verge_core::ContentId;
use verge_core::definition::{Definitions, FeatureRef, Source};

use super::{key_sources, report};
use crate::historical::{HistoricalOptions, historical as join};
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::table_io::{read_entity_table, write_table};
use crate::warnings::Warnings;

/// Where `historical` keeps its training sets, under the repository.
const DATASETS: &str = ".verge/datasets";

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
    warnings: &mut Warnings,
) -> anyhow::Result<(String, u64)> {
    let options = HistoricalOptions {
        timestamp_column: ctx.config.timestamp_column.clone(),
        ..HistoricalOptions::default()
    };
    let table = read_entity_table(
        &ctx.repo.join(entities),
        &options.timestamp_column,
        warnings,
    )?;
    let joined = join(defs, ctx.repo, &table, features, &options, warnings)
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
pub(in crate::pipeline) fn historical(
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
    let train_entities = ctx.train_entities()?;
    let mut key = Key::new("historical")
        .id("registry", registry)
        .text("model", model)
        .text("timestamp_column", &config.timestamp_column)
        .file("train_entities", &ctx.repo.join(train_entities))
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
            train_entities.display()
        ),
        None => format!(
            "{} training rows from {}",
            sets.train_rows,
            train_entities.display()
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
    let mut warnings = Warnings::default();
    let (train, train_rows) = write_dataset(ctx, defs, &features, train_entities, &mut warnings)?;
    let (holdout, holdout_rows) = match &config.holdout_entities {
        Some(h) => {
            let (id, rows) = write_dataset(ctx, defs, &features, h, &mut warnings)?;
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
    let mut done = report(
        Step::Historical,
        false,
        key,
        output,
        Some(train_rows),
        describe(&sets),
        started,
    );
    done.warnings = warnings;
    Ok(done)
}
