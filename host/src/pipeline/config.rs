//! The `[run]` table of `verge.toml`: what `verge run` needs beyond the
//! definitions.
//!
//! Which entity table trains the model, which one is held out, the run's clock,
//! where the materialization window starts and where the edge pair is written
//! are facts about one pipeline run, not about the features. They live in their
//! own table, which [`crate::repo`] accepts but never turns into definitions, so
//! editing them never changes a registry id (the steps that depend on them are
//! keyed by them directly).
//!
//! ```toml
//! [run]
//! model = "surgical_lesion"                 # default: the only [[model]]
//! # service = "vitals_only"                 # or: build a feature service (no model)
//! train_entities = "train_entities.csv"     # required to train a model
//! holdout_entities = "holdout_entities.csv" # optional: accuracy / RMSE stored in the bundle
//! timestamp_column = "event_timestamp"      # the entity tables' event-time column
//! now = "2021-06-25T12:00:00Z"              # the run's clock (default: the wall clock)
//! materialize_start = "2021-06-24T00:00:00Z" # default: now - ttl per view
//! build_dir = "dist"                        # where `build` writes the edge pair
//! ```
//!
//! A run of a feature service (`service`, or `verge run --service`) trains
//! nothing, so it needs no `train_entities`, and a repository of feature
//! services only may leave the table out: every key then has its default.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The `[run]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The model to train and serve; `None` means the only `[[model]]`.
    #[serde(default)]
    pub model: Option<String>,
    /// The feature service to build a feature bundle of instead of training a
    /// model; exclusive with `model`.
    #[serde(default)]
    pub service: Option<String>,
    /// The entity table the model trains on (relative to the repository);
    /// required for a model run ([`RunConfig::require_train_entities`]).
    #[serde(default)]
    pub train_entities: Option<PathBuf>,
    /// A held-out entity table, scored into the bundle's metrics.
    #[serde(default)]
    pub holdout_entities: Option<PathBuf>,
    /// The entity tables' event-time column.
    #[serde(default = "default_timestamp_column")]
    pub timestamp_column: String,
    /// The run's clock (RFC 3339, a date, `now`, `now-1d`): the end of the
    /// materialization window, the time online reads are judged at, and the
    /// bundle's `trained_at`. `None`: the wall clock.
    #[serde(default)]
    pub now: Option<String>,
    /// The start of the materialization window; `None`: `now - ttl` per view
    /// (everything, for a ttl of 0), as `materialize-incremental` starts.
    #[serde(default)]
    pub materialize_start: Option<String>,
    /// Where `build` writes `bundle.bin`, `snapshot.bin` and `manifest.json`.
    #[serde(default = "default_build_dir")]
    pub build_dir: PathBuf,
    /// Whether verge.toml has a `[run]` table at all (a model run needs one).
    #[serde(skip)]
    pub declared: bool,
}

fn default_timestamp_column() -> String {
    "event_timestamp".to_owned()
}

fn default_build_dir() -> PathBuf {
    PathBuf::from("dist")
}

/// An example `[run]` table for messages.
const EXAMPLE: &str = "[run]\ntrain_entities = \"entities.csv\"   # the entity table the model trains on\nnow = \"2021-06-25T12:00:00Z\"       # optional: pin the clock so reruns are cached";

