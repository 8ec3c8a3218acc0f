//! `apply`: turn definitions into a new registry version and move the head to it.
//!
//! The version is written before the ref moves, so the ref never names a
//! missing object; if the compare-and-swap loses, the orphan object is harmless
//! (it is immutable and unreferenced). Applying definitions equal to the head's
//! writes nothing and returns the head: "no change" is "same id".

use anyhow::Context as _;
use verge_core::definition::Definitions;
use verge_core::registry::{Change, ChangeOp, RegistryVersion, diff};
use verge_core::{ContentId, Timestamp};

use super::{Conflict, Store};

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The definitions equal the head's; nothing was written.
    Unchanged {
        /// The head, unchanged.
        id: ContentId,
    },
    /// A new version was written and is now the head.
    Created {
        /// The new head.
        id: ContentId,
        /// The previous head.
        parent: Option<ContentId>,
        /// What changed relative to the parent.
        changes: Vec<Change>,
        /// Whether the project name changed (not an object, so not in `changes`).
        project_renamed: bool,
        /// How many conflicts were retried before this landed.
        retries: u32,
    },
}

impl Applied {
    /// The head after applying.
    #[must_use]
    pub fn id(&self) -> ContentId {
        match self {
            Applied::Unchanged { id } | Applied::Created { id, .. } => *id,
        }
    }
}

/// Options for [`apply`].
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// The version message.
    pub message: String,
    /// On a conflict, re-read the head and apply on top of it up to this many times.
    /// Zero (the default) reports the conflict instead.
    pub retries: u32,
    /// Only apply if the head is this version (`None`: whatever the head is now).
    pub expect_head: Option<Option<ContentId>>,
}

/// Applies `defs` on top of the current head.
///
/// `now` becomes the version's `applied_at`.
///
/// # Errors
///
/// A [`Conflict`] when another writer moved the head (after `retries` attempts,
/// or at once if the head is not `expect_head`), or an I/O / decoding error.
pub fn apply(
    store: &Store,
    mut defs: Definitions,
    now: Timestamp,
    options: &ApplyOptions,
) -> anyhow::Result<Applied> {
    defs.canonicalize();
    let mut retries = 0;
    loop {
        let head = store.read_head().context("cannot read the registry head")?;
        let head_id = head.as_ref().map(|(id, _)| *id);
        if let Some(expected) = options.expect_head
            && expected != head_id
        {
            return Err(Conflict {
                expected,
                found: head_id,
            }
            .into());
        }
        let empty = Definitions::default();
        let old = head.as_ref().map_or(&empty, |(_, v)| &v.definitions);
        if let Some((id, _)) = &head
            && *old == defs
        {
            return Ok(Applied::Unchanged { id: *id });
        }
        let changes = diff(old, &defs);
        let project_renamed = head.is_some() && old.project != defs.project;
        let version = RegistryVersion::new(head_id, now, options.message.clone(), defs.clone());
        let id = store.write(&version)?;
        match store.compare_and_swap(head_id, id) {
            Ok(()) => {
                return Ok(Applied::Created {
                    id,
                    parent: head_id,
                    changes,
                    project_renamed,
                    retries,
                });
            }
            Err(e) if e.downcast_ref::<Conflict>().is_some() && retries < options.retries => {
                retries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The current time as a [`Timestamp`]; the core has no clock, so the host supplies it.
#[must_use]
pub fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Timestamp::from_micros(micros)
}

/// Counts of created, updated and deleted objects.
#[must_use]
pub fn counts(changes: &[Change]) -> (usize, usize, usize) {
    let count = |op| changes.iter().filter(|c| c.op == op).count();
    (
        count(ChangeOp::Created),
        count(ChangeOp::Updated),
        count(ChangeOp::Deleted),
    )
}

/// `+2 ~1 -0`.
#[must_use]
pub fn counts_text(changes: &[Change]) -> String {
    let (c, u, d) = counts(changes);
    format!("+{c} ~{u} -{d}")
}
