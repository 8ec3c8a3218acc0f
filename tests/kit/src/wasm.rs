//! The raw Wasm ABI module for the tests that run it under wasmtime: `$VERGE_WASM`
//! when set, else built with cargo (a no-op when up to date).
//!
//! The build is the one `host/build.rs` makes for the module the `verge` binary
//! embeds (`host/embedded_module.rs`, compiled into both): the same package,
//! features, profile, target directory (`target/verge-embedded`) and cleaned
//! environment, so the two share one compile and the tests run exactly the
//! module the binary carries. The browser and worker faces build the same crate
//! with other features into `target/`, where their module would replace this one.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The variable that points the `verge` binary (and these tests) at a module file.
pub const WASM_ENV: &str = "VERGE_WASM";

/// The build host/build.rs runs, shared rather than copied.
#[path = "../../../host/embedded_module.rs"]
mod embedded_module;

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
        let target = crate::target_dir();
        let cargo = std::ffi::OsString::from(crate::cargo());
        let mut command = embedded_module::build_command(&cargo, &crate::workspace(), &target);
        let status = command
            .status()
            .expect("cannot run cargo to build the Wasm module");
        assert!(status.success(), "building the Wasm module failed");
        embedded_module::module_path(&target)
    })
    .clone()
}
