//! Source readers and table I/O on real temporary files: CSV, Parquet (written with
//! parquet's `ArrowWriter`, with timestamps in several units and zones) and SQLite
//! (created with rusqlite), including the error messages for bad input.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    ArrayRef, Date32Array, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMillisecondArray, TimestampNanosecondArray,
};
use arrow_schema::DataType;
use verge_core::DType;
use verge_core::definition::{Field, Source, SourceFormat};
use verge_host::source::read_source;
use verge_host::source::timestamp::parse_timestamp;
use verge_host::table_io::{read_entity_table, read_table, write_table};

fn src(path: &str, format: SourceFormat, created: Option<&str>) -> Source {
    Source {
        name: "colic_records".into(),
        path: path.into(),
        format,
        timestamp_field: "ts".into(),
        created_timestamp_field: created.map(Into::into),
        field_mapping: vec![],
    }
}

fn ts(text: &str) -> i64 {
    parse_timestamp(text).unwrap()
}

fn micros(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

fn err_of(r: anyhow::Result<RecordBatch>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn csv_reads_types_markers_and_mapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.csv"),
        "hospital_number,ts,pulse_rate,temp,surgery,count\n\
         530101,2021-06-25T16:36:27Z,66,38.5,yes,3\n\
         530102,2021-06-25 16:36:27.5,?,,no,4.0\n\
         530103,2021-06-26,70, 37 ,,\n",
    )
    .unwrap();
    let mut s = src("c.csv", SourceFormat::Csv, None);
    s.field_mapping = vec![("pulse_rate".into(), "pulse".into())];
    let b = read_source(
        &s,
        dir.path(),
        &[Field::new("hospital_number", DType::String)],
        &[
            Field::new("pulse", DType::Float32),
            Field::new("temp", DType::Float64),
            Field::new("surgery", DType::String),
            Field::new("count", DType::Int64),
        ],
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    let schema = b.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        ["hospital_number", "ts", "pulse", "temp", "surgery", "count"]
    );
    assert_eq!(
        b.column(0).as_ref(),
        &StringArray::from(vec!["530101", "530102", "530103"]) as &dyn arrow_array::Array
    );
    assert_eq!(
        micros(&b, "ts"),
        [
            Some(ts("2021-06-25T16:36:27Z")),
            Some(ts("2021-06-25T16:36:27.5Z")),
            Some(ts("2021-06-26T00:00:00Z"))
        ]
    );
    assert_eq!(
        b.column(2).as_ref(),
        &Float32Array::from(vec![Some(66.0), None, Some(70.0)]) as &dyn arrow_array::Array
    );
    assert_eq!(
        b.column(3).as_ref(),
        &Float64Array::from(vec![Some(38.5), None, Some(37.0)]) as &dyn arrow_array::Array
    );
    assert_eq!(
        b.column(4).as_ref(),
        &StringArray::from(vec![Some("yes"), Some("no"), None]) as &dyn arrow_array::Array
    );
    assert_eq!(
        b.column(5).as_ref(),
        &Int64Array::from(vec![Some(3), Some(4), None]) as &dyn arrow_array::Array
    );
    assert_eq!(
        b.schema().field(1).data_type(),
        &verge_host::source::timestamp_type()
    );
}

