//! The raw Wasm ABI module (`verge-wasm`, `docs/abi.md`) under wasmtime: what
//! `verge verify` compares with the native core and what `verge serve` runs by
//! default.
//!
//! [`WasmModule`] compiles the module once (an empty linker: the module imports
//! nothing, and [`WasmModule::load`] refuses one that does); [`WasmRuntime`] is
//! one instance with its own memory, loaded with a bundle and a snapshot. A trap
//! (which the module is built never to hit, but a host must not trust that) marks
//! the instance broken; the next call rebuilds it from the artifact bytes kept
//! here, so one bad request cannot take a server down.
//!
//! # Examples
//!
//! ```no_run
//! use verge_core::Timestamp;
//! use verge_host::wasm_runtime::WasmModule;
//!
//! # fn main() -> anyhow::Result<()> {
//! let module = WasmModule::configured()?;
//! let mut runtime = module.instantiate()?;
//! runtime.load_bundle(&std::fs::read("model.bundle")?)?;
//! runtime.load_snapshot(&std::fs::read("features.snapshot")?)?;
//! let (status, body) = runtime.handle(
//!     "POST",
//!     "/predict",
//!     br#"{"entities": {"hospital_number": [530101]}}"#,
//!     Timestamp::from_secs(1_625_486_400),
//! )?;
//! assert_eq!(status, 200);
//! println!("{}", String::from_utf8_lossy(&body));
//! # Ok(())
//! # }
//! ```

mod calls;
mod exports;
mod module;
mod runtime;

use std::fmt;

use anyhow::Context as _;
use verge_core::ContentId;

pub use module::WasmModule;
pub use runtime::WasmRuntime;

/// The environment variable that points at the module file.
pub const WASM_ENV: &str = "VERGE_WASM";

/// The command that builds the module by hand (the binary embeds its own).
pub const BUILD_COMMAND: &str =
    "cargo build -p verge-wasm --target wasm32-unknown-unknown --profile wasm";

/// The raw ABI module this binary was built with (`host/build.rs` compiles
/// `verge-wasm` for `wasm32-unknown-unknown` with the `wasm` profile).
pub const EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/verge_wasm.wasm"));

/// The content id (BLAKE3) of [`EMBEDDED`], as `verge --version` prints it.
#[must_use]
pub fn embedded_id() -> ContentId {
    ContentId::of(EMBEDDED)
}

/// The ABI version this host speaks and the names of the return codes: the
/// core's, which the module itself returns, so the two sides cannot drift.
pub use verge_core::abi::{ABI_VERSION, code_name, codes};

/// A negative return code from the module, with its last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError {
    /// The export that failed.
    pub export: &'static str,
    /// The code it returned (see `docs/abi.md`).
    pub code: i32,
    /// `verge_last_error`.
    pub message: String,
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} returned {} ({}): {}",
            self.export,
            self.code,
            code_name(self.code),
            self.message
        )
    }
}

impl std::error::Error for AbiError {}

/// wasmtime has its own error type; this crate speaks anyhow.
trait IntoAnyhow<T> {
    /// The error as an [`anyhow::Error`].
    fn anyhow(self) -> anyhow::Result<T>;
}

impl<T> IntoAnyhow<T> for wasmtime::Result<T> {
    fn anyhow(self) -> anyhow::Result<T> {
        self.map_err(anyhow::Error::from)
    }
}

/// `n` as a 32-bit length, or an error naming `what`.
fn to_u32(n: usize, what: &str) -> anyhow::Result<u32> {
    u32::try_from(n)
        .with_context(|| format!("{what} is {n} bytes; a 32-bit Wasm module takes at most 4 GiB"))
}
