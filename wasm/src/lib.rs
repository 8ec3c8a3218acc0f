//! verge-wasm: the core at the edge, with three faces over one code path.
//!
//! | face | module | built with | who runs it |
//! |---|---|---|---|
//! | raw C ABI, no imports | [`abi`] | default features | wasmtime (`verge verify`, `verge serve`), any Wasm runtime |
//! | browser package | `browser` | `--features browser` + `wasm-bindgen --target web` | web pages |
//! | Cloudflare Worker | `worker` | `--features worker` + `worker-build` | workerd / Cloudflare |
//!
//! Every face answers through [`verge_core::api::Api`], so the same request gives
//! the same JSON everywhere.
//!
//! This crate uses `std`: on `wasm32-unknown-unknown` it brings the allocator and
//! imports nothing, so the raw module still instantiates with no imports. The
//! `no_std` proof is `verge-core` built for `wasm32v1-none`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "browser", feature = "worker")))]
pub mod abi;
#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "worker")]
pub mod worker;

/// The artifact format version this module loads.
pub use verge_core::artifact::FORMAT_VERSION;
