//! Every crash, timeout or out-of-memory the fuzz targets in `fuzz/` found,
//! minimized and pinned here as a named test with the input inline (hex), so the
//! normal `cargo test` replays it without nightly or libFuzzer. Each test says
//! which target found what, and what the fix was.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use verge_core::Error;
use verge_core::artifact::{Bundle, Snapshot};

/// Decodes `hex` (whitespace ignored).
fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Found by `snapshot_load` within seconds (minimized by hand from the 280-byte
/// crash file to its header): a header claiming a payload of u64::MAX bytes made
/// `Header::open` compute `48 + payload_len` for its `Truncated` error, which
/// overflows — a panic in debug builds (tests, `verge` built without
/// `--release`), a wrapped, wrong byte count in release. Fixed in
/// `core/src/artifact/header.rs` with a saturating add. The version field is
/// now 4, the oldest snapshot version this build reads, so the input still
/// reaches the length check.
#[test]
fn snapshot_header_claiming_u64_max_payload_bytes() {
    let input = bytes(
        "56524753 0400 0000 ffffffffffffffff
         ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    );
    let err = Snapshot::load(input).unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            kind: "snapshot",
            needed: u64::MAX,
            available: 48
        }
    );
}

/// Found by `bundle_load` at the same time (the 676-byte crash file, minimized
/// to its first 48 bytes): the same overflow reached through `Bundle::load`.
#[test]
fn bundle_header_claiming_u64_max_payload_bytes() {
    let input = bytes(
        "56524742 0300 0000 ffffffffffffffff
         ffffffffffff76020000010b0000000000b079e2843c5c95b46e6689
         00000000",
    );
    assert_eq!(input.len(), 48);
    let err = Bundle::load(&input).unwrap_err();
    assert_eq!(
        err,
        Error::Truncated {
            kind: "bundle",
            needed: u64::MAX,
            available: 48
        }
    );
    // One byte short of overflowing, and with a payload present: still exact.
    let mut input = input;
    input[8..16].copy_from_slice(&(u64::MAX - 48).to_le_bytes());
    input.extend_from_slice(b"abc");
    let Err(Error::Truncated {
        needed, available, ..
    }) = Bundle::load(&input)
    else {
        panic!("expected a truncation error");
    };
    assert_eq!((needed, available), (u64::MAX, 51));
}
