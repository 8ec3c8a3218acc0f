//! Feature definitions: Feast's vocabulary as plain data.
//!
//! A [`Definitions`] value is everything a `verge.toml` declares. The host parses
//! the file into it; the core validates it ([`Definitions::validate`]) and encodes
//! it canonically inside a registry version. Every list is kept sorted by name
//! ([`Definitions::canonicalize`]), so the same declarations always hash the same.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::artifact::wire::decode_struct;
use crate::expr::{Program, Schema};
use crate::time::Duration;
use crate::value::DType;
use crate::{Error, Result};

mod model;
mod validate;

pub use model::{
    Encoding, EstimatorSpec, Imputation, ModelSpec, Scaling, SplitCriterion, TreeParams, TreeTask,
};

/// A typed, named column: a feature-view field, a request field or a join key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Column type.
    pub dtype: DType,
}

impl Field {
    /// A field named `name` of type `dtype`.
    #[must_use]
    pub fn new(name: impl Into<String>, dtype: DType) -> Self {
        Field {
            name: name.into(),
            dtype,
        }
    }
}

/// A named thing features describe, identified by one or more join keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Entity name (`horse`).
    pub name: String,
    /// Join keys in order; each is `int64` or `string`.
    pub join_keys: Vec<Field>,
    /// Free text.
    pub description: String,
}

/// The file format of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// A table in a SQLite database.
    Sqlite {
        /// The table to read.
        table: String,
    },
    /// A table in a PostgreSQL database (appended last, so objects encoded
    /// before it existed decode unchanged). Exactly one of `url` and `url_env`
    /// is set.
    Postgres {
        /// The table to read, `schema.table` or `table`, as written.
        table: String,
        /// A connection URL (`postgres://user@host:port/db`).
        url: Option<String>,
        /// The environment variable holding the connection URL, so no
        /// password sits in `verge.toml` or the registry.
        url_env: Option<String>,
    },
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Source name.
    pub name: String,
    /// Path relative to the feature repository.
    pub path: String,
    /// How to read `path`.
    pub format: SourceFormat,
    /// Column holding each row's event time (after mapping).
    pub timestamp_field: String,
    /// Optional column holding when the row was written (after mapping); breaks ties.
    pub created_timestamp_field: Option<String>,
    /// Renames from the source's column names to feature names, sorted by source name.
    pub field_mapping: Vec<(String, String)>,
}

/// A source that also takes rows pushed online (Feast's `PushSource`): rows
/// pushed to it go to the online overlay of every feature view reading it,
/// while offline reads (`historical`, `materialize`) go to `batch_source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSource {
    /// Push source name; a feature view may name it as its `source`.
    pub name: String,
    /// The [`Source`] holding the same rows offline.
    pub batch_source: String,
    /// Free text.
    pub description: String,
}

/// Typed fields read from one source for some entities, valid for `ttl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureView {
    /// View name.
    pub name: String,
    /// Entities whose join keys identify a row.
    pub entities: Vec<String>,
    /// Source name: a [`Source`], or a [`PushSource`] (offline reads then go to its batch source).
    pub source: String,
    /// How long a value stays valid after its event time; zero means forever.
    pub ttl: Duration,
    /// Whether the view is materialized for online reads.
    pub online: bool,
    /// The features.
    pub fields: Vec<Field>,
    /// Free text.
    pub description: String,
    /// Owner, usually an e-mail address.
    pub owner: String,
    /// Sorted key/value tags.
    pub tags: Vec<(String, String)>,
}

/// One output of an on-demand view: a name, a type and its expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnDemandField {
    /// Output name.
    pub name: String,
    /// Declared type; the compiled program's type must match.
    pub dtype: DType,
    /// The compiled expression. Its inputs are the view's [`OnDemandFeatureView::input_schema`].
    pub program: Program,
}

/// Fields computed at read time from other features and from request data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnDemandFeatureView {
    /// View name.
    pub name: String,
    /// Feature views whose fields the expressions may read.
    pub sources: Vec<String>,
    /// Fields the caller supplies with each request.
    pub request: Vec<Field>,
    /// Outputs.
    pub fields: Vec<OnDemandField>,
}

