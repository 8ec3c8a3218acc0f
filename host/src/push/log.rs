//! The overlay log: a durable, append-only file of pushed rows beside the
//! registry (`.verge/push/log`).
//!
//! # Layout
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `VRGP` |
//! | 2 | log format version, `1` (u16 LE) |
//! | 16 | epoch: random bytes naming this file's generation |
//! | … | records |
//!
//! Each record is `length` (u32 LE, of the payload), `crc32` (u32 LE, of the
//! payload, IEEE as zlib computes it), then the payload: one push, all or
//! nothing. A crash mid-append leaves a torn tail (a short header, a length
//! past the end, a checksum that does not match): readers stop at the last
//! whole record and never see the tail, and the next append cuts it off first,
//! so a new record is never hidden behind garbage.
//!
//! **Durability.** [`Log::append`] returns only after `fsync`, so a push that
//! reports success survives a crash. Appends and [`Log::drop_prefix`] hold
//! the kernel lock `.verge/push/log.lock`, so two writers never interleave and
//! a fold never drops a record being appended.
//!
//! **Folding.** `materialize` folds the whole records below an offset into a
//! snapshot, records `(epoch, offset)` as folded in its state file in the same
//! atomic write as the new snapshot's ids, then calls [`Log::drop_prefix`],
//! which writes the tail to a new file with a new epoch and renames it over
//! the log. A reader skips the folded prefix while the epoch still matches, so
//! a crash between the two steps neither loses nor doubles a row.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::store::lock::RefLock;

/// The log file, relative to the repository root.
pub const LOG_FILE: &str = ".verge/push/log";

/// Magic number at the start of the log.
const MAGIC: &[u8; 4] = b"VRGP";
/// The log format version.
const VERSION: u16 = 1;
/// Bytes before the first record.
pub const HEADER_LEN: u64 = 4 + 2 + 16;
/// Bytes of a record's length and checksum.
const FRAME_LEN: usize = 8;
/// The largest payload a record may have; a longer length is a torn tail.
const MAX_RECORD: usize = 1 << 30;

/// The overlay log of one repository.
#[derive(Debug, Clone)]
pub struct Log {
    path: PathBuf,
}

/// What [`Log::read`] found: the epoch and each whole record after `from`.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// The file's epoch (all zero when there is no log yet).
    pub epoch: [u8; 16],
    /// Each whole record's payload, in append order.
    pub payloads: Vec<Vec<u8>>,
    /// The offset each of `payloads` starts at.
    pub starts: Vec<u64>,
    /// The offset just past the last whole record.
    pub end: u64,
}

impl Log {
    /// The log of the repository at `repo_root` (the file may not exist yet).
    #[must_use]
    pub fn open(repo_root: &Path) -> Log {
        Log {
            path: repo_root.join(LOG_FILE),
        }
    }

