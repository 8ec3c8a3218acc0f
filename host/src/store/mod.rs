//! The registry on disk: immutable content-addressed objects and one ref moved by compare-and-swap.
//!
//! ```text
//! <repo>/.verge/
//!   objects/<64 hex digits>   one encoded RegistryVersion each; never modified
//!   refs/main                 the head's id in hex, then a newline
//!   refs/main.lock            kernel lock serialising ref updates
//! ```
//!
//! Objects are written once, atomically ([`atomic::create_once`]); their name is
//! the BLAKE3 hash of their bytes, so a reader can always check what it read.
//! The ref is only ever replaced atomically while holding the lock, after
//! checking it still names the version the writer started from
//! ([`Store::compare_and_swap`]). Together this gives git's guarantees: old
//! versions stay readable forever, concurrent `apply`s never lose an update (the
//! loser is told), and a process killed at any moment leaves a readable registry.

pub mod apply;
pub mod atomic;
pub mod lock;
pub mod merge;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::registry::RegistryVersion;

/// The registry directory inside a feature repository.
pub const DIR: &str = ".verge";

/// The ref `apply` moves.
pub const MAIN: &str = "main";

/// Prefixes shorter than this are refused: too easy to match by accident.
const MIN_PREFIX: usize = 4;

/// A compare-and-swap on the ref failed: someone else moved it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The head this writer started from.
    pub expected: Option<ContentId>,
    /// The head found under the lock.
    pub found: Option<ContentId>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conflict: the registry moved from {} to {} while you were applying; run `verge plan` and apply again",
            short(self.expected),
            short(self.found)
        )
    }
}

impl std::error::Error for Conflict {}

/// A short id, or "(empty)" for no version at all.
fn short(id: Option<ContentId>) -> String {
    id.map_or_else(|| "(empty)".to_owned(), |id| id.short())
}

