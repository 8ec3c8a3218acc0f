//! The `bundle` step of a feature service run: the service's feature bundle
//! (its plan, no model), built and stored by the library call `verge build
//! SERVICE` makes ([`Repository::feature_bundle_ref`]), with `service/<name>`
//! moved to it.

use std::fs;
use std::time::Instant;

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Bundle, BundleContents};

use super::report;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::resolve::Repository;

/// The stored bundle `id`, if it is intact and the feature bundle of `service`.
fn load_feature_bundle(ctx: &Ctx<'_>, id: ContentId, service: &str) -> Option<Bundle> {
    let bytes = fs::read(ctx.store.path(id, ArtifactKind::Bundle)).ok()?;
    let bundle = Bundle::load(&bytes).ok()?;
    let c = bundle.contents();
    (c.model.is_none() && c.service == service).then_some(bundle)
}

/// `bundle`'s line: what the feature bundle serves.
fn describe(c: &BundleContents) -> String {
    format!(
        "{}: {} features from {} views",
        c.describe(),
        c.features.len(),
        c.views.len()
    )
}

/// `bundle`: the feature bundle of `service` in registry version `registry`.
pub(in crate::pipeline) fn bundle(
    ctx: &Ctx<'_>,
    registry: ContentId,
    service: &str,
) -> anyhow::Result<StepReport> {
    let started = Instant::now();
    let key = Key::new("bundle")
        .id("registry", registry)
        .text("service", service)
        .finish();
    let ref_name = format!("service/{service}");
    let done = |cached: bool, id: ContentId, bundle: &Bundle| {
        let detail = describe(bundle.contents());
        report(Step::Bundle, cached, key, id, None, detail, started)
    };
    if let Some(id) = ctx.cached(key, |id| ctx.store.path(id, ArtifactKind::Bundle).is_file())?
        && let Some(bundle) = load_feature_bundle(ctx, id, service)
    {
        ctx.store.set_ref(&ref_name, id)?;
        return Ok(done(true, id, &bundle));
    }
    // `verge build SERVICE`'s own call: it builds from the registry head, which
    // the `apply` step just made `registry`.
    let stored = Repository::new(ctx.repo, ctx.config_path)
        .feature_bundle_ref(service)
        .with_context(|| format!("building the feature bundle of `{service}`"))?;
    let id = ctx
        .store
        .get_ref(&stored)?
        .with_context(|| format!("internal: {stored} was not stored"))?;
    let Some(bundle) = load_feature_bundle(ctx, id, service) else {
        bail!("internal: {stored} is not the feature bundle of `{service}`");
    };
    if bundle.contents().registry_id != registry {
        bail!(
            "the registry head moved during the run (bundle {} is of registry {}, the run applied {}); run again",
            id.short(),
            bundle.contents().registry_id.short(),
            registry.short()
        );
    }
    ctx.store.memo_put(key, id)?;
    Ok(done(false, id, &bundle))
}
