//! Crash-safe file writes: a temporary file in the same directory, fsync, rename, fsync the directory.
//!
//! A rename within one directory is atomic on POSIX file systems, so a reader
//! sees either the old file or the complete new one, never a prefix; syncing
//! the file before the rename and the directory after makes the result survive
//! a power cut, not just a killed process. A process killed mid-write leaves
//! at most a stray `.tmp*` file, which every reader ignores and the next write
//! to that directory removes once it is [`ORPHAN_AGE`] old.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The largest ref or memo file read: an id is 64 hex digits. A file that is
/// larger (or endless, like a link to `/dev/zero`) is cut there and then fails
/// to parse, instead of filling memory or hanging.
pub const MAX_SMALL_FILE: u64 = 4096;

/// A `.tmp*` file older than this in a directory being written to is an orphan
/// of a killed writer (a live write takes milliseconds) and is removed.
pub const ORPHAN_AGE: Duration = Duration::from_secs(600);

/// Reads a small text file (a ref, a memo entry), at most [`MAX_SMALL_FILE`] bytes.
///
/// # Errors
///
/// As [`File::open`] and [`io::Read::read_to_string`] (not UTF-8 included).
pub fn read_small(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    File::open(path)?
        .take(MAX_SMALL_FILE)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Removes orphaned `.tmp*` files from `dir`, once per directory per process
/// (best effort: a file that cannot be removed is left for the next time).
fn sweep_orphans(dir: &Path) {
    static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    if !SWEPT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(dir.to_path_buf())
    {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let is_tmp = entry.file_name().to_string_lossy().starts_with(".tmp");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > ORPHAN_AGE));
        if is_tmp && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` atomically, replacing what is there.
///
/// # Errors
///
/// Any I/O error, with the path in the message.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    sweep_orphans(dir);
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
    sweep_orphans(dir);
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

    #[test]
    fn orphaned_temporary_files_are_swept_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let orphan = dir.path().join(".tmpKILLED");
        let fresh = dir.path().join(".tmpLIVE");
        std::fs::write(&orphan, b"half a snapshot").unwrap();
        std::fs::write(&fresh, b"a write in flight").unwrap();
        let long_ago = SystemTime::now() - ORPHAN_AGE - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&orphan)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        replace(&dir.path().join("ref"), b"id").unwrap();
        assert!(!orphan.exists(), "the killed writer's file is left");
        assert!(
            fresh.exists(),
            "a recent temporary file may be a live write"
        );
    }

    #[test]
    fn small_files_are_read_with_a_limit() {
        // An endless file (a ref made a link to /dev/zero) is cut, not read forever.
        let text = read_small(Path::new("/dev/zero")).unwrap();
        assert_eq!(text.len() as u64, MAX_SMALL_FILE);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r"), "abc\n").unwrap();
        assert_eq!(read_small(&dir.path().join("r")).unwrap(), "abc\n");
    }
}
