//! The point-in-time join held to DESIGN.md's semantics: a property test against a
//! plain nested-loop reference, pinned cases, and an end-to-end run from files.

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use proptest::prelude::*;
use verge_core::definition::{
    Definitions, Entity, FeatureRef, FeatureView, Field, Source, SourceFormat,
};
use verge_core::{DType, Duration};
use verge_host::historical::{HistoricalOptions, historical, historical_with};
use verge_host::source::timestamp::format_micros;

/// Seconds, so that generated times are µs values far from any special value.
const SEC: i64 = 1_000_000;
const BASE: i64 = 1_600_000_000 * SEC;

/// How the entity is keyed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    Int,
    Str,
    /// Two join keys: an int and a string.
    Pair,
}

/// One source row: key (two small parts), event time, created time, two values.
#[derive(Debug, Clone)]
struct Row {
    key: (u8, u8),
    ev: i64,
    created: Option<i64>,
    f: Option<f64>,
    g: Option<i64>,
}

/// One entity row: key (None = null key), time.
#[derive(Debug, Clone)]
struct EntityRow {
    key: Option<(u8, u8)>,
    t: i64,
}

#[derive(Debug, Clone)]
struct Case {
    kind: KeyKind,
    /// Rows of source `a` (which has a created column when `a_created`).
    a: Vec<Row>,
    a_created: bool,
    /// Rows of source `b` (never a created column).
    b: Vec<Row>,
    ttl_a: i64,
    ttl_b: i64,
    entities: Vec<EntityRow>,
    filter_by_created: bool,
    /// Entity times as RFC 3339 text instead of a timestamp column.
    text_times: bool,
}

fn key_fields(kind: KeyKind) -> Vec<Field> {
    match kind {
        KeyKind::Int => vec![Field::new("k", DType::Int64)],
        KeyKind::Str => vec![Field::new("s", DType::String)],
        KeyKind::Pair => vec![
            Field::new("k", DType::Int64),
            Field::new("s", DType::String),
        ],
    }
}

fn view(name: &str, source: &str, ttl: i64) -> FeatureView {
    FeatureView {
        name: name.into(),
        entities: vec!["e".into()],
        source: source.into(),
        ttl: Duration::from_micros(ttl),
        online: false,
        fields: vec![
            Field::new("f", DType::Float64),
            Field::new("g", DType::Int64),
        ],
        description: String::new(),
        owner: String::new(),
        tags: vec![],
    }
}

fn source(name: &str, created: bool) -> Source {
    Source {
        name: name.into(),
        path: format!("{name}.csv"),
        format: SourceFormat::Csv,
        timestamp_field: "ts".into(),
        created_timestamp_field: created.then(|| "created".into()),
        field_mapping: vec![],
    }
}

fn defs(case: &Case) -> Definitions {
    Definitions {
        project: "t".into(),
        entities: vec![Entity {
            name: "e".into(),
            join_keys: key_fields(case.kind),
            description: String::new(),
        }],
        sources: vec![source("a", case.a_created), source("b", false)],
        feature_views: vec![view("va", "a", case.ttl_a), view("vb", "b", case.ttl_b)],
        ..Definitions::default()
    }
}

fn key_text(part: u8) -> String {
    format!("key-{part}")
}

/// Key columns for `keys` in the layout of `kind`.
fn key_columns(kind: KeyKind, keys: &[Option<(u8, u8)>]) -> Vec<(String, ArrayRef)> {
    let mut ints = Int64Builder::new();
    let mut strs = StringBuilder::new();
    for k in keys {
        match k {
            Some((a, b)) => {
                ints.append_value(i64::from(*a));
                // Single string keys use the first part so every kind has the same key space.
                strs.append_value(key_text(if kind == KeyKind::Pair { *b } else { *a }));
            }
            None => {
                ints.append_null();
                strs.append_null();
            }
        }
    }
    let ints: ArrayRef = Arc::new(ints.finish());
    let strs: ArrayRef = Arc::new(strs.finish());
    match kind {
        KeyKind::Int => vec![("k".into(), ints)],
        KeyKind::Str => vec![("s".into(), strs)],
        KeyKind::Pair => vec![("k".into(), ints), ("s".into(), strs)],
    }
}

