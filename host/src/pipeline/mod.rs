//! `verge run`: the whole pipeline, step by step, memoized.
//!
//! The steps, in order, each calling the library function its subcommand calls
//! (so a step and the subcommand produce the same artifact from the same inputs):
//!
//! | step | does | output id | keyed by |
//! |---|---|---|---|
//! | `apply` | records `verge.toml` ([`crate::store::apply`]) | registry version | the definitions |
//! | `historical` | training (and holdout) set of the model's service ([`crate::historical`]) | hash of the CSV files `verge historical` would write | registry id, model, entity files' contents, the service's source files' contents |
//! | `train` | fits the recipe, stores the bundle ([`crate::train`]) | bundle id | registry id, model, the `historical` output, the run's clock |
//! | `materialize` | a complete snapshot of the online views ([`crate::materialize::build_snapshots`]) | snapshot id | registry id, window, the online views' source files' contents |
//! | `build` | the edge pair in `build_dir` ([`crate::edge_pair`]) | hash of `manifest.json` | bundle id, snapshot id, directory |
//! | `verify` | every snapshot key natively and under wasmtime ([`crate::verify::run`]) | hash of the check report | bundle id, snapshot id, the Wasm module's contents, the clock |
//!
//! Every key also holds verge's version and the step's name ([`Key`]). A step
//! whose key is in the memo ([`ArtifactStore::memo_get`]) and whose output still
//! exists does no work and reports the same id, `cached`. Changing one source
//! file therefore reruns only the steps that read it and those downstream of a
//! changed output; an output that comes out byte-identical (say, a training set
//! untouched by the edit) stops the wave there.
//!
//! **Why `materialize` does not merge.** `verge materialize` merges into the
//! latest snapshot, so its output depends on history, not only on its inputs.
//! The pipeline's step builds a complete snapshot of its window from the
//! sources, exactly what `verge materialize START END` writes in a fresh
//! repository, so it is a pure function of its key.
//!
//! **Determinism.** The run's clock (`--now`, else `[run] now`, else the wall
//! clock) is an input: it ends the materialization window, judges TTLs, and is
//! recorded as the bundle's `trained_at`. Pin it and reruns with `--force` give
//! byte-identical artifacts.
//!
//! **Crash safety.** Outputs are written atomically and content-addressed; a
//! memo entry is written only after its output is stored, so a killed run leaves
//! at worst an unreferenced file, never a memo entry pointing at half an output.

mod config;
mod key;
mod predict;
mod steps;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use verge_core::{ContentId, Timestamp};

pub use config::RunConfig;
pub use key::{Key, hash_file};
pub use predict::{RandomPrediction, predict_random};

use crate::artifacts::ArtifactStore;

/// The steps of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Record the definitions as a registry version.
    Apply,
    /// Build the training (and holdout) set.
    Historical,
    /// Fit the model and store its bundle.
    Train,
    /// Build the online snapshot.
    Materialize,
    /// Write the edge pair.
    Build,
    /// Compare native and Wasm answers.
    Verify,
}

impl Step {
    /// Every step, in the order a run executes them.
    pub const ALL: [Step; 6] = [
        Step::Apply,
        Step::Historical,
        Step::Train,
        Step::Materialize,
        Step::Build,
        Step::Verify,
    ];

    /// The step's name, as printed and as used in memo keys.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Step::Apply => "apply",
            Step::Historical => "historical",
            Step::Train => "train",
            Step::Materialize => "materialize",
            Step::Build => "build",
            Step::Verify => "verify",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// Nothing was computed: the memo had the output.
    pub cached: bool,
    /// The memo key (the hash of the step's inputs).
    pub key: ContentId,
    /// The output's id.
    pub output: ContentId,
    /// Rows the output holds (training rows, snapshot keys, entities checked).
    pub rows: Option<u64>,
    /// One line for people: what the output is.
    pub detail: String,
    /// Wall time of the step, seconds.
    pub seconds: f64,
    /// What the step's inputs did not make an error of (empty when cached:
    /// nothing was read).
    pub warnings: crate::warnings::Warnings,
}

/// What [`run`] is asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The model (default: `[run] model`, else the only `[[model]]`).
    pub model: Option<String>,
    /// The run's clock (default: `[run] now`, else the wall clock).
    pub now: Option<Timestamp>,
    /// Recompute every step even when its key is in the memo.
    pub force: bool,
    /// The Wasm ABI module for `verify` (default: [`crate::wasm_runtime::WasmModule::configured`]).
    pub wasm: Option<PathBuf>,
}

/// Progress, for a caller that shows steps as they happen.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A step is starting.
    Started(Step),
    /// A step finished.
    Finished(&'a StepReport),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The `[run]` table used.
    pub config: RunConfig,
    /// The model trained and served.
    pub model: String,
    /// The run's clock.
    pub now: Timestamp,
    /// Each step, in order (all six on success).
    pub steps: Vec<StepReport>,
    /// The registry version.
    pub registry: ContentId,
    /// The bundle.
    pub bundle: ContentId,
    /// The snapshot.
    pub snapshot: ContentId,
    /// Where `build` wrote the edge pair (relative to the repository).
    pub build_dir: PathBuf,
    /// `Some(first difference)` when `verify` found the Wasm module disagreeing
    /// with the native core (a failed check, not an error; nothing is memoized).
    pub verify_failed: Option<String>,
}

