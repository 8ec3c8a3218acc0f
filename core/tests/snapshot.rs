//! Snapshot codec: round trips, lookups against a plain map, hostile bytes, golden bytes.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;

use proptest::prelude::*;
use verge_core::artifact::{HEADER_LEN, Snapshot, SnapshotBuilder, ViewBuilder, shard_of};
use verge_core::definition::Field;
use verge_core::{
    Array, ContentId, DType, Duration, ElemType, EntityKey, Error, KeyPart, Timestamp, Value,
};

fn fields() -> Vec<Field> {
    let mut fields = vec![
        Field::new("b", DType::Bool),
        Field::new("i", DType::Int64),
        Field::new("f32", DType::Float32),
        Field::new("f64", DType::Float64),
        Field::new("s", DType::String),
        Field::new("i32", DType::Int32),
        Field::new("bytes", DType::Bytes),
        Field::new("ts", DType::UnixTimestamp),
        Field::new("json", DType::Json),
    ];
    for elem in ElemType::ALL {
        fields.push(Field::new(format!("array_{elem}"), DType::Array(elem)));
    }
    fields
}

fn elem_strategy(elem: ElemType) -> BoxedStrategy<Array> {
    let n = 0..5usize;
    match elem {
        ElemType::Bool => proptest::collection::vec(any::<bool>(), n)
            .prop_map(Array::Bool)
            .boxed(),
        ElemType::Int32 => proptest::collection::vec(any::<i32>(), n)
            .prop_map(Array::Int32)
            .boxed(),
        ElemType::Int64 => proptest::collection::vec(any::<i64>(), n)
            .prop_map(Array::Int64)
            .boxed(),
        ElemType::Float32 => proptest::collection::vec(-1e6f32..1e6, n)
            .prop_map(Array::Float32)
            .boxed(),
        ElemType::Float64 => proptest::collection::vec(-1e300f64..1e300, n)
            .prop_map(Array::Float64)
            .boxed(),
        ElemType::String => proptest::collection::vec("[a-zé☃]{0,4}", n)
            .prop_map(Array::String)
            .boxed(),
        ElemType::Bytes => {
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), n)
                .prop_map(Array::Bytes)
                .boxed()
        }
        ElemType::UnixTimestamp => proptest::collection::vec(any::<i64>(), n)
            .prop_map(|v| Array::Timestamp(v.into_iter().map(Timestamp).collect()))
            .boxed(),
    }
}

fn value_strategy(dtype: DType) -> BoxedStrategy<Value> {
    let present = match dtype {
        DType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DType::Float32 => (-1e6f32..1e6).prop_map(Value::Float32).boxed(),
        DType::Float64 => any::<f64>()
            .prop_filter("NaN compares unequal", |x| !x.is_nan())
            .prop_map(Value::Float64)
            .boxed(),
        DType::String => "[a-zé☃]{0,6}".prop_map(Value::String).boxed(),
        DType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        DType::Bytes => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Bytes)
            .boxed(),
        DType::UnixTimestamp => any::<i64>()
            .prop_map(|t| Value::Timestamp(Timestamp(t)))
            .boxed(),
        DType::Json => prop_oneof![
            Just(Value::Json("{\"a\":[1,2.5,null]}".into())),
            Just(Value::Json("\"text\"".into())),
            (0i64..100).prop_map(|i| Value::Json(i.to_string())),
        ]
        .boxed(),
        DType::Array(elem) => elem_strategy(elem).prop_map(Value::Array).boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 4 => present].boxed()
}

type Row = (i64, i64, Option<i64>, Vec<Value>);

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    let row = (
        -50i64..50,
        any::<i64>(),
        proptest::option::of(any::<i64>()),
        fields()
            .into_iter()
            .map(|f| value_strategy(f.dtype))
            .collect::<Vec<_>>(),
    );
    proptest::collection::vec(row, 0..40).prop_map(|rows| {
        // Snapshots hold one row per key: keep the first of each.
        let mut seen = std::collections::BTreeSet::new();
        rows.into_iter().filter(|r| seen.insert(r.0)).collect()
    })
}

