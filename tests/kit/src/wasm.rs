//! The raw Wasm ABI module for the tests that run it under wasmtime: `$VERGE_WASM`
//! when set, else built with cargo (a no-op when up to date).
//!
//! The build goes to its own target directory (`target/verge-abi`): the browser
//! and worker faces build the same crate with other features for the same target
//! and profile, and in a shared `target/` their module would replace this one
//! between the build and the load.

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
        let target = crate::target_dir().join("verge-abi");
        let status = Command::new(crate::cargo())
            .current_dir(crate::workspace())
            .args(["build", "-p", "verge-wasm"])
            .args(["--target", "wasm32-unknown-unknown", "--profile", "wasm"])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("cannot run cargo to build the Wasm module");
        assert!(status.success(), "building the Wasm module failed");
        target.join(TARGET_SUBPATH)
    })
    .clone()
}
