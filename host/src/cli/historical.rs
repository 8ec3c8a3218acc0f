//! `verge historical`: a point-in-time correct training set from the registry head.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{ArgGroup, Args};
use verge_core::definition::{Definitions, FeatureRef};

use super::engine::EngineArgs;
use super::output::spinner;
use super::threads::Threads;
use super::{Ctx, ExitStatus};
use verge_host::historical::{HistoricalOptions, historical_on, historical_within};
use verge_host::spark::Engine;
use verge_host::table_io::{read_entity_table, write_table};
use verge_host::warnings::Warnings;

/// Build a point-in-time correct training set.
///
/// Join features onto an entity table as they were known at each row's time.
///
/// For every entity row (join keys + event time), each feature view contributes
/// the latest row of that key with event time in [t - ttl, t] (latest created time
/// on ties), or nulls when there is none. Output has one row per input row, in
/// order, with every input column (labels, request data) carried through.
/// Definitions come from the registry head, so run `verge apply` first.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  verge historical --entities entities.csv --service surgery_v1 -o training.csv\n  verge historical --entities entities.parquet --features horse_vitals:pulse,derived:fever \\\n      -o training.parquet --full-feature-names\n  verge historical --entities entities.parquet --service surgery_v1 -o training.parquet --memory 2GiB\n  verge historical --entities entities.parquet --service surgery_v1 -o training.parquet \\\n      --engine spark --spark-master 'local[4]'"
)]
#[command(group(ArgGroup::new("which").required(true).args(["service", "features"])))]
pub struct Historical {
    /// Entity table (.csv or .parquet): join keys, an event-time column, anything else.
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// A feature service whose features to join.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Features to join, comma-separated `view:field`.
    #[arg(long, value_name = "VIEW:FIELD,...", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Output file (.csv or .parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Name feature columns `view__field` instead of `field`.
    #[arg(long)]
    pub full_feature_names: bool,
    /// Also require a feature row's created time to be at or before the entity row's time.
    #[arg(long)]
    pub filter_by_created: bool,
    /// The entity table's event-time column.
    #[arg(long, value_name = "NAME", default_value = "event_timestamp")]
    pub timestamp_column: String,
    /// Threads.
    #[command(flatten)]
    pub threads: Threads,
    /// Engine.
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl Historical {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An empty registry, an unknown service or feature, unreadable inputs, or a
    /// failed join.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<ExitStatus> {
        let (head, version) = ctx
            .store()
            .head_definitions()?
            .context("the registry is empty; run `verge apply` first")?;
        let defs = &version.definitions;
        warn_if_unapplied(ctx, defs);
        let features = self.feature_refs(defs)?;
        let options = HistoricalOptions {
            timestamp_column: self.timestamp_column,
            full_feature_names: self.full_feature_names,
            filter_by_created: self.filter_by_created,
        };
        let engine = self.engine.resolve(ctx)?;
        let memory = self.engine.memory(ctx)?;
        let progress = spinner(ctx.quiet, "reading the entity table");
        let mut warnings = Warnings::default();
        let entities = read_entity_table(&self.entities, &options.timestamp_column, &mut warnings)?;
        if let Some(p) = &progress {
            p.set_message("joining features");
        }
        let table = self
            .threads
            .install(|| match &engine {
                Engine::Native => historical_within(
                    defs,
                    &ctx.repo,
                    &entities,
                    &features,
                    &options,
                    memory,
                    &mut warnings,
                ),
                Engine::Spark(_) => historical_on(
                    &engine,
                    defs,
                    &ctx.repo,
                    &entities,
                    &features,
                    &options,
                    &mut warnings,
                ),
            })?
            .with_context(|| format!("building the training set (registry {})", head.short()))?;
        if let Some(p) = &progress {
            p.set_message(format!("writing {}", self.output.display()));
        }
        // Parquet encodes its columns on the pool too, so `--threads` holds for the write.
        self.threads
            .install(|| write_table(&table, &self.output))??;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        ctx.warn(&warnings);
        ctx.note(&format!(
            "Wrote {} rows x {} columns to {} (registry {}).",
            table.num_rows(),
            table.num_columns(),
            self.output.display(),
            head.short()
        ));
        Ok(ExitStatus::Success)
    }

    fn feature_refs(&self, defs: &Definitions) -> anyhow::Result<Vec<FeatureRef>> {
        if let Some(name) = &self.service {
            let Some(service) = defs.feature_service(name) else {
                let known: Vec<&str> = defs
                    .feature_services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                bail!(
                    "feature service `{name}` is not in the registry head; known services: {}",
                    if known.is_empty() {
                        "(none)".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            };
            return Ok(service.features.clone());
        }
        self.features
            .iter()
            .map(|text| {
                FeatureRef::parse(text.trim()).with_context(|| {
                    format!("--features: `{text}` is not a feature reference; write view:field")
                })
            })
            .collect()
    }
}

/// Training on stale definitions is legal (the head is what was applied) but
/// usually a mistake, so say so without failing.
fn warn_if_unapplied(ctx: &Ctx, head: &Definitions) {
    if let Ok(current) = ctx.definitions()
        && current != *head
    {
        ctx.note(&format!(
            "warning: {} has changes that are not applied; using the registry head (run `verge plan`)",
            ctx.config.display()
        ));
    }
}
