//! The one online read path: `POST /get-online-features` over a snapshot answers
//! exactly what the typed read (`online::get_online_features`) finds, for every
//! kind of key (single int, single text, composite), with ttl, nulls and misses,
//! and both word a missing join key their own way.
//!
//! The expected JSON is written out in full: these bytes are what every face
//! prints, so a change to them is a change to the HTTP API.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use verge_core::api::{Limits, get_online_features_json, value_to_json};
use verge_core::artifact::{Snapshot, SnapshotBuilder, ViewBuilder};
use verge_core::definition::{FeatureRef, Field};
use verge_core::online::{FeatureStatus, OnlineColumn, get_online_features};
use verge_core::{ContentId, DType, Duration, EntityKey, Error, KeyPart, Timestamp, Value};

/// Three views keyed three ways: `vitals` by an int, `owners` by text, `visits`
/// by (text, int); `vitals` has a one-hour ttl.
fn snapshot() -> Snapshot {
    let mut vitals = ViewBuilder::new(
        "vitals",
        vec![Field::new("horse", DType::Int64)],
        vec![
            Field::new("pulse", DType::Int64),
            Field::new("temp", DType::Float64),
        ],
        Duration::from_secs(3600),
        false,
    );
    for (horse, at, pulse, temp) in [
        (1, 9_000, Value::Int64(60), Value::Float64(38.5)),
        (2, 1_000, Value::Int64(72), Value::Float64(39.0)),
        (3, 9_500, Value::Null, Value::Float64(37.25)),
    ] {
        vitals
            .push_row(
                &EntityKey::single(KeyPart::Int64(horse)),
                Timestamp::from_secs(at),
                None,
                &[pulse, temp],
            )
            .unwrap();
    }
    let mut owners = ViewBuilder::new(
        "owners",
        vec![Field::new("owner", DType::String)],
        vec![Field::new("city", DType::String)],
        Duration::ZERO,
        false,
    );
    owners
        .push_row(
            &EntityKey::single(KeyPart::String("ann".into())),
            Timestamp::from_secs(5),
            None,
            &[Value::String("Oslo".into())],
        )
        .unwrap();
    let mut visits = ViewBuilder::new(
        "visits",
        vec![
            Field::new("owner", DType::String),
            Field::new("horse", DType::Int64),
        ],
        vec![Field::new("count", DType::Int64)],
        Duration::ZERO,
        false,
    );
    visits
        .push_row(
            &EntityKey(vec![KeyPart::String("ann".into()), KeyPart::Int64(1)]),
            Timestamp::from_secs(7),
            None,
            &[Value::Int64(4)],
        )
        .unwrap();
    let bytes = SnapshotBuilder::new(
        ContentId::of(b"r"),
        Timestamp::MIN,
        Timestamp::from_secs(10_000),
    )
    .with_view(vitals)
    .with_view(owners)
    .with_view(visits)
    .finish()
    .unwrap();
    Snapshot::load(bytes).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_secs(10_000)
}

fn answer(snapshot: &Snapshot, body: &str) -> (u16, String) {
    let r = get_online_features_json(snapshot, body.as_bytes(), now(), Limits::default());
    (r.status, String::from_utf8(r.body).unwrap())
}

/// A typed column as the API prints one (`values`, `statuses`, `event_timestamps`).
fn as_json(column: &OnlineColumn) -> serde_json::Value {
    serde_json::json!({
        "values": column.values.iter().map(|v| value_to_json(&v.value)).collect::<Vec<_>>(),
        "statuses": column.values.iter().map(|v| v.status.as_str()).collect::<Vec<_>>(),
        "event_timestamps": column
            .values
            .iter()
            .map(|v| v.event_ts.unwrap_or(Timestamp(0)).to_rfc3339())
            .collect::<Vec<_>>(),
    })
}

#[test]
fn the_api_answers_what_the_typed_read_finds() {
    let snapshot = snapshot();
    let body = r#"{"features": ["vitals:pulse", "vitals:temp", "owners:city", "visits:count"],
        "entities": {"horse": [1, 2, 3, 1], "owner": ["ann", "ann", "bob", "bob"]}}"#;
    let (status, text) = answer(&snapshot, body);
    assert_eq!(status, 200, "{text}");
    let expected = concat!(
        r#"{"metadata":{"feature_names":["horse","owner","pulse","temp","city","count"]},"results":["#,
        r#"{"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"],"statuses":["PRESENT","PRESENT","PRESENT","PRESENT"],"values":[1,2,3,1]},"#,
        r#"{"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"],"statuses":["PRESENT","PRESENT","PRESENT","PRESENT"],"values":["ann","ann","bob","bob"]},"#,
        r#"{"event_timestamps":["1970-01-01T02:30:00Z","1970-01-01T00:16:40Z","1970-01-01T02:38:20Z","1970-01-01T02:30:00Z"],"statuses":["PRESENT","OUTSIDE_MAX_AGE","NULL_VALUE","PRESENT"],"values":[60,null,null,60]},"#,
        r#"{"event_timestamps":["1970-01-01T02:30:00Z","1970-01-01T00:16:40Z","1970-01-01T02:38:20Z","1970-01-01T02:30:00Z"],"statuses":["PRESENT","OUTSIDE_MAX_AGE","PRESENT","PRESENT"],"values":[38.5,null,37.25,38.5]},"#,
        r#"{"event_timestamps":["1970-01-01T00:00:05Z","1970-01-01T00:00:05Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"],"statuses":["PRESENT","PRESENT","NOT_FOUND","NOT_FOUND"],"values":["Oslo","Oslo",null,null]},"#,
        r#"{"event_timestamps":["1970-01-01T00:00:07Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"],"statuses":["PRESENT","NOT_FOUND","NOT_FOUND","NOT_FOUND"],"values":[4,null,null,null]}"#,
        "]}"
    );
    assert_eq!(text, expected);

    // The typed read of the same features and entities gives the same columns.
    let refs: Vec<FeatureRef> = ["vitals:pulse", "vitals:temp", "owners:city", "visits:count"]
        .iter()
        .map(|r| FeatureRef::parse(r).unwrap())
        .collect();
    let entities = vec![
        (
            "horse".to_string(),
            [1, 2, 3, 1].map(KeyPart::Int64).to_vec(),
        ),
        (
            "owner".to_string(),
            ["ann", "ann", "bob", "bob"]
                .map(|s| KeyPart::String(s.into()))
                .to_vec(),
        ),
    ];
    let columns = get_online_features(&snapshot, &refs, &entities, now()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (i, column) in columns.iter().enumerate() {
        assert_eq!(json["results"][i + 2], as_json(column), "{}", column.name);
    }
    assert_eq!(columns[0].values[1].status, FeatureStatus::OutsideMaxAge);
}