/// A handle on `<repo>/.verge`. Opening touches nothing; the directories are
/// created by the first write.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The registry of the feature repository at `repo_root`.
    ///
    /// # Examples
    ///
    /// ```
    /// use verge_core::{Timestamp, definition::Definitions, registry::RegistryVersion};
    /// use verge_host::store::Store;
    ///
    /// let repo = tempfile::tempdir().unwrap();
    /// let store = Store::open(repo.path());
    /// assert_eq!(store.head().unwrap(), None);
    ///
    /// let v1 = RegistryVersion::new(None, Timestamp::from_secs(1), "first", Definitions::default());
    /// let id = store.write(&v1).unwrap();
    /// store.compare_and_swap(None, id).unwrap();
    /// assert_eq!(store.head().unwrap(), Some(id));
    /// assert_eq!(store.read(id).unwrap(), v1);
    ///
    /// // A writer that started from the empty registry is now told it lost.
    /// assert!(store.compare_and_swap(None, id).is_err());
    /// ```
    #[must_use]
    pub fn open(repo_root: &Path) -> Store {
        Store {
            root: repo_root.join(DIR),
        }
    }

    /// The `.verge` directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    fn object_path(&self, id: ContentId) -> PathBuf {
        self.objects().join(id.to_string())
    }

    fn ref_path(&self) -> PathBuf {
        self.root.join("refs").join(MAIN)
    }

    /// The id `refs/main` names, or `None` before the first apply.
    ///
    /// # Errors
    ///
    /// When the ref cannot be read or does not hold a hex id.
    pub fn head(&self) -> anyhow::Result<Option<ContentId>> {
        let path = self.ref_path();
        let text = match atomic::read_small(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        match ContentId::parse_hex(text.trim_end()) {
            Some(id) => Ok(Some(id)),
            None => bail!(
                "{} does not hold a registry id ({:?}); restore it from `verge registry log` or a backup",
                path.display(),
                text.trim_end()
            ),
        }
    }

    /// The head and its version, or `None` before the first apply.
    ///
    /// # Errors
    ///
    /// As [`Store::head`] and [`Store::read`].
    pub fn read_head(&self) -> anyhow::Result<Option<(ContentId, RegistryVersion)>> {
        match self.head()? {
            None => Ok(None),
            Some(id) => Ok(Some((id, self.read(id)?))),
        }
    }

    /// The head's definitions id and version, or `None` before the first
    /// apply: what every artifact built from the head names as its registry
    /// (see [`RegistryVersion::definitions_id`]).
    ///
    /// # Errors
    ///
    /// As [`Store::read_head`].
    pub fn head_definitions(&self) -> anyhow::Result<Option<(ContentId, RegistryVersion)>> {
        match self.read_head()? {
            None => Ok(None),
            Some((_, version)) => Ok(Some((version.definitions_id()?, version))),
        }
    }

    /// Reads and checks one version.
    ///
    /// # Errors
    ///
    /// When the object is missing, does not hash to `id`, or does not decode.
    pub fn read(&self, id: ContentId) -> anyhow::Result<RegistryVersion> {
        let path = self.object_path(id);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read registry object {}", path.display()))?;
        let actual = ContentId::of(&bytes);
        if actual != id {
            return Err(verge_core::Error::HashMismatch {
                kind: "registry version",
                expected: id,
                actual,
            })
            .with_context(|| format!("registry object {}", path.display()));
        }
        RegistryVersion::from_bytes(&bytes)
            .with_context(|| format!("registry object {}", path.display()))
    }

    /// Writes a version as an object (once; an existing object is kept) and returns its id.
    /// This does not move the ref.
    ///
    /// # Errors
    ///
    /// When encoding fails or the object cannot be written.
    pub fn write(&self, version: &RegistryVersion) -> anyhow::Result<ContentId> {
        let bytes = version.to_bytes()?;
        let id = ContentId::of(&bytes);
        let dir = self.objects();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = self.object_path(id);
        atomic::create_once(&path, &bytes)
            .with_context(|| format!("cannot write registry object {}", path.display()))?;
        Ok(id)
    }

    /// Moves `refs/main` from `expected` to `new` if, under the lock, it still names `expected`.
    ///
    /// # Errors
    ///
    /// A [`Conflict`] (downcastable from the returned error) when the ref moved,
    /// or an I/O error.
    pub fn compare_and_swap(
        &self,
        expected: Option<ContentId>,
        new: ContentId,
    ) -> anyhow::Result<()> {
        let refs = self.root.join("refs");
        std::fs::create_dir_all(&refs)
            .with_context(|| format!("cannot create {}", refs.display()))?;
        let lock_path = refs.join(format!("{MAIN}.lock"));
        let _lock = lock::RefLock::acquire(&lock_path)
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let found = self.head()?;
        if found != expected {
            return Err(Conflict { expected, found }.into());
        }
        let path = self.ref_path();
        atomic::replace(&path, format!("{new}\n").as_bytes())
            .with_context(|| format!("cannot update {}", path.display()))
    }

    /// Resolves what a user typed: `HEAD`/`head`/`main`, a full id, or a unique prefix
    /// of at least four hex digits.
    ///
    /// # Errors
    ///
    /// When nothing or more than one object matches, naming the candidates.
    pub fn resolve(&self, spec: &str) -> anyhow::Result<ContentId> {
        if matches!(spec, "HEAD" | "head" | MAIN) {
            return self
                .head()?
                .context("the registry is empty; run `verge apply` first");
        }
        if let Some(id) = ContentId::parse_hex(spec) {
            return Ok(id);
        }
        if spec.len() < MIN_PREFIX || !spec.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "`{spec}` is not a registry id; give at least {MIN_PREFIX} hex digits of an id from `verge registry log`, or HEAD"
            );
        }
        let prefix = spec.to_ascii_lowercase();
        let matches: Vec<ContentId> = self
            .object_ids()?
            .into_iter()
            .filter(|id| id.to_string().starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => bail!("no registry version starts with `{spec}`; see `verge registry log`"),
            many => {
                let names: Vec<String> = many.iter().map(ContentId::short).collect();
                bail!(
                    "`{spec}` is ambiguous: it starts {} versions ({}); give more digits",
                    many.len(),
                    names.join(", ")
                )
            }
        }
    }

    /// Every object in the store, sorted; stray temporary files are skipped.
    ///
    /// # Errors
    ///
    /// When the objects directory cannot be listed.
    pub fn object_ids(&self) -> anyhow::Result<Vec<ContentId>> {
        let dir = self.objects();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            if let Some(id) = entry.file_name().to_str().and_then(ContentId::parse_hex) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The versions from `start` back to the first, newest first.
    ///
    /// # Errors
    ///
    /// When a version on the chain is missing or corrupt, or the chain loops
    /// (impossible with real hashes; a hand-edited store could do it).
    pub fn history(&self, start: ContentId) -> anyhow::Result<Vec<(ContentId, RegistryVersion)>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut next = Some(start);
        while let Some(id) = next {
            if !seen.insert(id) {
                bail!(
                    "the registry history loops at {}; the store was edited by hand",
                    id.short()
                );
            }
            let version = self.read(id)?;
            next = version.parent;
            out.push((id, version));
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