impl OnDemandFeatureView {
    /// The names and types an expression of this view can read: the request
    /// fields first, then every field of each source view in `sources` order.
    ///
    /// # Errors
    ///
    /// [`Error::Unknown`] when a source view does not exist.
    pub fn input_schema(&self, views: &[FeatureView]) -> Result<Schema> {
        let mut fields: Vec<(String, DType)> = self
            .request
            .iter()
            .map(|f| (f.name.clone(), f.dtype))
            .collect();
        for source in &self.sources {
            let view = views
                .iter()
                .find(|v| &v.name == source)
                .ok_or_else(|| Error::Unknown {
                    what: "feature view",
                    name: source.clone(),
                    hint: Some(format!(
                        "on-demand view `{}` lists it in `sources`",
                        self.name
                    )),
                })?;
            fields.extend(view.fields.iter().map(|f| (f.name.clone(), f.dtype)));
        }
        Ok(Schema::new(fields))
    }
}

/// A reference to one feature: `view:field`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FeatureRef {
    /// Feature view or on-demand view name.
    pub view: String,
    /// Field name inside it.
    pub field: String,
}

impl FeatureRef {
    /// Whether `name` (`view:field`) names this feature, without formatting it.
    ///
    /// ```
    /// use verge_core::definition::FeatureRef;
    /// let r = FeatureRef::parse("stats:temp").unwrap();
    /// assert!(r.is_named("stats:temp"));
    /// assert!(!r.is_named("stats:tem") && !r.is_named("statstemp") && !r.is_named("stats:temp2"));
    /// ```
    #[must_use]
    pub fn is_named(&self, name: &str) -> bool {
        name.len() == self.view.len() + 1 + self.field.len()
            && name.as_bytes().get(self.view.len()) == Some(&b':')
            && name.starts_with(self.view.as_str())
            && name.ends_with(self.field.as_str())
    }

    /// Parses `view:field`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::definition::FeatureRef;
    /// let r = FeatureRef::parse("horse_colic_stats:pulse").unwrap();
    /// assert_eq!((r.view.as_str(), r.field.as_str()), ("horse_colic_stats", "pulse"));
    /// assert!(FeatureRef::parse("pulse").is_none());
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<FeatureRef> {
        let (view, field) = text.split_once(':')?;
        if view.is_empty() || field.is_empty() || field.contains(':') {
            return None;
        }
        Some(FeatureRef {
            view: view.to_owned(),
            field: field.to_owned(),
        })
    }
}

impl fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.view, self.field)
    }
}

/// An ordered list of features: the input vector of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureService {
    /// Service name.
    pub name: String,
    /// Features in the order the model reads them.
    pub features: Vec<FeatureRef>,
    /// Free text.
    pub description: String,
}

/// Everything a feature repository declares.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Definitions {
    /// Project name.
    pub project: String,
    /// Entities, sorted by name.
    pub entities: Vec<Entity>,
    /// Sources, sorted by name.
    pub sources: Vec<Source>,
    /// Feature views, sorted by name.
    pub feature_views: Vec<FeatureView>,
    /// On-demand views, sorted by name.
    pub on_demand_views: Vec<OnDemandFeatureView>,
    /// Feature services, sorted by name.
    pub feature_services: Vec<FeatureService>,
    /// Models, sorted by name.
    pub models: Vec<ModelSpec>,
    /// Push sources, sorted by name.
    pub push_sources: Vec<PushSource>,
}

/// The kind of a named definition, for messages and diffs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// An [`Entity`].
    Entity,
    /// A [`Source`].
    Source,
    /// A [`FeatureView`].
    FeatureView,
    /// An [`OnDemandFeatureView`].
    OnDemandFeatureView,
    /// A [`FeatureService`].
    FeatureService,
    /// A [`ModelSpec`].
    Model,
    /// A [`PushSource`].
    PushSource,
}

impl ObjectKind {
    /// The table name used in `verge.toml` (`feature_view`, ...).
    #[must_use]
    pub const fn table(self) -> &'static str {
        match self {
            ObjectKind::Entity => "entity",
            ObjectKind::Source => "source",
            ObjectKind::FeatureView => "feature_view",
            ObjectKind::OnDemandFeatureView => "on_demand_feature_view",
            ObjectKind::FeatureService => "feature_service",
            ObjectKind::Model => "model",
            ObjectKind::PushSource => "push_source",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.table())
    }
}

/// One thing wrong with the definitions: which object, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The kind of object at fault.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[[{}]] `{}`: {}", self.kind, self.name, self.message)
    }
}

/// A resolved feature of a service: where it comes from and its type.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedFeature<'a> {
    /// A field of a feature view.
    View {
        /// The view.
        view: &'a FeatureView,
        /// Index of the field in `view.fields`.
        field: usize,
    },
    /// An output of an on-demand view.
    OnDemand {
        /// The on-demand view.
        view: &'a OnDemandFeatureView,
        /// Index of the output in `view.fields`.
        field: usize,
    },
}

