//! The text every `/predict` answer of one bundle and snapshot repeats: the
//! ids, the feature names and the model's name, and the order of its entity
//! keys' members. It is written once, when the
//! pair is made, with the same writer as the rest of the answer, so the bytes
//! are those the answer would print itself; a request then only copies it.
//!
//! Escaping the feature names and printing three ids in hex was a tenth of a
//! one-entity `/predict` call.

use alloc::string::String;
use alloc::vec::Vec;

use super::json_out::JsonOut;
use crate::ContentId;
use crate::artifact::Bundle;

/// The fixed parts of a `/predict` answer for one pairing.
#[derive(Debug, Clone)]
pub(crate) struct PairText {
    /// `{"bundle_id":…,"feature_names":[…],"model":…,"predictions":[`, or
    /// `None` for a bundle without a model (which cannot predict).
    pub(crate) predict_head: Option<String>,
    /// `],"registry_id":…,"snapshot_id":…}`.
    pub(crate) predict_tail: String,
    /// The bundle's entity keys' positions, sorted by name: the order of an
    /// answer's `entity` members (serde_json's map order).
    pub(crate) entity_order: Vec<usize>,
}

impl PairText {
    /// The text for `bundle` served over the snapshot (or shard set) `snapshot_id`.
    pub(crate) fn new(bundle: &Bundle, snapshot_id: ContentId) -> PairText {
        let contents = bundle.contents();
        let predict_head = contents.model.as_ref().map(|model| {
            let mut out = JsonOut::default();
            out.raw("{");
            out.key_name("bundle_id");
            out.id(&bundle.id());
            out.raw(",");
            out.key_name("feature_names");
            out.strings(contents.features.iter().map(|f| f.name()));
            out.raw(",");
            out.key_name("model");
            out.string(&model.name);
            out.raw(",");
            out.key_name("predictions");
            out.raw("[");
            out.into_string()
        });
        let mut out = JsonOut::default();
        out.raw("],");
        out.key_name("registry_id");
        out.id(&contents.registry_id);
        out.raw(",");
        out.key_name("snapshot_id");
        // A shard set's id, not the shard's: the same whichever shards are loaded.
        out.id(&snapshot_id);
        out.raw("}");
        let mut entity_order: Vec<usize> = (0..contents.entity_keys.len()).collect();
        entity_order.sort_unstable_by(|&a, &b| {
            contents.entity_keys[a]
                .name
                .cmp(&contents.entity_keys[b].name)
        });
        PairText {
            predict_head,
            predict_tail: out.into_string(),
            entity_order,
        }
    }
}
