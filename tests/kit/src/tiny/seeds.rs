//! The rest of what the fuzz targets start from: a snapshot with a composite
//! key, the expression target's schema and row, and example expressions and
//! requests in every shape `docs/http.md` describes.

use verge_core::artifact::{SnapshotBuilder, ViewBuilder};
use verge_core::definition::Field;
use verge_core::expr::Schema;
use verge_core::{
    Array, ContentId, DType, Duration, ElemType, EntityKey, KeyPart, Timestamp, Value,
};

/// A second snapshot with a composite (string, int64) key: exercises the general index.
///
/// # Panics
///
/// When building fails (a broken fixture).
#[must_use]
pub fn composite_snapshot_bytes() -> Vec<u8> {
    let mut b = ViewBuilder::new(
        "visits",
        vec![
            Field::new("clinic", DType::String),
            Field::new("id", DType::Int64),
        ],
        vec![
            Field::new("count", DType::Int64),
            Field::new("weight", DType::Float32),
        ],
        Duration::ZERO,
        false,
    );
    for (clinic, id, count) in [("north", 1, 3), ("north", 2, 1), ("south", 1, 7)] {
        let key = EntityKey(vec![KeyPart::String(clinic.into()), KeyPart::Int64(id)]);
        b.push_row(
            &key,
            Timestamp(5),
            None,
            &[Value::Int64(count), Value::Float32(410.5)],
        )
        .expect("the composite rows fit");
    }
    SnapshotBuilder::new(ContentId::of(b"composite"), Timestamp(0), Timestamp(10))
        .shard(0, 2)
        .with_view(b)
        .finish()
        .expect("the composite snapshot builds")
}

/// A snapshot of every type format version 3 added (int32 key, bytes,
/// timestamps, JSON, arrays of fixed- and variable-width elements), with
/// nulls: the variable-width cell checks' seed.
///
/// # Panics
///
/// When building fails (a broken fixture).
#[must_use]
pub fn typed_snapshot_bytes() -> Vec<u8> {
    let mut b = ViewBuilder::new(
        "typed",
        vec![Field::new("driver_id", DType::Int32)],
        vec![
            Field::new("blob", DType::Bytes),
            Field::new("seen", DType::UnixTimestamp),
            Field::new("profile", DType::Json),
            Field::new("embedding", DType::Array(ElemType::Float32)),
            Field::new("tags", DType::Array(ElemType::String)),
            Field::new("flags", DType::Array(ElemType::Bool)),
        ],
        Duration::from_days(1),
        false,
    );
    let rows = [
        vec![
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(Timestamp(1_000_000)),
            Value::Json("{\"a\":[1,null]}".into()),
            Value::Array(Array::Float32(vec![0.5, -1.0])),
            Value::Array(Array::String(vec!["x".into(), String::new()])),
            Value::Array(Array::Bool(vec![true])),
        ],
        vec![Value::Null; 6],
    ];
    for (id, values) in [1001, 1002].into_iter().zip(rows) {
        b.push_row(
            &EntityKey::single(KeyPart::Int64(id)),
            Timestamp(5),
            None,
            &values,
        )
        .expect("the typed rows fit");
    }
    SnapshotBuilder::new(ContentId::of(b"typed"), Timestamp(0), Timestamp(10))
        .with_view(b)
        .finish()
        .expect("the typed snapshot builds")
}

/// The schema the expression fuzz target compiles against.
#[must_use]
pub fn expr_schema() -> Schema {
    Schema::new(vec![
        ("x".into(), DType::Int64),
        ("y".into(), DType::Float64),
        ("f".into(), DType::Float32),
        ("s".into(), DType::String),
        ("b".into(), DType::Bool),
    ])
}

/// A row matching [`expr_schema`].
#[must_use]
pub fn expr_row() -> Vec<Value> {
    vec![
        Value::Int64(-7),
        Value::Float64(2.5),
        Value::Float32(0.25),
        Value::String("severe".into()),
        Value::Bool(true),
    ]
}

/// Expressions covering every operator and function of the language (seeds).
pub const EXPRESSIONS: &[&str] = &[
    "x + 1",
    "x * 1000000000000 - 3",
    "y / 0.0",
    "-x",
    "abs(x) + abs(y)",
    "ln(y) + exp(f) + sqrt(y) + pow(y, 2)",
    "min(x, y, f) < max(x, 2, 3.5)",
    "clamp(x, -3, 3) == 3",
    r#"if(s == "severe", x, 0)"#,
    "is_null(x) or not b",
    "coalesce(null, x, 1)",
    "x != 2 and y >= 1e-3 or f <= 2.5E+2",
    r#"s > "a" and s != "chest \"pain\"\n\u{e9}""#,
    "((((x))))",
    "if(b, y, x) * 2",
    "coalesce(y, f, x) / 2",
    "true and null",
    "null + 1",
];

/// `(method, path, body)` requests in the shapes of `docs/http.md` (seeds).
pub const REQUESTS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/get-online-features",
        r#"{"features": ["stats:temp", "derived:excess"], "entities": {"id": [1, 2, 99]}, "request_context": {"ambient": [21.5, 19.0, null]}, "full_feature_names": false, "now": "1970-01-11T00:00:00Z"}"#,
    ),
    (
        "POST",
        "/get-online-features",
        r#"{"feature_service": "svc", "entities": {"id": [1, 3], "ambient": [20, 22.5]}, "full_feature_names": true}"#,
    ),
    (
        "POST",
        "/get-online-features",
        r#"{"features": ["stats:pain", "stats:lame"], "entities": {"id": [4]}}"#,
    ),
    (
        "POST",
        "/predict",
        r#"{"entities": {"id": [1]}, "request_context": {"ambient": [38.25]}, "now": "1970-01-11T00:00:00Z"}"#,
    ),
    ("POST", "/predict", r#"{"entities": {"id": [2, 3, 4]}}"#),
    ("GET", "/healthz", ""),
    ("GET", "/version", ""),
    ("PUT", "/predict", "{}"),
    ("GET", "/nope?x=1", ""),
];
