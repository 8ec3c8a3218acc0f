//! verge-wasm: the core at the edge.
//!
//! Status: this crate currently only proves that `verge-core` links into a
//! `wasm32-unknown-unknown` cdylib. The raw C-ABI module, the wasm-bindgen browser
//! package and the Cloudflare Worker are tracked by the edge issue and are not
//! built yet; nothing here pretends otherwise.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The format versions of the artifacts this module can load.
pub use verge_core::artifact::FORMAT_VERSION;
