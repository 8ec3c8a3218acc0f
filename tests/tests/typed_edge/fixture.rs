//! The typed deployment both edge tests serve: a repository whose one Parquet
//! source holds every Feast type (every scalar, every array, JSON from a text
//! column, a map and a struct), a feature service over the whole view plus
//! on-demand features that read arrays (`cosine` against a request
//! `array<float32>`, `len`, `sum`, element access), applied, materialized and
//! published with the real `verge` binary; and `verge serve --native` over
//! the same service, the reference every face is held to.
//!
//! Every subprocess is bounded in time: a hung `verge` fails the test rather
//! than hanging it.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow_array::builder::{MapBuilder, StringBuilder};
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    ListArray, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field as ArrowField};
use serde_json::{Value as Json, json};
use verge_test_kit::cli::Verge;
use verge_test_kit::http::Client;

/// The feature service of the deployment.
pub const SERVICE: &str = "typed";
/// The read time every request carries, so every face reads the same rows.
pub const NOW: &str = "2021-06-26T00:00:00Z";
/// Each `verge` step is killed after this.
const STEP_LIMIT: Duration = Duration::from_secs(120);
/// The rows' event time (2021-06-25T16:36:27Z).
const TS: i64 = 1_624_638_987_000_000;

/// Every field of the view: one per Feast scalar, one per array, and the
/// three JSON kinds, each in Feast's spelling or verge's.
const FIELDS: &str = r#"[
  { name = "trips", dtype = "Int32" },
  { name = "visits", dtype = "int64" },
  { name = "conv", dtype = "Float32" },
  { name = "rate", dtype = "float64" },
  { name = "active", dtype = "Bool" },
  { name = "city", dtype = "string" },
  { name = "avatar", dtype = "Bytes" },
  { name = "last_seen", dtype = "UnixTimestamp" },
  { name = "metadata", dtype = "Map" },
  { name = "config", dtype = "Json" },
  { name = "profile", dtype = "Struct" },
  { name = "embedding", dtype = "Array(Float32)" },
  { name = "weights", dtype = "array<float64>" },
  { name = "hours", dtype = "Array(Int32)" },
  { name = "counts", dtype = "array<int64>" },
  { name = "flags", dtype = "Array(Bool)" },
  { name = "tags", dtype = "array<string>" },
  { name = "blobs", dtype = "Array(Bytes)" },
  { name = "stamps", dtype = "array<unix_timestamp>" },
]"#;

/// The on-demand view: array functions over the stored arrays and the
/// request's query embedding.
const ON_DEMAND: &str = r#"
[[on_demand_feature_view]]
name = "similarity"
sources = ["driver_stats"]
request = [{ name = "query", dtype = "array<float32>" }]
fields = [
  { name = "match", dtype = "float64", expr = "cosine(embedding, query)" },
  { name = "affinity", dtype = "float64", expr = "dot(embedding, query)" },
  { name = "tag_count", dtype = "int64", expr = "len(tags)" },
  { name = "total", dtype = "float64", expr = "sum(counts)" },
  { name = "first_weight", dtype = "float64", expr = "weights[0]" },
]
"#;

/// The drivers in the source; 1003 has every nullable cell null.
pub const DRIVERS: [i64; 4] = [1001, 1002, 1003, 1004];

/// A repository with the typed source, applied, materialized and published
/// (`verge publish typed --to DIR`), in a temporary directory.
pub struct Deployment {
    _tmp: tempfile::TempDir,
    /// The repository.
    pub repo: PathBuf,
    /// The publish directory (the layout the Worker reads).
    pub published: PathBuf,
}

impl Deployment {
    /// Builds it with the real binary.
    ///
    /// # Panics
    ///
    /// When a step fails or runs past its limit.
    pub fn build() -> Deployment {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join("data")).unwrap();
        write_source(&repo.join("data/stats.parquet"));
        std::fs::write(repo.join("verge.toml"), config()).unwrap();
        let published = tmp.path().join("published");
        let to = published.display().to_string();
        for args in [
            &["apply", "-m", "typed edge"][..],
            &["materialize", "2021-06-01T00:00:00Z", NOW],
            &["publish", SERVICE, "--to", &to],
        ] {
            verge_bounded(&repo, args);
        }
        Deployment {
            _tmp: tmp,
            repo,
            published,
        }
    }
}

