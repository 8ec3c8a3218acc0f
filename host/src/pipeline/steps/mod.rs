//! The steps of [`super::run`], one module each: each builds its key, returns
//! the memo's output when it has one, and otherwise does the work with the
//! library function its subcommand uses, stores the output, and only then records
//! the memo entry. This module holds what several steps share.

mod apply;
mod build;
mod bundle;
mod historical;
mod materialize;
mod train;
mod verify;

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use verge_core::ContentId;
use verge_core::definition::Source;

use super::{Key, Step, StepReport};

pub(super) use apply::apply;
pub(super) use build::build;
pub(super) use bundle::bundle;
pub(super) use historical::historical;
pub(super) use materialize::materialize;
pub(super) use train::train;
pub(super) use verify::verify;

/// A step's report, timed from `started`.
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
        warnings: crate::warnings::Warnings::default(),
    }
}

/// `key` with the content of each source file added, so a step reruns when one
/// of the sources it reads changes.
fn key_sources(mut key: Key, repo: &Path, sources: &[&Source]) -> anyhow::Result<Key> {
    for s in sources {
        key = key
            .file(&format!("source {}", s.name), &repo.join(&s.path))
            .with_context(|| format!("source `{}`", s.name))?;
    }
    Ok(key)
}
