//! `verge train`: fit a model declared in the registry head and store its bundle.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value as Json, json};
use verge_core::Value;
use verge_core::api::value_to_json;

use super::output::{print_json, print_line, spinner};
use super::{Ctx, ExitStatus};
use verge_host::artifacts::ArtifactStore;
use verge_host::store::atomic;
use verge_host::train::{self, EntityFiles, Trained};

/// Train a model declared in `verge.toml` and store its bundle.
///
/// Builds the training set with the point-in-time join of the model's feature
/// service onto the entity table (the label is an entity-table column, or else a
/// feature-view field of the same name; rows with a null label are dropped),
/// fits the recipe (encoders, imputer, scaler, select_k_best, estimator) and
/// writes a bundle: fitted transforms and model in the core's own types, plus
/// training metadata (rows, data hash, metrics). The bundle goes into the
/// artifact store, the ref `model/MODEL` points at it, and its id is printed.
/// Definitions come from the registry head, so run `verge apply` first.
///
/// A model that fitted but learned nonsense is stored with a `warning:` line
/// for each doubt (also listed under `warnings` in `--json`), or refused with
/// `--strict` (exit 2, nothing stored); the doubts are listed below.
#[derive(Debug, Args)]
#[command(
    after_help = "Doubts (a warning each; --strict refuses the model):\n  - a regression (linear_regression) whose label is constant;\n  - a one-hot encoded text feature with more than 50 distinct training values\n    (set encode = \"ordinal\" on the model, or drop the feature);\n  - a regression whose training or holdout RMSE is worse than predicting the\n    training mean for every row.\nA text label for a regression is an error, with or without --strict.\n\nExamples:\n  verge train surgical_lesion --entities entities.csv\n  verge train surgical_lesion --entities train.csv --holdout test.csv -o model.bundle --json\n  verge train surgical_lesion --entities entities.csv --strict   # refuse a doubtful model\n  verge train surgical_lesion --entities entities.csv --now 2021-06-25T12:00:00Z   # reproducible id"
)]
pub struct Train {
    /// The model to train (a `[[model]]` name).
    #[arg(value_name = "MODEL")]
    pub model: String,
    /// Entity table (.csv or .parquet): join keys, an event-time column, maybe the label.
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// Held-out entity table of the same shape; its accuracy or RMSE is stored in the bundle.
    #[arg(long, value_name = "FILE")]
    pub holdout: Option<PathBuf>,
    /// Also write the bundle to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print a JSON summary on stdout instead of the bare bundle id.
    #[arg(long)]
    pub json: bool,
    /// The entity tables' event-time column.
    #[arg(long, value_name = "NAME", default_value = "event_timestamp")]
    pub timestamp_column: String,
    /// Refuse (exit 2, store nothing) a model that learned nonsense, instead
    /// of warning about it.
    #[arg(long)]
    pub strict: bool,
    /// The bundle's `trained_at` (RFC 3339, `now`, `now-1d`); default: the
    /// clock. Pin it and the same inputs give the same bundle id on every
    /// machine (a pipeline's cache keys on it).
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub now: Option<String>,
}

