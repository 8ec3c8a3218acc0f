//! verge-wasm: the core at the edge, with three faces over one code path.
//!
//! | face | module | feature | built with | who runs it |
//! |---|---|---|---|---|
//! | raw C ABI, no imports | `abi` | `abi` (default) | `cargo build --target wasm32-unknown-unknown` | wasmtime (`verge verify`, `verge serve`), any Wasm runtime |
//! | browser package | `browser` | `browser` | `--no-default-features --features browser` + `wasm-bindgen --target web` | web pages |
//! | Cloudflare Worker | `worker` | `worker` | `--no-default-features --features worker` + `worker-build` | workerd / Cloudflare |
//!
//! Features only add a face, never remove one, so any combination builds (none,
//! one, or several: a browser build that keeps the ABI's exports is merely
//! larger). The faces do I/O only: every rule — the HTTP API's JSON, the admin
//! routes, model info and `/version`, the ABI's codes — is
//! [`verge_core`]'s, and what the ABI and the browser share beyond it (loading
//! and pairing artifacts) is [`loaded`]. So the same request gives the same
//! JSON everywhere.
//!
//! This crate uses `std`: on `wasm32-unknown-unknown` it brings the allocator and
//! imports nothing, so the raw module still instantiates with no imports. The
//! `no_std` proof is `verge-core` built for `wasm32v1-none`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod loaded;

#[cfg(feature = "abi")]
pub mod abi;
#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "worker")]
pub mod worker;

/// The artifact format version this module loads.
pub use verge_core::artifact::FORMAT_VERSION;
