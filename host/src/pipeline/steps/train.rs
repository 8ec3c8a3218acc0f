//! The `train` step: the model fitted on the entity table by the library call
//! `verge train` makes, its bundle stored and `model/<name>` moved to it.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Bundle, ModelPart};
use verge_core::definition::Definitions;

use super::report;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::train::{EntityFiles, train_from_files};

fn load_bundle(ctx: &Ctx<'_>, id: ContentId) -> anyhow::Result<Bundle> {
    let path = ctx.store.path(id, ArtifactKind::Bundle);
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Bundle::load(&bytes).with_context(|| format!("loading bundle {}", path.display()))
}

/// `train`'s line: rows, the features kept, and the holdout metric.
fn describe_bundle(c: &ModelPart) -> String {
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
    let mut key = Key::new("train")
        .id("registry", registry)
        .text("model", model)
        .id("historical", data)
        .text("timestamp_column", &config.timestamp_column)
        .time("trained_at", ctx.now);
    // An imported model's file is an input like the data: a new file, a new bundle.
    if let Some(file) = defs.model(model).and_then(|m| m.estimator.model_file()) {
        let bytes = fs::read(ctx.repo.join(file))
            .with_context(|| format!("model `{model}`: reading model_file {file}"))?;
        key = key
            .text("model_file", file)
            .id("model_file", ContentId::of(&bytes));
    }
    let key = key.finish();
    let ref_name = format!("model/{model}");
    if let Some(id) = ctx.cached(key, |id| ctx.store.path(id, ArtifactKind::Bundle).is_file())?
        && let Ok(bundle) = load_bundle(ctx, id)
    {
        ctx.store.set_ref(&ref_name, id)?;
        let c = bundle.contents().require_model()?;
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
    let train_path = ctx.repo.join(ctx.train_entities()?);
    let holdout_path = config.holdout_entities.as_ref().map(|p| ctx.repo.join(p));
    let files = EntityFiles {
        train: &train_path,
        holdout: holdout_path.as_deref(),
        timestamp_column: &config.timestamp_column,
    };
    // Messages name the tables as `[run]` does, relative to the repository.
    let display = |p: &Path| p.strip_prefix(ctx.repo).unwrap_or(p).display().to_string();
    let trained = train_from_files(defs, registry, ctx.repo, model, &files, display, ctx.now)
        .with_context(|| format!("training model `{model}`"))?;
    let (id, _) = ctx.store.put(&trained.bytes)?;
    ctx.store.set_ref(&ref_name, id)?;
    ctx.store.memo_put(key, id)?;
    let model = trained.contents.require_model()?;
    let mut done = report(
        Step::Train,
        false,
        key,
        id,
        Some(model.training.rows),
        describe_bundle(model),
        started,
    );
    done.warnings = trained.all_warnings();
    Ok(done)
}