fn source_batch(kind: KeyKind, rows: &[Row], created: bool) -> RecordBatch {
    let keys: Vec<Option<(u8, u8)>> = rows.iter().map(|r| Some(r.key)).collect();
    let mut columns = key_columns(kind, &keys);
    let ts: TimestampMicrosecondArray = rows.iter().map(|r| Some(r.ev)).collect();
    columns.push(("ts".into(), Arc::new(ts.with_timezone("UTC"))));
    if created {
        let c: TimestampMicrosecondArray = rows.iter().map(|r| r.created).collect();
        columns.push(("created".into(), Arc::new(c.with_timezone("UTC"))));
    }
    let mut f = Float64Builder::new();
    let mut g = Int64Builder::new();
    for r in rows {
        f.append_option(r.f);
        g.append_option(r.g);
    }
    columns.push(("f".into(), Arc::new(f.finish())));
    columns.push(("g".into(), Arc::new(g.finish())));
    RecordBatch::try_from_iter(columns).unwrap()
}

fn entity_batch(case: &Case) -> RecordBatch {
    let keys: Vec<Option<(u8, u8)>> = case.entities.iter().map(|e| e.key).collect();
    let mut columns = key_columns(case.kind, &keys);
    let times: ArrayRef = if case.text_times {
        Arc::new(StringArray::from(
            case.entities
                .iter()
                .map(|e| format_micros(e.t))
                .collect::<Vec<_>>(),
        ))
    } else {
        let mut b = TimestampMicrosecondBuilder::new();
        for e in &case.entities {
            b.append_value(e.t);
        }
        Arc::new(b.finish())
    };
    columns.push(("event_timestamp".into(), times));
    // A label and a request id that must come through untouched.
    let label: StringArray = (0..case.entities.len())
        .map(|i| Some(format!("row{i}")))
        .collect();
    columns.push(("label".into(), Arc::new(label)));
    RecordBatch::try_from_iter(columns).unwrap()
}

fn same_key(kind: KeyKind, a: (u8, u8), b: (u8, u8)) -> bool {
    match kind {
        KeyKind::Int | KeyKind::Str => a.0 == b.0,
        KeyKind::Pair => a == b,
    }
}

/// DESIGN.md's point-in-time rule as an obvious O(n·m) loop.
fn reference_winner<'r>(
    kind: KeyKind,
    rows: &'r [Row],
    has_created: bool,
    ttl: i64,
    filter_by_created: bool,
    entity: &EntityRow,
) -> Option<&'r Row> {
    let key = entity.key?;
    let t = entity.t;
    let mut best: Option<&Row> = None;
    for r in rows {
        let created = if has_created { r.created } else { None };
        let candidate = same_key(kind, r.key, key)
            && r.ev <= t
            && (ttl == 0 || t - ttl <= r.ev)
            && (!filter_by_created || created.is_none_or(|c| c <= t));
        if !candidate {
            continue;
        }
        // Greatest (event, created); null created ranks lowest; the later row wins ties.
        let rank = (r.ev, created.unwrap_or(i64::MIN));
        if best.is_none_or(|b| {
            let bc = if has_created { b.created } else { None };
            rank >= (b.ev, bc.unwrap_or(i64::MIN))
        }) {
            best = Some(r);
        }
    }
    best
}

fn run(case: &Case) -> RecordBatch {
    let defs = defs(case);
    let entities = entity_batch(case);
    let a = source_batch(case.kind, &case.a, case.a_created);
    let b = source_batch(case.kind, &case.b, false);
    let features: Vec<FeatureRef> = ["va:f", "va:g", "vb:g", "vb:f"]
        .iter()
        .map(|s| FeatureRef::parse(s).unwrap())
        .collect();
    let options = HistoricalOptions {
        full_feature_names: true,
        filter_by_created: case.filter_by_created,
        ..HistoricalOptions::default()
    };
    historical_with(&defs, &entities, &features, &options, |view, _| {
        Ok(if view.name == "va" {
            a.clone()
        } else {
            b.clone()
        })
    })
    .unwrap()
}

