//! A tree-ensemble model decoded from arbitrary bytes (`TreeEnsemble`'s bincode
//! form, as it sits inside a bundle): decoding runs every shape check, and a model
//! that loads is then evaluated on rows of zeros, NaNs, extremes and values taken
//! from the input, which must never panic, loop or index out of range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verge_core::artifact::decode_payload;
use verge_core::model::TreeEnsemble;
use verge_fuzz::exercise_trees;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = decode_payload::<TreeEnsemble>(data, "tree model") {
        exercise_trees(&model, data);
    }
});
