//! Bundles and snapshots on disk: content-addressed files plus named refs.
//!
//! Layout under the repository's `.verge/` (next to the registry's `objects/`):
//!
//! | path | holds |
//! |---|---|
//! | `artifacts/<id>.bundle`, `artifacts/<id>.snapshot` | artifact bytes, written once, never edited |
//! | `refs/artifacts/<name>` | the id a name points at (`model/<model>`, `snapshot/<name>`), hex + newline |
//! | `memo/<key>` | the output id of a pipeline step whose inputs hash to `key` |
//!
//! Files are written with [`crate::store::atomic`], so a killed process leaves
//! either the old state or the new one.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use verge_core::artifact::{ArtifactKind, Header};

use crate::store::atomic;

/// The artifact store of one repository.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
}

fn extension(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Bundle => "bundle",
        ArtifactKind::Snapshot => "snapshot",
        ArtifactKind::Registry => "registry",
    }
}

/// Reads the kind of an artifact from its magic bytes.
///
/// # Errors
///
/// When the bytes are not a verge artifact.
pub fn kind_of(bytes: &[u8]) -> anyhow::Result<ArtifactKind> {
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .unwrap_or_default();
    ArtifactKind::from_magic(magic)
        .with_context(|| format!("not a verge artifact (magic {magic:02x?})"))
}

impl ArtifactStore {
    /// The store of the repository at `repo_root`.
    #[must_use]
    pub fn open(repo_root: &Path) -> Self {
        ArtifactStore {
            root: repo_root.join(".verge"),
        }
    }

    /// Where the artifact `id` of `kind` lives.
    #[must_use]
    pub fn path(&self, id: ContentId, kind: ArtifactKind) -> PathBuf {
        self.root
            .join("artifacts")
            .join(format!("{id}.{}", extension(kind)))
    }

    /// Stores artifact bytes after checking their header and hash; returns the id
    /// and the file's path. Storing the same bytes twice writes nothing the second time.
    ///
    /// # Errors
    ///
    /// When the bytes are not a complete, intact artifact, or on I/O errors.
    pub fn put(&self, bytes: &[u8]) -> anyhow::Result<(ContentId, PathBuf)> {
        let kind = kind_of(bytes)?;
        let (header, _) = Header::open(bytes, kind)?;
        let path = self.path(header.id, kind);
        let dir = self.root.join("artifacts");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        atomic::create_once(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok((header.id, path))
    }

    /// Finds an artifact by a path to a file, or by a full or unique-prefix id in the store.
    ///
    /// # Errors
    ///
    /// When nothing or more than one artifact matches, or the file cannot be read.
    pub fn locate(&self, spec: &str) -> anyhow::Result<PathBuf> {
        let as_path = Path::new(spec);
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        if let Some(id) = self.get_ref(spec)? {
            for kind in [ArtifactKind::Bundle, ArtifactKind::Snapshot] {
                let p = self.path(id, kind);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
        let dir = self.root.join("artifacts");
        let is_hex =
            !spec.is_empty() && spec.len() <= 64 && spec.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex && dir.is_dir() {
            let spec = spec.to_ascii_lowercase();
            let mut matches = Vec::new();
            for entry in
                fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
            {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(&spec) {
                    matches.push(entry.path());
                }
            }
            match matches.len() {
                1 => return Ok(matches.remove(0)),
                0 => {}
                n => bail!("id prefix `{spec}` matches {n} artifacts; give more digits"),
            }
        }
        bail!(
            "no file or artifact `{spec}`: give a path, an artifact id (or a unique prefix), or a ref such as model/NAME"
        )
    }

    /// Points the ref `name` (e.g. `model/surgical_lesion`) at `id`.
    ///
    /// # Errors
    ///
    /// On an invalid name or I/O errors.
    pub fn set_ref(&self, name: &str, id: ContentId) -> anyhow::Result<()> {
        let path = self.ref_path(name)?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        atomic::replace(&path, format!("{id}\n").as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The id the ref `name` points at, if it exists.
    ///
    /// # Errors
    ///
    /// When the ref file exists but does not hold an id.
    pub fn get_ref(&self, name: &str) -> anyhow::Result<Option<ContentId>> {
        let Ok(path) = self.ref_path(name) else {
            return Ok(None);
        };
        match atomic::read_small(&path) {
            Ok(text) => ContentId::parse_hex(text.trim())
                .map(Some)
                .with_context(|| {
                    format!(
                        "{} does not hold an artifact id; delete it and rebuild",
                        path.display()
                    )
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn ref_path(&self, name: &str) -> anyhow::Result<PathBuf> {
        let ok = !name.is_empty()
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            });
        if !ok {
            bail!(
                "`{name}` is not a valid ref name (letters, digits, `_-.`, parts separated by `/`)"
            );
        }
        Ok(self.root.join("refs").join("artifacts").join(name))
    }

    /// The remembered output of a pipeline step whose inputs hash to `key`, if its
    /// artifact is still in the store.
    ///
    /// # Errors
    ///
    /// On unreadable memo files.
    pub fn memo_get(&self, key: ContentId) -> anyhow::Result<Option<ContentId>> {
        let path = self.root.join("memo").join(key.to_string());
        match atomic::read_small(&path) {
            Ok(text) => Ok(ContentId::parse_hex(text.trim())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Remembers that the step with input hash `key` produced `output`.
    ///
    /// # Errors
    ///
    /// On I/O errors.
    pub fn memo_put(&self, key: ContentId, output: ContentId) -> anyhow::Result<()> {
        let dir = self.root.join("memo");
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        atomic::replace(&dir.join(key.to_string()), format!("{output}\n").as_bytes())
            .with_context(|| format!("cannot write memo {key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_locate_and_refs() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path());
        let bytes = Header::frame(ArtifactKind::Bundle, b"payload");
        let (id, path) = store.put(&bytes).unwrap();
        assert_eq!(store.put(&bytes).unwrap().1, path, "idempotent");
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert_eq!(store.locate(&id.to_string()[..10]).unwrap(), path);
        store.set_ref("model/m", id).unwrap();
        assert_eq!(store.get_ref("model/m").unwrap(), Some(id));
        assert_eq!(store.locate("model/m").unwrap(), path);
        assert!(store.set_ref("../escape", id).is_err());
        // A ref that is a link to an endless file is an error, not a hang.
        #[cfg(unix)]
        {
            let link = dir.path().join(".verge/refs/artifacts/model/zero");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let err = store.get_ref("model/zero").unwrap_err();
            assert!(
                format!("{err:#}").contains("does not hold an artifact id"),
                "{err:#}"
            );
        }
        assert!(store.locate("nothing-here").is_err());
        let mut bad = bytes.clone();
        bad[50] ^= 1;
        assert!(store.put(&bad).is_err(), "a damaged artifact is not stored");
        store.memo_put(ContentId::of(b"k"), id).unwrap();
        assert_eq!(store.memo_get(ContentId::of(b"k")).unwrap(), Some(id));
    }
}
