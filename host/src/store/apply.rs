//! `apply`: turn definitions into a new registry version and move the head to it.
//!
//! The version is written before the ref moves, so the ref never names a
//! missing object; if the compare-and-swap loses, the orphan object is harmless
//! (it is immutable and unreferenced). Applying definitions equal to the head's
//! writes nothing and returns the head: "no change" is "same id".

use anyhow::{Context as _, bail};
use verge_core::definition::Definitions;
use verge_core::registry::{Change, ChangeOp, RegistryVersion, diff};
use verge_core::{ContentId, Timestamp};

use super::merge::rebase;
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
    /// When another writer moves the head, rebase onto it (a three-way merge,
    /// [`super::merge::rebase`]) and try again, up to this many times. Zero
    /// (the default) reports the conflict instead.
    pub retries: u32,
    /// The head this apply was planned against: refuse if the head is another
    /// (`retries` 0), or rebase from it (`retries` > 0). `None`: the head when
    /// `apply` starts; with `retries`, the version closest to the definitions
    /// among the head's recent history.
    pub expect_head: Option<Option<ContentId>>,
}

/// Applies `defs` on top of the current head.
///
/// `now` becomes the version's `applied_at`. When the head has moved since the
/// head the apply was planned against, and `retries` allows, the user's own
/// changes (planned head → `defs`) are carried onto the new head; an object
/// that both changed, differently, is a [`MergeConflict`](super::merge::MergeConflict) and nothing is
/// written. So no apply ever undoes or alters another writer's change unseen.
///
/// # Errors
///
/// A [`Conflict`] when another writer moved the head and `retries` is spent
/// (or 0), a [`MergeConflict`](super::merge::MergeConflict) naming the objects both changed, or an I/O /
/// decoding error.
pub fn apply(
    store: &Store,
    mut defs: Definitions,
    now: Timestamp,
    options: &ApplyOptions,
) -> anyhow::Result<Applied> {
    defs.canonicalize();
    let mut retries = 0;
    // The planned-against head and its definitions, once known.
    let mut base: Option<(Option<ContentId>, Definitions)> = match options.expect_head {
        Some(Some(id)) => Some((Some(id), store.read(id)?.definitions)),
        Some(None) => Some((None, Definitions::default())),
        None => None,
    };
    loop {
        let head = store.read_head().context("cannot read the registry head")?;
        let head_id = head.as_ref().map(|(id, _)| *id);
        let empty = Definitions::default();
        let old = head.as_ref().map_or(&empty, |(_, v)| &v.definitions);
        if base.is_none() {
            base = Some(if options.retries > 0 {
                closest_ancestor(store, head_id, &defs)?
            } else {
                (head_id, old.clone())
            });
        }
        let Some(planned) = base.as_ref() else {
            bail!("internal: no planned-against head");
        };
        let attempt = if planned.0 == head_id {
            defs.clone()
        } else if retries >= options.retries {
            return Err(Conflict {
                expected: planned.0,
                found: head_id,
            }
            .into());
        } else {
            retries += 1;
            rebase(&planned.1, &defs, old, planned.0, head_id)?
        };
        if let Some((id, _)) = &head
            && *old == attempt
        {
            return Ok(Applied::Unchanged { id: *id });
        }
        let changes = diff(old, &attempt);
        let project_renamed = head.is_some() && old.project != attempt.project;
        let version = RegistryVersion::new(head_id, now, options.message.clone(), attempt);
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
            // Lost the race: the next turn rebases onto the new head.
            Err(e) if e.downcast_ref::<Conflict>().is_some() => {
                if retries >= options.retries {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// How far back [`closest_ancestor`] looks.
const ANCESTORS_SEARCHED: usize = 64;

/// The version `defs` was most likely written against, when the caller did
/// not say (`--retry` without `--expect-head`): among the head and its last
/// [`ANCESTORS_SEARCHED`] ancestors, the one with the fewest object changes to
/// `defs`, the newest on a tie. A writer whose file predates another writer's
/// apply then rebases from the version it saw, instead of "deleting" what it
/// never knew of; one that edits what the head holds rebases from the head.
fn closest_ancestor(
    store: &Store,
    head: Option<ContentId>,
    defs: &Definitions,
) -> anyhow::Result<(Option<ContentId>, Definitions)> {
    let Some(head) = head else {
        return Ok((None, Definitions::default()));
    };
    let mut best: Option<(usize, ContentId, Definitions)> = None;
    for (id, version) in store.history(head)?.into_iter().take(ANCESTORS_SEARCHED) {
        let distance = diff(&version.definitions, defs).len()
            + usize::from(version.definitions.project != defs.project);
        if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
            best = Some((distance, id, version.definitions));
        }
    }
    match best {
        Some((_, id, definitions)) => Ok((Some(id), definitions)),
        None => Ok((Some(head), store.read(head)?.definitions)),
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
