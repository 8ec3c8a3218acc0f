//! The Spark SQL that carries verge's point-in-time rules (DESIGN.md,
//! "Semantics") to a cluster, generated from the definitions. Pure text: no
//! Spark here, so the shape is unit-tested and shown in `docs/offline.md`.
//!
//! Every source is scanned as one subquery that renames its columns to short
//! positional names (`k0`.. keys, `ev` and `cr` the event and created times in
//! µs, `rn` the row's index in its Parquet file, `c0`.. the values), so user
//! column names never meet the generated ones. The tie rule is one `ORDER BY`:
//! `ev DESC, cr DESC NULLS LAST, rn DESC` — the greatest event time, then the
//! greatest created time (a null one lowest, none at all equal), then the row
//! appearing **last** in the file, exactly as the native join breaks ties.

use std::fmt::Write as _;

use verge_core::DType;

/// One Parquet source file as the SQL reads it.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// The file, as Spark should open it.
    pub path: String,
    /// How messages name the source (`source `stats` (data/stats.parquet)`).
    pub place: String,
    /// Each join-key part: its column in the file and the key's type.
    pub keys: Vec<(String, DType)>,
    /// The event-time column in the file (a timestamp or a date).
    pub event: String,
    /// The created-time column in the file, if the source declares one.
    pub created: Option<String>,
    /// The value columns in the file, in output order.
    pub values: Vec<String>,
}

/// One feature view of a historical query.
#[derive(Debug, Clone)]
pub(crate) struct JoinedView {
    /// Its source.
    pub scan: Scan,
    /// For each key part of `scan`, the entity column (`e{i}`) it joins on.
    pub entity_keys: Vec<usize>,
    /// The view's ttl in µs; 0 means no lower bound.
    pub ttl_micros: i64,
    /// Also require `created_ts <= t` (a null created time passes).
    pub filter_by_created: bool,
}

/// `name` as a Spark SQL identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `text` as a Spark SQL string literal (backslash is Spark's escape).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The subquery reading `scan`: `k*`, `ev`, `cr` (if any), `rn`, `c*`. An
/// empty event time fails the query with the row and column, as the native
/// reader refuses it.
fn scan_sql(scan: &Scan) -> String {
    let mut cols: Vec<String> = scan
        .keys
        .iter()
        .enumerate()
        .map(|(i, (column, dtype))| {
            let ty = if *dtype == DType::Int64 {
                "BIGINT"
            } else {
                "STRING"
            };
            format!("CAST({} AS {ty}) AS k{i}", ident(column))
        })
        .collect();
    let ev = ident(&scan.event);
    let message = format!(
        "{}: column `{}`: the event timestamp is empty at row ",
        scan.place, scan.event
    );
    cols.push(format!(
        "CASE WHEN {ev} IS NULL THEN raise_error(concat({}, CAST(_metadata.row_index + 1 AS STRING))) \
         ELSE unix_micros(CAST({ev} AS TIMESTAMP)) END AS ev",
        literal(&message)
    ));
    if let Some(created) = &scan.created {
        cols.push(format!(
            "unix_micros(CAST({} AS TIMESTAMP)) AS cr",
            ident(created)
        ));
    }
    cols.push("_metadata.row_index AS rn".into());
    for (i, v) in scan.values.iter().enumerate() {
        cols.push(format!("{} AS c{i}", ident(v)));
    }
    format!(
        "SELECT {} FROM parquet.{}",
        cols.join(", "),
        ident(&scan.path)
    )
}

/// The winner order: greatest event time, created time (null lowest), row.
fn winner_order(scan: &Scan, alias: &str) -> String {
    let a = if alias.is_empty() {
        String::new()
    } else {
        format!("{alias}.")
    };
    let mut order = format!("{a}ev DESC");
    if scan.created.is_some() {
        let _ = write!(order, ", {a}cr DESC NULLS LAST");
    }
    let _ = write!(order, ", {a}rn DESC");
    order
}

/// The point-in-time join of `views` onto the entity file `entities`
/// (columns `o` the row's ordinal, `t` its time in µs, `e*` its keys).
///
/// The result has one row per entity row: `o`, then `v{i}_{j}` for value `j`
/// of view `i` (null where the view has no candidate). Each view is an inner
/// equi-join on its keys with the window as a join filter, ranked per entity
/// row; the final left joins on `o` keep every entity row once.
pub(crate) fn historical(entities: &str, views: &[JoinedView]) -> String {
    let mut sql = format!("WITH e AS (SELECT * FROM parquet.{})", ident(entities));
    for (i, v) in views.iter().enumerate() {
        let _ = write!(sql, ",\ns{i} AS ({})", scan_sql(&v.scan));
        let mut on: Vec<String> = v
            .entity_keys
            .iter()
            .enumerate()
            .map(|(k, e)| format!("s{i}.k{k} = e.e{e}"))
            .collect();
        on.push(format!("s{i}.ev <= e.t"));
        if v.ttl_micros > 0 {
            on.push(format!("s{i}.ev >= e.t - {}", v.ttl_micros));
        }
        if v.filter_by_created && v.scan.created.is_some() {
            on.push(format!("(s{i}.cr IS NULL OR s{i}.cr <= e.t)"));
        }
        let values: Vec<String> = (0..v.scan.values.len())
            .map(|j| format!("s{i}.c{j}"))
            .collect();
        let mut picked = String::from("e.o");
        for c in &values {
            let _ = write!(picked, ", {c}");
        }
        let _ = write!(
            sql,
            ",\nw{i} AS (SELECT * FROM (SELECT {picked}, row_number() OVER (PARTITION BY e.o ORDER BY {}) AS rk \
             FROM e JOIN s{i} ON {}) WHERE rk = 1)",
            winner_order(&v.scan, &format!("s{i}")),
            on.join(" AND ")
        );
    }
    let mut select = String::from("e.o");
    for (i, v) in views.iter().enumerate() {
        for j in 0..v.scan.values.len() {
            let _ = write!(select, ", w{i}.c{j} AS v{i}_{j}");
        }
    }
    let _ = write!(sql, "\nSELECT {select} FROM e");
    for i in 0..views.len() {
        let _ = write!(sql, " LEFT JOIN w{i} ON w{i}.o = e.o");
    }
    sql
}

/// Materialization of one view over `[start, end]` (µs, both inclusive): per
/// key, the winning row, as `k*`, `ev`, `cr` (if any), `c*`. Rows with a null
/// key part are skipped, as the native reader skips them.
pub(crate) fn materialize(scan: &Scan, start: i64, end: i64) -> String {
    let keys: Vec<String> = (0..scan.keys.len()).map(|k| format!("k{k}")).collect();
    let mut out = keys.clone();
    out.push("ev".into());
    if scan.created.is_some() {
        out.push("cr".into());
    }
    out.extend((0..scan.values.len()).map(|j| format!("c{j}")));
    let not_null: Vec<String> = keys.iter().map(|k| format!("{k} IS NOT NULL")).collect();
    format!(
        "SELECT {} FROM (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {}) AS rk FROM ({}) s \
         WHERE {} AND ev >= {start} AND ev <= {end}) WHERE rk = 1",
        out.join(", "),
        keys.join(", "),
        winner_order(scan, ""),
        scan_sql(scan),
        not_null.join(" AND "),
    )
}
