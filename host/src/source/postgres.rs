//! PostgreSQL sources: one table read over the `postgres` crate (the sync
//! client of tokio-postgres, the well-kept Rust client; nothing heavier is
//! needed for one query per read).
//!
//! The table's columns and types come from `information_schema.columns`, so
//! the schema check never reads a row. The read is one plain `SELECT` of the
//! wanted columns, each cast on the server to one of five wire types, so the
//! client decodes only those and the shared conversion rules do the rest:
//!
//! | Postgres type | sent as | read as |
//! |---|---|---|
//! | `smallint`, `integer`, `bigint` | `int8` | an integer |
//! | `real`, `double precision`, `numeric` | `float8` | a float (numeric rounded to float64) |
//! | `boolean` | `bool` | a bool |
//! | `bytea` | `bytea` | bytes |
//! | `timestamp with time zone`, `timestamp` (read as UTC), `date` | µs since the epoch, `int8` | a point in time |
//! | `json`, `jsonb`, `text`, `varchar`, `char`, anything else | `text` | text (JSON is parsed for `json` fields) |
//! | arrays (`int8[]`, `text[]`, ...) | `to_json(col)::text` | a JSON array, read element by element |
//!
//! When the caller knows the time window (materialization's `[start, end]`),
//! [`super::read_source_window`] passes it here and it becomes a `WHERE` on the
//! event-timestamp column, so the server sends only those rows. Rows come in
//! the table's physical order (`ORDER BY ctid`), so "the last row wins a
//! complete tie" is the row stored last (for a table only ever inserted into,
//! the row inserted last).
//!
//! Identifiers are always quoted (`"schema"."table"`, `"column"`), so names
//! with capitals, spaces or quotes read as written and nothing is injected.

use anyhow::{Context as _, Result, bail};
use arrow_array::ArrayRef;
use postgres::{Client, NoTls, Row};

use super::convert::{Builder, Cell, Origin};
use super::found::{Column, Found, Seen};
use super::{Wanted, concat_pieces};

/// An event-time window `[start, end]`, µs since the epoch, both inclusive.
pub type Window = (i64, i64);

/// The connection URL of a source: `url`, or the variable `url_env` names.
fn url(url: Option<&str>, url_env: Option<&str>, place: &str) -> Result<String> {
    match (url, url_env) {
        (Some(url), _) => Ok(url.to_owned()),
        (None, Some(var)) => std::env::var(var).with_context(|| {
            format!("{place}: the environment variable `{var}` (url_env) is not set; export it with the postgres:// URL to read")
        }),
        (None, None) => bail!("{place}: no `url` or `url_env`; name the database to read"),
    }
}

/// Connects to the source's database.
pub(super) fn connect(
    url_text: Option<&str>,
    url_env: Option<&str>,
    place: &str,
) -> Result<Client> {
    let url = url(url_text, url_env, place)?;
    Client::connect(&url, NoTls).with_context(|| {
        format!("{place}: cannot connect to PostgreSQL (check the server is up and the URL)")
    })
}

/// `"schema"."table"` (or `"table"`), each part quoted.
fn quoted_table(table: &str) -> String {
    table.split('.').map(quote).collect::<Vec<_>>().join(".")
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Each column of `table` with its `information_schema` data type (arrays
/// as `ARRAY`), in table order.
fn table_columns(client: &mut Client, table: &str, place: &str) -> Result<Vec<(String, String)>> {
    let (schema, name) = match table.split_once('.') {
        Some((s, t)) => (s, t),
        None => ("", table),
    };
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = $1 AND (table_schema = $2 OR ($2 = '' AND table_schema = ANY(current_schemas(false)))) \
             ORDER BY ordinal_position",
            &[&name, &schema],
        )
        .with_context(|| format!("{place}: reading the columns of table `{table}`"))?;
    if rows.is_empty() {
        bail!("{place}: table `{table}` does not exist (or this user cannot see it)");
    }
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()
        .with_context(|| format!("{place}: reading the columns of table `{table}`"))
}

/// How one column travels: its `SELECT` expression and how its cells decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Int,
    Float,
    Bool,
    Bytes,
    Micros,
    Text,
}

fn wire(data_type: &str) -> Wire {
    match data_type {
        "smallint" | "integer" | "bigint" => Wire::Int,
        "real" | "double precision" | "numeric" => Wire::Float,
        "boolean" => Wire::Bool,
        "bytea" => Wire::Bytes,
        "timestamp with time zone" | "timestamp without time zone" | "date" => Wire::Micros,
        _ => Wire::Text,
    }
}

fn select_expr(column: &str, data_type: &str) -> String {
    let c = quote(column);
    match (wire(data_type), data_type) {
        (Wire::Int, _) => format!("{c}::int8"),
        (Wire::Float, _) => format!("{c}::float8"),
        (Wire::Micros, _) => format!("(extract(epoch from {c}) * 1000000)::int8"),
        (Wire::Text, "ARRAY") => format!("to_json({c})::text"),
        (Wire::Text, _) => format!("{c}::text"),
        (Wire::Bool | Wire::Bytes, _) => c,
    }
}

