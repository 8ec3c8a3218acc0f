//! Builds the raw Wasm ABI module (`verge-wasm`, default features) that the
//! `verge` binary embeds, so `verify` and `serve` work from any directory and
//! after `cargo install`, with nothing to find on disk.
//!
//! The module is compiled by a nested `cargo build` for `wasm32-unknown-unknown`
//! with the workspace's `wasm` size profile, into a target directory of its own
//! (`<target>/verge-embedded`): the browser and worker builds write
//! `target/wasm32-unknown-unknown/wasm/verge_wasm.wasm` with other features, and
//! must never be able to change what the binary carries. The nested build shares
//! the outer one's jobserver, and is a no-op (a fingerprint check) when neither
//! `core/` nor `wasm/` changed.
//!
//! `VERGE_EMBED_WASM=FILE` embeds FILE instead (for packagers who build the
//! module themselves); the binary still checks it imports nothing when used.

use std::env;
use std::path::{Path, PathBuf};

#[path = "embedded_module.rs"]
mod embedded_module;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    println!("cargo:rerun-if-env-changed=VERGE_EMBED_WASM");
    let module = match env::var_os("VERGE_EMBED_WASM") {
        Some(file) => {
            let file = PathBuf::from(file);
            println!("cargo:rerun-if-changed={}", file.display());
            file
        }
        None => build_module(&workspace, &out_dir),
    };
    let embedded = out_dir.join("verge_wasm.wasm");
    if let Err(e) = std::fs::copy(&module, &embedded) {
        panic!(
            "cannot copy the Wasm module {} into {}: {e}",
            module.display(),
            embedded.display()
        );
    }
}

/// Compiles `verge-wasm` for wasm32 and returns the module's path.
fn build_module(workspace: &Path, out_dir: &Path) -> PathBuf {
    for input in [
        "core/src",
        "core/Cargo.toml",
        "wasm/src",
        "wasm/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    let target = target_dir(out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = embedded_module::build_command(&cargo, workspace, &target);
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the embedded Wasm module: {e}"));
    assert!(
        status.success(),
        "building the embedded Wasm module failed ({status}); the target must be installed: \
         `rustup target add wasm32-unknown-unknown` (rust-toolchain.toml lists it)"
    );
    embedded_module::module_path(&target)
}

/// The target directory, found from OUT_DIR
/// (`<target>/[<triple>/]<profile>/build/verge-host-<hash>/out`), so every
/// profile and every `cargo clippy`/`test`/`build` shares one module build.
fn target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map_or_else(|| out_dir.join("wasm-target"), Path::to_path_buf)
}
