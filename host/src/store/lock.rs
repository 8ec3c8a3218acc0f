//! The ref lock: an exclusive `flock`-style lock on `refs/<name>.lock`.
//!
//! The lock file itself is never deleted and its content is meaningless; only
//! the kernel lock matters. Because the kernel drops the lock when the holder's
//! file descriptor closes, a process killed while holding it cannot wedge the
//! registry (unlike a git-style "lock file exists" protocol).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Holds the exclusive lock until dropped.
#[derive(Debug)]
pub struct RefLock {
    // Kept only for its lock; closing the file releases it.
    _file: File,
}

impl RefLock {
    /// Blocks until this process holds the lock at `path`, creating the file if needed.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or the lock call fails.
    pub fn acquire(path: &Path) -> io::Result<RefLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        file.lock()?;
        Ok(RefLock { _file: file })
    }
}
