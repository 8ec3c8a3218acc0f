//! The raw Wasm ABI module for the tests that run it under wasmtime: `$VERGE_WASM`
//! when set, else built with cargo (a no-op when up to date).
//!
//! The build is the one `host/build.rs` makes for the module the `verge` binary
//! embeds: the same package, features, profile, target directory
//! (`target/verge-embedded`) and cleaned environment, so the two share one
//! compile and the tests run exactly the module the binary carries. The
//! browser and worker faces build the same crate with other features into
//! `target/`, where their module would replace this one.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The variable that points the `verge` binary (and these tests) at a module file.
pub const WASM_ENV: &str = "VERGE_WASM";

/// Where cargo writes the module under a target directory.
pub const TARGET_SUBPATH: &str = "wasm32-unknown-unknown/wasm/verge_wasm.wasm";

/// The module's path: `$VERGE_WASM`, or built once per test process.
///
/// # Panics
///
/// When cargo cannot be run or the build fails.
pub fn module_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os(WASM_ENV) {
            return PathBuf::from(p);
        }
        let target = crate::target_dir().join("verge-embedded");
        let mut command = Command::new(crate::cargo());
        command
            .current_dir(crate::workspace())
            .args(["build", "--quiet", "--package", "verge-wasm", "--lib"])
            .args(["--target", "wasm32-unknown-unknown", "--profile", "wasm"])
            .arg("--manifest-path")
            .arg(crate::workspace().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
        // What host/build.rs removes, so both builds fingerprint alike.
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
        let status = command
            .status()
            .expect("cannot run cargo to build the Wasm module");
        assert!(status.success(), "building the Wasm module failed");
        target.join(TARGET_SUBPATH)
    })
    .clone()
}
