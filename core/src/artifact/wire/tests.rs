//! The hand-written decoder against the serde reference (bincode through
//! `codec`'s frugal adapter): the same verdict and the same value on every fuzz
//! corpus input, every truncation and byte flip of the golden artifacts, and
//! random primitive values.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Decode;
use crate::artifact::codec::{decode_budgeted, decode_within, encode_payload};
use crate::artifact::{BundleContents, HEADER_LEN, SnapshotMeta};
use crate::model::TreeEnsemble;

/// Both decoders with no allocation budget (the serde adapter charges what it
/// allocates differently; `tests/alloc_bounds.rs` holds the real budget), as
/// re-encoded bytes so types without `PartialEq` compare too.
fn both<T: Decode + DeserializeOwned + Serialize>(
    bytes: &[u8],
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let reencode = |value: &T| encode_payload(value, "test").ok();
    let wire = decode_within::<T>(bytes, usize::MAX, "test")
        .ok()
        .and_then(|v| reencode(&v));
    let serde = decode_budgeted::<T>(bytes, usize::MAX)
        .ok()
        .filter(|(_, used)| *used == bytes.len())
        .and_then(|(v, _)| reencode(&v));
    (wire, serde)
}

fn assert_same<T: Decode + DeserializeOwned + Serialize>(bytes: &[u8], what: &str) {
    let (wire, serde) = both::<T>(bytes);
    assert_eq!(
        wire.is_some(),
        serde.is_some(),
        "{what}: the hand decoder {} what serde {}",
        if wire.is_some() { "accepts" } else { "refuses" },
        if serde.is_some() {
            "accepts"
        } else {
            "refuses"
        },
    );
    assert_eq!(wire, serde, "{what}: the decoders read different values");
}

/// Every truncation of `bytes`, and every byte of it flipped three ways.
fn assert_same_under_mutation<T: Decode + DeserializeOwned + Serialize>(bytes: &[u8], what: &str) {
    assert!(both::<T>(bytes).0.is_some(), "{what} must decode");
    assert_same::<T>(bytes, what);
    for len in 0..bytes.len() {
        assert_same::<T>(&bytes[..len], &alloc::format!("{what} cut to {len} bytes"));
    }
    let mut copy = bytes.to_vec();
    for i in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            copy[i] ^= flip;
            assert_same::<T>(&copy, &alloc::format!("{what} with byte {i} ^ {flip:#x}"));
            copy[i] ^= flip;
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(workspace().join("core/tests/golden").join(name)).unwrap();
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = workspace().join("fuzz/corpus").join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no corpus in {}", dir.display());
    inputs
}

/// A snapshot's metadata: the bytes after the header and the 8-byte length,
/// as long as the length says, clamped to what is there.
fn snapshot_meta(artifact: &[u8]) -> &[u8] {
    let payload = artifact.get(HEADER_LEN..).unwrap_or_default();
    let Some(len) = payload.get(..8) else {
        return &[];
    };
    let len = u64::from_le_bytes(len.try_into().unwrap());
    let end = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .saturating_add(8)
        .min(payload.len());
    &payload[8..end]
}

#[test]
fn golden_bundles_decode_alike_under_every_truncation_and_flip() {
    for name in ["tiny_bundle.hex", "tiny_tree_bundle.hex"] {
        let artifact = golden(name);
        assert_same_under_mutation::<BundleContents>(&artifact[HEADER_LEN..], name);
    }
}

#[test]
fn golden_snapshot_metadata_decodes_alike_under_every_truncation_and_flip() {
    for name in ["tiny_snapshot.hex", "typed_snapshot.hex"] {
        let artifact = golden(name);
        assert_same_under_mutation::<SnapshotMeta>(snapshot_meta(&artifact), name);
    }
}

#[test]
fn fuzz_corpora_decode_alike() {
    let bundles = corpus("bundle_load");
    for (i, input) in bundles.iter().enumerate() {
        let payload = input.get(HEADER_LEN..).unwrap_or_default();
        assert_same::<BundleContents>(payload, &alloc::format!("bundle_load input {i}"));
    }
    for (i, input) in corpus("snapshot_load").iter().enumerate() {
        assert_same::<SnapshotMeta>(
            snapshot_meta(input),
            &alloc::format!("snapshot_load input {i}"),
        );
    }
    for (i, input) in corpus("tree_load").iter().enumerate() {
        assert_same::<TreeEnsemble>(input, &alloc::format!("tree_load input {i}"));
    }
    // The largest real bundles (trained models) under every truncation.
    let decodable: Vec<&Vec<u8>> = bundles
        .iter()
        .filter(|b| {
            both::<BundleContents>(&b[HEADER_LEN.min(b.len())..])
                .0
                .is_some()
        })
        .collect();
    let largest = decodable.iter().max_by_key(|b| b.len()).unwrap();
    let payload = &largest[HEADER_LEN..];
    for len in 0..payload.len() {
        assert_same::<BundleContents>(
            &payload[..len],
            &alloc::format!("largest bundle cut to {len}"),
        );
    }
}

#[test]
fn elements_charge_their_decoded_size_against_the_budget() {
    // Each `None` is one byte on the wire and 33 in memory: 4,000 of them
    // would allocate 132 KB from 4 KB, more than the budget allows.
    let many: Vec<Option<[u8; 32]>> = vec![None; 4000];
    let bytes = encode_payload(&many, "test").unwrap();
    let err = crate::artifact::decode_payload::<Vec<Option<[u8; 32]>>>(&bytes, "test").unwrap_err();
    assert!(
        alloc::format!("{err}").contains("claims more memory"),
        "{err}"
    );
    // The same count of one-byte values is well within it.
    let small: Vec<u8> = vec![7; 4000];
    let bytes = encode_payload(&small, "test").unwrap();
    assert_eq!(
        crate::artifact::decode_payload::<Vec<u8>>(&bytes, "test").unwrap(),
        small
    );
    // A string whose claimed length runs past the input is refused.
    assert!(crate::artifact::decode_payload::<String>(&[0xfc, 0, 0, 0, 1, b'a'], "test").is_err());
}

proptest! {
    #[test]
    fn primitives_decode_as_bincode_encodes_them(
        unsigned in any::<u64>(),
        narrow in any::<u32>(),
        small in any::<u16>(),
        signed in any::<i64>(),
        signed_narrow in any::<i32>(),
        float in any::<f64>(),
        single in any::<f32>(),
        text in ".{0,40}",
        flags in proptest::collection::vec(any::<Option<bool>>(), 0..20),
        pairs in proptest::collection::vec((".{0,5}", any::<f64>()), 0..5),
    ) {
        let value = (unsigned, (narrow, (small, (signed, (signed_narrow, (float, (single, (text, (flags, pairs)))))))));
        let bytes = encode_payload(&value, "test").unwrap();
        type All = (u64, (u32, (u16, (i64, (i32, (f64, (f32, (String, (Vec<Option<bool>>, Vec<(String, f64)>)))))))));
        let (wire, serde) = both::<All>(&bytes);
        prop_assert!(wire.is_some());
        prop_assert_eq!(wire.as_deref(), Some(&bytes[..]));
        prop_assert_eq!(wire, serde);
        // Every prefix is refused by both.
        for len in 0..bytes.len() {
            let (wire, serde) = both::<All>(&bytes[..len]);
            prop_assert!(wire.is_none() && serde.is_none());
        }
    }

    #[test]
    fn any_bytes_get_the_same_verdict_as_integers(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        let (wire, serde) = both::<(u16, (u32, (i32, i64)))>(&bytes);
        prop_assert_eq!(wire, serde);
    }
}
