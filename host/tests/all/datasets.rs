//! Partitioned Parquet datasets as sources: a directory read recursively and a
//! glob, hive partitions typed as declared (a partition key as the event
//! timestamp and as a field), files in sorted-path order, and files whose
//! schemas disagree named with their column, at read and at the schema check.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use verge_core::DType;
use verge_core::definition::{Field, Source, SourceFormat};
use verge_host::source::found::columns;
use verge_host::source::read_source;
use verge_host::source::timestamp::parse_timestamp;
use verge_host::table_io::write_table;
use verge_host::warnings::Warnings;

fn source(path: &str, timestamp: &str) -> Source {
    Source {
        name: "stats".into(),
        path: path.into(),
        format: SourceFormat::Parquet,
        timestamp_field: timestamp.into(),
        created_timestamp_field: None,
        field_mapping: vec![],
    }
}

/// A file of (driver, pulse) rows.
fn write(root: &Path, relative: &str, drivers: &[i64], pulses: &[f64]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter([
        (
            "driver",
            Arc::new(Int64Array::from(drivers.to_vec())) as ArrayRef,
        ),
        (
            "pulse",
            Arc::new(Float64Array::from(pulses.to_vec())) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(StringArray::from(vec!["2024-01-01"; drivers.len()])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_table(&batch, &path).unwrap();
}

fn read(root: &Path, s: &Source, fields: &[Field]) -> anyhow::Result<RecordBatch> {
    read_source(
        s,
        root,
        &[Field::new("driver", DType::Int64)],
        fields,
        &mut Warnings::default(),
    )
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let c = batch.column_by_name(name).unwrap();
    c.as_primitive::<Int64Type>().iter().collect()
}

/// Three files under `dt=` and `shard=` partitions, written out of order, a
/// `_SUCCESS` marker and a hidden file that must be skipped.
fn dataset(root: &Path) {
    write(
        root,
        "stats/dt=2024-01-02/shard=1/part-0.parquet",
        &[3],
        &[30.0],
    );
    write(
        root,
        "stats/dt=2024-01-01/shard=2/part-0.parquet",
        &[2, 1],
        &[20.0, 10.0],
    );
    write(
        root,
        "stats/dt=2024-01-01/shard=1/part-0.parquet",
        &[1],
        &[11.0],
    );
    std::fs::write(root.join("stats/_SUCCESS"), b"").unwrap();
    std::fs::write(
        root.join("stats/dt=2024-01-01/.part-0.parquet.crc"),
        b"junk",
    )
    .unwrap();
}

#[test]
fn a_directory_reads_every_file_in_path_order_with_typed_partitions() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let fields = [
        Field::new("pulse", DType::Float64),
        Field::new("shard", DType::Int64),
    ];
    let batch = read(dir.path(), &source("stats", "dt"), &fields).unwrap();
    // Sorted paths: dt=01/shard=1, dt=01/shard=2, dt=02/shard=1.
    assert_eq!(ints(&batch, "driver"), [Some(1), Some(2), Some(1), Some(3)]);
    assert_eq!(ints(&batch, "shard"), [Some(1), Some(2), Some(2), Some(1)]);
    let pulse: Vec<Option<f64>> = batch
        .column_by_name("pulse")
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .collect();
    assert_eq!(pulse, [Some(11.0), Some(20.0), Some(10.0), Some(30.0)]);
    let day = |d: &str| parse_timestamp(d).unwrap();
    let times: Vec<Option<i64>> = batch
        .column_by_name("dt")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    let (one, two) = (day("2024-01-01"), day("2024-01-02"));
    assert_eq!(times, [Some(one), Some(one), Some(one), Some(two)]);

    // A trailing slash and a glob name the same rows; the glob only its matches.
    let slash = read(dir.path(), &source("stats/", "dt"), &fields).unwrap();
    assert_eq!(slash, batch);
    let globbed = read(
        dir.path(),
        &source("stats/dt=2024-01-01/*/*.parquet", "dt"),
        &fields,
    )
    .unwrap();
    assert_eq!(ints(&globbed, "driver"), [Some(1), Some(2), Some(1)]);

    // The schema check sees the partition columns as dated and integer text.
    let cols = columns(&source("stats", "dt"), dir.path(), "here").unwrap();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["driver", "pulse", "ts", "dt", "shard"]);
}

#[test]
fn a_partition_value_that_does_not_convert_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stats/dt=2024-01-01/shard=x/p.parquet",
        &[1],
        &[1.0],
    );
    let fields = [Field::new("shard", DType::Int64)];
    let err = format!(
        "{:#}",
        read(dir.path(), &source("stats", "dt"), &fields).unwrap_err()
    );
    assert!(
        err.contains("file stats/dt=2024-01-01/shard=x/p.parquet"),
        "{err}"
    );
    assert!(err.contains("column `shard`"), "{err}");
}

#[test]
fn files_whose_schemas_disagree_are_named_with_the_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "stats/a.parquet", &[1], &[1.0]);
    let path = dir.path().join("stats/b.parquet");
    let batch = RecordBatch::try_from_iter([
        ("driver", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
        ("pulse", Arc::new(StringArray::from(vec!["2"])) as ArrayRef),
        (
            "ts",
            Arc::new(StringArray::from(vec!["2024-01-01"])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_table(&batch, &path).unwrap();
    write(dir.path(), "stats/dt=x/c.parquet", &[1], &[1.0]);
    let s = source("stats", "ts");
    let fields = [Field::new("pulse", DType::Float64)];
    // c.parquet sits under a partition the others do not.
    let err = format!("{:#}", read(dir.path(), &s, &fields).unwrap_err());
    assert!(err.contains("stats/dt=x/c.parquet"), "{err}");
    std::fs::remove_dir_all(dir.path().join("stats/dt=x")).unwrap();
    for err in [
        format!("{:#}", read(dir.path(), &s, &fields).unwrap_err()),
        format!("{:#}", columns(&s, dir.path(), "here").unwrap_err()),
    ] {
        assert!(
            err.contains("stats/b.parquet: column `pulse` holds"),
            "{err}"
        );
        assert!(err.contains("stats/a.parquet holds"), "{err}");
    }
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("stats")).unwrap();
    let err = format!("{:#}", read(empty.path(), &s, &fields).unwrap_err());
    assert!(err.contains("holds no Parquet file"), "{err}");
}
