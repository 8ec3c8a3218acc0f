//! `verge run`: the whole pipeline, step by step, memoized.
//!
//! The steps, in order, each calling the library function its subcommand calls
//! (so a step and the subcommand produce the same artifact from the same inputs):
//!
//! | step | does | output id | keyed by |
//! |---|---|---|---|
//! | `apply` | records `verge.toml` ([`crate::store::apply`]) | registry version | the definitions |
//! | `historical` | training (and holdout) set of the model's service ([`crate::historical`]) | hash of the CSV files `verge historical` would write | registry id, model, entity files' contents, the service's source files' contents |
//! | `train` | fits the recipe, stores the bundle ([`crate::train`]) | bundle id | registry id, model, the `historical` output, the run's clock, an imported model's file contents |
//! | `bundle` | a feature service run's feature bundle, `service/<name>` moved ([`crate::resolve::Repository::feature_bundle_ref`]) | bundle id | registry id, service |
//! | `materialize` | a complete snapshot of the online views ([`crate::materialize::build_snapshots`]) | snapshot id | registry id, window, the online views' source files' contents |
//! | `build` | the edge pair in `build_dir` ([`crate::edge_pair`]) | hash of `manifest.json` | bundle id, snapshot id, directory |
//! | `verify` | every snapshot key natively and under wasmtime ([`crate::verify::run`]) | hash of the check report | bundle id, snapshot id, the Wasm module's contents, the clock |
//!
//! A **feature service run** (`--service`, `[run] service`, or a repository
//! with no model and one service) serves features without a model: `bundle`
//! replaces `historical` and `train`, so it needs no entity table, and its last
//! act is one entity's online features ([`features_random`]) rather than a
//! prediction.
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
pub use predict::{RandomAnswer, features_random, predict_random};

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
    /// Build and store a feature service's feature bundle (no model).
    Bundle,
    /// Build the online snapshot.
    Materialize,
    /// Write the edge pair.
    Build,
    /// Compare native and Wasm answers.
    Verify,
}

impl Step {
    /// Every step, in the order a run executes those it has.
    pub const ALL: [Step; 7] = [
        Step::Apply,
        Step::Historical,
        Step::Train,
        Step::Bundle,
        Step::Materialize,
        Step::Build,
        Step::Verify,
    ];

    /// The steps of a model run, in order.
    pub const MODEL_RUN: [Step; 6] = [
        Step::Apply,
        Step::Historical,
        Step::Train,
        Step::Materialize,
        Step::Build,
        Step::Verify,
    ];

    /// The steps of a feature service run, in order.
    pub const SERVICE_RUN: [Step; 5] = [
        Step::Apply,
        Step::Bundle,
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
            Step::Bundle => "bundle",
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
    /// A feature service to serve without a model, instead of a model
    /// (default: `[run] service`); exclusive with `model`.
    pub service: Option<String>,
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
    /// The model trained and served; `None` in a feature service run.
    pub model: Option<String>,
    /// The feature service served (the model's, in a model run).
    pub service: String,
    /// The run's clock.
    pub now: Timestamp,
    /// Each step, in order ([`Step::MODEL_RUN`] or [`Step::SERVICE_RUN`] on success).
    pub steps: Vec<StepReport>,
    /// The registry version.
    pub registry: ContentId,
    /// The bundle (the model's, or the service's feature bundle).
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

    /// `[run] train_entities`, which a model run requires.
    pub fn train_entities(&self) -> anyhow::Result<&Path> {
        self.config
            .require_train_entities(&self.config_path.display().to_string())
    }
}

/// What a run serves: a model it trains, or a feature service's features.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Model(String),
    Service(String),
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

