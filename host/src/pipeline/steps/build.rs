//! The `build` step: the edge pair (bundle, snapshot, manifest) written by
//! `verge build`'s own library call.
//!
//! A model run resolves the pair by the model's name, as `verge build MODEL`
//! does. A feature service run pairs the `bundle` step's output by its id:
//! `verge build SERVICE` would resolve a service that a model uses to that
//! model's bundle, while the run serves the service's features only.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::manifest::PublishedPair;
use verge_core::artifact::{Bundle, Header};

use super::report;
use crate::artifacts::kind_of;
use crate::edge_pair::EdgePair;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::resolve::{Repository, Wanted, pair_predictor};

/// The id inside an artifact file, if it is an intact artifact.
fn artifact_id(path: &Path) -> Option<ContentId> {
    let bytes = fs::read(path).ok()?;
    let kind = kind_of(&bytes).ok()?;
    Header::open(&bytes, kind).ok().map(|(h, _)| h.id)
}

/// The pair of the stored bundle `bundle` and snapshot `snapshot`, checked to
/// serve together (the pipeline's snapshot is never sharded).
fn pair_by_id(
    repo: &Repository,
    bundle: ContentId,
    snapshot: ContentId,
) -> anyhow::Result<EdgePair> {
    let (path, bundle_bytes) = repo.read(&bundle.to_string(), Wanted::Bundle)?;
    let loaded = Bundle::load(&bundle_bytes)
        .with_context(|| format!("loading bundle {}", path.display()))?;
    let loaded_snapshot = repo.load_snapshot(&snapshot.to_string())?;
    let contents = loaded.contents().clone();
    let meta = loaded_snapshot.meta().clone();
    let snapshot_bytes = loaded_snapshot.as_bytes().to_vec();
    pair_predictor(loaded, loaded_snapshot)?;
    Ok(EdgePair {
        bundle_bytes,
        snapshot_bytes,
        contents,
        meta,
        pair: PublishedPair::unsigned(bundle, snapshot),
    })
}

/// `build`: the edge pair, written by `verge build`'s own code. `model` is
/// `None` in a feature service run.
pub(in crate::pipeline) fn build(
    ctx: &Ctx<'_>,
    model: Option<&str>,
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
    let pair = match model {
        Some(model) => EdgePair::resolve(&repo, model, &snapshot.to_string())?,
        None => pair_by_id(&repo, bundle, snapshot)?,
    };
    pair.write_dir(&dir, None)?;
    let manifest = dir.join("manifest.json");
    let bytes =
        fs::read(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    if artifact_id(&dir.join("bundle.bin")) != Some(bundle) {
        bail!(
            "{} does not hold bundle {}: the ref model/{} moved during the run; run again",
            dir.join("bundle.bin").display(),
            bundle.short(),
            model.unwrap_or_default()
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
