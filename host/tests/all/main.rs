//! verge-host's integration tests: one test binary, one module per area (as
//! wasmtime's `tests/all` and ripgrep's `tests/`), so cargo links the library
//! and its dependencies once instead of once per file.
//!
//! Run one area with `cargo test -p verge-host --test all -- publish::`, one
//! test by its full name (`serve::serves_the_api_natively`). What every crate's
//! tests share (fixtures, RNG, HTTP client, binary runner) is in
//! `verge-test-kit`; [`support`] adds what needs host's own types.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli;
mod content_ids;
mod crash;
mod datasets;
mod deltas;
mod deployments;
mod features_only;
mod historical;
mod hostile_http;
mod live_pickup;
mod materialize;
mod online_cli;
mod out_of_core;
mod postgres;
mod publish;
mod publish_deltas;
mod publish_shards;
mod push;
mod push_crash;
mod push_http;
mod push_props;
mod run;
mod run_service;
mod schema_checks;
mod serve;
mod serve_shards;
mod smartcore_trees;
mod sources;
mod spark;
mod support;
mod threads;
mod train;
mod trees_import;
mod trees_parity;
mod types;
mod wasm_parity;
