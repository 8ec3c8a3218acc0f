//! Writes the seed corpus of every fuzz target from real artifacts built by
//! verge-core: `cargo run --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus`.
//!
//! The committed corpus (`fuzz/corpus/<target>/`) is these seeds plus what the
//! fuzzer found, minimized with `cargo fuzz cmin`; rerun this after a format change
//! so the fuzzer starts from artifacts the loaders accept.

use std::path::Path;

use verge_core::ContentId;
use verge_core::Timestamp;
use verge_core::artifact::{BundleContents, SnapshotBuilder};
use verge_core::definition::Definitions;
use verge_core::registry::RegistryVersion;
use verge_fuzz::{METHODS, PATHS, fixture};

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn main() -> std::io::Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let root = Path::new(&root);

    write(root, "snapshot_load", "stats", &fixture::snapshot_bytes())?;
    write(
        root,
        "snapshot_load",
        "composite",
        &fixture::composite_snapshot_bytes(),
    )?;
    write(root, "snapshot_load", "typed", &fixture::typed_snapshot_bytes())?;
    let empty = SnapshotBuilder::new(verge_core::ContentId::of(b"e"), Timestamp(0), Timestamp(0))
        .finish()
        .expect("an empty snapshot builds");
    write(root, "snapshot_load", "empty", &empty)?;

    write(root, "bundle_load", "model", &fixture::bundle_bytes())?;
    let features =
        BundleContents::feature_bundle(&fixture::definitions(), ContentId::of(b"r"), "svc")
            .and_then(|b| b.to_bytes())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    write(root, "bundle_load", "features", &features)?;

    write(
        root,
        "registry_decode",
        "fixture",
        &fixture::registry_bytes(),
    )?;
    let bare = RegistryVersion::new(None, Timestamp(0), "", Definitions::default());
    write(
        root,
        "registry_decode",
        "empty",
        &bare.to_bytes().expect("encodes"),
    )?;

    for (i, text) in fixture::EXPRESSIONS.iter().enumerate() {
        write(root, "expr_compile", &i.to_string(), text.as_bytes())?;
    }

    for (i, (method, path, body)) in fixture::REQUESTS.iter().enumerate() {
        let m = METHODS.iter().position(|x| x == method);
        let p = PATHS.iter().position(|x| x == path);
        let (Some(m), Some(p)) = (m, p) else {
            continue; // a path outside PATHS (the fuzzer reaches those by itself)
        };
        let mut bytes = vec![m as u8, p as u8];
        bytes.extend_from_slice(body.as_bytes());
        write(root, "api_handle", &i.to_string(), &bytes)?;
    }
    Ok(())
}
