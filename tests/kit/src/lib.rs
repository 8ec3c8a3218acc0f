//! What every verge test shares, so no test file keeps its own copy:
//!
//! - [`tiny`]: the tiny deployment (definitions → bundle + snapshot), the one the
//!   fuzz targets, the core's tests and the Worker tests build on;
//! - [`horse_colic`]: the UCI horse-colic pair the edge tests run;
//! - [`delta`]: edited states of a snapshot and the delta snapshots to them;
//! - [`rng`]: one seeded generator;
//! - [`http`]: one HTTP/1.1 test client, and a raw-socket helper for hostile bytes;
//! - [`cli`]: a runner for the `verge` binary and temporary repositories;
//! - [`wasm`]: the raw ABI module, built on demand;
//! - [`workerd`]: the Cloudflare Worker, built and served by workerd on 127.0.0.1;
//! - [`chromium`]: the browser package served to headless Chromium;
//! - [`process`]: other programs (Feast's CLI and server, `verge serve`) run
//!   bounded in time, in the background killed with their children;
//! - [`trees`]: random tree ensembles, rows and a tree bundle for the speed benchmarks;
//! - `bench_data` (feature `arrow`): seeded Arrow batches for the host's
//!   join and materialization benchmarks.
//!
//! It depends on `verge-core` alone: a dependency on `verge-host` would give
//! host's own tests a second copy of every host type. Failures panic with a
//! message: this is test code, and a panic is a failed test.
#![deny(missing_docs)]

#[cfg(feature = "arrow")]
pub mod bench_data;
pub mod chromium;
pub mod cli;
pub mod delta;
pub mod horse_colic;
pub mod http;
pub mod process;
pub mod rng;
pub mod tiny;
pub mod trees;
pub mod wasm;
pub mod workerd;

use std::path::{Path, PathBuf};

/// The workspace root (where the top `Cargo.toml` is).
#[must_use]
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$CARGO_TARGET_DIR`, else the workspace's `target/`.
#[must_use]
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// The cargo running the tests (`$CARGO`), else `cargo` on the path.
#[must_use]
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