fn config() -> String {
    format!(
        "project = \"typed_edge\"\n\n[[entity]]\nname = \"driver\"\njoin_keys = [\"driver_id\"]\n\n\
         [[source]]\nname = \"stats\"\npath = \"data/stats.parquet\"\ntimestamp_field = \"ts\"\n\n\
         [[feature_view]]\nname = \"driver_stats\"\nentities = [\"driver\"]\nsource = \"stats\"\n\
         ttl = 0\nfields = {FIELDS}\n{ON_DEMAND}\n\
         [[feature_service]]\nname = \"{SERVICE}\"\nfeatures = [\"driver_stats\", \"similarity\"]\n"
    )
}

/// Runs `verge -C repo ARGS` to completion within [`STEP_LIMIT`].
pub fn verge_bounded(repo: &Path, args: &[&str]) {
    let log = repo.join(format!("verge-{}.log", args[0]));
    let mut child = Verge::find()
        .command()
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + STEP_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "verge {args:?} failed or was killed ({status:?}):\n{err}"
    );
}

/// The body every face is asked: several drivers, one unknown (5), with
/// the query embedding as request data (one row's query null).
pub fn request_body() -> Json {
    json!({
        "feature_service": SERVICE,
        "entities": {"driver_id": [1001, 1002, 5, 1003, 1004]},
        "request_context": {"query": [[1.0, 0.5, -0.25], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0], null, [0.0, 0.0, 0.0]]},
        "now": NOW,
    })
}

/// A body whose key has the wrong type: the caller's 400 on every face.
pub fn wrong_key_body() -> Json {
    json!({
        "feature_service": SERVICE,
        "entities": {"driver_id": ["1001"]},
        "request_context": {"query": [[1.0, 0.5, -0.25]]},
        "now": NOW,
    })
}

/// A running `verge serve --native --bundle typed`, killed when dropped.
pub struct NativeServer {
    child: Child,
    /// Where it listens, `127.0.0.1:PORT`.
    pub addr: String,
}

