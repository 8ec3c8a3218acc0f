//! `plan` and `apply` check each source's schema against verge.toml: a missing
//! column, a type the column cannot hold and an unmarked lossy narrowing are
//! refused (exit 2, nothing recorded) for Parquet, SQLite and CSV alike;
//! `cast = true` accepts the narrowing; untyped join keys take their column's
//! type, and sources that disagree are refused.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field as ArrowField};
use verge_core::DType;
use verge_host::store::Store;

use crate::support::run_expect;

const TS: i64 = 1_624_638_987_000_000;

/// A repository with `data` files and a verge.toml of one entity `driver`
/// (join key `keys`), one source `trips` at `path` (`table` for SQLite) and
/// one view reading `fields`.
fn repo(path: &str, keys: &str, fields: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let table = if path.ends_with(".db") {
        "table = \"trips\"\n"
    } else {
        ""
    };
    let toml = format!(
        "project = \"p\"\n\n[[entity]]\nname = \"driver\"\njoin_keys = {keys}\n\n\
         [[source]]\nname = \"trips\"\npath = \"{path}\"\n{table}timestamp_field = \"ts\"\n\n\
         [[feature_view]]\nname = \"stats\"\nentities = [\"driver\"]\nsource = \"trips\"\nttl = 0\n\
         fields = [{fields}]\n"
    );
    std::fs::write(dir.path().join("verge.toml"), toml).unwrap();
    dir
}

fn parquet(dir: &Path, name: &str) {
    let list = ListArray::from_iter_primitive::<arrow_array::types::Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        Some(vec![Some(3)]),
    ]);
    let inner: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    let strukt = StructArray::from(vec![(
        Arc::new(ArrowField::new("a", DataType::Int64, true)),
        inner,
    )]);
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("driver_id", Arc::new(Int64Array::from(vec![1001, 1002]))),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![TS, TS]).with_timezone("UTC")),
        ),
        ("conv_rate", Arc::new(Float64Array::from(vec![0.5, 0.25]))),
        ("label", Arc::new(StringArray::from(vec!["a", "b"]))),
        ("nested", Arc::new(strukt)),
        ("tags", Arc::new(list)),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(dir.join(name)).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn csv(dir: &Path, name: &str) {
    std::fs::write(
        dir.join(name),
        "driver_id,ts,conv_rate,label\n\
         1001,2021-06-25T16:36:27Z,0.123456789012,fast\n\
         1002,2021-06-26,?,slow\n",
    )
    .unwrap();
}

fn sqlite(dir: &Path, name: &str) {
    let conn = rusqlite::Connection::open(dir.join(name)).unwrap();
    conn.execute_batch(
        "CREATE TABLE trips (driver_id INTEGER, ts TEXT, conv_rate REAL, label TEXT, blob BLOB);
         INSERT INTO trips VALUES (1001, '2021-06-25T16:36:27Z', 0.123456789012, 'fast', x'00');
         INSERT INTO trips VALUES (1002, '2021-06-26', '?', 'slow', x'01');",
    )
    .unwrap();
}

/// Writes the data for `path`'s format.
fn data(dir: &Path, path: &str) {
    match path.rsplit('.').next() {
        Some("parquet") => parquet(dir, path),
        Some("csv") => csv(dir, path),
        _ => sqlite(dir, path),
    }
}

/// `plan` and `apply` both refuse with every `needles`, and nothing is recorded.
#[track_caller]
fn refused(dir: &Path, needles: &[&str]) {
    for cmd in ["plan", "apply"] {
        let r = run_expect(dir, &[cmd], 2);
        for n in needles {
            assert!(r.stderr.contains(n), "{cmd}: {n:?} not in {}", r.stderr);
        }
    }
    assert!(Store::open(dir).read_head().unwrap().is_none(), "recorded");
}

const TYPED: &str = "[{ name = \"driver_id\", dtype = \"int64\" }]";

