//! Read-only memory maps of snapshot files: the one module with `unsafe`.
//!
//! `verge serve` reads a snapshot in place from a map of its file rather than
//! a copy in the heap. Start-up then costs no read of the file, and resident
//! memory grows with the pages requests touch, which the kernel can drop again
//! under pressure (they are the file's own pages, not anonymous memory).
//!
//! Mapping is `unsafe` because another process could change or truncate the
//! file while it is mapped, changing bytes the loader has already checked (or
//! raising `SIGBUS` on a read past a truncated end). verge never writes an
//! artifact in place: artifact files are named by the hash of their bytes,
//! written to a temporary file and renamed into place, and never rewritten,
//! so a file verge maps keeps its bytes unless something outside verge edits
//! it. That is the same assumption every reader of a content-addressed store
//! makes (Git's pack files are mapped the same way).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use memmap2::Mmap;
use verge_core::artifact::SnapshotBytes;

/// The bytes of the file at `path`, memory-mapped read-only; an empty file is
/// read as no bytes (a zero-length map is refused by the OS).
///
/// # Errors
///
/// When the file cannot be opened or mapped; the message names it.
pub fn map_file(path: &Path) -> anyhow::Result<SnapshotBytes> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read the size of {}", path.display()))?
        .len();
    if len == 0 {
        return Ok(SnapshotBytes::from(Vec::new()));
    }
    // SAFETY: the map is read-only and verge never rewrites an artifact file
    // in place (see the module docs), so its bytes stay those the loader
    // checks for as long as the map lives.
    let map = unsafe { Mmap::map(&file) }
        .with_context(|| format!("cannot memory-map {}", path.display()))?;
    Ok(SnapshotBytes::shared(Arc::new(map)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_bytes_of_a_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"verge")?;
        let bytes = map_file(&path)?;
        assert!(bytes.is_shared());
        assert_eq!(&*bytes, b"verge");
        std::fs::write(dir.path().join("empty.bin"), b"")?;
        assert!(map_file(&dir.path().join("empty.bin"))?.is_empty());
        assert!(map_file(&dir.path().join("missing.bin")).is_err());
        Ok(())
    }
}
