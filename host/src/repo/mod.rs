//! The feature repository: `verge.toml` parsed into core [`Definitions`].
//!
//! A repository is a directory with a `verge.toml` (the declarations), the data
//! its sources point at, and a `.verge/` directory holding the registry
//! ([`crate::store`]). This module only reads the declarations. Every mistake is
//! reported with the file, the table, the object and the key, plus a hint where
//! one helps; all mistakes are reported at once, then [`Definitions::validate`]
//! checks the cross-references.
//!
//! # The file
//!
//! | table | keys (defaults in parentheses) |
//! |---|---|
//! | top level | `project` |
//! | `[[entity]]` | `name`, `join_keys` (names, or `{ name, dtype }` tables), `dtype` / `value_type` for keys given as bare names (`"int64"` or `"string"`; left out: taken from the sources' column at plan/apply), `description` |
//! | `[[source]]` | `name`, `path` (`.csv`, `.parquet`, or `.db` / `.sqlite` / `.sqlite3`), `table` (SQLite only, required there), `timestamp_field`, `created_timestamp_field`, `field_mapping` (source column = feature name) |
//! | `[[push_source]]` | `name`, `batch_source` (a `[[source]]`: offline reads go there), `description`; rows pushed to it (`verge push`, `POST /push`) go to the online overlay ([`crate::push`]) |
//! | `[[feature_view]]` | `name`, `entities`, `source` (a `[[source]]` or a `[[push_source]]`), `ttl` (`0`: no limit; `"1d"`, `"12h"`, `"30m"`, `"45s"`, `"1h30m"`), `online` (`true`), `fields` (`{ name, dtype, cast }`; `cast = true` accepts a lossy narrowing of the column), `description`, `owner`, `tags` |
//! | `[[on_demand_feature_view]]` | `name`, `sources` (feature views), `request` (`{ name, dtype }`), `fields` (`{ name, dtype, expr }`) |
//! | `[[feature_service]]` | `name`, `features` (`"view:field"`, or a view's name for all its fields in order, as Feast's `FeatureService(features=[view])`), `description` |
//! | `[[model]]` | `name`, `feature_service`, `label`, `impute` (`mean`; `median`, `most_frequent`, `constant` + `impute_value`; `none`, trees only), `scale` (`none`; `standard`, `minmax`), `encode` (`one_hot`; `ordinal`), `select_k_best` (all), `estimator` (`gaussian_nb` + `var_smoothing` 1e-9; `logistic_regression` + `c` 1.0, `max_iter` 100; `linear_regression`; `random_forest` / `decision_tree`, trained by smartcore, + `task` (`classification`; `regression`), `criterion` (`gini`; `entropy`, `classification_error`; classification only), `n_trees` (100) and `max_features` (⌊√columns⌋; smartcore's `m`) for `random_forest` only, `max_depth` (no limit; levels of nodes with the root at level 1, so 1 is one leaf), `min_samples_split` (2), `min_samples_leaf` (1), `seed` (0); these need an imputer (smartcore takes no missing value), and a classifier's probabilities are the trees' vote fractions; `xgboost` / `lightgbm` + `model_file`, a model trained elsewhere: XGBoost JSON or LightGBM `model.txt`, relative to the repository, with `impute` defaulting to `none` (trees route missing values), `encode` to `ordinal`, and no `scale` or `select_k_best`) |
//!
//! | `[run]` | settings of `verge run` (entity files, clock); read by [`crate::pipeline::RunConfig`], never part of the definitions |
//!
//! Types are `bool`, `int64`, `float32`, `float64`, `string`. Unknown keys are errors.

mod convert;
pub mod duration;
mod locate;
mod raw;
pub mod render;

use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use verge_core::definition::Definitions;

/// The declarations file at the root of every feature repository.
pub const CONFIG_FILE: &str = "verge.toml";

/// Everything wrong with a `verge.toml`, one located message per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as named in messages.
    pub file: String,
    /// Each problem, starting with the file name.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "{}: {} problems:", self.file, many.len())?;
                for p in many {
                    // Indent continuation lines (toml's snippets) under their bullet.
                    write!(f, "\n  - {}", p.replace('\n', "\n    "))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads, converts and validates the `verge.toml` at `path`.
///
/// Messages name the file as `path` is written, without a leading `./`.
///
/// # Errors
///
/// When the file cannot be read, or a [`ConfigError`] listing every problem.
pub fn load(path: &Path) -> anyhow::Result<Definitions> {
    let (text, label) = read_config(path)?;
    Ok(parse_str(&text, &label)?)
}

/// The text of the `verge.toml` at `path`, and its name for messages (as
/// written, without a leading `./`).
fn read_config(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}; is this a feature repository? (`verge init DIR` creates one, `-C DIR` points at one)",
            path.display()
        )
    })?;
    let label = path.display().to_string();
    let label = label.strip_prefix("./").unwrap_or(&label).to_owned();
    Ok((text, label))
}

