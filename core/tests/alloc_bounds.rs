//! Allocation bounds of the artifact loaders: whatever lengths and counts an
//! artifact claims, `Snapshot::load`, `Bundle::load` and
//! `RegistryVersion::from_bytes` never allocate more than [`MULTIPLE`] × the
//! input's size plus [`SLACK`] bytes at their peak.
//!
//! A counting global allocator tracks the live and peak heap bytes of the
//! current thread (thread-local, so the test harness's other threads do not
//! disturb the figures). Inputs: the committed fuzz corpus and the fixture's
//! artifacts, thousands of seeded random mutations of them (raw and re-framed
//! with a valid header so the payload decoder is reached), and crafted inputs:
//! a snapshot claiming 2^40 rows, length fields patched to 2^32 one at a time
//! and all at once (so nested containers each claim a huge length).
#![allow(unsafe_code)] // the counting allocator: a test-only wrapper around `System`
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use verge_core::Error;
use verge_core::artifact::{
    ArtifactKind, Bundle, HEADER_LEN, Header, Snapshot, SnapshotMeta, decode_payload,
    encode_payload,
};
use verge_core::registry::RegistryVersion;
use verge_test_kit::rng::Rng;
use verge_test_kit::tiny as fixture;

/// Peak allocation allowed per input byte.
const MULTIPLE: usize = 16;
/// Peak allocation allowed on top of that, whatever the input.
const SLACK: usize = 64 << 10;

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    // `try_with`: allocations during thread teardown must not panic.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(n);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// the bookkeeping touches only const-initialised thread-locals and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Count the new block before releasing the old: a moving realloc holds both.
            grew(new_size);
            shrank(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap bytes `f` allocated above what was live when it started.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

#[derive(Clone, Copy, Debug)]
enum Loader {
    Snapshot,
    Bundle,
    Registry,
}

impl Loader {
    fn kind(self) -> ArtifactKind {
        match self {
            Loader::Snapshot => ArtifactKind::Snapshot,
            Loader::Bundle => ArtifactKind::Bundle,
            Loader::Registry => ArtifactKind::Registry,
        }
    }

    /// Loads `input` (a copy made before measuring) and returns the peak and the result.
    fn measure(self, input: &[u8]) -> (usize, Result<(), Error>) {
        let copy = input.to_vec();
        let mut result = Ok(());
        let peak = peak_during(|| {
            result = match self {
                Loader::Snapshot => Snapshot::load(copy).map(drop),
                Loader::Bundle => Bundle::load(&copy).map(drop),
                Loader::Registry => RegistryVersion::from_bytes(&copy).map(drop),
            };
        });
        (peak, result)
    }

    /// Asserts the bound for `input`; returns whether it loaded.
    #[track_caller]
    fn check(self, input: &[u8], what: &str) -> bool {
        let (peak, result) = self.measure(input);
        let bound = MULTIPLE * input.len() + SLACK;
        assert!(
            peak <= bound,
            "{self:?} {what}: peak {peak} bytes for a {}-byte input (bound {bound}); result {result:?}",
            input.len()
        );
        result.is_ok()
    }

    /// `payload` framed as this loader expects: the 48-byte header, or for a
    /// registry version its 6-byte magic + version.
    fn frame(self, payload: &[u8]) -> Vec<u8> {
        match self {
            Loader::Registry => {
                let mut out = b"VRGR\x01\x00".to_vec();
                out.extend_from_slice(payload);
                out
            }
            _ => Header::frame(self.kind(), payload),
        }
    }

    /// The payload of a framed artifact.
    fn payload(self, framed: &[u8]) -> Vec<u8> {
        match self {
            // A fuzz input may be shorter than any header: its payload is empty.
            Loader::Registry => framed.get(6..).unwrap_or_default().to_vec(),
            _ => framed.get(HEADER_LEN..).unwrap_or_default().to_vec(),
        }
    }
}

/// The fixture's artifacts and the committed fuzz corpus of each loader.
fn seeds(loader: Loader) -> Vec<(String, Vec<u8>)> {
    let mut out = match loader {
        Loader::Snapshot => vec![
            ("fixture stats".to_string(), fixture::snapshot_bytes()),
            (
                "fixture composite".to_string(),
                fixture::composite_snapshot_bytes(),
            ),
        ],
        Loader::Bundle => vec![("fixture bundle".to_string(), fixture::bundle_bytes())],
        Loader::Registry => vec![("fixture registry".to_string(), fixture::registry_bytes())],
    };
    let target = match loader {
        Loader::Snapshot => "snapshot_load",
        Loader::Bundle => "bundle_load",
        Loader::Registry => "registry_decode",
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// bincode's varint encoding of a length: the form a hostile length takes.
fn varint(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xffff => [&[251u8][..], &(n as u16).to_le_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[252u8][..], &(n as u32).to_le_bytes()].concat(),
        _ => [&[253u8][..], &n.to_le_bytes()].concat(),
    }
}

/// One random edit of `payload`: a byte set, a huge length spliced in, a cut or a copy.
fn mutate(rng: &mut Rng, payload: &mut Vec<u8>) {
    if payload.is_empty() {
        payload.push(rng.next_u64() as u8);
        return;
    }
    let at = rng.index(payload.len());
    match rng.index(5) {
        0 => payload[at] = rng.next_u64() as u8,
        1 => payload[at] ^= 1 << rng.index(8),
        2 => {
            let huge = [1u64 << 20, 1 << 32, 1 << 40, u64::MAX >> 1][rng.index(4)];
            payload.splice(at..=at, varint(huge));
        }
        3 => payload.truncate(at),
        _ => {
            let len = rng.index(16).min(payload.len() - at);
            let chunk = payload[at..at + len].to_vec();
            let to = rng.index(payload.len());
            payload.splice(to..to, chunk);
        }
    }
}

#[test]
fn seeds_stay_within_the_bound() {
    for loader in [Loader::Snapshot, Loader::Bundle, Loader::Registry] {
        let seeds = seeds(loader);
        assert!(!seeds.is_empty());
        for (name, bytes) in &seeds {
            loader.check(bytes, name);
        }
        // The fixture's own artifacts must load: the bound is not met by refusing everything.
        assert!(
            loader.check(&seeds[0].1, "fixture"),
            "{loader:?} fixture loads"
        );
    }
}

#[test]
fn random_mutations_stay_within_the_bound() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for loader in [Loader::Snapshot, Loader::Bundle, Loader::Registry] {
        for (name, seed) in seeds(loader) {
            for round in 0..400 {
                let mut bytes = seed.clone();
                for _ in 0..=rng.index(4) {
                    mutate(&mut rng, &mut bytes);
                }
                loader.check(&bytes, &format!("{name} raw mutation {round}"));
                // Re-framed: the hash matches, so the payload decoder sees the edit.
                let mut payload = loader.payload(&seed);
                for _ in 0..=rng.index(4) {
                    mutate(&mut rng, &mut payload);
                }
                loader.check(
                    &loader.frame(&payload),
                    &format!("{name} re-framed mutation {round}"),
                );
            }
        }
    }
}

#[test]
fn every_length_field_claiming_2_pow_32_stays_within_the_bound() {
    // Any small byte may be a length or a count: replace each, one at a time, by a
    // varint claiming 2^32 (and 2^20), and all of them at once, so every container
    // on the path to the first element claims a huge length.
    for loader in [Loader::Snapshot, Loader::Bundle, Loader::Registry] {
        let seed = &seeds(loader)[0].1;
        let payload = loader.payload(seed);
        for at in 0..payload.len() {
            if !(1..=8).contains(&payload[at]) {
                continue;
            }
            for huge in [1u64 << 20, 1 << 32] {
                // Integer fields (a row count, a timestamp) may legitimately take
                // the new value; only the bound matters here.
                let mut patched = payload.clone();
                patched.splice(at..=at, varint(huge));
                loader.check(&loader.frame(&patched), &format!("byte {at} := {huge}"));
            }
        }
        let all: Vec<u8> = payload
            .iter()
            .flat_map(|&b| {
                if (1..=8).contains(&b) {
                    varint(1 << 32)
                } else {
                    vec![b]
                }
            })
            .collect();
        assert!(!loader.check(&loader.frame(&all), "every small byte := 2^32"));
    }
}

/// A snapshot whose metadata is replaced by `edit(meta)`, data section kept.
fn snapshot_with_meta(edit: impl FnOnce(&mut SnapshotMeta)) -> Vec<u8> {
    let bytes = fixture::snapshot_bytes();
    let payload = &bytes[HEADER_LEN..];
    let meta_len = u64::from_le_bytes(payload[..8].try_into().unwrap()) as usize;
    let mut meta: SnapshotMeta = decode_payload(&payload[8..8 + meta_len], "snapshot").unwrap();
    let data = &payload[(8 + meta_len).div_ceil(8) * 8..];
    edit(&mut meta);
    let encoded = encode_payload(&meta, "snapshot").unwrap();
    let mut out = (encoded.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&encoded);
    out.resize(out.len().div_ceil(8) * 8, 0);
    out.extend_from_slice(data);
    Header::frame(ArtifactKind::Snapshot, &out)
}

#[test]
fn a_snapshot_claiming_2_pow_40_rows_is_rejected_at_once() {
    let untouched = snapshot_with_meta(|_| {});
    assert!(Loader::Snapshot.check(&untouched, "re-encoded fixture"));
    for rows in [1u64 << 40, u64::MAX, 1 << 32, u64::from(u32::MAX)] {
        let bytes = snapshot_with_meta(|meta| meta.views[0].rows = rows);
        let (peak, result) = Loader::Snapshot.measure(&bytes);
        let Err(Error::Malformed { message, .. }) = result else {
            panic!("{rows} rows: {result:?}");
        };
        assert!(message.contains("more than the data can hold"), "{message}");
        assert!(
            peak <= MULTIPLE * bytes.len() + SLACK,
            "{rows} rows: peak {peak}"
        );
    }
    // A segment claiming 2^40 bytes is refused the same way.
    let bytes = snapshot_with_meta(|meta| meta.views[0].keys[0].data.len = 1 << 40);
    assert!(!Loader::Snapshot.check(&bytes, "a 2^40-byte key column"));
    let bytes = snapshot_with_meta(|meta| meta.views[0].records.len = 1 << 40);
    assert!(!Loader::Snapshot.check(&bytes, "2^40 bytes of records"));
}

#[test]
fn a_bundle_claiming_a_2_pow_32_element_vec_or_string_is_rejected() {
    // BundleContents starts with the 32-byte registry id, then the model name
    // (a string), the service name, then `entity_keys` (a sequence of Field).
    let id = [7u8; 32];
    let long_string = [&id[..], &varint(1 << 32), b"m"].concat();
    let long_vec = [&id[..], b"\x01m\x01s", &varint(1 << 32), b"\x02id\x01"].concat();
    let many_views = [&id[..], b"\x01m\x01s\x00\x00", &varint(u64::MAX >> 1)].concat();
    // 10 KB of input puts bincode's limit class at 1 MiB: a name claiming 900 KB
    // passes the limit, and must still not be allocated before its bytes are seen.
    let padded_string = [&id[..], &varint(900_000), &[b'a'; 10_000][..]].concat();
    for (what, payload) in [
        ("a 2^32-byte model name", long_string),
        ("a 900 KB model name in 10 KB", padded_string),
        ("2^32 entity keys", long_vec),
        ("2^63 views", many_views),
    ] {
        let bytes = Loader::Bundle.frame(&payload);
        let (peak, result) = Loader::Bundle.measure(&bytes);
        assert!(
            matches!(result, Err(Error::Malformed { .. })),
            "{what}: {result:?}"
        );
        assert!(
            peak <= MULTIPLE * bytes.len() + SLACK,
            "{what}: peak {peak} bytes for {} input bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_registry_version_claiming_huge_lists_is_rejected() {
    // RegistryVersion: parent (Option tag 0 = None), applied_at, message, then
    // Definitions (project string, then entities: a sequence).
    let payload = [&b"\x00\x00\x00\x04demo"[..], &varint(1 << 32), b"\x01x"].concat();
    let bytes = Loader::Registry.frame(&payload);
    let (peak, result) = Loader::Registry.measure(&bytes);
    assert!(matches!(result, Err(Error::Malformed { .. })), "{result:?}");
    assert!(peak <= MULTIPLE * bytes.len() + SLACK, "peak {peak} bytes");
    // Sanity: the counting allocator sees a real load.
    let good = fixture::registry_bytes();
    let (peak, result) = Loader::Registry.measure(&good);
    assert!(result.is_ok() && peak > good.len(), "peak {peak}");
}
