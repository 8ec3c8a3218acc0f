//! End-to-end tests of the `verge` binary on temporary repositories.
//!
//! Each module covers one area; all of them run the real binary built by cargo
//! (`CARGO_BIN_EXE_verge`) so argument parsing, exit codes and output are tested
//! as a user or a script sees them.

mod concurrency;
mod config_errors;
mod historical;
mod input_errors;
mod lifecycle;
mod train_doubts;
mod warnings;
