//! Which shards of a set a request body needs, read before the request is
//! parsed for real, so a reader holding only some shards can fetch the rest
//! first.
//!
//! The reading is lenient on purpose: a join-key cell that is neither an
//! integer nor a string routes nowhere, and a body that does not decode needs
//! no shard. The full parse that follows refuses such a body with the same
//! 400 it always gives, so nothing is fetched on behalf of a request that
//! would be refused anyway.

use alloc::string::String;
#[cfg(feature = "shard-sets")]
use alloc::string::ToString;
use alloc::vec::Vec;

#[cfg(feature = "shard-sets")]
use super::decode::{Body, Cell};
#[cfg(feature = "shard-sets")]
use super::gather_columns;
use crate::api::ApiError;
#[cfg(feature = "shard-sets")]
use crate::artifact::Snapshot;
use crate::online::{Layered, Misrouted};
use crate::value::KeyPart;

/// The shards of `schema`'s set holding the keys `body` asks for, sorted,
/// each once; empty for an unsharded snapshot or a body that does not decode.
#[cfg(feature = "shard-sets")]
pub(crate) fn needed(body: &[u8], schema: &Snapshot) -> Vec<u32> {
    if schema.meta().shard_count <= 1 {
        return Vec::new();
    }
    let Ok(map) = Body::decode(body) else {
        return Vec::new();
    };
    let Ok(columns) = gather_columns(&map) else {
        return Vec::new();
    };
    let is_join_key = |name: &str| {
        schema
            .meta()
            .views
            .iter()
            .any(|v| v.join_keys.iter().any(|k| k.name == name))
    };
    let mut entities: Vec<(String, Vec<KeyPart>)> = Vec::new();
    let mut len = usize::MAX;
    for (name, cells) in columns.iter().filter(|(name, _)| is_join_key(name)) {
        // A row whose cell is not a key value ends the column: the rows after
        // it are not routed, and the parse refuses the body anyway.
        let parts: Vec<KeyPart> = cells.iter().map_while(key_part).collect();
        len = len.min(parts.len());
        entities.push((name.to_string(), parts));
    }
    if entities.is_empty() {
        return Vec::new();
    }
    crate::online::shards_for(schema, &entities, len)
}

/// A join-key cell as the key part the parse would make of it.
#[cfg(feature = "shard-sets")]
fn key_part(cell: &Cell<'_>) -> Option<KeyPart> {
    match cell {
        Cell::Number(n) => n.as_i64().map(KeyPart::Int64),
        Cell::Str(s) => Some(KeyPart::String(s.to_string())),
        _ => None,
    }
}

/// Refuses entity rows `layers` cannot answer for
/// ([`crate::online::route_check`]).
pub(crate) fn check_route(
    layers: Layered<'_>,
    keys: &[(String, Vec<KeyPart>)],
    len: usize,
) -> Result<(), ApiError> {
    let Some(misrouted) = crate::online::route_check(layers, keys, len) else {
        return Ok(());
    };
    let status = match misrouted {
        // 421 Misdirected Request (RFC 9110 §15.5.20): this server cannot
        // answer for the key, and a router may resend it to the shard that can.
        Misrouted::Foreign(_) => 421,
        // The key's row exists but its shard could not be had: the server's
        // trouble, not the caller's.
        Misrouted::NotLoaded { .. } => 503,
    };
    Err(ApiError {
        status,
        message: misrouted.message(),
    })
}
