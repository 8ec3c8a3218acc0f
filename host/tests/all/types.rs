//! Feast's whole type system end to end, from each source format to every
//! output: int32, bytes, unix_timestamp, JSON (Feast's Json, Map and Struct)
//! and arrays, read from Parquet list/struct/binary columns and from the text
//! forms of CSV and SQLite, through `historical` (Arrow list columns in
//! Parquet), `materialize` and `get-online-features` (arrays as JSON arrays,
//! bytes as base64, timestamps as RFC 3339, JSON as JSON).

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{MapBuilder, StringBuilder};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Float32Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, Float32Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field as ArrowField};
use serde_json::{Value as Json, json};

use crate::features_only::post;
use crate::publish::Server;
use crate::support::run_expect;

const TS: i64 = 1_624_638_987_000_000;
const NOW: &str = "2021-06-26T00:00:00Z";

const FIELDS: &str = r#"[
  { name = "trips", dtype = "Int32" },
  { name = "avatar", dtype = "Bytes" },
  { name = "last_seen", dtype = "UnixTimestamp" },
  { name = "metadata", dtype = "Map" },
  { name = "config", dtype = "Json" },
  { name = "profile", dtype = "Struct" },
  { name = "embedding", dtype = "Array(Float32)" },
  { name = "zones", dtype = "array<string>" },
]"#;

fn repo(dir: &Path, path: &str, table: &str) {
    let toml = format!(
        "project = \"p\"\n\n[[entity]]\nname = \"driver\"\njoin_keys = [\"driver_id\"]\n\n\
         [[source]]\nname = \"stats\"\npath = \"{path}\"\n{table}timestamp_field = \"ts\"\n\n\
         [[feature_view]]\nname = \"driver_stats\"\nentities = [\"driver\"]\nsource = \"stats\"\nttl = 0\n\
         fields = {FIELDS}\n"
    );
    std::fs::write(dir.join("verge.toml"), toml).unwrap();
}

