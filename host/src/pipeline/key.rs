//! Memo keys: the BLAKE3 hash of everything a step's output depends on.
//!
//! A key is built from labelled parts, each written as its label's length, the
//! label, its value's length and the value, so two different lists of parts can
//! never encode to the same bytes ("ab" + "c" is not "a" + "bc"). Every key
//! starts with a format tag, verge's version (a new verge may compute a step
//! differently, so its outputs are never reused across versions) and the step's
//! name (two steps with equal inputs still get different keys).

use std::fs;
use std::path::Path;

use anyhow::Context as _;
use verge_core::{ContentId, Timestamp};

/// Bumped when the way keys are built changes, so old memo entries are ignored.
const KEY_FORMAT: &str = "verge-run-key-v1";

/// A memo key under construction.
///
/// # Examples
///
/// ```
/// use verge_host::pipeline::Key;
/// let a = Key::new("train").text("model", "m").finish();
/// assert_eq!(a, Key::new("train").text("model", "m").finish(), "deterministic");
/// assert_ne!(a, Key::new("build").text("model", "m").finish(), "the step is part of the key");
/// assert_ne!(a, Key::new("train").text("model", "n").finish());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Key {
    bytes: Vec<u8>,
}

impl Key {
    /// A key for `step`, tagged with the key format and verge's version.
    pub fn new(step: &str) -> Key {
        Key { bytes: Vec::new() }
            .part("format", KEY_FORMAT.as_bytes())
            .part("verge", env!("CARGO_PKG_VERSION").as_bytes())
            .part("step", step.as_bytes())
    }

    /// Adds raw bytes under `label`.
    pub fn part(mut self, label: &str, value: &[u8]) -> Key {
        self.bytes
            .extend_from_slice(&(label.len() as u64).to_le_bytes());
        self.bytes.extend_from_slice(label.as_bytes());
        self.bytes
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.bytes.extend_from_slice(value);
        self
    }

    /// Adds text under `label`.
    pub fn text(self, label: &str, value: &str) -> Key {
        self.part(label, value.as_bytes())
    }

    /// Adds an id (a registry version, an artifact, an upstream output).
    pub fn id(self, label: &str, id: ContentId) -> Key {
        self.part(label, &id.0)
    }

    /// Adds a time (µs since the epoch).
    pub fn time(self, label: &str, t: Timestamp) -> Key {
        self.part(label, &t.as_micros().to_le_bytes())
    }

    /// Adds the BLAKE3 hash of a file's contents (not its name or mtime: a file
    /// rewritten with the same bytes keeps its key).
    ///
    /// # Errors
    ///
    /// When the file cannot be read.
    pub fn file(self, label: &str, path: &Path) -> anyhow::Result<Key> {
        let id = hash_file(path)?;
        Ok(self.text(label, &path.display().to_string()).id(label, id))
    }

    /// The key.
    #[must_use]
    pub fn finish(&self) -> ContentId {
        ContentId::of(&self.bytes)
    }
}

/// The BLAKE3 hash of a file's contents.
///
/// # Errors
///
/// When the file cannot be read.
pub fn hash_file(path: &Path) -> anyhow::Result<ContentId> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(ContentId::of(&bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_so_they_cannot_run_together() {
        let a = Key::new("s").text("x", "ab").text("y", "c").finish();
        let b = Key::new("s").text("x", "a").text("y", "bc").finish();
        assert_ne!(a, b);
        let c = Key::new("s").text("xa", "b").finish();
        let d = Key::new("s").text("x", "ab").finish();
        assert_ne!(c, d);
    }

    #[test]
    fn files_are_keyed_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        fs::write(&path, "a,b\n1,2\n").unwrap();
        let one = Key::new("s").file("f", &path).unwrap().finish();
        fs::write(&path, "a,b\n1,2\n").unwrap();
        assert_eq!(one, Key::new("s").file("f", &path).unwrap().finish());
        fs::write(&path, "a,b\n1,3\n").unwrap();
        assert_ne!(one, Key::new("s").file("f", &path).unwrap().finish());
        let err = Key::new("s")
            .file("f", &dir.path().join("missing.csv"))
            .unwrap_err();
        assert!(err.to_string().contains("missing.csv"), "{err}");
    }
}