fn expected(case: &Case) -> RecordBatch {
    let entities = entity_batch(case);
    let mut columns: Vec<(String, ArrayRef)> = entities
        .schema()
        .fields()
        .iter()
        .zip(entities.columns())
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect();
    let winners = |rows: &[Row], created: bool, ttl: i64| -> Vec<Option<Row>> {
        case.entities
            .iter()
            .map(|e| {
                reference_winner(case.kind, rows, created, ttl, case.filter_by_created, e).cloned()
            })
            .collect()
    };
    let wa = winners(&case.a, case.a_created, case.ttl_a);
    let wb = winners(&case.b, false, case.ttl_b);
    let f = |w: &[Option<Row>]| -> ArrayRef {
        Arc::new(
            w.iter()
                .map(|r| r.as_ref().and_then(|r| r.f))
                .collect::<arrow_array::Float64Array>(),
        )
    };
    let g = |w: &[Option<Row>]| -> ArrayRef {
        Arc::new(
            w.iter()
                .map(|r| r.as_ref().and_then(|r| r.g))
                .collect::<arrow_array::Int64Array>(),
        )
    };
    columns.push(("va__f".into(), f(&wa)));
    columns.push(("va__g".into(), g(&wa)));
    columns.push(("vb__g".into(), g(&wb)));
    columns.push(("vb__f".into(), f(&wb)));
    RecordBatch::try_from_iter(columns).unwrap()
}