fn parquet_source(dir: &Path) {
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (k, v) in [("vehicle", "suv"), ("rating", "4.5")] {
        map.keys().append_value(k);
        map.values().append_value(v);
    }
    map.append(true).unwrap();
    map.append(false).unwrap();
    let name: ArrayRef = Arc::new(StringArray::from(vec!["ann", "bob"]));
    let age: ArrayRef = Arc::new(StringArray::from(vec!["31", "44"]));
    let profile = StructArray::from(vec![
        (
            Arc::new(ArrowField::new("name", DataType::Utf8, true)),
            name,
        ),
        (Arc::new(ArrowField::new("age", DataType::Utf8, true)), age),
    ]);
    let embedding = ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
        Some(vec![Some(0.5), Some(-1.0), Some(2.0)]),
        None,
    ]);
    let zones: ListArray = {
        let values = StringArray::from(vec!["north", "east"]);
        ListArray::new(
            Arc::new(ArrowField::new_list_field(DataType::Utf8, true)),
            arrow_buffer::OffsetBuffer::from_lengths([2, 0]),
            Arc::new(values),
            None,
        )
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("driver_id", Arc::new(Int64Array::from(vec![1001, 1002]))),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![TS, TS]).with_timezone("UTC")),
        ),
        ("trips", Arc::new(Int32Array::from(vec![Some(7), None]))),
        (
            "avatar",
            Arc::new(BinaryArray::from(vec![Some(&[0u8, 1, 255][..]), None])),
        ),
        (
            "last_seen",
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(TS - 1_000_000),
                None,
            ])),
        ),
        ("metadata", Arc::new(map.finish())),
        (
            "config",
            Arc::new(StringArray::from(vec![
                Some(r#"{ "zones": ["north"], "max_km": 10 }"#),
                None,
            ])),
        ),
        ("profile", Arc::new(profile)),
        ("embedding", Arc::new(embedding)),
        ("zones", Arc::new(zones)),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(dir.join("stats.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The same rows in the documented text forms.
const CSV: &str = "driver_id,ts,trips,avatar,last_seen,metadata,config,profile,embedding,zones\n\
1001,2021-06-25T16:36:27Z,7,AAH/,2021-06-25T16:36:26Z,\"{\"\"vehicle\"\":\"\"suv\"\",\"\"rating\"\":\"\"4.5\"\"}\",\"{ \"\"zones\"\": [\"\"north\"\"], \"\"max_km\"\": 10 }\",\"{\"\"name\"\":\"\"ann\"\",\"\"age\"\":\"\"31\"\"}\",\"[0.5, -1.0, 2]\",\"[\"\"north\"\",\"\"east\"\"]\"\n\
1002,2021-06-25T16:36:27Z,,,,,,\"{\"\"name\"\":\"\"bob\"\",\"\"age\"\":\"\"44\"\"}\",,[]\n";

fn online(dir: &Path) -> Json {
    run_expect(dir, &["apply"], 0);
    run_expect(dir, &["materialize", "2021-06-01T00:00:00Z", NOW], 0);
    let features = "driver_stats:trips,driver_stats:avatar,driver_stats:last_seen,\
        driver_stats:metadata,driver_stats:config,driver_stats:profile,\
        driver_stats:embedding,driver_stats:zones";
    let r = run_expect(
        dir,
        &[
            "get-online-features",
            "--features",
            features,
            "--entity",
            "driver_id=1001",
            "--entity",
            "driver_id=1002",
            "--now",
            NOW,
        ],
        0,
    );
    serde_json::from_str(&r.stdout).unwrap()
}

fn values(answer: &Json, feature: usize) -> Json {
    // Results are join keys first, then the features in order.
    answer["results"][feature + 1]["values"].clone()
}

fn check_online(answer: &Json) {
    assert_eq!(values(answer, 0), json!([7, null]));
    assert_eq!(values(answer, 1), json!(["AAH/", null]));
    assert_eq!(values(answer, 2), json!(["2021-06-25T16:36:26Z", null]));
    assert_eq!(
        values(answer, 3),
        json!([{"rating": "4.5", "vehicle": "suv"}, null])
    );
    assert_eq!(
        values(answer, 4),
        json!([{"max_km": 10, "zones": ["north"]}, null])
    );
    assert_eq!(
        values(answer, 5),
        json!([{"age": "31", "name": "ann"}, {"age": "44", "name": "bob"}])
    );
    assert_eq!(values(answer, 6), json!([[0.5, -1.0, 2.0], null]));
    assert_eq!(values(answer, 7), json!([["north", "east"], []]));
    assert_eq!(
        answer["results"][2]["statuses"],
        json!(["PRESENT", "NULL_VALUE"])
    );
}

#[test]
fn every_feast_type_travels_from_parquet_to_the_online_answer() {
    let dir = tempfile::tempdir().unwrap();
    parquet_source(dir.path());
    repo(dir.path(), "stats.parquet", "");
    check_online(&online(dir.path()));
}

#[test]
fn csv_text_forms_read_as_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stats.csv"), CSV).unwrap();
    repo(dir.path(), "stats.csv", "");
    check_online(&online(dir.path()));
}

#[test]
fn sqlite_blobs_and_json_text_read_as_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("stats.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE stats (driver_id INTEGER, ts TEXT, trips INTEGER, avatar BLOB, \
         last_seen TEXT, metadata TEXT, config TEXT, profile TEXT, embedding TEXT, zones TEXT);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO stats VALUES (1001, '2021-06-25T16:36:27Z', 7, ?1, '2021-06-25T16:36:26Z', \
         '{\"vehicle\":\"suv\",\"rating\":\"4.5\"}', '{ \"zones\": [\"north\"], \"max_km\": 10 }', \
         '{\"name\":\"ann\",\"age\":\"31\"}', '[0.5, -1.0, 2]', '[\"north\",\"east\"]')",
        [&[0u8, 1, 255][..]],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO stats VALUES (1002, '2021-06-25T16:36:27Z', NULL, NULL, NULL, NULL, NULL, \
         '{\"name\":\"bob\",\"age\":\"44\"}', NULL, '[]')",
        [],
    )
    .unwrap();
    drop(conn);
    repo(dir.path(), "stats.db", "table = \"stats\"\n");
    check_online(&online(dir.path()));
}

#[test]
fn historical_writes_arrow_list_binary_and_timestamp_columns() {
    let dir = tempfile::tempdir().unwrap();
    parquet_source(dir.path());
    repo(dir.path(), "stats.parquet", "");
    run_expect(dir.path(), &["apply"], 0);
    std::fs::write(
        dir.path().join("entities.csv"),
        "driver_id,event_timestamp\n1001,2021-06-26T00:00:00Z\n1002,2021-06-26T00:00:00Z\n",
    )
    .unwrap();
    run_expect(
        dir.path(),
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--features",
            "driver_stats:trips,driver_stats:avatar,driver_stats:embedding,driver_stats:profile",
            "-o",
            "out.parquet",
        ],
        0,
    );
    let file = std::fs::File::open(dir.path().join("out.parquet")).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let trips = batch.column_by_name("trips").unwrap();
    assert_eq!(trips.as_primitive::<Int32Type>().value(0), 7);
    let avatar = batch.column_by_name("avatar").unwrap();
    assert_eq!(avatar.as_binary::<i32>().value(0), &[0, 1, 255]);
    let embedding = batch
        .column_by_name("embedding")
        .unwrap()
        .as_list::<i32>()
        .clone();
    let first = embedding.value(0);
    let first: &Float32Array = first.as_primitive();
    assert_eq!(first.values().as_ref(), &[0.5, -1.0, 2.0]);
    assert!(embedding.is_null(1));
    let profile = batch.column_by_name("profile").unwrap();
    assert_eq!(profile.data_type(), &DataType::Utf8);
    assert_eq!(
        profile.as_string::<i32>().value(0),
        r#"{"age":"31","name":"ann"}"#
    );
    // The CSV form of the same training set writes the text forms back.
    run_expect(
        dir.path(),
        &[
            "historical",
            "--entities",
            "entities.csv",
            "--features",
            "driver_stats:avatar,driver_stats:embedding",
            "-o",
            "out.csv",
        ],
        0,
    );
    let text = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(text.contains("AAH/,\"[0.5,-1.0,2.0]\""), "{text}");
}

