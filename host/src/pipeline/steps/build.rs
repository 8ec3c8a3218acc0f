//! The `build` step: the edge pair (bundle, snapshot, manifest) written by
//! `verge build`'s own library call.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::Header;

use super::report;
use crate::artifacts::kind_of;
use crate::edge_pair::EdgePair;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::resolve::Repository;

/// The id inside an artifact file, if it is an intact artifact.
fn artifact_id(path: &Path) -> Option<ContentId> {
    let bytes = fs::read(path).ok()?;
    let kind = kind_of(&bytes).ok()?;
    Header::open(&bytes, kind).ok().map(|(h, _)| h.id)
}

/// `build`: the edge pair, written by `verge build`'s own code.
pub(in crate::pipeline) fn build(
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
