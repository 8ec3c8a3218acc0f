//! The `train` step: the model fitted on the entity table by the library call
//! `verge train` makes, its bundle stored and `model/<name>` moved to it.

use std::fs;
use std::time::Instant;

use anyhow::Context as _;
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Bundle, BundleContents};
use verge_core::definition::Definitions;

use super::report;
use crate::historical::HistoricalOptions;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::table_io::read_entity_table;
use crate::train::{EntityInput, TrainRequest};

fn load_bundle(ctx: &Ctx<'_>, id: ContentId) -> anyhow::Result<Bundle> {
    let path = ctx.store.path(id, ArtifactKind::Bundle);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Bundle::load(&bytes).with_context(|| format!("loading bundle {}", path.display()))
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
pub(in crate::pipeline) fn train(
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