impl Train {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An empty registry, an unknown model, unreadable inputs, bad training data
    /// (see [`verge_host::train::train`]), or a failed write.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let started = Instant::now();
        let trained_at = super::get_online_features::read_time(self.now.as_deref())?;
        let (head, version) = ctx
            .store()
            .head_definitions()?
            .context("the registry is empty; run `verge apply` first")?;
        let defs = &version.definitions;
        let progress = spinner(ctx.quiet, "reading the entity table");
        let files = EntityFiles {
            train: &self.entities,
            holdout: self.holdout.as_deref(),
            timestamp_column: &self.timestamp_column,
        };
        if let Some(p) = &progress {
            p.set_message(format!("training {}", self.model));
        }
        let display = |p: &Path| p.display().to_string();
        let trained = train::train_from_files(
            defs,
            head,
            &ctx.repo,
            &self.model,
            &files,
            display,
            trained_at,
        )
        .with_context(|| {
            format!(
                "training model `{}` (registry {})",
                self.model,
                head.short()
            )
        })?;
        if self.strict
            && let Err(e) = trained.refuse_doubts()
        {
            if let Some(p) = progress {
                p.finish_and_clear();
            }
            ctx.warn(&trained.warnings);
            return Err(e.context(format!(
                "--strict: not storing model `{}`; fix what is said below, or train without --strict",
                self.model
            )));
        }
        if let Some(p) = &progress {
            p.set_message("storing the bundle");
        }
        let store = ArtifactStore::open(&ctx.repo);
        let (id, _) = store.put(&trained.bytes)?;
        let ref_name = format!("model/{}", self.model);
        store.set_ref(&ref_name, id)?;
        if let Some(out) = &self.output {
            write_copy(out, &trained.bytes)?;
        }
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        ctx.warn(&trained.warnings);
        ctx.warn(&trained.doubts);
        self.report(ctx, &trained, &ref_name, started.elapsed().as_secs_f64());
        if self.json {
            print_json(&summary_json(&trained, self.output.as_deref()))?;
        } else {
            print_line(id)?;
        }
        Ok(ExitStatus::Success)
    }

    /// The human summary on stderr.
    fn report(&self, ctx: &Ctx, t: &Trained, ref_name: &str, seconds: f64) {
        let c = &t.contents;
        // `train` only ever makes model bundles.
        let Some(m) = c.model.as_ref() else { return };
        let spec = m.pipeline.estimator();
        let estimator = match spec {
            verge_core::model::Estimator::GaussianNb(_) => "gaussian naive bayes",
            verge_core::model::Estimator::LogisticRegression(_) => "logistic regression",
            verge_core::model::Estimator::LinearRegression(_) => "linear regression",
        };
        let mut lines = vec![format!(
            "Trained `{}` ({estimator}, {}) on {} rows in {seconds:.2} s.",
            m.name, m.training.trained_with, m.training.rows
        )];
        if t.dropped_null_labels > 0 {
            lines.push(format!(
                "  note: dropped {} entity rows whose label `{}` is null",
                t.dropped_null_labels, m.training.label
            ));
        }
        lines.push(format!(
            "  label: `{}` from {}",
            m.training.label, t.label_source
        ));
        if let Some(classes) = spec.classes() {
            let names: Vec<String> = classes.iter().map(plain).collect();
            lines.push(format!("  classes: {}", names.join(", ")));
        }
        let kept = m.pipeline.selected_names();
        lines.push(format!(
            "  features kept ({} of {} model columns): {}",
            kept.len(),
            m.pipeline.transforms().prepared_names().len(),
            kept.join(", ")
        ));
        for (name, value) in &m.training.metrics {
            if name != "holdout_rows" {
                lines.push(format!("  {}: {value:.4}", name.replace('_', " ")));
            }
        }
        if let Some(h) = &t.holdout {
            let mut line = format!("  holdout: {} rows", h.rows);
            if h.dropped_null_labels > 0 {
                line.push_str(&format!(
                    " ({} dropped for a null label)",
                    h.dropped_null_labels
                ));
            }
            lines.push(line);
        }
        lines.push(format!(
            "Bundle {} stored; ref {ref_name} points at it{}.",
            t.id.short(),
            self.output
                .as_ref()
                .map(|p| format!("; copy written to {}", p.display()))
                .unwrap_or_default()
        ));
        ctx.note(&lines.join("\n"));
    }
}

/// Writes the bundle copy atomically (a reader never sees half a bundle).
fn write_copy(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    // `atomic::replace` needs a directory to put its temporary file in.
    let path = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new(".").join(path),
        _ => path.to_path_buf(),
    };
    atomic::replace(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// A label value as people write it.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int64(i) => i.to_string(),
        Value::Float32(x) => x.to_string(),
        Value::Float64(x) => x.to_string(),
        Value::Int32(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

/// The `--json` summary.
fn summary_json(t: &Trained, output: Option<&Path>) -> Json {
    let c = &t.contents;
    let Some(m) = c.model.as_ref() else {
        return json!({ "bundle": t.id.to_string() });
    };
    let metrics: serde_json::Map<String, Json> = m
        .training
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "bundle": t.id.to_string(),
        "model": m.name,
        "feature_service": c.service,
        "registry": c.registry_id.to_string(),
        "rows": m.training.rows,
        "dropped_null_labels": t.dropped_null_labels,
        "warnings": super::output::warnings_json(&t.all_warnings()),
        "label": m.training.label,
        "label_source": t.label_source.to_string(),
        "classes": m.pipeline.estimator().classes().map(|cs| cs.iter().map(value_to_json).collect::<Vec<_>>()),
        "selected_features": m.pipeline.selected_names(),
        "metrics": metrics,
        "data_hash": m.training.data_hash.to_string(),
        "trained_with": m.training.trained_with,
        "output": output.map(|p| p.display().to_string()),
    })
}