impl NativeServer {
    /// Starts it on a free port and waits (bounded) for its `listening on` line.
    ///
    /// # Panics
    ///
    /// When it does not start within [`STEP_LIMIT`].
    pub fn start(repo: &Path) -> NativeServer {
        let err = repo.join("serve-native.err");
        let mut child = Verge::find()
            .command()
            .arg("-C")
            .arg(repo)
            .args([
                "serve",
                "--native",
                "--bundle",
                SERVICE,
                "--addr",
                "127.0.0.1:0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        // Read the first line on a thread so a server that never prints it is
        // killed, not waited on.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(STEP_LIMIT).unwrap_or_default();
        let mut server = NativeServer {
            child,
            addr: String::new(),
        };
        match line.trim().strip_prefix("listening on http://") {
            Some(addr) => server.addr = addr.to_owned(),
            None => panic!(
                "verge serve did not start: {line:?}\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            ),
        }
        server
    }

    /// A client for it.
    pub fn client(&self) -> Client {
        Client::new(&self.addr)
    }
}

impl Drop for NativeServer {
    fn drop(&mut self) {
        // SIGKILL: the wait is bounded by the kernel reaping it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The Parquet source

/// A list column of `values` cut into rows of `lengths` (a `None` length is a
/// null row), for the element types `from_iter_primitive` does not build.
fn list(values: ArrayRef, lengths: &[Option<usize>]) -> ArrayRef {
    let nulls: Vec<bool> = lengths.iter().map(Option::is_some).collect();
    let offsets = OffsetBuffer::from_lengths(lengths.iter().map(|l| l.unwrap_or(0)));
    let field = Arc::new(ArrowField::new_list_field(values.data_type().clone(), true));
    Arc::new(ListArray::new(field, offsets, values, Some(nulls.into())))
}

/// Row 1001 two entries, 1002 an empty map, 1003 null, 1004 keys that look
/// like numbers (canonical JSON sorts them as text, JavaScript objects put
/// them first in numeric order: the same value, another key order).
fn metadata() -> ArrayRef {
    let rows: [&[(&str, &str)]; 4] = [
        &[("vehicle", "suv"), ("rating", "4.5")],
        &[],
        &[],
        &[("b", "two"), ("10", "ten"), ("9", "nine")],
    ];
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (i, row) in rows.iter().enumerate() {
        for (k, v) in *row {
            map.keys().append_value(k);
            map.values().append_value(v);
        }
        map.append(i != 2).unwrap();
    }
    Arc::new(map.finish())
}

fn profile() -> ArrayRef {
    let name: ArrayRef = Arc::new(StringArray::from(vec!["ann", "bob", "cy", "dee"]));
    let age: ArrayRef = Arc::new(Int64Array::from(vec![Some(31), Some(44), None, Some(27)]));
    Arc::new(StructArray::from(vec![
        (
            Arc::new(ArrowField::new("name", DataType::Utf8, true)),
            name,
        ),
        (Arc::new(ArrowField::new("age", DataType::Int64, true)), age),
    ]))
}

/// The scalar columns: 1003's nullable cells are all null.
fn scalar_columns() -> Vec<(&'static str, ArrayRef)> {
    let ts =
        |v: Vec<Option<i64>>| Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"));
    vec![
        (
            "driver_id",
            Arc::new(Int64Array::from(DRIVERS.to_vec())) as ArrayRef,
        ),
        ("ts", ts(vec![Some(TS); 4])),
        (
            "trips",
            Arc::new(Int32Array::from(vec![
                Some(7),
                Some(-2_147_483_648),
                None,
                Some(0),
            ])),
        ),
        (
            "visits",
            Arc::new(Int64Array::from(vec![
                Some(9_007_199_254_740_993),
                Some(-1),
                None,
                Some(0),
            ])),
        ),
        (
            "conv",
            Arc::new(Float32Array::from(vec![
                Some(0.1),
                Some(-3.4e38),
                None,
                Some(1e-7),
            ])),
        ),
        (
            "rate",
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(1e300),
                None,
                Some(-0.0),
            ])),
        ),
        (
            "active",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
        (
            "city",
            Arc::new(StringArray::from(vec![
                Some("Zürich"),
                Some(""),
                None,
                Some("a\"b\\c\n\u{1F600}"),
            ])),
        ),
        (
            "avatar",
            Arc::new(BinaryArray::from(vec![
                Some(&[0u8, 1, 255][..]),
                Some(&[][..]),
                None,
                Some(&[0xfb, 0xff][..]),
            ])),
        ),
        (
            "last_seen",
            ts(vec![
                Some(TS - 1_000_000),
                Some(0),
                None,
                Some(TS + 123_456),
            ]),
        ),
        ("metadata", metadata()),
        (
            "config",
            Arc::new(StringArray::from(vec![
                Some(r#"{ "zones": ["north"], "max_km": 10, "ratio": 0.25 }"#),
                Some("[1, 2.5, \"x\", null, true]"),
                None,
                Some("\"just text\""),
            ])),
        ),
        ("profile", profile()),
    ]
}

/// The array columns: 1002's are empty, 1003's null.
fn array_columns() -> Vec<(&'static str, ArrayRef)> {
    vec![
        (
            "embedding",
            Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(vec![
                Some(vec![Some(0.5), Some(-1.0), Some(2.0)]),
                Some(vec![]),
                None,
                Some(vec![Some(0.1), Some(0.2), Some(0.3)]),
            ])) as ArrayRef,
        ),
        (
            "weights",
            Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
                Some(vec![Some(0.1), Some(1e-300), Some(-2.5)]),
                Some(vec![]),
                None,
                Some(vec![Some(3.0)]),
            ])),
        ),
        (
            "hours",
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(8), Some(17)]),
                Some(vec![]),
                None,
                Some(vec![Some(2_147_483_647)]),
            ])),
        ),
        (
            "counts",
            Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
                Some(vec![Some(1), Some(2), Some(3)]),
                Some(vec![]),
                None,
                Some(vec![Some(-5), Some(9_007_199_254_740_993)]),
            ])),
        ),
        (
            "flags",
            list(
                Arc::new(BooleanArray::from(vec![true, false, true])),
                &[Some(2), Some(0), None, Some(1)],
            ),
        ),
        (
            "tags",
            list(
                Arc::new(StringArray::from(vec!["north", "east", "ünï"])),
                &[Some(2), Some(0), None, Some(1)],
            ),
        ),
        (
            "blobs",
            list(
                Arc::new(BinaryArray::from(vec![
                    &[1u8][..],
                    &[][..],
                    &[0xff, 0xfe][..],
                ])),
                &[Some(2), Some(0), None, Some(1)],
            ),
        ),
        (
            "stamps",
            Arc::new(ListArray::from_iter_primitive::<
                TimestampMicrosecondType,
                _,
                _,
            >(vec![
                Some(vec![Some(TS), Some(0)]),
                Some(vec![]),
                None,
                Some(vec![Some(TS + 1)]),
            ])),
        ),
    ]
}

/// Writes the source: every type, with values at the edges of each (int64
/// past 2^53, f32 extremes, -0.0, text needing escapes, empty arrays, nulls).
fn write_source(path: &Path) {
    let mut columns = scalar_columns();
    columns.extend(array_columns());
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}
