//! `verge run`: the whole pipeline declared in `verge.toml`, memoized, then a
//! prediction (or, for a feature service, the online features) for a random
//! entity (see [`verge_host::pipeline`]).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value as Json, json};

use super::output::{print_json, print_line, spinner};
use super::{Ctx, ExitStatus};
use verge_host::pipeline::{self, Event, Outcome, RandomAnswer, RunOptions, StepReport};

/// Run the pipeline: apply → historical → train → materialize → build → verify.
///
/// Each step's output is keyed by the BLAKE3 hash of its inputs (definitions,
/// source and entity file contents, parameters, verge's version, the upstream
/// outputs); a step whose key is in the memo and whose output still exists does
/// no work and prints the same id, marked `cached`. Edit one source file and
/// only what reads it reruns. Then one entity is drawn at random from the
/// snapshot (seeded) and its prediction shown with its features and statuses.
///
/// With --service NAME (or `[run] service`) the run serves a feature service's
/// features without a model: apply → bundle (the service's feature bundle) →
/// materialize → build → verify, no entity table needed (nor a `[run]` table),
/// and the drawn entity's online features are shown with their statuses.
///
/// What to train on comes from the `[run]` table of verge.toml:
///
///   [run]
///   train_entities = "train_entities.csv"     # required
///   holdout_entities = "holdout_entities.csv" # optional: accuracy / RMSE in the bundle
///   now = "2021-06-25T12:00:00Z"              # the run's clock; pin it so reruns are cached
///   materialize_start = "2021-06-24"          # default: now - ttl per view
///   build_dir = "dist"                        # where the edge pair goes
///   model = "surgical_lesion"                 # default: the only [[model]]
///   # service = "vitals_only"                 # instead of model: features only
///
/// Exit codes: 0 ok, 1 the Wasm module disagreed with the native core, 2 a step
/// failed (the error names it).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge run                      # run, reusing every step whose inputs did not change\n  verge run --seed 7             # another random horse\n  verge run --service surgery_v1 # the service's features, no model\n  verge run --force --json       # recompute everything; a JSON report on stdout"
)]
pub struct Run {
    /// The model (default: `[run] model`, else the only `[[model]]`).
    #[arg(long, value_name = "NAME", conflicts_with = "service")]
    pub model: Option<String>,
    /// A feature service to serve without a model: build its feature bundle
    /// instead of training (default: `[run] service`).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The run's clock (RFC 3339, a date, `now`, `now-1d`); default: `[run] now`,
    /// else the wall clock.
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
    /// Seed for drawing the entity to predict (or read features) for.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Print a JSON report on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Recompute every step, ignoring the memo (the ids come out the same).
    #[arg(long)]
    pub force: bool,
    /// The Wasm ABI module for `verify` (default: `$VERGE_WASM`, else the workspace build).
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,
}

/// `12 ms` or `1.23 s`.
fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// One step's line.
fn step_line(r: &StepReport) -> String {
    format!(
        "  {:<12} {}  {:<6} {:>8}  {}",
        r.step.name(),
        r.output.short(),
        if r.cached { "cached" } else { "ran" },
        seconds(r.seconds),
        r.detail
    )
}

fn step_json(r: &StepReport) -> Json {
    json!({
        "step": r.step.name(),
        "status": if r.cached { "cached" } else { "ran" },
        "id": r.output.to_string(),
        "key": r.key.to_string(),
        "rows": r.rows,
        "seconds": r.seconds,
        "detail": r.detail,
        "warnings": super::output::warnings_json(&r.warnings),
    })
}

