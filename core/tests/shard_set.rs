//! A shard set ([`Layers::sharded`]) against the whole snapshot it was cut
//! from: with every shard loaded, each answer is the whole snapshot's answer
//! byte for byte (but for `snapshot_id`, which names the set); with some
//! loaded, a request needing only those is answered the same, one needing
//! another is refused with 503 and [`Api::shards_to_load`] names exactly the
//! shards the reference routing gives.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use verge_core::api::Api;
use verge_core::artifact::{Bundle, Snapshot, shard_of};
use verge_core::online::{Deployment, Layers, set_id};
use verge_core::{ContentId, Timestamp};
use verge_test_kit::tiny::{MANY, Tiny, key, limits};

fn shards(tiny: &Tiny, count: u32) -> Vec<Arc<Snapshot>> {
    (0..count)
        .map(|i| Arc::new(Snapshot::load(tiny.shard_bytes(i, count)).unwrap()))
        .collect()
}

fn bundles(tiny: &Tiny) -> Vec<Bundle> {
    vec![
        Bundle::load(&tiny.bundle_bytes_for(Some("m"))).unwrap(),
        Bundle::load(&tiny.bundle_bytes_for(None)).unwrap(),
    ]
}

fn api_over(tiny: &Tiny, layers: Layers) -> Api {
    Api::serving(
        Deployment::layered(Arc::new(layers), bundles(tiny)).unwrap(),
        limits(),
    )
}

/// The request bodies asked of both: Feast's route by features and by
/// service, and `/predict`, over `ids` (some unknown).
fn bodies(ids: &[i64]) -> Vec<(&'static str, String)> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let ambient = vec!["20.5"; ids.len()].join(",");
    vec![
        (
            "/get-online-features",
            format!(
                r#"{{"features": ["stats:temp", "stats:pulse"], "entities": {{"id": [{list}]}}}}"#
            ),
        ),
        (
            "/get-online-features",
            format!(
                r#"{{"feature_service": "svc", "entities": {{"id": [{list}], "ambient": [{ambient}]}}}}"#
            ),
        ),
        ("/predict", format!(r#"{{"entities": {{"id": [{list}]}}}}"#)),
    ]
}

fn now() -> Timestamp {
    verge_test_kit::tiny::now()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn a_full_set_answers_as_the_whole_snapshot(
        count in 2u32..7,
        ids in prop::collection::vec(-5i64..MANY + 5, 1..40),
    ) {
        let tiny = Tiny::many(0);
        let whole = Arc::new(Snapshot::load(tiny.snapshot_bytes()).unwrap());
        let pieces = shards(&tiny, count);
        let shard_ids: Vec<ContentId> = pieces.iter().map(|s| s.id()).collect();
        let set = api_over(&tiny, Layers::sharded(shard_ids.clone(), pieces).unwrap());
        let reference = api_over(&tiny, Layers::from(whole.clone()));
        prop_assert!(set.shards_to_load(bodies(&ids)[0].1.as_bytes()).is_empty());
        for (path, body) in bodies(&ids) {
            let got = set.handle("POST", path, body.as_bytes(), now());
            let want = reference.handle("POST", path, body.as_bytes(), now());
            prop_assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
            let want = String::from_utf8(want.body).unwrap().replace(
                &whole.id().to_string(),
                &set_id(&shard_ids).to_string(),
            );
            prop_assert_eq!(String::from_utf8(got.body).unwrap(), want);
        }
    }

    #[test]
    fn a_partial_set_answers_what_it_holds_and_names_what_it_lacks(
        count in 2u32..7,
        held in prop::collection::vec(any::<bool>(), 7),
        ids in prop::collection::vec(-5i64..MANY + 5, 1..40),
    ) {
        let tiny = Tiny::many(1);
        let pieces = shards(&tiny, count);
        let shard_ids: Vec<ContentId> = pieces.iter().map(|s| s.id()).collect();
        let loaded: Vec<Arc<Snapshot>> = pieces
            .iter()
            .filter(|s| held[s.meta().shard_index as usize])
            .cloned()
            .collect();
        prop_assume!(!loaded.is_empty());
        let full = api_over(&tiny, Layers::sharded(shard_ids.clone(), pieces.clone()).unwrap());
        let some = api_over(&tiny, Layers::sharded(shard_ids, loaded).unwrap());
        let owners: BTreeSet<u32> = ids.iter().map(|&i| shard_of(&key(i), count)).collect();
        let lacking: Vec<u32> = owners
            .iter()
            .copied()
            .filter(|&s| !held[s as usize])
            .collect();
        for (path, body) in bodies(&ids) {
            prop_assert_eq!(some.shards_to_load(body.as_bytes()), lacking.clone());
            let got = some.handle("POST", path, body.as_bytes(), now());
            if lacking.is_empty() {
                let want = full.handle("POST", path, body.as_bytes(), now());
                prop_assert_eq!(got, want);
            } else {
                prop_assert_eq!(got.status, 503);
                let text = String::from_utf8(got.body).unwrap();
                let named = lacking.iter().any(|s| text.contains(&format!("shard {s} of {count}")));
                prop_assert!(named, "{}", text);
            }
        }
    }
}

#[test]
fn a_set_refuses_shards_that_are_not_its_own() {
    let tiny = Tiny::many(0);
    let pieces = shards(&tiny, 3);
    let ids: Vec<ContentId> = pieces.iter().map(|s| s.id()).collect();
    let other = shards(&Tiny::many(2), 3);
    let refused = |ids: Vec<ContentId>, loaded: Vec<Arc<Snapshot>>| {
        Layers::sharded(ids, loaded).unwrap_err().to_string()
    };
    // Nothing loaded, a shard of another set, a shard twice, another count.
    assert!(refused(ids.clone(), vec![]).contains("at least one"));
    assert!(refused(ids.clone(), vec![other[1].clone()]).contains("not a shard of this set"));
    assert!(refused(ids.clone(), vec![pieces[0].clone(), pieces[0].clone()]).contains("twice"));
    assert!(refused(ids[..2].to_vec(), vec![pieces[0].clone()]).contains("not a shard"));
    // A shard swapped into another's place: its id is not the one named there.
    let swapped = vec![ids[1], ids[0], ids[2]];
    assert!(refused(swapped, vec![pieces[0].clone()]).contains("not a shard of this set"));
}

#[test]
fn a_shard_takes_no_deltas() {
    let tiny = Tiny::many(0);
    let pieces = shards(&tiny, 2);
    let err = Layers::new(pieces[0].clone(), vec![pieces[0].clone()]).unwrap_err();
    assert!(
        err.to_string().contains("publish changed shards whole"),
        "{err}"
    );
}

#[test]
fn a_body_that_does_not_parse_needs_no_shard() {
    let tiny = Tiny::many(0);
    let pieces = shards(&tiny, 4);
    let ids: Vec<ContentId> = pieces.iter().map(|s| s.id()).collect();
    let some = api_over(
        &tiny,
        Layers::sharded(ids, vec![pieces[0].clone()]).unwrap(),
    );
    for body in [&b"{"[..], br#"{"entities": {"id": [true]}}"#, b"[]"] {
        assert!(some.shards_to_load(body).is_empty());
        assert_eq!(
            some.handle("POST", "/predict", body, now()).status,
            400,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}