#[test]
fn csv_errors_name_file_row_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.csv"),
        "h,ts,pulse\n1,2021-01-01,60\n2,2021-01-02,fast\n",
    )
    .unwrap();
    let s = src("c.csv", SourceFormat::Csv, None);
    let keys = [Field::new("h", DType::Int64)];
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[Field::new("pulse", DType::Float64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert_eq!(
        err,
        "source `colic_records` (c.csv): row 2, column `pulse`: cannot read `fast` as float64"
    );
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[Field::new("temp", DType::Float64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert_eq!(
        err,
        "source `colic_records` (c.csv) has no column `temp`; columns are: h, ts, pulse"
    );
    std::fs::write(dir.path().join("c.csv"), "h,ts,pulse\n1,1624638987,60\n").unwrap();
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert!(
        err.contains("row 1, column `ts`: cannot read `1624638987` as a timestamp"),
        "{err}"
    );
    std::fs::write(dir.path().join("c.csv"), "h,ts,pulse\n1,,60\n").unwrap();
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert!(
        err.contains("row 1, column `ts`: the event timestamp is empty"),
        "{err}"
    );
    std::fs::write(dir.path().join("c.csv"), "h,ts,pulse\n1.5,2021-01-01,60\n").unwrap();
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert!(
        err.contains("row 1, column `h`: cannot read `1.5` as int64; not a whole number"),
        "{err}"
    );
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_timestamps_of_any_unit_and_zone() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = ts("2021-06-25T16:36:27.123Z");
    let batch = RecordBatch::try_from_iter([
        ("h", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
        // Milliseconds with a zone: the stored value is UTC whatever the zone says.
        (
            "ts",
            Arc::new(
                TimestampMillisecondArray::from(vec![t0 / 1000, t0 / 1000 + 1])
                    .with_timezone("+02:00"),
            ) as ArrayRef,
        ),
        // Nanoseconds, no zone (naive = UTC); sub-µs digits are dropped.
        (
            "created",
            Arc::new(TimestampNanosecondArray::from(vec![
                Some(t0 * 1000 + 999),
                None,
            ])) as ArrayRef,
        ),
        ("day", Arc::new(Date32Array::from(vec![1, 2])) as ArrayRef),
        (
            "pulse",
            Arc::new(Int64Array::from(vec![Some(66), None])) as ArrayRef,
        ),
        (
            "temp",
            Arc::new(Float32Array::from(vec![38.5, 39.0])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&dir.path().join("p.parquet"), &batch);
    let mut s = src("p.parquet", SourceFormat::Parquet, Some("created"));
    s.field_mapping = vec![("day".into(), "ts_day".into())];
    let b = read_source(
        &s,
        dir.path(),
        &[Field::new("h", DType::Int64)],
        &[
            Field::new("pulse", DType::Float64),
            Field::new("temp", DType::Float64),
            Field::new("name", DType::String),
        ],
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    assert_eq!(micros(&b, "ts"), [Some(t0), Some(t0 + 1000)]);
    assert_eq!(micros(&b, "created"), [Some(t0), None]);
    assert_eq!(b.column(0).data_type(), &DataType::Int64);
    assert_eq!(
        b.column_by_name("pulse")
            .unwrap()
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(66.0), None]
    );
    assert_eq!(
        b.column_by_name("temp")
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0),
        38.5
    );

    // A date column works as the event time too.
    let mut s = src("p.parquet", SourceFormat::Parquet, None);
    s.timestamp_field = "ts_day".into();
    s.field_mapping = vec![("day".into(), "ts_day".into())];
    let b = read_source(
        &s,
        dir.path(),
        &[],
        &[],
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    assert_eq!(
        micros(&b, "ts_day"),
        [Some(86_400_000_000), Some(2 * 86_400_000_000)]
    );

    // A string column cannot be a float.
    let s = src("p.parquet", SourceFormat::Parquet, None);
    let err = err_of(read_source(
        &s,
        dir.path(),
        &[],
        &[Field::new("name", DType::Float64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert_eq!(
        err,
        "source `colic_records` (p.parquet): row 1, column `name`: cannot read `a` as float64"
    );
}

#[test]
fn sqlite_dynamic_cells_and_question_marks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("horse_colic.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE data (hospital_number INTEGER, ts TEXT, pulse, rectal_temperature REAL, surgery TEXT);
         INSERT INTO data VALUES (530101, '2021-06-25T16:36:27Z', 66, 38.5, 'yes');
         INSERT INTO data VALUES (530102, '2021-06-25 16:36:28', '?', '?', '?');
         INSERT INTO data VALUES ('530103', '2021-06-26', '72', 39, NULL);",
    )
    .unwrap();
    drop(conn);
    let s = src(
        "horse_colic.db",
        SourceFormat::Sqlite {
            table: "data".into(),
        },
        None,
    );
    let keys = [Field::new("hospital_number", DType::Int64)];
    let b = read_source(
        &s,
        dir.path(),
        &keys,
        &[
            Field::new("pulse", DType::Int64),
            Field::new("rectal_temperature", DType::Float64),
            Field::new("surgery", DType::String),
        ],
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    assert_eq!(
        b.column(0).as_primitive::<Int64Type>().values().as_ref(),
        &[530101, 530102, 530103]
    );
    assert_eq!(
        b.column(2)
            .as_primitive::<Int64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(66), None, Some(72)]
    );
    assert_eq!(
        b.column(3)
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(38.5), None, Some(39.0)]
    );
    // `?` is only a null marker for numeric fields; text keeps it.
    assert_eq!(
        b.column(4).as_ref(),
        &StringArray::from(vec![Some("yes"), Some("?"), None]) as &dyn arrow_array::Array
    );

    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[Field::new("pulse_rate", DType::Int64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert_eq!(
        err,
        "source `colic_records` (horse_colic.db, table data) has no column `pulse_rate`; columns are: hospital_number, ts, pulse, rectal_temperature, surgery"
    );
    let err = err_of(read_source(
        &s,
        dir.path(),
        &keys,
        &[Field::new("surgery", DType::Int64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert_eq!(
        err,
        "source `colic_records` (horse_colic.db, table data): row 1, column `surgery`: cannot read `yes` as int64"
    );
    let err = err_of(read_source(
        &s,
        dir.path(),
        &[Field::new("hospital_number", DType::Int64)],
        &[Field::new("ts", DType::Float64)],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert!(
        err.contains("row 1, column `ts`: cannot read `2021-06-25T16:36:27Z` as float64"),
        "{err}"
    );
    let missing = src(
        "nope.db",
        SourceFormat::Sqlite {
            table: "data".into(),
        },
        None,
    );
    let err = err_of(read_source(
        &missing,
        dir.path(),
        &keys,
        &[],
        &mut verge_host::warnings::Warnings::default(),
    ));
    assert!(err.contains("nope.db does not exist"), "{err}");
    assert!(
        !dir.path().join("nope.db").exists(),
        "reading must never create a database"
    );
}

#[test]
fn table_round_trips_through_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let csv_in = dir.path().join("entities.csv");
    std::fs::write(
        &csv_in,
        "id,event_timestamp,score,ok,note\n1,2021-06-25T18:36:27+02:00,0.1,true,a\n2,2021-06-26,,false,\n",
    )
    .unwrap();
    let table = read_entity_table(
        &csv_in,
        "event_timestamp",
        &mut verge_host::warnings::Warnings::default(),
    )
    .unwrap();
    let types: Vec<DataType> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            verge_host::source::timestamp_type(),
            DataType::Float64,
            DataType::Boolean,
            DataType::Utf8
        ]
    );
    let csv_out = dir.path().join("out.csv");
    write_table(&table, &csv_out).unwrap();
    assert_eq!(
        std::fs::read_to_string(&csv_out).unwrap(),
        "id,event_timestamp,score,ok,note\n1,2021-06-25T16:36:27Z,0.1,true,a\n2,2021-06-26T00:00:00Z,,false,\n"
    );
    let pq = dir.path().join("out.parquet");
    write_table(&table, &pq).unwrap();
    assert_eq!(read_table(&pq).unwrap(), table);
    // Overwriting replaces the file whole; no temporary files are left behind.
    write_table(&table, &pq).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "{leftovers:?}");

    let err = format!(
        "{:#}",
        read_entity_table(
            &csv_in,
            "ts",
            &mut verge_host::warnings::Warnings::default()
        )
        .unwrap_err()
    );
    assert!(
        err.contains("has no column `ts`; columns are: id, event_timestamp, score, ok, note"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        write_table(&table, &dir.path().join("out.txt")).unwrap_err()
    );
    assert!(err.contains("`.csv` or `.parquet`"), "{err}");
}
