//! verge-host: everything verge does with files, data and processes.
//!
//! | module | what it holds |
//! |---|---|
//! | [`artifacts`] | bundles and snapshots on disk: content-addressed files and refs |
//! | [`repo`] | the feature repository: parsing `verge.toml` into core definitions |
//! | [`store`] | the registry on disk: immutable objects and compare-and-swap refs |
//! | [`source`] | reading CSV, Parquet and SQLite sources into Arrow record batches |
//! | [`table_io`] | reading entity tables and writing training sets (CSV / Parquet) |
//! | [`historical`] | the point-in-time join that builds training sets |
//! | [`materialize`] | online snapshots from sources, merged, sharded |
//! | [`train`] | `verge train`: training sets, linfa estimators exported into core types, bundles |
//! | [`pipeline`] | `verge run`: the whole pipeline as memoized steps keyed by their inputs' hashes |
//! | [`example`] | building the bundled examples' data (the horse-colic SQLite source) |
//! | [`publish`] | the publish layout edge runtimes read, signing keys, the admin-endpoint client |
//! | [`wasm_runtime`] | the raw Wasm ABI module under wasmtime (`verify`, `serve`) |
//! | [`cli`] | the `verge` subcommands |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod artifacts;
pub mod cli;
pub mod example;
pub mod historical;
pub mod materialize;
pub mod pipeline;
pub mod publish;
pub mod repo;
pub mod source;
pub mod store;
pub mod table_io;
pub mod train;
pub mod wasm_runtime;
