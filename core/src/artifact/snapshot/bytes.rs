//! [`SnapshotBytes`]: the bytes a snapshot is read from, owned or shared.
//!
//! A snapshot is read in place, so whatever holds its bytes lives as long as
//! the loaded [`Snapshot`](super::Snapshot). At the edge that is the `Vec`
//! the bytes were fetched into. A host serving large snapshots memory-maps
//! their files instead (`verge serve`), so start-up does not copy them and the
//! resident memory grows only with the pages requests touch: the map is
//! handed over as a shared owner whose bytes never change.

#[cfg(feature = "std")]
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

/// The bytes of one snapshot artifact (header included).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use verge_core::artifact::SnapshotBytes;
/// let owned = SnapshotBytes::from(vec![1u8, 2, 3]);
/// let shared = SnapshotBytes::shared(Arc::new(vec![1u8, 2, 3]));
/// assert_eq!(&*owned, &*shared);
/// ```
#[derive(Clone)]
pub struct SnapshotBytes(Storage);

#[derive(Clone)]
enum Storage {
    Owned(Vec<u8>),
    /// Bytes kept alive by their owner, e.g. a read-only memory map. The
    /// owner must return the same bytes every time it is asked.
    #[cfg(feature = "std")]
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>),
}

impl SnapshotBytes {
    /// Bytes held by `owner`, which must hand back the same bytes on every
    /// call for as long as it lives (a read-only memory map of a file
    /// nothing rewrites in place does).
    #[cfg(feature = "std")]
    #[must_use]
    pub fn shared(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> SnapshotBytes {
        SnapshotBytes(Storage::Shared(owner))
    }

    /// Whether the bytes are shared with an owner rather than held here.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        match &self.0 {
            Storage::Owned(_) => false,
            #[cfg(feature = "std")]
            Storage::Shared(_) => true,
        }
    }
}

impl Deref for SnapshotBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Owned(bytes) => bytes,
            #[cfg(feature = "std")]
            Storage::Shared(owner) => (**owner).as_ref(),
        }
    }
}

impl AsRef<[u8]> for SnapshotBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for SnapshotBytes {
    fn from(bytes: Vec<u8>) -> SnapshotBytes {
        SnapshotBytes(Storage::Owned(bytes))
    }
}

impl fmt::Debug for SnapshotBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotBytes")
            .field("len", &self.len())
            .field("shared", &self.is_shared())
            .finish()
    }
}
