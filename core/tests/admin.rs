//! The admin routes' upload check (`verge_core::api::admin::receive`) on a real
//! bundle and snapshot: what the worker and `verge serve` both accept and refuse.

use verge_core::api::admin::{self, BUNDLE_SIGNATURE_HEADER, SNAPSHOT_SIGNATURE_HEADER};
use verge_core::artifact::signature::SigningKey;
use verge_core::artifact::{ArtifactKind, Bundle, Snapshot};
use verge_test_kit::tiny;

fn body(bundle: &[u8], snapshot: &[u8]) -> Vec<u8> {
    [bundle, snapshot].concat()
}

#[test]
fn a_whole_pair_is_received_with_its_own_ids() {
    let (bundle, snapshot) = (tiny::bundle_bytes(), tiny::snapshot_bytes());
    let whole = body(&bundle, &snapshot);
    let upload = admin::receive(&whole, None, None, None).unwrap();
    assert_eq!(upload.bundle, bundle.as_slice());
    assert_eq!(upload.snapshot, snapshot.as_slice());
    assert_eq!(upload.pair.bundle, Bundle::load(&bundle).unwrap().id());
    assert_eq!(
        upload.pair.snapshot,
        Snapshot::load(snapshot.clone()).unwrap().id()
    );
    assert_eq!(upload.pair.bundle_signature, None);
    assert_eq!(
        upload.deployment.primary().bundle().id(),
        upload.pair.bundle
    );

    // Trailing bytes, a truncation, or the two in the wrong order: 400.
    let mut trailing = whole.clone();
    trailing.push(0);
    let swapped = body(&snapshot, &bundle);
    for bad in [&trailing[..], &whole[..bundle.len() + 10], &swapped[..]] {
        let e = admin::receive(bad, None, None, None).unwrap_err();
        assert_eq!(e.status, 400, "{}", e.message);
    }
}

/// A bundle whose length field is off by one (either way) is a 400 that names
/// the bundle and both lengths, not a complaint about the snapshot's magic.
#[test]
fn an_off_by_one_bundle_length_is_blamed_on_the_bundle() {
    let (bundle, snapshot) = (tiny::bundle_bytes(), tiny::snapshot_bytes());
    let payload = bundle.len() as u64 - 48;
    for claimed in [payload - 1, payload + 1] {
        let mut upload = body(&bundle, &snapshot);
        upload[8..16].copy_from_slice(&claimed.to_le_bytes());
        let e = admin::receive(&upload, None, None, None).unwrap_err();
        assert_eq!(e.status, 400, "{}", e.message);
        for needle in [
            format!("the bundle's header claims {claimed} payload bytes"),
            format!("the snapshot starts at byte {}", bundle.len()),
            format!("the bundle holds {payload} payload bytes"),
        ] {
            assert!(e.message.contains(&needle), "{needle:?} in: {}", e.message);
        }
    }
}

#[test]
fn with_a_public_key_only_pairs_it_signed_are_received() {
    let (bundle, snapshot) = (tiny::bundle_bytes(), tiny::snapshot_bytes());
    let upload = body(&bundle, &snapshot);
    let b = Bundle::load(&bundle).unwrap().id();
    let s = Snapshot::load(snapshot.clone()).unwrap().id();
    let key = SigningKey::from_seed(&[7; 32]);
    let stranger = SigningKey::from_seed(&[8; 32]);
    let public = key.public_key();
    let bsig = key.sign(ArtifactKind::Bundle, b).to_string();
    let ssig = key.sign(ArtifactKind::Snapshot, s).to_string();

    let ok = admin::receive(&upload, Some(&bsig), Some(&ssig), Some(&public)).unwrap();
    assert_eq!(ok.pair.bundle_signature.unwrap().to_string(), bsig);
    assert_eq!(ok.pair.snapshot_signature.unwrap().to_string(), ssig);

    let foreign = stranger.sign(ArtifactKind::Bundle, b).to_string();
    for (bundle_sig, snapshot_sig) in [
        (None, None),
        (Some(bsig.as_str()), None),
        (Some(ssig.as_str()), Some(bsig.as_str())),
        (Some(foreign.as_str()), Some(ssig.as_str())),
    ] {
        let e = admin::receive(&upload, bundle_sig, snapshot_sig, Some(&public)).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message.contains("the served pair stays live"),
            "{}",
            e.message
        );
    }
    // Without a key, signatures are carried but not required.
    assert!(admin::receive(&upload, Some(&foreign), None, None).is_ok());
    // A malformed header is refused before the body is looked at.
    let e = admin::receive(b"", Some("abc"), None, None).unwrap_err();
    assert!(e.message.contains(BUNDLE_SIGNATURE_HEADER), "{}", e.message);
    let e = admin::receive(b"", None, Some("abc"), None).unwrap_err();
    assert!(
        e.message.contains(SNAPSHOT_SIGNATURE_HEADER),
        "{}",
        e.message
    );
}