impl RunConfig {
    /// Reads the `[run]` table of the `verge.toml` at `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_host::pipeline::RunConfig;
    /// let text = "project = \"p\"\n[run]\ntrain_entities = \"train.csv\"\n";
    /// let config = RunConfig::parse(text, "verge.toml")?;
    /// assert_eq!(config.require_train_entities("verge.toml")?.to_str(), Some("train.csv"));
    /// assert_eq!(config.build_dir.to_str(), Some("dist"));
    /// // No table: the defaults, which serve a feature service but train nothing.
    /// let none = RunConfig::parse("project = \"p\"\n", "verge.toml")?;
    /// assert_eq!(none.build_dir.to_str(), Some("dist"));
    /// assert!(none.require_train_entities("verge.toml").is_err());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the file cannot be read, or as [`RunConfig::parse`].
    pub fn load(path: &Path) -> anyhow::Result<RunConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the `[run]` table out of a whole `verge.toml` text named `file`.
    ///
    /// # Errors
    ///
    /// Invalid TOML, an unknown key, a value of the wrong kind, or both
    /// `model` and `service`. No `[run]` table is not an error here: it is
    /// the defaults, and [`Self::require_train_entities`] refuses a model run.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<RunConfig> {
        let file = file.strip_prefix("./").unwrap_or(file);
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("{file} is not valid TOML"))?;
        let (run, declared) = match table.get("run") {
            Some(run) => (run.clone(), true),
            None => (toml::Value::Table(toml::Table::new()), false),
        };
        let mut config = run
            .try_into::<RunConfig>()
            .map_err(|e| anyhow::anyhow!("{file}: [run]: {}", e.to_string().trim_end()))?;
        config.declared = declared;
        if let (Some(model), Some(service)) = (&config.model, &config.service) {
            bail!(
                "{file}: [run] sets both model = \"{model}\" and service = \"{service}\"; a run trains a model or builds a feature service, so keep one"
            );
        }
        Ok(config)
    }

    /// The entity table a model run trains on.
    ///
    /// # Errors
    ///
    /// No `[run]` table (the message shows one to copy), or no `train_entities`
    /// in it; `file` names verge.toml in both.
    pub fn require_train_entities(&self, file: &str) -> anyhow::Result<&Path> {
        let file = file.strip_prefix("./").unwrap_or(file);
        if !self.declared {
            bail!(
                "{file} has no [run] table, which says what `verge run` trains on; add one, e.g.\n\n{EXAMPLE}\n\n(a feature service needs none: `verge run --service NAME`)"
            );
        }
        match &self.train_entities {
            Some(path) => Ok(path),
            None => bail!(
                "{file}: [run]: missing field `train_entities`, the entity table the model trains on; add e.g. train_entities = \"entities.csv\" (a feature service needs none: `verge run --service NAME`)"
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_key_and_the_mistakes() {
        let text = r#"
project = "p"
[run]
model = "m"
train_entities = "t.csv"
holdout_entities = "h.csv"
timestamp_column = "ts"
now = "2021-06-25T12:00:00Z"
materialize_start = "2021-06-24"
build_dir = "out"
"#;
        let c = RunConfig::parse(text, "./verge.toml").unwrap();
        assert_eq!(c.model.as_deref(), Some("m"));
        assert_eq!(c.holdout_entities, Some(PathBuf::from("h.csv")));
        assert_eq!(c.timestamp_column, "ts");
        assert_eq!(c.now.as_deref(), Some("2021-06-25T12:00:00Z"));
        assert_eq!(c.materialize_start.as_deref(), Some("2021-06-24"));
        assert_eq!(c.build_dir, PathBuf::from("out"));
        assert_eq!(c.service, None);

        let missing = RunConfig::parse("project = \"p\"", "./verge.toml")
            .unwrap()
            .require_train_entities("./verge.toml")
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("verge.toml has no [run] table"),
            "{missing}"
        );
        assert!(
            missing.to_string().contains("train_entities ="),
            "{missing}"
        );
        let unknown = RunConfig::parse("[run]\ntrain_entities = \"t\"\nnoww = 1\n", "verge.toml")
            .unwrap_err();
        assert!(unknown.to_string().contains("noww"), "{unknown}");
        let no_train = RunConfig::parse("[run]\nnow = \"now\"\n", "verge.toml").unwrap();
        let err = no_train.require_train_entities("verge.toml").unwrap_err();
        assert!(err.to_string().contains("train_entities"), "{err}");
        let service = RunConfig::parse("[run]\nservice = \"s\"\n", "verge.toml").unwrap();
        assert_eq!(service.service.as_deref(), Some("s"));
        let both =
            RunConfig::parse("[run]\nmodel = \"m\"\nservice = \"s\"\n", "verge.toml").unwrap_err();
        assert!(both.to_string().contains("keep one"), "{both}");
    }
}