/// What the schema check sees: each column as the shared rules would read
/// it, from its declared type alone (no row is read).
pub(super) fn columns(
    url_text: Option<&str>,
    url_env: Option<&str>,
    table: &str,
    place: &str,
) -> Result<Vec<Column>> {
    let mut client = connect(url_text, url_env, place)?;
    let columns = table_columns(&mut client, table, place)?;
    Ok(columns
        .into_iter()
        .map(|(name, data_type)| {
            use arrow_schema::DataType as D;
            let found = match (wire(&data_type), data_type.as_str()) {
                (Wire::Int, _) => Found::Arrow(D::Int64),
                (Wire::Float, "real") => Found::Arrow(D::Float32),
                (Wire::Float, _) => Found::Arrow(D::Float64),
                (Wire::Bool, _) => Found::Arrow(D::Boolean),
                (Wire::Bytes, _) => Found::Arrow(D::Binary),
                (Wire::Micros, _) => Found::Arrow(D::Timestamp(
                    arrow_schema::TimeUnit::Microsecond,
                    Some("UTC".into()),
                )),
                (Wire::Text, _) => Found::Sample {
                    seen: Seen {
                        text: true,
                        ..Seen::default()
                    },
                    declared: data_type.to_ascii_uppercase(),
                },
            };
            Column { name, found }
        })
        .collect())
}

/// What [`read`] reads: which table, where, and the event-time window.
pub(super) struct Query<'a> {
    pub(super) url: Option<&'a str>,
    pub(super) url_env: Option<&'a str>,
    pub(super) table: &'a str,
    pub(super) window: Option<Window>,
}

/// Reads the wanted columns of the table, in the order of the module docs.
pub(super) fn read(
    query: &Query<'_>,
    place: &str,
    wanted: &[Wanted],
    resolve: impl FnOnce(&[String]) -> Result<Vec<usize>>,
) -> Result<Vec<ArrayRef>> {
    let mut client = connect(query.url, query.url_env, place)?;
    let columns = table_columns(&mut client, query.table, place)?;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let indices = resolve(&names)?;
    let picked: Vec<&(String, String)> = indices.iter().filter_map(|&i| columns.get(i)).collect();
    let exprs: Vec<String> = picked.iter().map(|(n, t)| select_expr(n, t)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        exprs.join(", "),
        quoted_table(query.table)
    );
    // The event timestamp is the first wanted timestamp (keys come before it).
    let event = wanted
        .iter()
        .zip(&picked)
        .find(|(w, _)| matches!(w.target, super::Target::Timestamp))
        .map(|(_, c)| *c);
    let mut params: Vec<i64> = Vec::new();
    if let (Some((start, end)), Some((name, data_type))) = (query.window, event)
        && wire(data_type) == Wire::Micros
    {
        let epoch = if data_type == "timestamp with time zone" {
            "timestamptz 'epoch'"
        } else {
            "timestamp 'epoch'"
        };
        let c = quote(name);
        sql.push_str(&format!(
            " WHERE {c} >= {epoch} + $1::int8 * interval '1 microsecond' AND {c} <= {epoch} + $2::int8 * interval '1 microsecond'"
        ));
        params = vec![start, end];
    }
    sql.push_str(" ORDER BY ctid");
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect();
    let rows = client
        .query(sql.as_str(), &refs)
        .with_context(|| format!("{place}: querying table `{}`", query.table))?;
    let mut builders: Vec<Builder> = wanted
        .iter()
        .map(|w| Builder::new(w.target, rows.len()))
        .collect();
    for (row, r) in rows.iter().enumerate() {
        for (slot, (builder, (name, data_type))) in builders.iter_mut().zip(&picked).enumerate() {
            let origin = Origin {
                place,
                column: name,
            };
            push_cell(builder, r, slot, wire(data_type), origin, row)?;
        }
    }
    builders
        .iter_mut()
        .zip(wanted)
        .map(|(b, w)| concat_pieces(&[b.finish()], w.target, place))
        .collect()
}

/// Decodes cell `slot` of `r` as its wire type and adds it to `builder`.
fn push_cell(
    builder: &mut Builder,
    r: &Row,
    slot: usize,
    wire: Wire,
    origin: Origin<'_>,
    row: usize,
) -> Result<()> {
    let bad = |e: postgres::Error| origin.at(row, &e.to_string());
    let cell = match wire {
        Wire::Int => r
            .try_get::<_, Option<i64>>(slot)
            .map_err(bad)?
            .map(Cell::Int),
        Wire::Micros => r
            .try_get::<_, Option<i64>>(slot)
            .map_err(bad)?
            .map(Cell::Micros),
        Wire::Float => r
            .try_get::<_, Option<f64>>(slot)
            .map_err(bad)?
            .map(Cell::Float),
        Wire::Bool => r
            .try_get::<_, Option<bool>>(slot)
            .map_err(bad)?
            .map(Cell::Bool),
        Wire::Bytes => {
            let bytes = r.try_get::<_, Option<&[u8]>>(slot).map_err(bad)?;
            return builder
                .push(bytes.map_or(Cell::Null, Cell::Bytes))
                .map_err(|m| origin.at(row, &m));
        }
        Wire::Text => {
            let text = r.try_get::<_, Option<&str>>(slot).map_err(bad)?;
            return builder
                .push(text.map_or(Cell::Null, Cell::Text))
                .map_err(|m| origin.at(row, &m));
        }
    };
    builder
        .push(cell.unwrap_or(Cell::Null))
        .map_err(|m| origin.at(row, &m))
}