#[test]
fn each_refusal_for_each_format() {
    for path in ["trips.parquet", "trips.csv", "trips.db"] {
        let field = |f: &str| {
            let dir = repo(path, TYPED, f);
            data(dir.path(), path);
            dir
        };
        // A missing column, after field_mapping.
        let dir = field("{ name = \"absent\", dtype = \"float64\" }");
        refused(
            dir.path(),
            &[
                &format!("source `trips` ({path}"),
                "feature view `stats`: field `absent`: no column `absent`",
                "columns are: driver_id, ts, conv_rate, label",
            ],
        );
        // Text where a number is declared.
        let dir = field("{ name = \"label\", dtype = \"float64\" }");
        refused(
            dir.path(),
            &["column `label` holds string, which cannot be read as float64"],
        );
        // float64 data declared float32: lossy unless `cast = true`.
        let dir = field("{ name = \"conv_rate\", dtype = \"float32\" }");
        refused(
            dir.path(),
            &[
                "column `conv_rate` holds float64 but is declared float32, which loses precision",
                "add `cast = true`",
            ],
        );
        let dir = field("{ name = \"conv_rate\", dtype = \"float32\", cast = true }");
        run_expect(dir.path(), &["plan"], 0);
        run_expect(dir.path(), &["apply"], 0);
        // The timestamp column is checked like a field.
        let dir = repo(path, TYPED, "{ name = \"label\", dtype = \"string\" }");
        data(dir.path(), path);
        let toml = std::fs::read_to_string(dir.path().join("verge.toml")).unwrap();
        let toml = toml.replace(
            "timestamp_field = \"ts\"",
            "timestamp_field = \"conv_rate\"",
        );
        std::fs::write(dir.path().join("verge.toml"), toml).unwrap();
        refused(
            dir.path(),
            &[
                "the timestamp_field: column `conv_rate` holds float64, which cannot be read as a timestamp",
            ],
        );
    }
}

#[test]
fn structs_lists_and_blobs_hold_no_declared_type() {
    let dir = repo(
        "trips.parquet",
        TYPED,
        "{ name = \"nested\", dtype = \"string\" }, { name = \"tags\", dtype = \"float64\" }",
    );
    parquet(dir.path(), "trips.parquet");
    refused(
        dir.path(),
        &[
            "2 schema problems",
            "column `nested` holds a struct",
            "which cannot be read as string",
            "column `tags` holds a list",
        ],
    );
    let dir = repo("trips.db", TYPED, "{ name = \"blob\", dtype = \"string\" }");
    sqlite(dir.path(), "trips.db");
    refused(
        dir.path(),
        &["column `blob` holds blob, which cannot be read as string"],
    );
}

fn head_key_type(dir: &Path) -> DType {
    let (_, version) = Store::open(dir).read_head().unwrap().unwrap();
    version.definitions.entities[0].join_keys[0].dtype
}

#[test]
fn untyped_join_keys_take_the_column_type() {
    for path in ["trips.parquet", "trips.csv", "trips.db"] {
        for keys in ["[\"driver_id\"]", "[{ name = \"driver_id\" }]"] {
            let dir = repo(path, keys, "{ name = \"conv_rate\", dtype = \"float64\" }");
            data(dir.path(), path);
            run_expect(dir.path(), &["apply"], 0);
            assert_eq!(head_key_type(dir.path()), DType::Int64, "{path} {keys}");
            // Nothing differs between the file and the head once inferred.
            run_expect(dir.path(), &["plan", "--check"], 0);
        }
    }
    // Text keys stay strings.
    let dir = repo(
        "trips.csv",
        "[\"label\"]",
        "{ name = \"conv_rate\", dtype = \"float64\" }",
    );
    csv(dir.path(), "trips.csv");
    run_expect(dir.path(), &["apply"], 0);
    assert_eq!(head_key_type(dir.path()), DType::String);
}

#[test]
fn sources_disagreeing_on_an_untyped_key_are_refused() {
    let dir = repo(
        "trips.parquet",
        "[\"driver_id\"]",
        "{ name = \"conv_rate\", dtype = \"float64\" }",
    );
    parquet(dir.path(), "trips.parquet");
    std::fs::write(
        dir.path().join("names.csv"),
        "driver_id,ts,label\nd-1001,2021-06-25,fast\n",
    )
    .unwrap();
    let mut toml = std::fs::read_to_string(dir.path().join("verge.toml")).unwrap();
    toml.push_str(
        "\n[[source]]\nname = \"names\"\npath = \"names.csv\"\ntimestamp_field = \"ts\"\n\n\
         [[feature_view]]\nname = \"labels\"\nentities = [\"driver\"]\nsource = \"names\"\nttl = 0\n\
         fields = [{ name = \"label\", dtype = \"string\" }]\n",
    );
    std::fs::write(dir.path().join("verge.toml"), toml).unwrap();
    refused(
        dir.path(),
        &[
            "join key `driver_id` has no declared type and its sources disagree",
            "source `names` (names.csv) holds string",
            "source `trips` (trips.parquet) holds int64",
        ],
    );
}

#[test]
fn an_empty_csv_is_named_once() {
    let dir = repo(
        "trips.csv",
        TYPED,
        r#"{ name = "conv_rate", dtype = "float64" }"#,
    );
    std::fs::write(dir.path().join("trips.csv"), "").unwrap();
    refused(
        dir.path(),
        &["trips.csv is empty: a CSV source needs a header row naming its columns"],
    );
}