/// Parses `text` as a `verge.toml` named `file` in messages, canonicalizes and validates it.
///
/// # Examples
///
/// ```
/// let text = r#"
/// project = "horse_colic"
///
/// [[entity]]
/// name = "horse"
/// join_keys = ["hospital_number"]
/// dtype = "int64"
///
/// [[source]]
/// name = "vitals"
/// path = "data/vitals.csv"
/// timestamp_field = "event_timestamp"
///
/// [[feature_view]]
/// name = "stats"
/// entities = ["horse"]
/// source = "vitals"
/// ttl = "1d"
/// fields = [{ name = "pulse", dtype = "float64" }]
/// "#;
/// let defs = verge_host::repo::parse_str(text, "verge.toml").unwrap();
/// assert_eq!(defs.feature_views[0].ttl, verge_core::Duration::from_days(1));
///
/// let err = verge_host::repo::parse_str(&text.replace("\"1d\"", "\"1 day\""), "verge.toml")
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "verge.toml: [[feature_view]] \"stats\": key \"ttl\": \"1 day\" is not a duration; \
///      write e.g. \"1d\", \"12h\", \"30m\", \"45s\" or 0 (no limit)"
/// );
/// ```
///
/// # Errors
///
/// A [`ConfigError`] with every syntax, shape, vocabulary and validation problem found.
pub fn parse_str(text: &str, file: &str) -> Result<Definitions, ConfigError> {
    parse_with_hints(text, file).map(|(defs, _)| defs)
}

/// Reads the `verge.toml` at `path` as [`load`] does, then checks every
/// feature view's source against it ([`crate::source::schema::check`]): the
/// columns exist and their types hold the declared ones, and join keys
/// declared without a type get their source column's type. `plan` and `apply`
/// load this way, so a wrong type is refused before anything is recorded.
///
/// Source paths are taken relative to `repo_root`.
///
/// # Errors
///
/// As [`load`], or a [`crate::source::schema::SchemaError`] listing every
/// mismatch (file, column, declared and found type, what to do).
pub fn load_checked(path: &Path, repo_root: &Path) -> anyhow::Result<Definitions> {
    let (text, label) = read_config(path)?;
    let (mut defs, hints) = parse_with_hints(&text, &label)?;
    crate::source::schema::check(&mut defs, &hints, repo_root)?;
    Ok(defs)
}

/// As [`parse_str`], also returning what the schema check needs that the
/// definitions do not hold (untyped join keys, `cast = true` fields).
///
/// # Errors
///
/// As [`parse_str`].
pub fn parse_with_hints(
    text: &str,
    file: &str,
) -> Result<(Definitions, crate::source::schema::SchemaHints), ConfigError> {
    // A syntax error first, on its own: its line may be a broken header or sit
    // inside a multi-line value, so naming an enclosing table would mislead
    // (`[[]] #1`); toml's message already has the line, column and snippet.
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(ConfigError {
            file: file.to_owned(),
            problems: vec![format!("{file}: {}", e.to_string().trim_end())],
        });
    }
    let raw: raw::RawFile = toml::from_str(text).map_err(|e| {
        let table = e
            .span()
            .and_then(|span| locate::enclosing_table(text, span.start))
            .map(|t| format!("{t}: "))
            .unwrap_or_default();
        ConfigError {
            file: file.to_owned(),
            problems: vec![format!("{file}: {table}{}", e.to_string().trim_end())],
        }
    })?;
    let mut converter = convert::Converter::new(file);
    let mut defs = converter.convert(raw);
    if !converter.problems.is_empty() {
        return Err(ConfigError {
            file: file.to_owned(),
            problems: converter.problems,
        });
    }
    defs.canonicalize();
    match defs.validate() {
        Ok(()) => Ok((defs, converter.hints)),
        Err(verge_core::Error::Invalid(problems)) => Err(ConfigError {
            file: file.to_owned(),
            problems: problems.iter().map(|p| format!("{file}: {p}")).collect(),
        }),
        Err(other) => Err(ConfigError {
            file: file.to_owned(),
            problems: vec![format!("{file}: {other}")],
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