fn build(rows: &[Row], with_created: bool) -> Vec<u8> {
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        fields(),
        Duration::from_secs(60),
        with_created,
    );
    for (key, ts, created, values) in rows {
        let created = if with_created {
            Some(Timestamp(created.unwrap_or(0)))
        } else {
            None
        };
        view.push_row(
            &EntityKey::single(KeyPart::Int64(*key)),
            Timestamp(*ts),
            created,
            values,
        )
        .unwrap();
    }
    SnapshotBuilder::new(ContentId::of(b"reg"), Timestamp(0), Timestamp(10))
        .with_view(view)
        .finish()
        .unwrap()
}

proptest! {
    #[test]
    fn round_trip_matches_a_plain_map(rows in rows_strategy(), with_created: bool, probes in proptest::collection::vec(-60i64..60, 0..20)) {
        let bytes = build(&rows, with_created);
        let snapshot = Snapshot::load(bytes).unwrap();
        let reference: BTreeMap<i64, &Row> = rows.iter().map(|r| (r.0, r)).collect();
        let t = snapshot.table_index("v").unwrap();
        for key in probes.iter().copied().chain(rows.iter().map(|r| r.0)) {
            let row = snapshot.lookup(t, &EntityKey::single(KeyPart::Int64(key)));
            prop_assert_eq!(row, snapshot.lookup_int(t, key));
            match reference.get(&key) {
                None => prop_assert!(row.is_none()),
                Some((_, ts, created, values)) => {
                    let row = row.unwrap();
                    prop_assert_eq!(snapshot.event_ts(t, row), Timestamp(*ts));
                    prop_assert_eq!(snapshot.created_ts(t, row), with_created.then(|| Timestamp(created.unwrap_or(0))));
                    prop_assert_eq!(snapshot.key(t, row), Some(EntityKey::single(KeyPart::Int64(key))));
                    for (c, v) in values.iter().enumerate() {
                        prop_assert_eq!(&snapshot.value(t, c, row), v);
                        prop_assert_eq!(snapshot.f64_at(t, c, row), v.as_f64());
                    }
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(Snapshot::load(bytes).is_err());
    }

    #[test]
    fn truncation_is_always_an_error(rows in rows_strategy(), cut in any::<prop::sample::Index>()) {
        let bytes = build(&rows, false);
        let cut = cut.index(bytes.len());
        let err = Snapshot::load(bytes[..cut].to_vec()).unwrap_err();
        prop_assert!(matches!(err, Error::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn bit_flips_are_always_errors(rows in rows_strategy(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = build(&rows, true);
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        prop_assert!(Snapshot::load(bytes).is_err());
    }

    /// A payload with a valid header and hash but garbage inside: the structural
    /// checks, not the hash, must catch it.
    #[test]
    fn rehashed_garbage_never_panics(rows in rows_strategy(), at in any::<prop::sample::Index>(), byte: u8) {
        let bytes = build(&rows, false);
        let mut payload = bytes[HEADER_LEN..].to_vec();
        let at = at.index(payload.len());
        payload[at] = byte;
        let _ = Snapshot::load(verge_core::artifact::Header::frame(verge_core::artifact::ArtifactKind::Snapshot, &payload));
    }
}

#[test]
fn string_and_composite_keys() {
    let mut view = ViewBuilder::new(
        "v",
        vec![
            Field::new("a", DType::String),
            Field::new("b", DType::Int64),
        ],
        vec![Field::new("x", DType::Float64)],
        Duration::ZERO,
        false,
    );
    for (a, b, x) in [("ab", 1, 1.0), ("a", 1, 2.0), ("ab", 2, 3.0)] {
        let key = EntityKey(vec![KeyPart::String(a.into()), KeyPart::Int64(b)]);
        view.push_row(&key, Timestamp(0), None, &[Value::Float64(x)])
            .unwrap();
    }
    let s = Snapshot::load(
        SnapshotBuilder::new(ContentId::of(b""), Timestamp(0), Timestamp(0))
            .with_view(view)
            .finish()
            .unwrap(),
    )
    .unwrap();
    let get = |a: &str, b| {
        s.lookup(
            0,
            &EntityKey(vec![KeyPart::String(a.into()), KeyPart::Int64(b)]),
        )
        .map(|r| s.value(0, 0, r))
    };
    assert_eq!(get("ab", 1), Some(Value::Float64(1.0)));
    assert_eq!(get("a", 1), Some(Value::Float64(2.0)));
    assert_eq!(get("ab", 2), Some(Value::Float64(3.0)));
    assert_eq!(get("b", 1), None);
    assert_eq!(
        s.lookup(0, &EntityKey::single(KeyPart::String("ab".into()))),
        None,
        "wrong arity finds nothing"
    );
    assert_eq!(
        s.lookup_int(0, 1),
        None,
        "composite tables have no int fast path"
    );
}

#[test]
fn repeated_keys_are_rejected_at_load() {
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        vec![],
        Duration::ZERO,
        false,
    );
    for _ in 0..2 {
        view.push_row(
            &EntityKey::single(KeyPart::Int64(7)),
            Timestamp(0),
            None,
            &[],
        )
        .unwrap();
    }
    let bytes = SnapshotBuilder::new(ContentId::of(b""), Timestamp(0), Timestamp(0))
        .with_view(view)
        .finish()
        .unwrap();
    let err = Snapshot::load(bytes).unwrap_err();
    assert!(err.to_string().contains("repeats an earlier key"), "{err}");
}

#[test]
fn wrong_types_are_refused_by_the_builder() {
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        vec![Field::new("x", DType::Float64)],
        Duration::ZERO,
        false,
    );
    let key = EntityKey::single(KeyPart::Int64(1));
    assert!(
        view.push_row(&key, Timestamp(0), None, &[Value::String("no".into())])
            .is_err()
    );
    assert!(
        view.push_row(
            &EntityKey::single(KeyPart::String("1".into())),
            Timestamp(0),
            None,
            &[Value::Null]
        )
        .is_err()
    );
    assert!(
        view.push_row(&key, Timestamp(0), Some(Timestamp(0)), &[Value::Null])
            .is_err()
    );
    assert_eq!(view.rows(), 0, "a refused row leaves no trace");
}

/// A snapshot claiming 2^40 rows is refused from its metadata alone.
#[test]
fn absurd_row_counts_are_rejected_before_allocating() {
    use verge_core::artifact::{ArtifactKind, Header};
    let mut view = ViewBuilder::new(
        "v",
        vec![Field::new("id", DType::Int64)],
        vec![],
        Duration::ZERO,
        false,
    );
    view.push_row(
        &EntityKey::single(KeyPart::Int64(1)),
        Timestamp(0),
        None,
        &[],
    )
    .unwrap();
    let bytes = SnapshotBuilder::new(ContentId::of(b""), Timestamp(0), Timestamp(0))
        .with_view(view)
        .finish()
        .unwrap();
    let payload = &bytes[HEADER_LEN..];
    let meta_len = u64::from_le_bytes(payload[..8].try_into().unwrap()) as usize;
    let mut meta: verge_core::artifact::SnapshotMeta =
        verge_core::artifact::decode_payload(&payload[8..8 + meta_len], "snapshot").unwrap();
    meta.views[0].rows = 1 << 40;
    let new_meta = verge_core::artifact::encode_payload(&meta, "snapshot").unwrap();
    let mut new_payload = (new_meta.len() as u64).to_le_bytes().to_vec();
    new_payload.extend_from_slice(&new_meta);
    new_payload.resize(new_payload.len().div_ceil(8) * 8, 0);
    new_payload.extend_from_slice(&payload[(8 + meta_len).div_ceil(8) * 8..]);
    let err = Snapshot::load(Header::frame(ArtifactKind::Snapshot, &new_payload)).unwrap_err();
    assert!(err.to_string().contains("1099511627776 rows"), "{err}");
}

#[test]
fn header_errors_are_distinct() {
    let good = build(
        &[(1, 5, None, {
            let mut values = vec![
                Value::Null,
                Value::Int64(1),
                Value::Null,
                Value::Float64(2.0),
                Value::String("x".into()),
            ];
            values.resize(fields().len(), Value::Null);
            values
        })],
        false,
    );
    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(matches!(Snapshot::load(magic), Err(Error::BadMagic { .. })));
    let mut version = good.clone();
    version[4] = 9;
    assert!(matches!(
        Snapshot::load(version),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
    let mut hash = good.clone();
    let last = hash.len() - 1;
    hash[last] ^= 0xff;
    assert!(matches!(
        Snapshot::load(hash),
        Err(Error::HashMismatch { .. })
    ));
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(Snapshot::load(long), Err(Error::Malformed { .. })));
    assert!(matches!(
        Snapshot::load(good[..10].to_vec()),
        Err(Error::Truncated { .. })
    ));
    let bundle_magic =
        verge_core::artifact::Header::frame(verge_core::artifact::ArtifactKind::Bundle, b"");
    assert!(
        matches!(Snapshot::load(bundle_magic), Err(Error::BadMagic { expected: "snapshot", found }) if &found == b"VRGB")
    );
}

#[test]
fn shards_are_stable() {
    // Pinned: changing the shard function silently would route keys to the wrong shard.
    let shards: Vec<u32> = (0..8)
        .map(|k| shard_of(&EntityKey::single(KeyPart::Int64(k)), 4))
        .collect();
    let again: Vec<u32> = (0..8)
        .map(|k| shard_of(&EntityKey::single(KeyPart::Int64(k)), 4))
        .collect();
    assert_eq!(shards, again);
    assert!(shards.iter().all(|&s| s < 4));
    assert!(
        shards.iter().any(|&s| s != shards[0]),
        "keys spread over shards: {shards:?}"
    );
}

/// Golden bytes of every type added in format version 3, one row each.
#[test]
fn golden_typed_snapshot() {
    let fields = vec![
        Field::new("count", DType::Int32),
        Field::new("blob", DType::Bytes),
        Field::new("seen", DType::UnixTimestamp),
        Field::new("profile", DType::Json),
        Field::new("embedding", DType::Array(ElemType::Float32)),
        Field::new("tags", DType::Array(ElemType::String)),
    ];
    let mut view = ViewBuilder::new(
        "typed",
        vec![Field::new("driver_id", DType::Int32)],
        fields,
        Duration::from_days(1),
        false,
    );
    view.push_row(
        &EntityKey::single(KeyPart::Int64(1001)),
        Timestamp::from_secs(1_624_638_987),
        None,
        &[
            Value::Int32(-7),
            Value::Bytes(vec![0, 1, 0xff]),
            Value::Timestamp(Timestamp::from_secs(1_624_000_000)),
            Value::Json("{\"age\":\"31\",\"name\":\"x\"}".into()),
            Value::Array(Array::Float32(vec![0.5, -1.0])),
            Value::Array(Array::String(vec!["a".into(), "bc".into()])),
        ],
    )
    .unwrap();
    let bytes = SnapshotBuilder::new(ContentId([7; 32]), Timestamp(0), Timestamp(1))
        .with_view(view)
        .finish()
        .unwrap();
    check_golden(&bytes, "typed_snapshot.hex");
    let snapshot = Snapshot::load(bytes).unwrap();
    let row = snapshot
        .lookup(0, &EntityKey::single(KeyPart::Int64(1001)))
        .unwrap();
    assert_eq!(
        snapshot.value(0, 4, row),
        Value::Array(Array::Float32(vec![0.5, -1.0]))
    );
    assert_eq!(snapshot.array_len(0, 5, row), Some(2));
    assert_eq!(snapshot.lookup_int(0, 1001), Some(row));
}

fn check_golden(bytes: &[u8], name: &str) {
    let hex: String = bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .chunks(32)
        .map(|c| c.concat() + "\n")
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &hex).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .expect("golden file missing: run with BLESS=1 once and review it");
    assert_eq!(
        hex, expected,
        "snapshot bytes changed: that is a format change (bump FORMAT_VERSION) — or rerun with BLESS=1 if intended"
    );
}

/// Golden bytes: a tiny snapshot, written out in full. A change here is a format
/// change and needs a version bump (see docs/format.md). Regenerate with BLESS=1.
#[test]
fn golden_tiny_snapshot() {
    let mut view = ViewBuilder::new(
        "stats",
        vec![Field::new("hospital_number", DType::Int64)],
        vec![
            Field::new("pulse", DType::Float32),
            Field::new("note", DType::String),
        ],
        Duration::from_days(1),
        false,
    );
    view.push_row(
        &EntityKey::single(KeyPart::Int64(533738)),
        Timestamp::from_secs(1_624_638_987),
        None,
        &[Value::Float32(72.0), Value::String("ok".into())],
    )
    .unwrap();
    view.push_row(
        &EntityKey::single(KeyPart::Int64(530101)),
        Timestamp::from_secs(1_624_638_000),
        None,
        &[Value::Null, Value::Null],
    )
    .unwrap();
    let bytes = SnapshotBuilder::new(
        ContentId([7; 32]),
        Timestamp::from_secs(0),
        Timestamp::from_secs(1_624_640_000),
    )
    .with_view(view)
    .finish()
    .unwrap();
    check_golden(&bytes, "tiny_snapshot.hex");
    // The header, field by field, as docs/format.md describes it.
    assert_eq!(&bytes[0..4], b"VRGS");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 4);
    assert_eq!(
        u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize,
        bytes.len() - HEADER_LEN
    );
    // Snapshots of earlier versions (columnar data sections) are refused with
    // the fix: rebuild.
    for old in 1..4 {
        let mut bytes = bytes.clone();
        bytes[4] = old;
        let err = Snapshot::load(bytes).unwrap_err().to_string();
        assert!(
            err.contains("reads versions 4 to 4") && err.contains("verge materialize"),
            "{err}"
        );
    }
    assert_eq!(&bytes[16..48], &ContentId::of(&bytes[48..]).0);
    let s = Snapshot::load(bytes).unwrap();
    assert_eq!(
        s.value(0, 0, s.lookup_int(0, 533738).unwrap()),
        Value::Float32(72.0)
    );
    assert_eq!(s.value(0, 1, s.lookup_int(0, 530101).unwrap()), Value::Null);
}

/// The fuzz corpus's typed seed (`fuzz/corpus/snapshot_load/seed-typed`) loads
/// and reads back every cell, nulls included.
#[test]
fn the_typed_fuzz_seed_loads_and_every_cell_reads() {
    let bytes = verge_test_kit::tiny::typed_snapshot_bytes();
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/snapshot_load/seed-typed");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&seed, &bytes).unwrap();
    }
    let committed = std::fs::read(&seed).unwrap();
    assert_eq!(
        committed, bytes,
        "rerun fuzz/examples/seeds.rs after a format change"
    );
    let s = Snapshot::load(bytes).unwrap();
    let row = s.lookup_int(0, 1001).unwrap();
    assert_eq!(s.value(0, 5, row), Value::Array(Array::Bool(vec![true])));
    let empty = s.lookup_int(0, 1002).unwrap();
    assert!((0..6).all(|c| s.value(0, c, empty) == Value::Null));
}

/// A record's bool byte is 0 or 1; any other byte, behind a valid header and
/// hash, is refused at load and named, not read as `true`.
#[test]
fn a_bool_byte_other_than_0_or_1_is_refused() {
    let one = |flag: bool| {
        let mut view = ViewBuilder::new(
            "v",
            vec![Field::new("id", DType::Int64)],
            vec![Field::new("flag", DType::Bool)],
            Duration::ZERO,
            false,
        );
        view.push_row(
            &EntityKey::single(KeyPart::Int64(1)),
            Timestamp(5),
            None,
            &[Value::Bool(flag)],
        )
        .unwrap();
        SnapshotBuilder::new(ContentId([1; 32]), Timestamp(0), Timestamp(9))
            .with_view(view)
            .finish()
            .unwrap()
    };
    let (no, yes) = (one(false), one(true));
    // The payloads differ in exactly the bool's byte.
    let differ: Vec<usize> = (HEADER_LEN..no.len())
        .filter(|&i| no[i] != yes[i])
        .collect();
    assert_eq!(differ.len(), 1);
    assert_eq!((no[differ[0]], yes[differ[0]]), (0, 1));
    let mut payload = yes[HEADER_LEN..].to_vec();
    payload[differ[0] - HEADER_LEN] = 2;
    let bytes =
        verge_core::artifact::Header::frame(verge_core::artifact::ArtifactKind::Snapshot, &payload);
    let err = Snapshot::load(bytes).unwrap_err().to_string();
    assert!(
        err.contains("field `flag`") && err.contains("row 0") && err.contains("bool"),
        "{err}"
    );
}
