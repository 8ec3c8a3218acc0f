//! The raw Wasm ABI's contract: its version and its return codes.
//!
//! Both sides of the ABI import this one module: the module itself
//! (`verge-wasm`'s `abi` face, which returns these codes) and every host that
//! runs it (`verge_host::wasm_runtime`, which checks the version and names the
//! codes in its errors). Before, the host kept a hand-written copy, which could
//! drift from the module without any test noticing. `docs/abi.md` documents
//! each code for hosts written in other languages.
//!
//! # Examples
//!
//! ```
//! use verge_core::abi::{self, codes};
//!
//! assert_eq!(abi::code_name(codes::ERR_NOT_LOADED), "ERR_NOT_LOADED");
//! assert_eq!(abi::code_name(200), "an HTTP status");
//! assert!(abi::ABI_VERSION >= 1);
//! ```

/// The ABI's version, returned by `verge_abi_version`; bumped on any
/// incompatible change to the exports. A host refuses a module that speaks
/// another version.
///
/// | version | change |
/// |---|---|
/// | 1 | first |
/// | 2 | `verge_set_limits` takes a third argument, `max_cells` |
/// | 3 | `verge_add_bundle`: several bundles over one snapshot |
pub const ABI_VERSION: i32 = 3;

/// Return codes of the exports. Non-negative codes are successes
/// (`verge_handle` returns the HTTP status); negative ones are failures, with a
/// message at `verge_last_error_ptr/len`.
pub mod codes {
    /// Success.
    pub const OK: i32 = 0;
    /// A pointer/length pair is not inside a live buffer from `verge_alloc`, or a
    /// `verge_free` does not match an allocation.
    pub const ERR_POINTER: i32 = -1;
    /// The module's memory cannot grow enough.
    pub const ERR_OUT_OF_MEMORY: i32 = -2;
    /// The bytes are not a valid artifact of the expected kind (magic, version,
    /// hash, truncation, contents).
    pub const ERR_ARTIFACT: i32 = -3;
    /// The bundle and the snapshot were built from incompatible definitions.
    pub const ERR_INCOMPATIBLE: i32 = -4;
    /// The call needs a bundle (and a snapshot) that is not loaded yet.
    pub const ERR_NOT_LOADED: i32 = -5;
    /// Bad arguments: non-UTF-8 method or path, a wrong row width, a feature value
    /// the model cannot take, a model the batch path does not fit.
    pub const ERR_INPUT: i32 = -6;
    /// A failure inside verge (a bug: please report it).
    pub const ERR_INTERNAL: i32 = -7;
}

/// Every failure code with its name, in code order (for hosts that print a
/// table, and for the test that keeps [`code_name`] complete).
pub const FAILURES: [(i32, &str); 7] = [
    (codes::ERR_POINTER, "ERR_POINTER"),
    (codes::ERR_OUT_OF_MEMORY, "ERR_OUT_OF_MEMORY"),
    (codes::ERR_ARTIFACT, "ERR_ARTIFACT"),
    (codes::ERR_INCOMPATIBLE, "ERR_INCOMPATIBLE"),
    (codes::ERR_NOT_LOADED, "ERR_NOT_LOADED"),
    (codes::ERR_INPUT, "ERR_INPUT"),
    (codes::ERR_INTERNAL, "ERR_INTERNAL"),
];

/// The name of a return code: `"OK"`, a failure's name, `"an HTTP status"` for
/// other non-negative codes, or `"unknown code"` (a newer module's failure).
#[must_use]
pub fn code_name(code: i32) -> &'static str {
    match code {
        codes::OK => "OK",
        1.. => "an HTTP status",
        _ => FAILURES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("unknown code", |(_, name)| name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_named_and_distinct() {
        for (i, (code, name)) in FAILURES.iter().enumerate() {
            assert_eq!(code_name(*code), *name);
            assert_eq!(*code, -(i as i32) - 1, "codes are -1, -2, ... in order");
        }
        assert_eq!(code_name(codes::OK), "OK");
        assert_eq!(code_name(404), "an HTTP status");
        assert_eq!(code_name(-8), "unknown code");
        assert_eq!(code_name(i32::MIN), "unknown code");
    }
}
