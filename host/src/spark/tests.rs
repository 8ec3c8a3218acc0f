use verge_core::DType;

use super::sql::{JoinedView, Scan, historical, materialize};

fn scan(created: bool) -> Scan {
    Scan {
        path: "/data/it's `odd`.parquet".into(),
        place: "source `s` (s.parquet)".into(),
        keys: vec![("driver id".into(), DType::Int64)],
        event: "ts".into(),
        created: created.then(|| "made".into()),
        values: vec!["f`0".into(), "f1".into()],
    }
}

fn view(created: bool, ttl: i64, filter: bool) -> JoinedView {
    JoinedView {
        scan: scan(created),
        entity_keys: vec![3],
        ttl_micros: ttl,
        filter_by_created: filter,
    }
}

#[test]
fn the_window_is_inclusive_and_ttl_zero_has_no_lower_bound() {
    let bounded = historical("/e.parquet", &[view(true, 86_400_000_000, false)]);
    assert!(bounded.contains("s0.k0 = e.e3 AND s0.ev <= e.t AND s0.ev >= e.t - 86400000000"));
    let unbounded = historical("/e.parquet", &[view(true, 0, false)]);
    assert!(unbounded.contains("s0.ev <= e.t)"), "{unbounded}");
    assert!(!unbounded.contains("e.t -"), "{unbounded}");
}

#[test]
fn ties_go_to_created_then_the_last_row() {
    let with = historical("/e.parquet", &[view(true, 0, false)]);
    assert!(with.contains("ORDER BY s0.ev DESC, s0.cr DESC NULLS LAST, s0.rn DESC"));
    let without = historical("/e.parquet", &[view(false, 0, false)]);
    assert!(without.contains("ORDER BY s0.ev DESC, s0.rn DESC"));
    assert!(!without.contains(" AS cr"));
}

#[test]
fn filter_by_created_lets_a_null_created_time_pass_and_needs_the_column() {
    let sql = historical("/e.parquet", &[view(true, 0, true)]);
    assert!(sql.contains("(s0.cr IS NULL OR s0.cr <= e.t)"));
    let none = historical("/e.parquet", &[view(false, 0, true)]);
    assert!(!none.contains("cr <= e.t"));
}

#[test]
fn every_entity_row_is_kept_once_by_left_joins_on_its_ordinal() {
    let sql = historical("/e.parquet", &[view(true, 0, false), view(false, 5, false)]);
    assert!(sql.ends_with("FROM e LEFT JOIN w0 ON w0.o = e.o LEFT JOIN w1 ON w1.o = e.o"));
    assert!(sql.contains("w1.c1 AS v1_1"));
}

#[test]
fn names_and_paths_are_quoted() {
    let sql = historical("/e.parquet", &[view(true, 0, false)]);
    assert!(
        sql.contains("parquet.`/data/it's ``odd``.parquet`"),
        "{sql}"
    );
    assert!(sql.contains("CAST(`driver id` AS BIGINT) AS k0"));
    assert!(sql.contains("`f``0` AS c0"));
    // The message literal escapes the quote in the place name... and the backquotes stay.
    assert!(
        sql.contains("'source `s` (s.parquet): column `ts`: the event timestamp is empty at row '")
    );
}

#[test]
fn materialize_ranks_per_key_inside_the_window() {
    let sql = materialize(&scan(true), 10, 20);
    assert!(sql.starts_with("SELECT k0, ev, cr, c0, c1 FROM"));
    assert!(sql.contains("PARTITION BY k0 ORDER BY ev DESC, cr DESC NULLS LAST, rn DESC"));
    assert!(sql.contains("WHERE k0 IS NOT NULL AND ev >= 10 AND ev <= 20) WHERE rk = 1"));
}

mod config {
    use std::path::Path;

    use super::super::{Engine, EngineFlags};

    const SUBMIT: &str = "[offline]\nspark_submit = \"/opt/spark/bin/spark-submit\"\n";

    fn parse(text: &str, engine: Option<&str>, master: Option<&str>) -> anyhow::Result<Engine> {
        let flags = EngineFlags {
            engine: engine.map(Into::into),
            master: master.map(Into::into),
        };
        Engine::parse(text, "verge.toml", Path::new("/repo"), &flags)
    }

    #[test]
    fn native_is_the_default_and_the_flag_wins_over_the_file() {
        assert_eq!(
            parse("project = \"p\"\n", None, None).unwrap(),
            Engine::Native
        );
        let text = format!("{SUBMIT}engine = \"spark\"\nspark_master = \"local[3]\"\n");
        let Engine::Spark(spark) = parse(&text, None, None).unwrap() else {
            panic!("not spark")
        };
        assert_eq!(spark.master, "local[3]");
        assert_eq!(spark.submit, Path::new("/opt/spark/bin/spark-submit"));
        let Engine::Spark(spark) = parse(&text, None, Some("spark://h:7077")).unwrap() else {
            panic!("not spark")
        };
        assert_eq!(spark.master, "spark://h:7077");
        assert_eq!(parse(&text, Some("native"), None).unwrap(), Engine::Native);
    }

    #[test]
    fn bad_settings_are_refused_with_what_to_write() {
        let e = parse(SUBMIT, Some("flink"), None).unwrap_err().to_string();
        assert!(e.contains("use `native` or `spark`"), "{e}");
        let e = parse(SUBMIT, Some("spark"), Some("sc://h:15002"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Spark Connect"), "{e}");
        let e = format!(
            "{:#}",
            parse(
                &format!("{SUBMIT}timeout = \"soon\"\n"),
                Some("spark"),
                None
            )
            .unwrap_err()
        );
        assert!(e.contains("timeout `soon`"), "{e}");
        let e = parse("[offline]\nengin = \"spark\"\n", None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[offline]") && e.contains("engin"), "{e}");
    }
}
