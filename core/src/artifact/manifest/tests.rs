//! Unit tests for the publish manifest: round trips, field errors, rollback, body splitting.

use super::*;
use crate::artifact::signature::SigningKey;
use crate::artifact::{ArtifactKind, Header};

fn pair(n: u8) -> PublishedPair {
    PublishedPair::unsigned(ContentId([n; 32]), ContentId([n + 1; 32]))
}

#[test]
fn manifest_round_trips_with_and_without_signatures() {
    let key = SigningKey::from_seed(&[4; 32]);
    let mut signed = pair(1);
    signed.bundle_signature = Some(key.sign(ArtifactKind::Bundle, signed.bundle));
    signed.snapshot_signature = Some(key.sign(ArtifactKind::Snapshot, signed.snapshot));
    let mut deployment = pair(7);
    deployment.more_bundles = alloc::vec![
        PublishedBundle {
            id: ContentId([9; 32]),
            signature: Some(key.sign(ArtifactKind::Bundle, ContentId([9; 32]))),
        },
        PublishedBundle {
            id: ContentId([10; 32]),
            signature: None,
        },
    ];
    let mut chained = pair(11);
    chained.deltas = alloc::vec![
        PublishedDelta {
            id: ContentId([13; 32]),
            signature: Some(key.sign(ArtifactKind::Snapshot, ContentId([13; 32]))),
        },
        PublishedDelta {
            id: ContentId([14; 32]),
            signature: None,
        },
    ];
    // A chain is other artifacts than its base alone.
    assert!(!chained.same_artifacts(&pair(11)));
    for m in [
        PublishManifest::next(None, chained.clone()),
        PublishManifest::next(None, pair(1)),
        PublishManifest::next(None, signed.clone()),
        PublishManifest::next(Some(&PublishManifest::next(None, signed.clone())), pair(5)),
        PublishManifest::next(
            Some(&PublishManifest::next(None, signed)),
            deployment.clone(),
        ),
    ] {
        assert_eq!(PublishManifest::parse(&m.to_json()).unwrap(), m);
    }
    // The worker's original shape (no signatures) still parses.
    let text = format!(
        r#"{{"bundle":"{}","snapshot":"{}"}}"#,
        "ab".repeat(32),
        "cd".repeat(32)
    );
    let m = PublishManifest::parse(text.as_bytes()).unwrap();
    assert_eq!(m.current.bundle_signature, None);
    assert_eq!(m.previous, None);
    assert!(m.current.more_bundles.is_empty());
    // A pair is written in its first shape; a deployment lists its other bundles.
    let one = String::from_utf8(PublishManifest::next(None, pair(1)).to_json()).unwrap();
    assert!(!one.contains("more_bundles"), "{one}");
    let many = PublishManifest::next(None, deployment.clone());
    let ids: Vec<ContentId> = many.current.bundles().map(|b| b.id).collect();
    assert_eq!(
        ids,
        [ContentId([7; 32]), ContentId([9; 32]), ContentId([10; 32])]
    );
    // The same ids in another order are another deployment (the first is described).
    let mut reordered = deployment.clone();
    reordered.more_bundles.reverse();
    assert!(!reordered.same_artifacts(&deployment));
}

#[test]
fn bad_manifests_name_the_field() {
    let id = "ab".repeat(32);
    for (text, field) in [
        (format!(r#"{{"snapshot":"{id}"}}"#), "manifest.bundle"),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"xyz"}}"#),
            "manifest.snapshot",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","bundle_signature":"00"}}"#),
            "manifest.bundle_signature",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","previous":{{"bundle":"{id}"}}}}"#),
            "manifest.previous.snapshot",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","previous":7}}"#),
            "manifest.previous",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","more_bundles":[{{"bundle":"x"}}]}}"#),
            "manifest.more_bundles[0].bundle",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","more_bundles":{{}}}}"#),
            "manifest.more_bundles must be an array",
        ),
        (
            format!(
                r#"{{"bundle":"{id}","snapshot":"{id}","deltas":[{{"snapshot":"{id}","snapshot_signature":"x"}}]}}"#
            ),
            "manifest.deltas[0].snapshot_signature",
        ),
        (
            format!(r#"{{"bundle":"{id}","snapshot":"{id}","deltas":"{id}"}}"#),
            "manifest.deltas must be an array",
        ),
        ("[1,2".into(), "not JSON"),
    ] {
        let e = PublishManifest::parse(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    let huge = alloc::vec![b' '; MAX_MANIFEST_BYTES + 1];
    assert!(PublishManifest::parse(&huge).is_err());
}

#[test]
fn next_and_rollback_keep_one_previous() {
    let (a, b, c) = (pair(1), pair(3), pair(5));
    let m1 = PublishManifest::next(None, a.clone());
    assert_eq!(m1.previous, None);
    assert_eq!(m1.rolled_back(), None);
    let m2 = PublishManifest::next(Some(&m1), b.clone());
    assert_eq!(m2.previous, Some(a.clone()));
    // Republishing the served pair keeps the rollback target.
    assert_eq!(
        PublishManifest::next(Some(&m2), b.clone()).previous,
        Some(a)
    );
    let m3 = PublishManifest::next(Some(&m2), c.clone());
    assert_eq!(m3.previous, Some(b.clone()));
    let back = m3.rolled_back().unwrap();
    assert_eq!((&back.current, &back.previous), (&b, &Some(c)));
    assert_eq!(back.rolled_back().unwrap(), m3);
}

#[test]
fn publish_bodies_split_by_header_lengths() {
    let bundle = Header::frame(ArtifactKind::Bundle, b"bundle payload");
    let snapshot = Header::frame(ArtifactKind::Snapshot, b"snapshot");
    let body = [bundle.as_slice(), &snapshot].concat();
    let (b, s) = split_publish_body(&body).unwrap();
    assert_eq!((b, s), (bundle.as_slice(), snapshot.as_slice()));
    for bad in [
        &body[..body.len() - 1],
        &[body.as_slice(), b"x"].concat(),
        bundle.as_slice(),
        &[snapshot.as_slice(), &bundle].concat(),
        b"",
    ] {
        assert!(split_publish_body(bad).is_err());
    }
}

/// A bundle length field off by one either way is blamed on the bundle, with
/// the claimed and the real lengths, not on the snapshot the split then misses.
#[test]
fn a_misframed_bundle_is_named_with_its_lengths() {
    let bundle = Header::frame(ArtifactKind::Bundle, b"bundle payload");
    let snapshot = Header::frame(ArtifactKind::Snapshot, b"snapshot");
    for claimed in [13u64, 15] {
        let mut body = [bundle.as_slice(), &snapshot].concat();
        body[8..16].copy_from_slice(&claimed.to_le_bytes());
        let e = split_publish_body(&body).unwrap_err().to_string();
        let at = bundle.len();
        assert!(
            e.contains(&alloc::format!(
                "the bundle's header claims {claimed} payload bytes"
            )) && e.contains(&alloc::format!("the snapshot starts at byte {at}"))
                && e.contains("holds 14 payload bytes"),
            "{e}"
        );
    }
}