    /// The log's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<RefLock> {
        let dir = self
            .path
            .parent()
            .context("the log path has no directory")?;
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = self.path.with_extension("lock");
        RefLock::acquire(&lock).with_context(|| format!("cannot lock {}", lock.display()))
    }

    /// Appends one record and syncs it to disk; returns its end offset.
    ///
    /// # Errors
    ///
    /// I/O errors, or an existing file that is not a log.
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        if payload.len() > MAX_RECORD {
            bail!(
                "a push of {} bytes is over the log's limit of {MAX_RECORD} bytes; push fewer rows at a time",
                payload.len()
            );
        }
        let _lock = self.lock()?;
        let (mut file, end) = match self.read_file(0)? {
            Some(records) => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .with_context(|| format!("cannot open {}", self.path.display()))?;
                // Cut a torn tail off, so the new record follows the last whole one.
                file.set_len(records.end)
                    .with_context(|| format!("cannot truncate {}", self.path.display()))?;
                (file, records.end)
            }
            None => (self.create_new(&[])?, HEADER_LEN),
        };
        let crc = crc32fast::hash(payload);
        let mut frame = Vec::with_capacity(FRAME_LEN + payload.len());
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc.to_le_bytes());
        frame.extend_from_slice(payload);
        file.seek(SeekFrom::Start(end))?;
        file.write_all(&frame)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))?;
        Ok(end + frame.len() as u64)
    }

    /// Writes a new log holding `records` (whole frames) under a fresh epoch
    /// and renames it over the old one, syncing file and directory.
    fn create_new(&self, records: &[u8]) -> Result<File> {
        let mut epoch = [0u8; 16];
        getrandom::fill(&mut epoch)
            .map_err(|e| anyhow::anyhow!("no randomness for the log's epoch: {e}"))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN as usize + records.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&epoch);
        bytes.extend_from_slice(records);
        crate::store::atomic::replace(&self.path, &bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        OpenOptions::new()
            .write(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))
    }

    /// Every whole record at or after offset `from` (the header's end when
    /// `from` is smaller), stopping at a torn tail.
    ///
    /// # Errors
    ///
    /// I/O errors, or a file that is not a log (wrong magic or version).
    pub fn read(&self, from: u64) -> Result<Records> {
        Ok(self.read_file(from)?.unwrap_or_default())
    }

    fn read_file(&self, from: u64) -> Result<Option<Records>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open {}", self.path.display()));
            }
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        // A file shorter than its header was cut while being created: no records.
        if bytes.len() < HEADER_LEN as usize {
            return Ok(None);
        }
        if &bytes[..4] != MAGIC || bytes[4..6] != VERSION.to_le_bytes() {
            bail!(
                "{} is not a verge push log (version {VERSION}); move it away to start a new one",
                self.path.display()
            );
        }
        let mut epoch = [0u8; 16];
        epoch.copy_from_slice(&bytes[6..HEADER_LEN as usize]);
        let mut at = HEADER_LEN as usize;
        let mut payloads = Vec::new();
        let mut starts = Vec::new();
        while let Some(frame) = bytes.get(at..at + FRAME_LEN) {
            let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
            let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
            let Some(payload) = bytes.get(at + FRAME_LEN..at + FRAME_LEN + len) else {
                break;
            };
            if len > MAX_RECORD || crc32fast::hash(payload) != crc {
                break;
            }
            if at as u64 >= from {
                payloads.push(payload.to_vec());
                starts.push(at as u64);
            }
            at += FRAME_LEN + len;
        }
        Ok(Some(Records {
            epoch,
            payloads,
            starts,
            end: at as u64,
        }))
    }

    /// Drops the records below `offset` if the log's epoch is still `epoch`:
    /// the rest moves to a new file with a new epoch (see the module docs).
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn drop_prefix(&self, epoch: [u8; 16], offset: u64) -> Result<()> {
        let _lock = self.lock()?;
        let Some(records) = self.read_file(0)? else {
            return Ok(());
        };
        if records.epoch != epoch {
            return Ok(());
        }
        let bytes =
            fs::read(&self.path).with_context(|| format!("cannot read {}", self.path.display()))?;
        let tail = bytes
            .get(offset.max(HEADER_LEN) as usize..records.end as usize)
            .unwrap_or_default();
        self.create_new(tail)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_never_read_and_is_cut_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path());
        let first = log.append(b"one").unwrap();
        log.append(b"two").unwrap();
        let whole = fs::read(log.path()).unwrap();
        // Every cut inside the second record reads as the first record alone.
        for cut in first as usize..whole.len() {
            fs::write(log.path(), &whole[..cut]).unwrap();
            let read = log.read(0).unwrap();
            assert_eq!(read.payloads, vec![b"one".to_vec()], "cut at {cut}");
            assert_eq!(read.end, first);
        }
        // A flipped payload byte fails the checksum.
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        fs::write(log.path(), &flipped).unwrap();
        assert_eq!(log.read(0).unwrap().payloads.len(), 1);
        log.append(b"three").unwrap();
        let read = log.read(0).unwrap();
        assert_eq!(read.payloads, vec![b"one".to_vec(), b"three".to_vec()]);
    }

    #[test]
    fn dropping_a_prefix_keeps_the_tail_under_a_new_epoch_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path());
        let first = log.append(b"one").unwrap();
        log.append(b"two").unwrap();
        let epoch = log.read(0).unwrap().epoch;
        log.drop_prefix(epoch, first).unwrap();
        let read = log.read(0).unwrap();
        assert_eq!(read.payloads, vec![b"two".to_vec()]);
        assert_ne!(read.epoch, epoch);
        // A second drop with the old epoch (a retried fold) changes nothing.
        log.drop_prefix(epoch, first).unwrap();
        assert_eq!(log.read(0).unwrap().payloads, vec![b"two".to_vec()]);
    }
}
