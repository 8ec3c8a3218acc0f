//! `Snapshot::load` on arbitrary bytes, and on the same bytes re-framed with a
//! valid header so the structural checks behind the hash are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verge_core::artifact::{ArtifactKind, Snapshot};
use verge_fuzz::{exercise_snapshot, reframe};

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = Snapshot::load(data.to_vec()) {
        exercise_snapshot(&snapshot);
    }
    if let Ok(snapshot) = Snapshot::load(reframe(ArtifactKind::Snapshot, data)) {
        exercise_snapshot(&snapshot);
    }
});
