//! `Bundle::load` on arbitrary bytes, and on the same bytes re-framed with a
//! valid header so the decoder and the cross-reference checks are reached; a
//! bundle that loads is then evaluated and served.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verge_core::artifact::{ArtifactKind, Bundle};
use verge_fuzz::{exercise_bundle, reframe};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::load(data) {
        exercise_bundle(&bundle);
    }
    if let Ok(bundle) = Bundle::load(&reframe(ArtifactKind::Bundle, data)) {
        exercise_bundle(&bundle);
    }
});