fn assert_matches_reference(case: &Case) {
    let got = run(case);
    let want = expected(case);
    assert_eq!(got.num_rows(), want.num_rows());
    assert_eq!(got.num_columns(), want.num_columns());
    for (i, field) in want.schema().fields().iter().enumerate() {
        assert_eq!(got.schema().field(i).name(), field.name());
        assert_eq!(
            got.column(i).as_ref(),
            want.column(i).as_ref(),
            "column `{}` differs\ncase: {case:#?}",
            field.name()
        );
    }
}

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        (0u8..4, 0u8..2),
        0i64..12,
        proptest::option::weighted(0.8, 0i64..4),
        proptest::option::weighted(0.8, -100i64..100),
        proptest::option::weighted(0.8, -5i64..5),
    )
        .prop_map(|(key, ev, created, f, g)| Row {
            key,
            ev: BASE + ev * SEC,
            created: created.map(|c| BASE + c * 3 * SEC),
            f: f.map(|x| x as f64 / 4.0),
            g,
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(KeyKind::Int), Just(KeyKind::Str), Just(KeyKind::Pair)],
        proptest::collection::vec(row_strategy(), 0..40),
        any::<bool>(),
        proptest::collection::vec(row_strategy(), 0..20),
        (0i64..6, 0i64..6),
        proptest::collection::vec(
            (proptest::option::weighted(0.9, (0u8..6, 0u8..2)), 0i64..14),
            0..30,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(kind, a, a_created, b, (ttl_a, ttl_b), entities, filter_by_created, text_times)| {
                Case {
                    kind,
                    a,
                    a_created,
                    b,
                    ttl_a: ttl_a * SEC,
                    ttl_b: ttl_b * SEC,
                    entities: entities
                        .into_iter()
                        .map(|(key, t)| EntityRow {
                            key,
                            t: BASE + (t - 1) * SEC,
                        })
                        .collect(),
                    filter_by_created,
                    text_times,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn join_matches_the_nested_loop_reference(case in case_strategy()) {
        assert_matches_reference(&case);
    }
}

fn row(key: u8, ev: i64, created: Option<i64>, f: f64) -> Row {
    Row {
        key: (key, 0),
        ev: BASE + ev * SEC,
        created: created.map(|c| BASE + c * SEC),
        f: Some(f),
        g: Some(key.into()),
    }
}

fn simple_case(a: Vec<Row>, ttl: i64, entities: &[(u8, i64)], filter: bool) -> Case {
    Case {
        kind: KeyKind::Int,
        a,
        a_created: true,
        b: vec![],
        ttl_a: ttl * SEC,
        ttl_b: 0,
        entities: entities
            .iter()
            .map(|&(k, t)| EntityRow {
                key: Some((k, 0)),
                t: BASE + t * SEC,
            })
            .collect(),
        filter_by_created: filter,
        text_times: false,
    }
}

fn column_f(out: &RecordBatch) -> Vec<Option<f64>> {
    let c = out.column_by_name("va__f").unwrap();
    let c = c
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap();
    c.iter().collect()
}

#[test]
fn both_ttl_bounds_are_inclusive() {
    let case = simple_case(
        vec![row(1, 10, None, 1.0)],
        5,
        &[(1, 10), (1, 15), (1, 16), (1, 9)],
        false,
    );
    assert_eq!(column_f(&run(&case)), [Some(1.0), Some(1.0), None, None]);
    assert_matches_reference(&case);
}

#[test]
fn ttl_zero_has_no_lower_bound() {
    let case = simple_case(vec![row(1, 0, None, 1.0)], 0, &[(1, 1_000_000)], false);
    assert_eq!(column_f(&run(&case)), [Some(1.0)]);
}

#[test]
fn created_breaks_ties_then_the_last_row_wins() {
    let rows = vec![
        row(1, 5, Some(7), 1.0),
        row(1, 5, Some(9), 2.0), // greatest created
        row(1, 5, Some(8), 3.0),
        row(2, 5, Some(1), 4.0),
        row(2, 5, Some(1), 5.0), // complete tie: last in the source wins
    ];
    let case = simple_case(rows, 0, &[(1, 5), (2, 5)], false);
    assert_eq!(column_f(&run(&case)), [Some(2.0), Some(5.0)]);
    assert_matches_reference(&case);
}

#[test]
fn filter_by_created_skips_rows_written_after_t() {
    let rows = vec![row(1, 1, Some(2), 1.0), row(1, 3, Some(20), 2.0)];
    let with = simple_case(rows.clone(), 0, &[(1, 10)], true);
    let without = simple_case(rows, 0, &[(1, 10)], false);
    assert_eq!(column_f(&run(&with)), [Some(1.0)]);
    assert_eq!(column_f(&run(&without)), [Some(2.0)]);
}

#[test]
fn a_null_winner_is_not_filled_from_older_rows() {
    let mut newer = row(1, 5, None, 0.0);
    newer.f = None;
    let case = simple_case(vec![row(1, 1, None, 1.0), newer], 0, &[(1, 6)], false);
    assert_eq!(column_f(&run(&case)), [None]);
}

#[test]
fn repeated_entity_rows_are_kept_in_order() {
    let case = simple_case(
        vec![row(1, 1, None, 1.0)],
        0,
        &[(1, 2), (9, 2), (1, 2), (1, 0), (1, 2)],
        false,
    );
    let out = run(&case);
    assert_eq!(out.num_rows(), 5);
    assert_eq!(
        column_f(&out),
        [Some(1.0), None, Some(1.0), None, Some(1.0)]
    );
    assert_matches_reference(&case);
}

#[test]
fn name_clashes_are_errors_naming_both() {
    let case = simple_case(vec![], 0, &[(1, 1)], false);
    let defs = defs(&case);
    let entities = entity_batch(&case);
    let features = [
        FeatureRef::parse("va:f").unwrap(),
        FeatureRef::parse("vb:f").unwrap(),
    ];
    let err = historical_with(
        &defs,
        &entities,
        &features,
        &HistoricalOptions::default(),
        |_, _| unreachable!("names are checked before loading"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`va:f`") && err.contains("`vb:f`") && err.contains("full feature names"),
        "{err}"
    );

    let features = [FeatureRef {
        view: "va".into(),
        field: "f".into(),
    }];
    let options = HistoricalOptions {
        full_feature_names: true,
        ..HistoricalOptions::default()
    };
    let clash = RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(arrow_array::Int64Array::from(vec![1])) as ArrayRef,
        ),
        (
            "event_timestamp",
            Arc::new(StringArray::from(vec!["2021-01-01"])) as ArrayRef,
        ),
        ("va__f", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
    ])
    .unwrap();
    let err = historical_with(&defs, &clash, &features, &options, |_, _| unreachable!())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`va:f`") && err.contains("`va__f`"), "{err}");
}

#[test]
fn a_string_key_column_is_refused_for_an_int_key() {
    let case = simple_case(vec![row(1, 1, None, 1.0)], 0, &[(1, 2)], false);
    let defs = defs(&case);
    let entities = RecordBatch::try_from_iter([
        ("k", Arc::new(StringArray::from(vec!["1"])) as ArrayRef),
        (
            "event_timestamp",
            Arc::new(StringArray::from(vec!["2021-01-01"])) as ArrayRef,
        ),
    ])
    .unwrap();
    let a = source_batch(KeyKind::Int, &case.a, true);
    let features = [FeatureRef::parse("va:f").unwrap()];
    let err = historical_with(
        &defs,
        &entities,
        &features,
        &HistoricalOptions::default(),
        |_, _| Ok(a.clone()),
    )
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("join key `k` is int64"), "{err}");
}

#[test]
fn an_int_key_column_matches_a_string_key() {
    let mut case = simple_case(vec![], 0, &[(1, 2)], false);
    case.kind = KeyKind::Str;
    let defs = defs(&case);
    let source = RecordBatch::try_from_iter([
        ("s", Arc::new(StringArray::from(vec!["7"])) as ArrayRef),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![BASE]).with_timezone("UTC")) as ArrayRef,
        ),
        (
            "created",
            Arc::new(TimestampMicrosecondArray::from(vec![BASE]).with_timezone("UTC")) as ArrayRef,
        ),
        (
            "f",
            Arc::new(arrow_array::Float64Array::from(vec![3.5])) as ArrayRef,
        ),
    ])
    .unwrap();
    let entities = RecordBatch::try_from_iter([
        (
            "s",
            Arc::new(arrow_array::Int32Array::from(vec![7, 8])) as ArrayRef,
        ),
        (
            "event_timestamp",
            Arc::new(StringArray::from(vec!["2030-01-01", "2030-01-01"])) as ArrayRef,
        ),
    ])
    .unwrap();
    let features = [FeatureRef::parse("va:f").unwrap()];
    let out = historical_with(
        &defs,
        &entities,
        &features,
        &HistoricalOptions::default(),
        |_, _| Ok(source.clone()),
    )
    .unwrap();
    let f = out.column_by_name("f").unwrap();
    assert_eq!(
        f.as_ref(),
        &arrow_array::Float64Array::from(vec![Some(3.5), None]) as &dyn Array
    );
}

