//! Schema checks when definitions change: `plan` and `apply` compare every
//! feature view's declared columns with what its source holds, before anything
//! is recorded, instead of `historical` or `materialize` failing later.
//!
//! For each view, after `field_mapping`, each join key, the event and created
//! timestamps and each field must name a column of the source ([`super::found`]
//! says how little of each file is read), and the column must hold the type:
//!
//! - a column that cannot hold it (text where a number is declared, a struct or
//!   list anywhere) is refused;
//! - a lossy narrowing (float64 data declared float32, float or uint64 data
//!   declared int64) is refused unless the field says `cast = true`, in which
//!   case the reader narrows (and still refuses a value that does not fit);
//! - a join key declared without a type takes its column's type (`int64` for
//!   integer columns, `string` for text), which must be the same in every
//!   source of the entity's views. A key no view reads stays `string`.
//!
//! Every problem is reported at once, each naming the source file, the column,
//! the declared type and the found type, and what to do.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use arrow_schema::DataType as D;
use verge_core::DType;
use verge_core::definition::{Definitions, FeatureView, Source, SourceFormat};

use super::Target;
use super::found::{Column, Found, Seen, columns};

/// What `verge.toml` says that the definitions do not keep: which join keys
/// were written without a type, and which fields allow a lossy narrowing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaHints {
    /// `(entity, join key)` declared without a dtype.
    untyped_keys: BTreeSet<(String, String)>,
    /// `(feature view, field)` marked `cast = true`.
    cast: BTreeSet<(String, String)>,
}

impl SchemaHints {
    /// Notes that `entity`'s join key `key` was declared without a type.
    pub fn untyped_key(&mut self, entity: &str, key: &str) {
        self.untyped_keys
            .insert((entity.to_owned(), key.to_owned()));
    }

    /// Notes that field `field` of feature view `view` says `cast = true`.
    pub fn cast_field(&mut self, view: &str, field: &str) {
        self.cast.insert((view.to_owned(), field.to_owned()));
    }

    fn casts(&self, view: &str, field: &str) -> bool {
        self.cast.contains(&(view.to_owned(), field.to_owned()))
    }
}

/// Every schema mismatch found, one message per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Each problem, starting with the source it concerns.
    pub problems: Vec<String>,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "{} schema problems:", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// Whether a column can be read as a declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Holds,
    /// Readable, but values would lose precision: needs `cast = true`.
    Lossy,
    Cannot,
}

/// A source as messages name it, with its columns once read.
struct Read<'a> {
    source: &'a Source,
    place: String,
    columns: Vec<Column>,
}

impl Read<'_> {
    /// The column that `name` (a post-mapping name) reads, if any.
    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| {
            let mapped = self
                .source
                .field_mapping
                .iter()
                .find(|(from, _)| *from == c.name)
                .map_or(c.name.as_str(), |(_, to)| to.as_str());
            mapped == name
        })
    }

    fn missing(&self, what: &str, name: &str) -> String {
        let note = match self.source.field_mapping.iter().find(|(_, to)| *to == name) {
            Some((from, _)) => format!(" (mapped from `{from}`, which is not there either)"),
            None => String::new(),
        };
        let listed: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        format!(
            "{}: {what}: no column `{name}`{note}; columns are: {}; add the column, fix the name, or map a column to it with field_mapping",
            self.place,
            listed.join(", ")
        )
    }
}

/// How messages name a source: its name and where its rows are.
pub(crate) fn place(source: &Source) -> String {
    match &source.format {
        SourceFormat::Sqlite { table } => {
            format!("source `{}` ({}, table {table})", source.name, source.path)
        }
        SourceFormat::Postgres { table, url_env, .. } => match url_env {
            Some(var) => format!(
                "source `{}` (PostgreSQL ${var}, table {table})",
                source.name
            ),
            None => format!("source `{}` (PostgreSQL, table {table})", source.name),
        },
        _ => format!("source `{}` ({})", source.name, source.path),
    }
}