#[test]
fn a_missing_join_key_is_named_by_each_caller() {
    let snapshot = snapshot();
    // `owner` is a known key (of `owners`), but `vitals` needs `horse`.
    let (status, text) = answer(
        &snapshot,
        r#"{"features": ["owners:city", "vitals:pulse"], "entities": {"owner": ["ann"]}}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(
        text,
        r#"{"error":{"message":"feature `vitals:pulse` needs join key `horse` in `entities`","status":400}}"#
    );
    let refs = [FeatureRef::parse("vitals:pulse").unwrap()];
    let entities = vec![("owner".to_string(), vec![KeyPart::String("ann".into())])];
    let e = get_online_features(&snapshot, &refs, &entities, now()).unwrap_err();
    assert_eq!(
        e,
        Error::Request("view `vitals` needs join key `horse` in `entities`".into())
    );
    // A composite view needs both of its keys.
    let (status, text) = answer(
        &snapshot,
        r#"{"features": ["visits:count"], "entities": {"horse": [1]}}"#,
    );
    assert_eq!(status, 400);
    assert!(
        text.contains("feature `visits:count` needs join key `owner` in `entities`"),
        "{text}"
    );
}

#[test]
fn ragged_and_unknown_inputs_are_refused_by_the_typed_read() {
    let snapshot = snapshot();
    let refs = [FeatureRef::parse("visits:count").unwrap()];
    let ragged = vec![
        ("horse".to_string(), vec![KeyPart::Int64(1)]),
        ("owner".to_string(), vec![]),
    ];
    assert!(matches!(
        get_online_features(&snapshot, &refs, &ragged, now()),
        Err(Error::Request(m)) if m.contains("different length")
    ));
    let unknown = [FeatureRef::parse("nope:x").unwrap()];
    let entities = vec![("horse".to_string(), vec![KeyPart::Int64(1)])];
    assert!(matches!(
        get_online_features(&snapshot, &unknown, &entities, now()),
        Err(Error::Unknown {
            what: "feature view",
            ..
        })
    ));
}

/// A shard refuses a key another shard owns, with a 421 that names the owner,
/// instead of answering `NOT_FOUND` for a row that exists elsewhere; its own
/// keys read as from any snapshot.
#[test]
fn a_shard_refuses_keys_it_does_not_own() {
    use verge_core::artifact::shard_of;
    let owner = |i: i64| shard_of(&EntityKey::single(KeyPart::Int64(i)), 2);
    let mine: Vec<i64> = (0..).filter(|&i| owner(i) == 1).take(2).collect();
    let theirs = (0..).find(|&i| owner(i) == 0).unwrap();
    let mut vitals = ViewBuilder::new(
        "vitals",
        vec![Field::new("horse", DType::Int64)],
        vec![Field::new("pulse", DType::Int64)],
        Duration::ZERO,
        false,
    );
    vitals
        .push_row(
            &EntityKey::single(KeyPart::Int64(mine[0])),
            Timestamp::from_secs(5),
            None,
            &[Value::Int64(60)],
        )
        .unwrap();
    let bytes = SnapshotBuilder::new(
        ContentId::of(b"r"),
        Timestamp::MIN,
        Timestamp::from_secs(10),
    )
    .shard(1, 2)
    .with_view(vitals)
    .finish()
    .unwrap();
    let shard = Snapshot::load(bytes).unwrap();
    let now = Timestamp::from_secs(10);
    let body = |keys: &[i64]| {
        format!(r#"{{"features": ["vitals:pulse"], "entities": {{"horse": {keys:?}}}}}"#)
            .into_bytes()
    };

    // Its own keys, found or not, answer as usual.
    let own = get_online_features_json(&shard, &body(&mine), now, Limits::default());
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    let own: serde_json::Value = serde_json::from_slice(&own.body).unwrap();
    assert_eq!(
        own["results"][1]["statuses"],
        serde_json::json!(["PRESENT", "NOT_FOUND"])
    );

    // A key of shard 0, even behind one of its own, is refused whole.
    let refused =
        get_online_features_json(&shard, &body(&[mine[0], theirs]), now, Limits::default());
    assert_eq!(refused.status, 421);
    let message = verge_core::api::error_message(&refused.body);
    assert!(
        message.contains(&format!(
            "entity row 1 (view `vitals`, key [{theirs}]) belongs to shard 0 of 2"
        )) && message.contains("this snapshot is shard 1"),
        "{message}"
    );
    let typed = get_online_features(
        &shard,
        &[FeatureRef::parse("vitals:pulse").unwrap()],
        &[("horse".into(), vec![KeyPart::Int64(theirs)])],
        now,
    );
    assert!(matches!(typed, Err(Error::Request(m)) if m.contains("belongs to shard 0 of 2")));
}