/// The whole path from files: a CSV source with a field mapping and `?` markers,
/// a Parquet source, an entity table in CSV, and the training set written as CSV.
#[test]
fn end_to_end_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.csv"),
        "k,ts,created,fv,g\n\
         1,2021-06-01T00:00:00Z,2021-06-01T00:00:00Z,0.5,1\n\
         1,2021-06-02 00:00:00,2021-06-02,?,2\n\
         2,2021-06-01,,1e3,\n",
    )
    .unwrap();
    let mut case = simple_case(vec![], 0, &[], false);
    case.ttl_a = 0;
    let mut defs = defs(&case);
    defs.sources[0].field_mapping = vec![("fv".into(), "f".into())];
    // View vb reads a Parquet copy of source b.
    let b = source_batch(KeyKind::Int, &[row(2, 0, None, 9.25)], false);
    verge_host::table_io::write_table(&b, &dir.path().join("b.parquet")).unwrap();
    defs.sources[1].path = "b.parquet".into();
    defs.sources[1].format = SourceFormat::Parquet;

    let entity_path = dir.path().join("entities.csv");
    std::fs::write(
        &entity_path,
        "k,event_timestamp,label\n1,2021-06-01T12:00:00Z,yes\n1,2021-06-03T00:00:00Z,no\n2,2021-06-03T00:00:00+02:00,yes\n3,2021-06-03,no\n",
    )
    .unwrap();
    let entities = verge_host::table_io::read_entity_table(
        &entity_path,
        "event_timestamp",
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    let features: Vec<FeatureRef> = ["va:f", "va:g", "vb:f"]
        .iter()
        .map(|s| FeatureRef::parse(s).unwrap())
        .collect();
    let options = HistoricalOptions {
        full_feature_names: true,
        ..HistoricalOptions::default()
    };
    let out = historical(
        &defs,
        dir.path(),
        &entities,
        &features,
        &options,
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    let out_path = dir.path().join("training.csv");
    verge_host::table_io::write_table(&out, &out_path).unwrap();
    let csv = std::fs::read_to_string(&out_path).unwrap();
    let b_time = format_micros(BASE);
    assert_eq!(
        csv,
        format!(
            "k,event_timestamp,label,va__f,va__g,vb__f\n\
             1,2021-06-01T12:00:00Z,yes,0.5,1,\n\
             1,2021-06-03T00:00:00Z,no,,2,\n\
             2,2021-06-02T22:00:00Z,yes,1000,,9.25\n\
             3,2021-06-03T00:00:00Z,no,,,\n"
        ),
        "(b's only row is at {b_time})"
    );
}

/// On-demand features read request columns from the entity table and the joined
/// values of their source views, row by row, through the core's evaluator.
#[test]
fn on_demand_features_use_request_data_and_joined_values() {
    use verge_core::definition::{OnDemandFeatureView, OnDemandField};
    use verge_core::expr::Program;

    let case = simple_case(
        vec![row(1, 1, None, 1.5), row(2, 1, None, 0.0)],
        0,
        &[(1, 2), (2, 2), (3, 2), (1, 0)],
        false,
    );
    let mut defs = defs(&case);
    let mut odfv = OnDemandFeatureView {
        name: "od".into(),
        sources: vec!["va".into()],
        request: vec![Field::new("bonus", DType::Float64)],
        fields: vec![],
    };
    let schema = odfv.input_schema(&defs.feature_views).unwrap();
    for (name, text, dtype) in [
        ("boosted", "f + bonus", DType::Float64),
        ("missing", "is_null(g)", DType::Bool),
    ] {
        let program = Program::compile(text, &schema).unwrap();
        odfv.fields.push(OnDemandField {
            name: name.into(),
            dtype,
            program,
        });
    }
    defs.on_demand_views = vec![odfv];
    defs.validate().unwrap();

    let mut entities = entity_batch(&case);
    let bonus: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![
        Some(10),
        Some(20),
        Some(30),
        None,
    ]));
    let mut columns: Vec<(String, ArrayRef)> = entities
        .schema()
        .fields()
        .iter()
        .zip(entities.columns())
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect();
    columns.push(("bonus".into(), bonus));
    entities = RecordBatch::try_from_iter(columns).unwrap();

    let a = source_batch(KeyKind::Int, &case.a, true);
    // Only on-demand outputs are requested: the source view is joined for them
    // but its fields are not output.
    let features = [
        FeatureRef::parse("od:boosted").unwrap(),
        FeatureRef::parse("od:missing").unwrap(),
    ];
    let out = historical_with(
        &defs,
        &entities,
        &features,
        &HistoricalOptions::default(),
        |_, _| Ok(a.clone()),
    )
    .unwrap();
    assert_eq!(out.num_columns(), entities.num_columns() + 2);
    assert_eq!(
        out.column_by_name("boosted").unwrap().as_ref(),
        &arrow_array::Float64Array::from(vec![Some(11.5), Some(20.0), None, None]) as &dyn Array
    );
    assert_eq!(
        out.column_by_name("missing").unwrap().as_ref(),
        &arrow_array::BooleanArray::from(vec![false, false, true, true]) as &dyn Array
    );
}