    let target = pick_target(&defs, options, &config)?;
    let service = served_service(&defs, &target);
    let (model, bundle) = match target {
        Target::Model(model) => {
            // Checked before the first model step, so the message is the table's.
            ctx.train_entities()?;
            observe(Event::Started(Step::Historical));
            let historical =
                steps::historical(&ctx, &defs, registry, &model).context(StepFailed {
                    step: Step::Historical,
                })?;
            let data = historical.output;
            finish(historical, observe);

            observe(Event::Started(Step::Train));
            let trained = steps::train(&ctx, &defs, registry, &model, data)
                .context(StepFailed { step: Step::Train })?;
            let bundle = trained.output;
            finish(trained, observe);
            (Some(model), bundle)
        }
        Target::Service(service) => {
            observe(Event::Started(Step::Bundle));
            let built = steps::bundle(&ctx, registry, &service)
                .context(StepFailed { step: Step::Bundle })?;
            let bundle = built.output;
            finish(built, observe);
            (None, bundle)
        }
    };
    observe(Event::Started(Step::Materialize));
    let materialized = steps::materialize(&ctx, &defs, registry).context(StepFailed {
        step: Step::Materialize,
    })?;
    let snapshot = materialized.output;
    finish(materialized, observe);

    observe(Event::Started(Step::Build));
    let built = steps::build(&ctx, model.as_deref(), bundle, snapshot)
        .context(StepFailed { step: Step::Build })?;
    finish(built, observe);

    observe(Event::Started(Step::Verify));
    let (verified, failed) = steps::verify(&ctx, bundle, snapshot, options.wasm.as_deref())
        .context(StepFailed { step: Step::Verify })?;
    finish(verified, observe);

    Ok(Outcome {
        build_dir: config.build_dir.clone(),
        config,
        model,
        service,
        now,
        steps,
        registry,
        bundle,
        snapshot,
        verify_failed: failed,
    })
}

/// What to run: `--service` or `--model`, else `[run] service` or `[run]
/// model`, else the only model, else (no model declared) the only service.
fn pick_target(
    defs: &verge_core::definition::Definitions,
    options: &RunOptions,
    config: &RunConfig,
) -> anyhow::Result<Target> {
    let service = |name: &str| pick_service(defs, name).map(Target::Service);
    match (&options.service, &options.model, &config.service) {
        (Some(_), Some(_), _) => bail!("give --model or --service, not both"),
        (Some(name), None, _) => return service(name),
        (None, None, Some(name)) if config.model.is_none() => return service(name),
        _ => {}
    }
    let asked = options.model.as_deref().or(config.model.as_deref());
    if asked.is_none()
        && defs.models.is_empty()
        && let [only] = defs.feature_services.as_slice()
    {
        return Ok(Target::Service(only.name.clone()));
    }
    pick_model(defs, asked).map(Target::Model)
}

/// The feature service `target` serves (a model's, or itself).
fn served_service(defs: &verge_core::definition::Definitions, target: &Target) -> String {
    match target {
        Target::Service(s) => s.clone(),
        Target::Model(m) => defs
            .models
            .iter()
            .find(|d| &d.name == m)
            .map(|d| d.feature_service.clone())
            .unwrap_or_default(),
    }
}

/// The feature service `name`, if declared.
fn pick_service(defs: &verge_core::definition::Definitions, name: &str) -> anyhow::Result<String> {
    if defs.feature_service(name).is_some() {
        return Ok(name.to_owned());
    }
    let known: Vec<&str> = defs
        .feature_services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    if known.is_empty() {
        bail!(
            "feature service `{name}` is not declared, and verge.toml has no [[feature_service]]; declare one"
        );
    }
    bail!(
        "feature service `{name}` is not declared; known feature services: {}",
        known.join(", ")
    )
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
        (None, []) => bail!(
            "verge.toml declares no [[model]]; `verge run` trains one, so add it, or serve a feature service's features with --service NAME"
        ),
        (None, many) => bail!(
            "verge.toml declares {} models ({}); pick one with --model or `[run] model`",
            many.len(),
            many.join(", ")
        ),
    }
}