/// Checks every feature view of `defs` against its source's columns and gives
/// each untyped join key its column's type (see the module docs).
///
/// # Errors
///
/// A [`SchemaError`] naming every missing column, wrong type, unmarked lossy
/// narrowing and join-key disagreement; or a source file that cannot be read.
pub fn check(defs: &mut Definitions, hints: &SchemaHints, repo_root: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let mut reads: BTreeMap<String, Read<'_>> = BTreeMap::new();
    let used: BTreeSet<&str> = defs
        .feature_views
        .iter()
        .map(|v| v.source.as_str())
        .collect();
    for source in defs
        .sources
        .iter()
        .filter(|s| used.contains(s.name.as_str()))
    {
        let place = place(source);
        match columns(source, repo_root, &place) {
            Ok(columns) => {
                reads.insert(
                    source.name.clone(),
                    Read {
                        source,
                        place,
                        columns,
                    },
                );
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let inferred = infer_keys(defs, hints, &reads, &mut problems);
    for view in &defs.feature_views {
        if let Some(read) = reads.get(&view.source) {
            check_view(defs, view, read, hints, &mut problems);
        }
    }
    drop(reads);
    for entity in &mut defs.entities {
        for key in &mut entity.join_keys {
            if let Some(t) = inferred.get(&(entity.name.clone(), key.name.clone())) {
                key.dtype = *t;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError { problems }.into())
    }
}

/// The type of each untyped join key, from every source that reads it.
fn infer_keys(
    defs: &Definitions,
    hints: &SchemaHints,
    reads: &BTreeMap<String, Read<'_>>,
    problems: &mut Vec<String>,
) -> BTreeMap<(String, String), DType> {
    let mut out = BTreeMap::new();
    for (entity, key) in &hints.untyped_keys {
        // (source place, found type's name, inferred type), one per source.
        let mut opinions: Vec<(&str, String, DType)> = Vec::new();
        for view in defs
            .feature_views
            .iter()
            .filter(|v| v.entities.contains(entity))
        {
            let Some(read) = reads.get(&view.source) else {
                continue;
            };
            if opinions.iter().any(|(p, _, _)| *p == read.place) {
                continue;
            }
            // A missing column is reported by the view's check.
            let Some(column) = read.column(key) else {
                continue;
            };
            match key_type(&column.found) {
                Ok(Some(t)) => opinions.push((&read.place, found_name(&column.found), t)),
                Ok(None) => {}
                Err(found) => problems.push(format!(
                    "{}: join key `{key}` of entity `{entity}`: column `{}` holds {found}, which cannot be a join key; use an integer or text column",
                    read.place, column.name
                )),
            }
        }
        if let Some((first_place, first_found, first)) = opinions.first() {
            match opinions.iter().find(|(_, _, t)| t != first) {
                None => {
                    out.insert((entity.clone(), key.clone()), *first);
                }
                Some((place, found, _)) => problems.push(format!(
                    "entity `{entity}`: join key `{key}` has no declared type and its sources disagree: {first_place} holds {first_found}, {place} holds {found}; declare the key's type (`{{ name = \"{key}\", dtype = \"...\" }}`) and make both columns hold it"
                )),
            }
        }
    }
    out
}

/// The join-key type a column implies: `Ok(None)` when a sample is all null,
/// `Err(found)` when it can be no key at all.
fn key_type(found: &Found) -> Result<Option<DType>, String> {
    match found {
        Found::Arrow(t) => match arrow_value(t) {
            D::Int8
            | D::Int16
            | D::Int32
            | D::Int64
            | D::UInt8
            | D::UInt16
            | D::UInt32
            | D::UInt64 => Ok(Some(DType::Int64)),
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Ok(Some(DType::String)),
            D::Null => Ok(None),
            _ => Err(found_name(found)),
        },
        Found::Sample { seen, declared } => {
            if seen.blobs {
                Err(found_name(found))
            } else if seen.is_empty() {
                // Nothing sampled: trust an explicit SQLite declaration.
                Ok(if declared.contains("INT") {
                    Some(DType::Int64)
                } else if ["CHAR", "CLOB", "TEXT"]
                    .iter()
                    .any(|t| declared.contains(t))
                {
                    Some(DType::String)
                } else {
                    None
                })
            } else if seen.ints || seen.bits {
                let only_ints = Seen {
                    ints: seen.ints,
                    bits: seen.bits,
                    ..Seen::default()
                };
                Ok(Some(if *seen == only_ints {
                    DType::Int64
                } else {
                    DType::String
                }))
            } else {
                Ok(Some(DType::String))
            }
        }
    }
}

fn check_view(
    defs: &Definitions,
    view: &FeatureView,
    read: &Read<'_>,
    hints: &SchemaHints,
    problems: &mut Vec<String>,
) {
    let source = read.source;
    let mut wanted: Vec<(String, String, Target, bool)> = Vec::new();
    for entity in view.entities.iter().filter_map(|e| defs.entity(e)) {
        for key in &entity.join_keys {
            let at = (entity.name.clone(), key.name.clone());
            if hints.untyped_keys.contains(&at) {
                // Typed from the sources (or refused) by `infer_keys`; only the
                // column must exist.
                if read.column(&key.name).is_none() {
                    let what = format!(
                        "feature view `{}`: join key `{}` of entity `{}`",
                        view.name, key.name, entity.name
                    );
                    problems.push(read.missing(&what, &key.name));
                }
                continue;
            }
            let what = format!("join key `{}` of entity `{}`", key.name, entity.name);
            wanted.push((what, key.name.clone(), Target::Value(key.dtype), false));
        }
    }
    wanted.push((
        "the timestamp_field".to_owned(),
        source.timestamp_field.clone(),
        Target::Timestamp,
        false,
    ));
    if let Some(created) = &source.created_timestamp_field {
        let what = "the created_timestamp_field".to_owned();
        wanted.push((what, created.clone(), Target::Timestamp, false));
    }
    for field in &view.fields {
        let what = format!("field `{}`", field.name);
        let cast = hints.casts(&view.name, &field.name);
        wanted.push((what, field.name.clone(), Target::Value(field.dtype), cast));
    }
    for (what, name, target, cast) in wanted {
        let what = format!("feature view `{}`: {what}", view.name);
        let Some(column) = read.column(&name) else {
            problems.push(read.missing(&what, &name));
            continue;
        };
        let found = found_name(&column.found);
        let declared = match target {
            Target::Value(d) => d.name(),
            Target::Timestamp => "a timestamp",
        };
        match verdict(&column.found, target) {
            Verdict::Holds => {}
            Verdict::Lossy if cast => {}
            Verdict::Lossy => problems.push(format!(
                "{}: {what}: column `{}` holds {found} but is declared {declared}, which loses precision; declare it {found}, or add `cast = true` to the field to narrow it on read",
                read.place, column.name
            )),
            Verdict::Cannot => problems.push(format!(
                "{}: {what}: column `{}` holds {found}, which cannot be read as {declared}; declare the type the column holds, or fix the data",
                read.place, column.name
            )),
        }
    }
}

/// A dictionary column holds its values' type.
fn arrow_value(t: &D) -> &D {
    match t {
        D::Dictionary(_, values) => arrow_value(values),
        other => other,
    }
}

/// A found type in verge's words where there is one, else Arrow's.
fn found_name(found: &Found) -> String {
    match found {
        Found::Arrow(t) => match arrow_value(t) {
            D::Boolean => "bool".to_owned(),
            D::Int64 => "int64".to_owned(),
            D::Float32 => "float32".to_owned(),
            D::Float64 => "float64".to_owned(),
            D::Utf8 | D::LargeUtf8 | D::Utf8View => "string".to_owned(),
            D::Timestamp(_, _) | D::Date32 | D::Date64 => "a timestamp".to_owned(),
            D::Struct(_) => format!("a struct ({t})"),
            D::List(_) | D::LargeList(_) | D::FixedSizeList(_, _) | D::ListView(_) => {
                format!("a list ({t})")
            }
            other => other.to_string().to_ascii_lowercase(),
        },
        Found::Sample { seen, .. } => seen.name().to_owned(),
    }
}

fn verdict(found: &Found, target: Target) -> Verdict {
    match found {
        Found::Arrow(t) => arrow_verdict(arrow_value(t), target),
        Found::Sample { seen, .. } => sample_verdict(seen, target),
    }
}

fn arrow_verdict(t: &D, target: Target) -> Verdict {
    use Verdict::{Cannot, Holds, Lossy};
    let narrow_int = matches!(
        t,
        D::Boolean | D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16
    );
    let int = narrow_int || matches!(t, D::Int64 | D::UInt32);
    let float = matches!(t, D::Float16 | D::Float32 | D::Float64);
    let text = matches!(t, D::Utf8 | D::LargeUtf8 | D::Utf8View);
    let time = matches!(t, D::Timestamp(_, _) | D::Date32 | D::Date64);
    let binary = matches!(
        t,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_)
    );
    let nested = matches!(t, D::Struct(_) | D::Map(_, _));
    if *t == D::Null {
        return Holds;
    }
    match target {
        Target::Timestamp | Target::Value(DType::UnixTimestamp) if time || text => Holds,
        Target::Value(DType::String) if int || text || time => Holds,
        Target::Value(DType::String) if matches!(t, D::UInt64 | D::Float32 | D::Float64) => Holds,
        Target::Value(DType::Bool) if int => Holds,
        Target::Value(DType::Int32) if narrow_int => Holds,
        Target::Value(DType::Int32) if int || float || *t == D::UInt64 => Lossy,
        Target::Value(DType::Int64) if int => Holds,
        Target::Value(DType::Int64) if matches!(t, D::UInt64 | D::Float32 | D::Float64) => Lossy,
        Target::Value(DType::Float64)
            if int || matches!(t, D::UInt64 | D::Float32 | D::Float64) =>
        {
            Holds
        }
        Target::Value(DType::Float32) if int || matches!(t, D::UInt64 | D::Float32) => Holds,
        Target::Value(DType::Float32) if *t == D::Float64 => Lossy,
        // Binary as it is; text as base64.
        Target::Value(DType::Bytes) if binary || text => Holds,
        // Nested columns become their JSON; text is parsed as JSON.
        Target::Value(DType::Json) if nested || text || int || float || list_item(t).is_some() => {
            Holds
        }
        // A list converts element by element; text is parsed as a JSON array.
        Target::Value(DType::Array(elem)) => match list_item(t) {
            Some(item) => arrow_verdict(arrow_value(item), Target::Value(DType::from(elem))),
            None if text => Holds,
            None => Cannot,
        },
        _ => Cannot,
    }
}

/// The element type of a list column.
fn list_item(t: &D) -> Option<&D> {
    match t {
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => Some(f.data_type()),
        _ => None,
    }
}

fn sample_verdict(s: &Seen, target: Target) -> Verdict {
    use Verdict::{Cannot, Holds, Lossy};
    let numbers = s.ints || s.bits || s.whole_floats || s.fractions;
    let other = s.text || s.bool_words || s.times || s.blobs;
    match target {
        Target::Timestamp | Target::Value(DType::UnixTimestamp)
            if !numbers && !s.text && !s.bool_words && !s.blobs =>
        {
            Holds
        }
        Target::Value(DType::String) if !s.blobs => Holds,
        // A BLOB as it is, text as base64 (checked cell by cell when read).
        Target::Value(DType::Bytes) if !numbers && !s.bool_words => Holds,
        // JSON text (or numbers and bools, which are JSON); arrays are JSON text.
        Target::Value(DType::Json) if !s.blobs => Holds,
        Target::Value(DType::Array(_)) if !numbers && !s.bool_words && !s.blobs => Holds,
        Target::Value(DType::Int32) if !other && !s.fractions => Holds,
        Target::Value(DType::Bool) if !(s.text || s.times || s.blobs || s.ints || s.fractions) => {
            Holds
        }
        Target::Value(DType::Int64) if !other && !s.fractions => Holds,
        Target::Value(DType::Float64) if !other => Holds,
        Target::Value(DType::Float32) if !other && s.wide_floats => Lossy,
        Target::Value(DType::Float32) if !other => Holds,
        _ => Cannot,
    }
}
