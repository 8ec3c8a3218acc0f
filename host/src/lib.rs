//! verge-host: everything verge does with files, data and processes.
//!
//! | module | what it holds |
//! |---|---|
//! | [`arrow_values`] | the core's types as Arrow columns and back |
//! | [`artifacts`] | bundles and snapshots on disk: content-addressed files and refs |
//! | [`mmap`] | read-only memory maps of snapshot files: the one module with `unsafe` |
//! | [`repo`] | the feature repository: parsing `verge.toml` into core definitions |
//! | [`store`] | the registry on disk: immutable objects and compare-and-swap refs |
//! | [`source`] | reading CSV, Parquet and SQLite sources into Arrow record batches |
//! | [`spark`] | the Spark engine: the point-in-time join and materialization as generated Spark SQL, checked against the native engine |
//! | [`table_io`] | reading entity tables and writing training sets (CSV / Parquet) |
//! | [`historical`] | the point-in-time join that builds training sets |
//! | [`materialize`] | online snapshots from sources, merged, sharded |
//! | [`train`] | `verge train`: training sets, linfa estimators exported into core types, bundles |
//! | [`pipeline`] | `verge run`: the whole pipeline as memoized steps keyed by their inputs' hashes |
//! | [`resolve`] | finding artifacts by path, id, prefix or ref; pairing a bundle with a snapshot |
//! | [`request`] | typed API request bodies from `NAME=VALUE` text |
//! | [`edge_pair`] | the checked bundle + snapshot pair an edge loads, written as one directory |
//! | [`verify`] | native core against the Wasm module, byte for byte |
//! | [`serve`] | `verge serve`'s HTTP server over a live, swappable pair |
//! | [`publish`] | the publish layout edge runtimes read, signing keys, the admin-endpoint client |
//! | [`wasm_runtime`] | the raw Wasm ABI module under wasmtime, and the one built into the binary |
//!
//! The library never parses arguments and never prints: the `verge` binary's
//! command modules (`src/cli/`, declared from `src/main.rs`) do that, each one
//! calling a function here.
// `deny`, not `forbid`: `mmap` (memory-mapping a file) and `huge_pages` (the
// binary's allocator) are the two exceptions.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod arrow_values;
pub mod artifacts;
pub mod edge_pair;
pub mod historical;
#[allow(unsafe_code)]
pub mod huge_pages;
pub mod materialize;
#[allow(unsafe_code)]
pub mod mmap;
pub mod parquet_out;
pub mod pipeline;
pub mod publish;
pub mod push;
pub mod repo;
pub mod request;
pub mod resolve;
pub mod serve;
pub mod source;
pub mod spark;
pub mod store;
pub mod table_io;
pub mod train;
pub mod verify;
pub mod warnings;
pub mod wasm_runtime;
