//! The `[[source]]` table: which reader a source takes and what it needs.
//!
//! `format` names the reader (`csv`, `parquet`, `sqlite`, `postgres`); left
//! out, it comes from `path`: its extension (`.csv`, `.parquet`/`.pq`,
//! `.db`/`.sqlite`/`.sqlite3`, which a glob such as `data/*.parquet` keeps),
//! or a trailing `/`, which names a directory of Parquet files. A SQLite or
//! PostgreSQL source names its `table`; a PostgreSQL source has no `path` and
//! exactly one of `url` and `url_env`. A `url` may not hold a password: the
//! URL is recorded in the registry, so a secret goes in the variable
//! `url_env` names instead.

use std::path::Path;

use verge_core::definition::{ObjectKind, Source, SourceFormat};

use super::Converter;
use crate::repo::raw::RawSource;

impl Converter<'_> {
    pub(super) fn source(&mut self, s: RawSource) -> Source {
        let format = self.source_format(&s);
        if !matches!(format, SourceFormat::Postgres { .. }) {
            for (key, value) in [("url", &s.url), ("url_env", &s.url_env)] {
                if value.is_some() {
                    self.problem(
                        ObjectKind::Source,
                        &s.name,
                        key,
                        "only PostgreSQL sources (`format = \"postgres\"`) take a connection; remove it",
                    );
                }
            }
        }
        Source {
            name: s.name,
            path: s.path,
            format,
            timestamp_field: s.timestamp_field,
            created_timestamp_field: s.created_timestamp_field,
            field_mapping: s.field_mapping.into_iter().collect(),
        }
    }

    fn source_format(&mut self, s: &RawSource) -> SourceFormat {
        let kind = ObjectKind::Source;
        let extension = Path::new(&s.path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let inferred = match s.format.as_deref() {
            Some(explicit) => explicit.to_owned(),
            None if s.path.ends_with('/') => "parquet".to_owned(),
            None => match extension.as_str() {
                "csv" => "csv".to_owned(),
                "parquet" | "pq" => "parquet".to_owned(),
                "db" | "sqlite" | "sqlite3" => "sqlite".to_owned(),
                "" if s.path.is_empty() => {
                    self.problem(kind, &s.name, "path", "a source needs a `path` (a file, a directory or a glob), or `format = \"postgres\"` with `url` or `url_env` and `table`");
                    return SourceFormat::Csv;
                }
                other => {
                    self.problem(
                        kind,
                        &s.name,
                        "path",
                        format!(
                            "\"{}\" has extension \"{other}\"; verge reads .csv, .parquet, a directory of Parquet files (end the path with `/`) and SQLite (.db, .sqlite, .sqlite3), or say `format = \"...\"`",
                            s.path
                        ),
                    );
                    return SourceFormat::Csv;
                }
            },
        };
        match (inferred.as_str(), &s.table) {
            ("postgres", _) => self.postgres(s),
            ("sqlite", Some(table)) => SourceFormat::Sqlite {
                table: table.clone(),
            },
            ("sqlite", None) => {
                self.problem(
                    kind,
                    &s.name,
                    "table",
                    format!("\"{}\" is a SQLite database; add `table = \"...\"` naming the table to read", s.path),
                );
                SourceFormat::Csv
            }
            ("csv" | "parquet", Some(_)) => {
                self.problem(
                    kind,
                    &s.name,
                    "table",
                    "only SQLite and PostgreSQL sources take a table; remove it",
                );
                SourceFormat::Csv
            }
            ("csv", None) => SourceFormat::Csv,
            ("parquet", None) => SourceFormat::Parquet,
            (other, _) => {
                self.problem(
                    kind,
                    &s.name,
                    "format",
                    format!(
                        "\"{other}\" is no format verge reads; use csv, parquet, sqlite or postgres"
                    ),
                );
                SourceFormat::Csv
            }
        }
    }

    fn postgres(&mut self, s: &RawSource) -> SourceFormat {
        let kind = ObjectKind::Source;
        if !s.path.is_empty() {
            self.problem(
                kind,
                &s.name,
                "path",
                "a PostgreSQL source reads `table` over `url` or `url_env`, not a path; remove it",
            );
        }
        let table = s.table.clone().unwrap_or_default();
        let parts: Vec<&str> = table.split('.').collect();
        if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
            self.problem(
                kind,
                &s.name,
                "table",
                format!("\"{table}\" is not `schema.table` or `table`; name the table to read"),
            );
        }
        match (&s.url, &s.url_env) {
            (Some(_), Some(_)) | (None, None) => self.problem(
                kind,
                &s.name,
                "url",
                "a PostgreSQL source takes exactly one of `url = \"postgres://...\"` and `url_env = \"VARIABLE\"`",
            ),
            (Some(url), None) if has_password(url) => self.problem(
                kind,
                &s.name,
                "url",
                "the URL holds a password, which would be recorded in the registry; put the URL in an environment variable and name it with `url_env`",
            ),
            (Some(url), None) if !url.starts_with("postgres://") && !url.starts_with("postgresql://") => self.problem(
                kind,
                &s.name,
                "url",
                format!("\"{url}\" is not a postgres:// or postgresql:// URL"),
            ),
            _ => {}
        }
        SourceFormat::Postgres {
            table,
            url: s.url.clone(),
            url_env: s.url_env.clone(),
        }
    }
}

/// Whether a `postgres://user:password@host/db` URL carries a password,
/// in its user part or as a `password=` parameter.
fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let user_part = authority.rsplit_once('@').map(|(u, _)| u);
    user_part.is_some_and(|u| u.contains(':')) || url.contains("password=")
}
