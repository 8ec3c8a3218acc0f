//! The `apply` step: the repository's definitions recorded in the registry, as
//! `verge apply` does.

use std::time::Instant;

use anyhow::Context as _;
use verge_core::definition::Definitions;

use super::report;
use crate::pipeline::{Ctx, Key, Step, StepReport};
use crate::store::apply::{Applied, ApplyOptions};

/// `apply`: the registry head already holding these definitions is the cached
/// case (apply writes nothing then); otherwise a new version is recorded.
pub(in crate::pipeline) fn apply(ctx: &Ctx<'_>) -> anyhow::Result<(StepReport, Definitions)> {
    let started = Instant::now();
    let mut defs = crate::repo::load_checked(ctx.config_path, ctx.repo)?;
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
    // Read back what the registry holds: every later step works from it, as the
    // subcommands (which read the head) do. Later steps key on the definitions
    // id, not the version id (which covers the apply time and the history), so
    // equal definitions give equal steps on every machine.
    let version = store.read(applied.id())?;
    let id = version.definitions_id()?;
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