impl ResolvedFeature<'_> {
    /// The feature's type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        match self {
            ResolvedFeature::View { view, field } => view.fields[*field].dtype,
            ResolvedFeature::OnDemand { view, field } => view.fields[*field].dtype,
        }
    }
}

impl Definitions {
    /// Sorts every list by name (and each view's tags and each source's mapping),
    /// so that equal declarations encode to equal bytes.
    pub fn canonicalize(&mut self) {
        self.entities.sort_by(|a, b| a.name.cmp(&b.name));
        self.sources.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &mut self.sources {
            s.field_mapping.sort();
        }
        self.feature_views.sort_by(|a, b| a.name.cmp(&b.name));
        for v in &mut self.feature_views {
            v.tags.sort();
        }
        self.on_demand_views.sort_by(|a, b| a.name.cmp(&b.name));
        self.feature_services.sort_by(|a, b| a.name.cmp(&b.name));
        self.models.sort_by(|a, b| a.name.cmp(&b.name));
        self.push_sources.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The entity named `name`.
    #[must_use]
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    /// The source named `name`; for a push source, its batch source, which
    /// is where offline reads of a view over the push source go.
    #[must_use]
    pub fn source(&self, name: &str) -> Option<&Source> {
        let name = self
            .push_source(name)
            .map_or(name, |p| p.batch_source.as_str());
        self.sources.iter().find(|s| s.name == name)
    }

    /// The push source named `name`.
    #[must_use]
    pub fn push_source(&self, name: &str) -> Option<&PushSource> {
        self.push_sources.iter().find(|s| s.name == name)
    }

    /// The online feature views reading push source `name`, in name order.
    #[must_use]
    pub fn push_views(&self, name: &str) -> Vec<&FeatureView> {
        self.feature_views
            .iter()
            .filter(|v| v.online && v.source == name)
            .collect()
    }

    /// The feature view named `name`.
    #[must_use]
    pub fn feature_view(&self, name: &str) -> Option<&FeatureView> {
        self.feature_views.iter().find(|v| v.name == name)
    }

    /// The on-demand view named `name`.
    #[must_use]
    pub fn on_demand_view(&self, name: &str) -> Option<&OnDemandFeatureView> {
        self.on_demand_views.iter().find(|v| v.name == name)
    }

    /// The feature service named `name`.
    #[must_use]
    pub fn feature_service(&self, name: &str) -> Option<&FeatureService> {
        self.feature_services.iter().find(|s| s.name == name)
    }

    /// The model named `name`.
    #[must_use]
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The join keys of a feature view: its entities' keys, in entity order.
    #[must_use]
    pub fn join_keys(&self, view: &FeatureView) -> Vec<Field> {
        view.entities
            .iter()
            .filter_map(|e| self.entity(e))
            .flat_map(|e| e.join_keys.iter().cloned())
            .collect()
    }

    /// Resolves `view:field` against feature views and on-demand views.
    ///
    /// # Errors
    ///
    /// [`Error::Unknown`] naming the view or the field, with the nearest names as a hint.
    pub fn resolve(&self, feature: &FeatureRef) -> Result<ResolvedFeature<'_>> {
        if let Some(view) = self.feature_view(&feature.view) {
            let field = view
                .fields
                .iter()
                .position(|f| f.name == feature.field)
                .ok_or_else(|| {
                    unknown_field(feature, view.fields.iter().map(|f| f.name.as_str()))
                })?;
            return Ok(ResolvedFeature::View { view, field });
        }
        if let Some(view) = self.on_demand_view(&feature.view) {
            let field = view
                .fields
                .iter()
                .position(|f| f.name == feature.field)
                .ok_or_else(|| {
                    unknown_field(feature, view.fields.iter().map(|f| f.name.as_str()))
                })?;
            return Ok(ResolvedFeature::OnDemand { view, field });
        }
        let names: Vec<&str> = self
            .feature_views
            .iter()
            .map(|v| v.name.as_str())
            .chain(self.on_demand_views.iter().map(|v| v.name.as_str()))
            .collect();
        Err(Error::Unknown {
            what: "feature view",
            name: feature.view.clone(),
            hint: Some(format!("known views: {}", names.join(", "))),
        })
    }
}

fn unknown_field<'a>(feature: &FeatureRef, names: impl Iterator<Item = &'a str>) -> Error {
    let names: Vec<&str> = names.collect();
    Error::Unknown {
        what: "feature",
        name: format!("{feature}"),
        hint: Some(format!("`{}` has: {}", feature.view, names.join(", "))),
    }
}

/// True for names usable as identifiers in expressions and feature references.
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

decode_struct!(Field { name, dtype });