#[test]
fn bad_array_cells_name_their_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = CSV.replace("\"[0.5, -1.0, 2]\"", "\"[0.5, null]\"");
    std::fs::write(dir.path().join("stats.csv"), csv).unwrap();
    repo(dir.path(), "stats.csv", "");
    run_expect(dir.path(), &["apply"], 0);
    let r = run_expect(dir.path(), &["materialize", "2021-06-01T00:00:00Z", NOW], 2);
    assert!(
        r.stderr.contains("row 1, column `embedding`")
            && r.stderr.contains("element 1 is null; arrays hold no nulls"),
        "{}",
        r.stderr
    );
}

#[test]
fn both_engines_answer_every_type_with_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    parquet_source(dir.path());
    repo(dir.path(), "stats.parquet", "");
    let config = dir.path().join("verge.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[feature_service]]\nname = \"everything\"\nfeatures = [\"driver_stats\"]\n");
    std::fs::write(&config, text).unwrap();
    let cli = online(dir.path());
    let body = json!({
        "feature_service": "everything",
        "entities": {"driver_id": [1001, 1002, 5]},
        "now": NOW,
    });
    let mut answers = Vec::new();
    for engine in [&[][..], &["--native"][..]] {
        let mut args = vec!["--bundle", "everything"];
        args.extend_from_slice(engine);
        let server = Server::start_in(dir.path(), &args, None).unwrap();
        let c = verge_test_kit::http::Client::new(server.addr);
        let (status, answer) = post(&c, "/get-online-features", &body);
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
        // A key of the wrong type is the caller's 400, on both engines.
        let wrong = json!({"feature_service": "everything", "entities": {"driver_id": ["x"]}});
        let (status, answer) = post(&c, "/get-online-features", &wrong);
        assert_eq!(status, 400, "{answer}");
    }
    assert_eq!(answers[0], answers[1], "Wasm and native differ");
    // The service's answer carries the same cells the CLI printed.
    for feature in 0..8 {
        let served = answers[0]["results"][feature + 1]["values"]
            .as_array()
            .unwrap();
        assert_eq!(
            served[..2],
            values(&cli, feature).as_array().unwrap()[..],
            "{feature}"
        );
        assert_eq!(served[2], Json::Null);
    }
}
