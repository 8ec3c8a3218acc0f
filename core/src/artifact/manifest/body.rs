//! The admin upload's body, `bundle ‖ snapshot`: split by the payload
//! length in each artifact's header, with a misframed bundle named as such.

use alloc::format;
use alloc::string::String;

use crate::artifact::{ArtifactKind, HEADER_LEN, Header};
use crate::{Error, Result};

/// Splits a publish body, `bundle ‖ snapshot` (each a whole framed artifact),
/// by the payload length in each header. Nothing is hashed here;
/// [`PublishedPair::receive`](super::PublishedPair::receive) does that.
///
/// # Errors
///
/// [`Error::Malformed`] when either part is missing, truncated, not the right
/// kind, or when bytes follow the snapshot.
pub fn split_publish_body(body: &[u8]) -> Result<(&[u8], &[u8])> {
    let bad = |message: String| Error::Malformed {
        kind: "publish body",
        message: format!("{message}; send a bundle followed by a snapshot"),
    };
    let framed_len = |bytes: &[u8], kind: ArtifactKind| {
        let header = Header::peek(bytes, kind)
            .map_err(|e| bad(format!("the {} header is refused: {e}", kind.name())))?;
        usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(HEADER_LEN))
            .filter(|&len| len <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "the {} claims {} payload bytes but the body holds only {}",
                    kind.name(),
                    header.payload_len,
                    bytes.len().saturating_sub(HEADER_LEN)
                ))
            })
    };
    let claimed = Header::peek(body, ArtifactKind::Bundle)
        .map_err(|e| bad(format!("the bundle header is refused: {e}")))?
        .payload_len;
    // A bundle whose length field is wrong puts the split in the wrong place,
    // and the snapshot would then be blamed; find where the snapshot really
    // starts and name the bundle's lengths instead.
    let misframed = |at: usize| {
        bad(format!(
            "the bundle's header claims {claimed} payload bytes, but the snapshot starts at byte {at}, so the bundle holds {} payload bytes: the bundle's length field is wrong (rebuild it with `verge build` and send the files unmodified)",
            at - HEADER_LEN
        ))
    };
    let bundle_len = framed_len(body, ArtifactKind::Bundle)
        .map_err(|e| snapshot_start(body).map_or(e, misframed))?;
    let (bundle, rest) = body.split_at(bundle_len);
    let snapshot_len = framed_len(rest, ArtifactKind::Snapshot).map_err(|e| {
        snapshot_start(body)
            .filter(|&at| at != bundle_len)
            .map_or(e, misframed)
    })?;
    if snapshot_len != rest.len() {
        return Err(bad(format!(
            "{} bytes follow the snapshot",
            rest.len() - snapshot_len
        )));
    }
    Ok((bundle, rest))
}

/// Where a whole snapshot starts in a publish body: the first offset after a
/// bundle header holding a snapshot header whose framed length ends exactly at
/// the end of the body. `None` when there is none.
fn snapshot_start(body: &[u8]) -> Option<usize> {
    let magic = ArtifactKind::Snapshot.magic();
    let tail = body.get(HEADER_LEN..)?;
    tail.windows(magic.len())
        .enumerate()
        .filter(|(_, w)| *w == magic)
        .map(|(i, _)| i + HEADER_LEN)
        .find(|&at| {
            body.get(at..).is_some_and(|rest| {
                Header::peek(rest, ArtifactKind::Snapshot).is_ok_and(|h| {
                    usize::try_from(h.payload_len)
                        .ok()
                        .and_then(|len| len.checked_add(HEADER_LEN))
                        == Some(rest.len())
                })
            })
        })
}