/// A JSON value as people read it.
fn plain(v: &Json) -> String {
    match v {
        Json::Null => "null".to_owned(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The drawn entity and how it was drawn, for the answer's heading.
fn drawn(p: &RandomAnswer, o: &Outcome) -> String {
    let entity: Vec<String> = p
        .entity
        .iter()
        .map(|(k, v)| format!("{k} {}", plain(v)))
        .collect();
    format!(
        "{} (drawn with --seed {} from {} in snapshot {}, at {})",
        entity.join(", "),
        p.seed,
        p.candidates,
        o.snapshot.short(),
        o.now.to_rfc3339()
    )
}

/// The prediction for people: the entity, its features with statuses, the label
/// and the probabilities.
fn prediction_text(p: &RandomAnswer, o: &Outcome, model: &str) -> String {
    let mut out = format!("Prediction for {}:\n", drawn(p, o));
    let r = &p.response;
    let one = &r["predictions"][0];
    let names: Vec<String> = r["feature_names"]
        .as_array()
        .map(|a| a.iter().map(plain).collect())
        .unwrap_or_default();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let values = one["features"]["values"].as_array();
    let statuses = one["features"]["statuses"].as_array();
    for (i, name) in names.iter().enumerate() {
        let value = values
            .and_then(|v| v.get(i))
            .map_or_else(String::new, plain);
        let status = statuses
            .and_then(|s| s.get(i))
            .map_or_else(String::new, plain);
        out.push_str(&format!("  {name:<width$}  {value:>10}  {status}\n"));
    }
    if let Some(probabilities) = one["probabilities"].as_array() {
        let classes = one["classes"].as_array();
        let pairs: Vec<String> = probabilities
            .iter()
            .enumerate()
            .map(|(i, prob)| {
                let class = classes
                    .and_then(|c| c.get(i))
                    .map_or_else(String::new, plain);
                format!("{class}: {:.4}", prob.as_f64().unwrap_or(f64::NAN))
            })
            .collect();
        out.push_str(&format!(
            "  => predicted {} `{}`, probabilities {}",
            model,
            plain(&one["label"]),
            pairs.join(", ")
        ));
    } else {
        out.push_str(&format!(
            "  => predicted {} = {}",
            model,
            plain(&one["value"])
        ));
    }
    out
}

/// The drawn entity's online features for people: one line per feature, with
/// its value and status (the join keys are in the heading).
fn features_text(p: &RandomAnswer, o: &Outcome) -> String {
    let mut out = format!("Features of `{}` for {}:\n", o.service, drawn(p, o));
    let r = &p.response;
    let names: Vec<String> = r["metadata"]["feature_names"]
        .as_array()
        .map(|a| a.iter().map(plain).collect())
        .unwrap_or_default();
    let rows: Vec<(&String, String, String)> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| !p.entity.contains_key(name.as_str()))
        .map(|(i, name)| {
            let column = &r["results"][i];
            (
                name,
                plain(&column["values"][0]),
                plain(&column["statuses"][0]),
            )
        })
        .collect();
    let width = rows.iter().map(|(n, ..)| n.len()).max().unwrap_or(0);
    for (name, value, status) in rows {
        out.push_str(&format!("  {name:<width$}  {value:>10}  {status}\n"));
    }
    out.trim_end().to_owned()
}

impl Run {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad `--now`, a missing `[run]` table, or a failing step (named in the
    /// error).
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let now = match &self.now {
            Some(t) => Some(
                verge_host::materialize::parse_time(t, verge_host::store::apply::now())
                    .context("--now")?,
            ),
            None => None,
        };
        let options = RunOptions {
            model: self.model.clone(),
            service: self.service.clone(),
            now,
            force: self.force,
            wasm: self.wasm.clone(),
        };
        let human = !self.json;
        let mut progress = None;
        let mut observe = |event: Event<'_>| match event {
            Event::Started(step) => {
                progress = spinner(ctx.quiet, &format!("{step}"));
            }
            Event::Finished(report) => {
                if let Some(p) = progress.take() {
                    p.finish_and_clear();
                }
                if human {
                    let _ = writeln!(std::io::stdout().lock(), "{}", step_line(report));
                }
                ctx.warn(&report.warnings);
            }
        };
        if human {
            print_line(format_args!("verge run ({})", ctx.config.display()))?;
        }
        let outcome = pipeline::run(&ctx.repo, &ctx.config, &options, &mut observe);
        if let Some(p) = progress.take() {
            p.finish_and_clear();
        }
        let outcome = outcome?;
        if let Some(first) = &outcome.verify_failed {
            if self.json {
                print_json(&report_json(&outcome, None))?;
            }
            ctx.note(&format!(
                "step `verify` failed: the Wasm module and the native core disagree\nfirst difference: {first}"
            ));
            return Ok(ExitStatus::CheckFailed);
        }
        let ask = match outcome.model {
            Some(_) => pipeline::predict_random,
            None => pipeline::features_random,
        };
        let answer = ask(
            &ctx.repo,
            outcome.bundle,
            outcome.snapshot,
            self.seed,
            outcome.now,
        )
        .context(match outcome.model {
            Some(_) => "predicting for a random entity",
            None => "reading a random entity's features",
        })?;
        if self.json {
            print_json(&report_json(&outcome, Some(&answer)))?;
        } else {
            let cached = outcome.steps.iter().filter(|s| s.cached).count();
            let total: f64 = outcome.steps.iter().map(|s| s.seconds).sum();
            let serves = match &outcome.model {
                Some(model) => format!("model `{model}`"),
                None => format!("feature service `{}` (features only)", outcome.service),
            };
            print_line(format_args!(
                "{} steps, {cached} cached, in {}; {serves} at the clock {}; bundle {}, snapshot {}, edge pair in {}/\n",
                outcome.steps.len(),
                seconds(total),
                outcome.now.to_rfc3339(),
                outcome.bundle.short(),
                outcome.snapshot.short(),
                outcome.build_dir.display()
            ))?;
            match &outcome.model {
                Some(model) => print_line(prediction_text(&answer, &outcome, model))?,
                None => print_line(features_text(&answer, &outcome))?,
            }
        }
        Ok(ExitStatus::Success)
    }
}

fn report_json(o: &Outcome, p: Option<&RandomAnswer>) -> Json {
    let answer = |p: &RandomAnswer| {
        json!({
            "seed": p.seed,
            "candidates": p.candidates,
            "entity": p.entity,
            "route": p.route,
            "request": p.request,
            "response": p.response,
        })
    };
    // A model run's answer is its prediction; a feature service run's, its features.
    let (prediction, features) = match (&o.model, p) {
        (Some(_), Some(p)) => (Some(answer(p)), None),
        (None, Some(p)) => (None, Some(answer(p))),
        (_, None) => (None, None),
    };
    json!({
        "model": o.model,
        "feature_service": o.service,
        "now": o.now.to_rfc3339(),
        "registry": o.registry.to_string(),
        "bundle": o.bundle.to_string(),
        "snapshot": o.snapshot.to_string(),
        "build_dir": o.build_dir.display().to_string(),
        "steps": o.steps.iter().map(step_json).collect::<Vec<_>>(),
        "verify_failed": o.verify_failed,
        "prediction": prediction,
        "features": features,
    })
}