/// The error of a failed step: its name first, then the cause.
#[derive(Debug)]
pub struct StepFailed {
    /// The step.
    pub step: Step,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step `{}` failed", self.step)
    }
}

impl std::error::Error for StepFailed {}

/// The state a run carries from step to step.
pub(crate) struct Ctx<'a> {
    pub repo: &'a Path,
    pub config_path: &'a Path,
    pub config: &'a RunConfig,
    pub store: ArtifactStore,
    pub force: bool,
    pub now: Timestamp,
}

impl Ctx<'_> {
    /// The memo's output for `key`, if it is there and `exists` says the output
    /// is still in place (and `--force` was not given).
    pub fn cached(
        &self,
        key: ContentId,
        exists: impl FnOnce(ContentId) -> bool,
    ) -> anyhow::Result<Option<ContentId>> {
        if self.force {
            return Ok(None);
        }
        Ok(self.store.memo_get(key)?.filter(|id| exists(*id)))
    }
}

/// Runs the pipeline of the repository at `repo` (declarations in `config_path`).
///
/// `observe` hears each step start and finish. Stops at the first failing step.
///
/// # Errors
///
/// A missing or bad `[run]` table or `verge.toml`, an unknown model, or a step
/// that fails: the error's outermost context is [`StepFailed`] naming it.
pub fn run(
    repo: &Path,
    config_path: &Path,
    options: &RunOptions,
    observe: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<Outcome> {
    let config = RunConfig::load(config_path)?;
    let clock = crate::store::apply::now();
    let now = match (options.now, &config.now) {
        (Some(t), _) => t,
        (None, Some(text)) => crate::materialize::parse_time(text, clock)
            .with_context(|| format!("{}: [run] now", config_path.display()))?,
        (None, None) => clock,
    };
    let ctx = Ctx {
        repo,
        config_path,
        config: &config,
        store: ArtifactStore::open(repo),
        force: options.force,
        now,
    };
    let mut steps: Vec<StepReport> = Vec::new();
    let mut finish = |report: StepReport, observe: &mut dyn FnMut(Event<'_>)| {
        observe(Event::Finished(&report));
        steps.push(report);
    };

    observe(Event::Started(Step::Apply));
    let (applied, defs) = steps::apply(&ctx).context(StepFailed { step: Step::Apply })?;
    let registry = applied.output;
    finish(applied, observe);

    let model = pick_model(&defs, options.model.as_deref().or(config.model.as_deref()))?;

    observe(Event::Started(Step::Historical));
    let historical = steps::historical(&ctx, &defs, registry, &model).context(StepFailed {
        step: Step::Historical,
    })?;
    let data = historical.output;
    finish(historical, observe);

    observe(Event::Started(Step::Train));
    let trained = steps::train(&ctx, &defs, registry, &model, data)
        .context(StepFailed { step: Step::Train })?;
    let bundle = trained.output;
    finish(trained, observe);

    observe(Event::Started(Step::Materialize));
    let materialized = steps::materialize(&ctx, &defs, registry).context(StepFailed {
        step: Step::Materialize,
    })?;
    let snapshot = materialized.output;
    finish(materialized, observe);

    observe(Event::Started(Step::Build));
    let built =
        steps::build(&ctx, &model, bundle, snapshot).context(StepFailed { step: Step::Build })?;
    finish(built, observe);

    observe(Event::Started(Step::Verify));
    let (verified, failed) = steps::verify(&ctx, bundle, snapshot, options.wasm.as_deref())
        .context(StepFailed { step: Step::Verify })?;
    finish(verified, observe);

    Ok(Outcome {
        build_dir: config.build_dir.clone(),
        config,
        model,
        now,
        steps,
        registry,
        bundle,
        snapshot,
        verify_failed: failed,
    })
}

/// The model to run: the one asked for, else the only one declared.
fn pick_model(
    defs: &verge_core::definition::Definitions,
    asked: Option<&str>,
) -> anyhow::Result<String> {
    let known: Vec<&str> = defs.models.iter().map(|m| m.name.as_str()).collect();
    match (asked, known.as_slice()) {
        (Some(name), _) if known.contains(&name) => Ok(name.to_owned()),
        (Some(name), []) => Err(anyhow!(
            "model `{name}` is not declared, and verge.toml has no [[model]]; declare one"
        )),
        (Some(name), _) => Err(anyhow!(
            "model `{name}` is not declared; known models: {}",
            known.join(", ")
        )),
        (None, [one]) => Ok((*one).to_owned()),
        (None, []) => bail!("verge.toml declares no [[model]]; `verge run` trains one, so add it"),
        (None, many) => bail!(
            "verge.toml declares {} models ({}); pick one with --model or `[run] model`",
            many.len(),
            many.join(", ")
        ),
    }
}
