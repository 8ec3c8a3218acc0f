//! The one cargo invocation that builds the Wasm ABI module the `verge`
//! binary embeds. `host/build.rs` runs it, and the test kit runs the same
//! (this file, by `#[path]`) so the tests load the module the binary carries
//! and both share one build: the same arguments, environment and target
//! directory give cargo the same fingerprint.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The build's own directory under a target directory: the browser and
/// worker builds write the same crate with other features into `target/`,
/// and must never be able to change what the binary carries.
pub const TARGET_SUBDIR: &str = "verge-embedded";

/// Where the module lands under [`TARGET_SUBDIR`].
pub const MODULE_SUBPATH: &str = "wasm32-unknown-unknown/wasm/verge_wasm.wasm";

/// `cargo build` of `verge-wasm` (default features) for wasm32 with the
/// workspace's `wasm` size profile, into `target/`[`TARGET_SUBDIR`].
pub fn build_command(cargo: &OsStr, workspace: &Path, target: &Path) -> Command {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--package", "verge-wasm", "--lib"])
        .args(["--target", "wasm32-unknown-unknown", "--profile", "wasm"])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target.join(TARGET_SUBDIR));
    // The outer build's flags and wrappers (clippy-driver under `cargo clippy`,
    // coverage or sanitizer flags) are for the host crate, not for the module
    // every face must agree on: build it the same way every time.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    command
}

/// The module [`build_command`] writes, under the target directory `target`.
pub fn module_path(target: &Path) -> PathBuf {
    target.join(TARGET_SUBDIR).join(MODULE_SUBPATH)
}
