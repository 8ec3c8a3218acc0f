//! Signing key files for `verge keygen` and `--sign-key`.
//!
//! A key file is two lines of text, the format name then the 32-byte secret
//! seed in hex:
//!
//! ```text
//! verge-ed25519-signing-key-v1
//! 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//! ```
//!
//! It is created with mode 0600 (atomically: a private temporary file renamed
//! into place, never replacing an existing key unless asked), and refused when
//! group or others can read it, as ssh refuses private keys. The seed is held
//! in wiped-on-drop buffers and never printed: only the public key is.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use verge_core::artifact::signature::{SEED_LEN, SigningKey};
use zeroize::Zeroizing;

/// The first line of every key file.
pub const KEY_FILE_HEADER: &str = "verge-ed25519-signing-key-v1";

/// A new signing key from the operating system's random source.
///
/// # Errors
///
/// When the OS has no random source.
pub fn generate() -> anyhow::Result<(SigningKey, Zeroizing<[u8; SEED_LEN]>)> {
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    getrandom::fill(seed.as_mut()).map_err(|e| {
        anyhow::anyhow!("the operating system's random source failed ({e}); cannot make a key")
    })?;
    Ok((SigningKey::from_seed(&seed), seed))
}

/// Writes a key file holding `seed` at `path`, mode 0600. An existing file is
/// kept (and this fails) unless `overwrite`.
///
/// # Errors
///
/// When `path` exists (without `overwrite`) or cannot be written.
pub fn write_key_file(path: &Path, seed: &[u8; SEED_LEN], overwrite: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut text = Zeroizing::new(String::with_capacity(KEY_FILE_HEADER.len() + 66));
    text.push_str(KEY_FILE_HEADER);
    text.push('\n');
    for b in seed {
        text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        text.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    text.push('\n');
    // tempfile creates its files 0600 on Unix: the secret is never readable
    // by others, not even between the write and the rename.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    restrict(tmp.path())?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    let persisted = if overwrite {
        tmp.persist(path).map(drop)
    } else {
        tmp.persist_noclobber(path).map(drop)
    };
    match persisted {
        Ok(()) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} exists; keep it, or pass --force to replace it (artifacts signed with it will no longer verify with the new key)",
            path.display()
        ),
        Err(e) => Err(e.error).with_context(|| format!("cannot write {}", path.display())),
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Refuses a key file others may read.
#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path)
        .with_context(|| format!("cannot read signing key {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "signing key {} is readable by others (mode {:03o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Reads the key file at `path`.
///
/// # Errors
///
/// When the file is missing, readable by group or others, or not a key file;
/// messages never include the file's contents.
pub fn read_key_file(path: &Path) -> anyhow::Result<SigningKey> {
    check_private(path)?;
    let text = Zeroizing::new(
        fs::read(path).with_context(|| format!("cannot read signing key {}", path.display()))?,
    );
    let not_a_key = || {
        anyhow::anyhow!(
            "{} is not a verge signing key (expected `{KEY_FILE_HEADER}` then 64 hex digits); make one with `verge keygen -o FILE`",
            path.display()
        )
    };
    let text = std::str::from_utf8(&text).map_err(|_| not_a_key())?;
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FILE_HEADER) {
        return Err(not_a_key());
    }
    let hex = lines.next().map(str::trim).ok_or_else(not_a_key)?;
    if hex.len() != 2 * SEED_LEN || lines.any(|l| !l.trim().is_empty()) {
        return Err(not_a_key());
    }
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    for (slot, pair) in seed.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16).ok_or_else(not_a_key);
        let (hi, lo) = (digit(pair[0])?, digit(pair[1])?);
        *slot = u8::try_from(hi * 16 + lo).map_err(|_| not_a_key())?;
    }
    Ok(SigningKey::from_seed(&seed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let (key, seed) = generate().unwrap();
        write_key_file(&path, &seed, false).unwrap();
        let read = read_key_file(&path).unwrap();
        assert_eq!(read.public_key(), key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_key_file(&path).err().unwrap().to_string();
            assert!(e.contains("chmod 600"), "{e}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        // An existing key is never silently replaced.
        let (_, other) = generate().unwrap();
        let e = write_key_file(&path, &other, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--force"), "{e}");
        assert_eq!(read_key_file(&path).unwrap().public_key(), key.public_key());
        write_key_file(&path, &other, true).unwrap();
        assert_ne!(read_key_file(&path).unwrap().public_key(), key.public_key());
        // Only the key file is left: no temporary files.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_key_files_are_refused_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in [
            "",
            "verge-ed25519-signing-key-v1\n",
            "verge-ed25519-signing-key-v1\nzz\n",
            "something-else\n0000000000000000000000000000000000000000000000000000000000000000\n",
            "verge-ed25519-signing-key-v1\n00000000000000000000000000000000000000000000000000000000000000\n",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("k{i}"));
            write_key_file(&path, &[0; 32], false).unwrap();
            fs::write(&path, text).unwrap();
            let e = read_key_file(&path).err().unwrap().to_string();
            assert!(e.contains("not a verge signing key"), "{e}");
            assert!(!e.contains("000000"), "the message echoes the file: {e}");
        }
    }
}
