//! Crash-safe file writes: a temporary file in the same directory, fsync, rename, fsync the directory.
//!
//! A rename within one directory is atomic on POSIX file systems, so a reader
//! sees either the old file or the complete new one, never a prefix; syncing
//! the file before the rename and the directory after makes the result survive
//! a power cut, not just a killed process. A process killed mid-write leaves
//! at most a stray `.tmp*` file, which every reader ignores.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::Path;

/// Writes `bytes` to `path` atomically, replacing what is there.
///
/// # Errors
///
/// Any I/O error, with the path in the message.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Writes `bytes` to `path` atomically unless `path` exists; an existing file is
/// left untouched (for content-addressed objects it already holds these bytes).
///
/// Returns whether this call created the file.
///
/// # Errors
///
/// Any I/O error other than the file existing.
pub fn create_once(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let dir = parent(path)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        // Another process wrote the same object first: same name, same bytes.
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e.error),
    }
    sync_dir(dir)?;
    Ok(true)
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn replace_and_create_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!create_once(&path, b"three").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let other = dir.path().join("g");
        assert!(create_once(&other, b"x").unwrap());
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
