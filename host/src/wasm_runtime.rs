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

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use std::sync::{Mutex, PoisonError};

use verge_core::{ContentId, Timestamp};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc, Val};

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

/// Compiles module bytes once per process per content: a process that
/// verifies several pipelines (a workflow worker, the tests) pays it once.
fn compile_once(bytes: &[u8]) -> anyhow::Result<WasmModule> {
    static MODULES: Mutex<Vec<(ContentId, WasmModule)>> = Mutex::new(Vec::new());
    let id = ContentId::of(bytes);
    let mut modules = MODULES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, m)) = modules.iter().find(|(k, _)| *k == id) {
        return Ok(m.clone());
    }
    let module = WasmModule::from_bytes(bytes)?;
    modules.push((id, module.clone()));
    Ok(module)
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

/// The compiled module, cheap to clone and to instantiate many times.
#[derive(Clone)]
pub struct WasmModule {
    engine: Engine,
    module: Module,
}

impl fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmModule")
            .field("imports", &self.imports())
            .finish_non_exhaustive()
    }
}

impl WasmModule {
    /// The module this process answers with: `$VERGE_WASM` when set (an
    /// override, for testing a module built elsewhere), else the module built
    /// into this binary ([`EMBEDDED`]). Compiled once per process and shared:
    /// compiling is most of `verify`'s time.
    ///
    /// # Errors
    ///
    /// When `$VERGE_WASM` names a file that is missing, unreadable, not a
    /// module, or a module that imports anything.
    pub fn configured() -> anyhow::Result<WasmModule> {
        match Self::override_path() {
            Some(path) => Self::load_cached(&path),
            None => Self::embedded(),
        }
    }

    /// Where [`Self::configured`] reads the module from, for messages:
    /// `$VERGE_WASM`'s path, or `embedded` with the module's content id.
    #[must_use]
    pub fn configured_source() -> String {
        match Self::override_path() {
            Some(path) => path.display().to_string(),
            None => format!("embedded module {}", embedded_id().short()),
        }
    }

    /// `$VERGE_WASM`, when set and not empty.
    #[must_use]
    pub fn override_path() -> Option<PathBuf> {
        std::env::var_os(WASM_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// The module built into this binary, compiled once per process.
    ///
    /// # Errors
    ///
    /// Only if wasmtime cannot compile for this machine.
    pub fn embedded() -> anyhow::Result<WasmModule> {
        compile_once(EMBEDDED).context("compiling the embedded Wasm module")
    }

    /// The bytes [`Self::configured`] (or an explicit `path`) compiles, and
    /// where they come from: for keying a memoized check by the module's
    /// content before paying for a compile.
    ///
    /// # Errors
    ///
    /// When the chosen file cannot be read.
    pub fn configured_bytes(path: Option<&Path>) -> anyhow::Result<(String, Cow<'static, [u8]>)> {
        match path.map(Path::to_path_buf).or_else(Self::override_path) {
            Some(path) => {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read the Wasm module {}", path.display()))?;
                Ok((path.display().to_string(), Cow::Owned(bytes)))
            }
            None => Ok((Self::configured_source(), Cow::Borrowed(EMBEDDED))),
        }
    }

    /// Compiles module bytes once per process per content (a clone of the
    /// first compile afterwards).
    ///
    /// # Errors
    ///
    /// As [`Self::from_bytes`].
    pub fn from_bytes_cached(bytes: &[u8]) -> anyhow::Result<WasmModule> {
        compile_once(bytes)
    }

    /// The module at `path`, compiled once per process per content.
    fn load_cached(path: &Path) -> anyhow::Result<WasmModule> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the Wasm module {} (${WASM_ENV}); unset ${WASM_ENV} to use the module built into verge, or build one with `{BUILD_COMMAND}`",
                path.display()
            )
        })?;
        compile_once(&bytes).with_context(|| format!("in {}", path.display()))
    }

    /// Compiles the module at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is not a valid module, or imports anything.
    pub fn load(path: &Path) -> anyhow::Result<WasmModule> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the Wasm module {}; leave out --wasm to use the module built into verge, or build one with `{BUILD_COMMAND}`",
                path.display()
            )
        })?;
        Self::from_bytes(&bytes).with_context(|| format!("in {}", path.display()))
    }

    /// Compiles module bytes.
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid module, or it imports anything.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<WasmModule> {
        let engine = Engine::default();
        let module = Module::new(&engine, bytes)
            .anyhow()
            .context("not a valid Wasm module")?;
        let out = WasmModule { engine, module };
        let imports = out.imports();
        if !imports.is_empty() {
            bail!(
                "the module imports {}; the verge ABI module must import nothing (was it built with --features browser or worker?)",
                imports.join(", ")
            );
        }
        Ok(out)
    }

    /// The module's imports as `module::name` (empty for the verge ABI module).
    #[must_use]
    pub fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect()
    }

    /// The module's export names.
    #[must_use]
    pub fn exports(&self) -> Vec<String> {
        self.module
            .exports()
            .map(|e| e.name().to_string())
            .collect()
    }

    /// A fresh instance with nothing loaded.
    ///
    /// # Errors
    ///
    /// When instantiation fails or an export is missing or mistyped.
    pub fn instantiate(&self) -> anyhow::Result<WasmRuntime> {
        let (mut store, instance) = self.new_instance()?;
        let mut runtime = WasmRuntime {
            module: self.clone(),
            exports: Exports::get(&mut store, &instance)?,
            store,
            instance,
            bundle: None,
            snapshot: None,
            limits: None,
            scratch: None,
            broken: false,
        };
        let version = runtime.exports.abi_version.call(&mut runtime.store, ())?;
        if version != ABI_VERSION {
            bail!(
                "the module speaks ABI version {version}; this verge speaks {ABI_VERSION}: rebuild it with `{BUILD_COMMAND}`"
            );
        }
        Ok(runtime)
    }

    fn new_instance(&self) -> anyhow::Result<(Store<()>, Instance)> {
        let mut store = Store::new(&self.engine, ());
        let linker = Linker::new(&self.engine);
        let instance = linker
            .instantiate(&mut store, &self.module)
            .anyhow()
            .context("cannot instantiate the Wasm module")?;
        Ok((store, instance))
    }
}

/// `verge_handle`'s arguments: method, path and body (pointer, length), `now`.
type HandleArgs = (u32, u32, u32, u32, u32, u32, i64);

/// The typed exports, looked up once.
#[derive(Clone)]
struct Exports {
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), i32>,
    load_bundle: TypedFunc<(u32, u32), i32>,
    load_snapshot: TypedFunc<(u32, u32), i32>,
    set_limits: TypedFunc<(u32, u32), i32>,
    handle: TypedFunc<HandleArgs, i32>,
    output_width: TypedFunc<(), i32>,
    model_info: TypedFunc<(), i32>,
    score_batch: TypedFunc<(u32, u32, u32, u32), i32>,
    predict_batch_i64: TypedFunc<(u32, u32, i64, u32), i32>,
    result_ptr: TypedFunc<(), u32>,
    result_len: TypedFunc<(), u32>,
    last_error_ptr: TypedFunc<(), u32>,
    last_error_len: TypedFunc<(), u32>,
    abi_version: TypedFunc<(), i32>,
    live_buffers: TypedFunc<(), u32>,
}

impl Exports {
    fn get(store: &mut Store<()>, instance: &Instance) -> anyhow::Result<Exports> {
        macro_rules! func {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).anyhow().with_context(|| {
                    format!(
                        "the module has no export `{}` of the expected type; rebuild it with `{BUILD_COMMAND}`",
                        $name
                    )
                })?
            };
        }
        Ok(Exports {
            memory: instance
                .get_memory(&mut *store, "memory")
                .context("the module exports no memory")?,
            alloc: func!("verge_alloc"),
            free: func!("verge_free"),
            load_bundle: func!("verge_load_bundle"),
            load_snapshot: func!("verge_load_snapshot"),
            set_limits: func!("verge_set_limits"),
            handle: func!("verge_handle"),
            output_width: func!("verge_output_width"),
            model_info: func!("verge_model_info"),
            score_batch: func!("verge_score_batch"),
            predict_batch_i64: func!("verge_predict_batch_i64"),
            result_ptr: func!("verge_result_ptr"),
            result_len: func!("verge_result_len"),
            last_error_ptr: func!("verge_last_error_ptr"),
            last_error_len: func!("verge_last_error_len"),
            abi_version: func!("verge_abi_version"),
            live_buffers: func!("verge_live_buffers"),
        })
    }
}

/// One instance of the module, loaded with (up to) one bundle and one snapshot.
pub struct WasmRuntime {
    module: WasmModule,
    store: Store<()>,
    instance: Instance,
    exports: Exports,
    bundle: Option<Vec<u8>>,
    snapshot: Option<Vec<u8>>,
    limits: Option<(u32, u32)>,
    /// A reusable buffer in the module for requests: (address, capacity).
    scratch: Option<(u32, u32)>,
    broken: bool,
}

impl fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("bundle_bytes", &self.bundle.as_ref().map(Vec::len))
            .field("snapshot_bytes", &self.snapshot.as_ref().map(Vec::len))
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// wasmtime has its own error type; this crate speaks anyhow.
trait IntoAnyhow<T> {
    fn anyhow(self) -> anyhow::Result<T>;
}

impl<T> IntoAnyhow<T> for wasmtime::Result<T> {
    fn anyhow(self) -> anyhow::Result<T> {
        self.map_err(anyhow::Error::from)
    }
}

fn to_u32(n: usize, what: &str) -> anyhow::Result<u32> {
    u32::try_from(n)
        .with_context(|| format!("{what} is {n} bytes; a 32-bit Wasm module takes at most 4 GiB"))
}

impl WasmRuntime {
    /// Rebuilds a broken instance and reloads what was loaded.
    fn ensure_live(&mut self) -> anyhow::Result<()> {
        if !self.broken {
            return Ok(());
        }
        let (mut store, instance) = self.module.new_instance()?;
        self.exports = Exports::get(&mut store, &instance)?;
        self.store = store;
        self.instance = instance;
        self.scratch = None;
        self.broken = false;
        if let Some((body, entities)) = self.limits {
            let code = self.call("verge_set_limits", |r| {
                r.exports.set_limits.call(&mut r.store, (body, entities))
            })?;
            self.check("verge_set_limits", code)?;
        }
        for (bytes, is_bundle) in [(self.bundle.take(), true), (self.snapshot.take(), false)] {
            if let Some(bytes) = bytes {
                self.load(&bytes, is_bundle)?;
            }
        }
        Ok(())
    }

    /// Calls into the module; a trap marks the instance broken.
    fn call<T>(
        &mut self,
        export: &'static str,
        f: impl FnOnce(&mut Self) -> wasmtime::Result<T>,
    ) -> anyhow::Result<T> {
        f(self).anyhow().map_err(|e| {
            self.broken = true;
            e.context(format!(
                "the Wasm module trapped in {export}; the instance will be rebuilt on the next call"
            ))
        })
    }

    fn read_memory(&mut self, ptr: u32, len: u32) -> anyhow::Result<Vec<u8>> {
        let mut out = vec![0; len as usize];
        self.exports
            .memory
            .read(&self.store, ptr as usize, &mut out)
            .context("the module pointed outside its memory")?;
        Ok(out)
    }

    /// The module's last error message.
    ///
    /// # Errors
    ///
    /// On a trap or a bad pointer from the module.
    pub fn last_error(&mut self) -> anyhow::Result<String> {
        let ptr = self.call("verge_last_error_ptr", |r| {
            r.exports.last_error_ptr.call(&mut r.store, ())
        })?;
        let len = self.call("verge_last_error_len", |r| {
            r.exports.last_error_len.call(&mut r.store, ())
        })?;
        Ok(String::from_utf8_lossy(&self.read_memory(ptr, len)?).into_owned())
    }

    fn check(&mut self, export: &'static str, code: i32) -> anyhow::Result<i32> {
        if code >= 0 {
            return Ok(code);
        }
        let message = self.last_error()?;
        Err(AbiError {
            export,
            code,
            message,
        }
        .into())
    }

    /// Lends a buffer of `len` bytes inside the module (raw ABI; pair with [`WasmRuntime::free`]).
    ///
    /// # Errors
    ///
    /// When the module cannot allocate (its last error says why) or traps.
    pub fn alloc(&mut self, len: u32) -> anyhow::Result<u32> {
        self.ensure_live()?;
        let ptr = self.call("verge_alloc", |r| r.exports.alloc.call(&mut r.store, len))?;
        if ptr == 0 {
            let message = self.last_error()?;
            return Err(AbiError {
                export: "verge_alloc",
                code: codes::ERR_OUT_OF_MEMORY,
                message,
            }
            .into());
        }
        Ok(ptr)
    }

    /// Gives a buffer back (raw ABI).
    ///
    /// # Errors
    ///
    /// An [`AbiError`] when `ptr`/`len` is not a live allocation.
    pub fn free(&mut self, ptr: u32, len: u32) -> anyhow::Result<()> {
        let code = self.call("verge_free", |r| {
            r.exports.free.call(&mut r.store, (ptr, len))
        })?;
        self.check("verge_free", code).map(drop)
    }

    /// Writes bytes into the module's memory at `ptr` (raw ABI).
    ///
    /// # Errors
    ///
    /// When the range is outside the module's memory.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> anyhow::Result<()> {
        self.exports
            .memory
            .write(&mut self.store, ptr as usize, bytes)
            .context("write outside the module's memory")
    }

    /// Reads `len` bytes of the module's memory at `ptr` (raw ABI).
    ///
    /// # Errors
    ///
    /// When the range is outside the module's memory.
    pub fn read(&mut self, ptr: u32, len: u32) -> anyhow::Result<Vec<u8>> {
        self.read_memory(ptr, len)
    }

    /// Calls any export with raw arguments and returns its first result as i64:
    /// for tests that hand the module hostile pointers and lengths.
    ///
    /// # Errors
    ///
    /// When the export does not exist, the arguments do not fit, or it traps.
    pub fn call_raw(&mut self, export: &str, args: &[Val]) -> anyhow::Result<i64> {
        self.ensure_live()?;
        let func = self
            .instance
            .get_func(&mut self.store, export)
            .with_context(|| format!("no export `{export}`"))?;
        let n = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        func.call(&mut self.store, args, &mut results)
            .map_err(|e| {
                self.broken = true;
                e.context(format!("the Wasm module trapped in {export}"))
            })?;
        Ok(match results.first() {
            Some(Val::I32(v)) => i64::from(*v),
            Some(Val::I64(v)) => *v,
            _ => 0,
        })
    }

    /// Buffers lent by the module and not yet freed (leak checks).
    ///
    /// # Errors
    ///
    /// On a trap.
    pub fn live_buffers(&mut self) -> anyhow::Result<u32> {
        self.call("verge_live_buffers", |r| {
            r.exports.live_buffers.call(&mut r.store, ())
        })
    }

    /// Copies `bytes` into a one-off buffer, runs `f(ptr, len)`, frees the buffer.
    fn with_buffer<T>(
        &mut self,
        bytes: &[u8],
        f: impl FnOnce(&mut Self, u32, u32) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        if bytes.is_empty() {
            return f(self, 0, 0);
        }
        let len = to_u32(bytes.len(), "the input")?;
        let ptr = self.alloc(len)?;
        self.write(ptr, bytes)?;
        let out = f(self, ptr, len);
        if !self.broken {
            self.free(ptr, len)?;
        }
        out
    }

    /// A reusable buffer of at least `len` bytes.
    fn scratch(&mut self, len: u32) -> anyhow::Result<u32> {
        match self.scratch {
            Some((ptr, cap)) if cap >= len => return Ok(ptr),
            Some((ptr, cap)) => {
                self.scratch = None;
                self.free(ptr, cap)?;
            }
            None => {}
        }
        let cap = len.max(4096).checked_next_power_of_two().unwrap_or(len);
        let ptr = self.alloc(cap)?;
        self.scratch = Some((ptr, cap));
        Ok(ptr)
    }

    fn load(&mut self, bytes: &[u8], is_bundle: bool) -> anyhow::Result<()> {
        let export = if is_bundle {
            "verge_load_bundle"
        } else {
            "verge_load_snapshot"
        };
        let code = self.with_buffer(bytes, |r, ptr, len| {
            r.call(export, |r| {
                let f = if is_bundle {
                    &r.exports.load_bundle
                } else {
                    &r.exports.load_snapshot
                };
                f.call(&mut r.store, (ptr, len))
            })
        })?;
        self.check(export, code)?;
        if is_bundle {
            self.bundle = Some(bytes.to_vec());
        } else {
            self.snapshot = Some(bytes.to_vec());
        }
        Ok(())
    }

    /// Loads a bundle (paired with the loaded snapshot, if any).
    ///
    /// # Errors
    ///
    /// An [`AbiError`] with `ERR_ARTIFACT` for bytes that are not a valid bundle,
    /// `ERR_INCOMPATIBLE` when it does not fit the loaded snapshot (the previous
    /// pair stays loaded).
    pub fn load_bundle(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, true)
    }

    /// Loads a snapshot or shard (paired with the loaded bundle, if any).
    ///
    /// # Errors
    ///
    /// As [`WasmRuntime::load_bundle`].
    pub fn load_snapshot(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.ensure_live()?;
        self.load(bytes, false)
    }

    /// Sets the request limits (as [`verge_core::api::Limits`]).
    ///
    /// # Errors
    ///
    /// When a limit does not fit in 32 bits, or on a trap.
    pub fn set_limits(&mut self, limits: verge_core::api::Limits) -> anyhow::Result<()> {
        self.ensure_live()?;
        let body = to_u32(limits.max_body_bytes, "max_body_bytes")?;
        let entities = u32::try_from(limits.max_entities).context("max_entities is too large")?;
        let code = self.call("verge_set_limits", |r| {
            r.exports.set_limits.call(&mut r.store, (body, entities))
        })?;
        self.check("verge_set_limits", code)?;
        self.limits = Some((body, entities));
        Ok(())
    }

    fn result(&mut self) -> anyhow::Result<Vec<u8>> {
        let ptr = self.call("verge_result_ptr", |r| {
            r.exports.result_ptr.call(&mut r.store, ())
        })?;
        let len = self.call("verge_result_len", |r| {
            r.exports.result_len.call(&mut r.store, ())
        })?;
        self.read_memory(ptr, len)
    }

    /// Answers an HTTP request through the module's `Api::handle`: (status, JSON body).
    ///
    /// # Errors
    ///
    /// An [`AbiError`] (`ERR_NOT_LOADED` before a bundle and a snapshot are
    /// loaded), or a trap. HTTP errors are answers, not errors.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        now: Timestamp,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        self.ensure_live()?;
        let (m, p) = (method.len(), path.len());
        let total = to_u32(m + p + body.len(), "the request")?;
        let base = self.scratch(total)?;
        let mut request = Vec::with_capacity(total as usize);
        request.extend_from_slice(method.as_bytes());
        request.extend_from_slice(path.as_bytes());
        request.extend_from_slice(body);
        self.write(base, &request)?;
        let (m, p) = (m as u32, p as u32);
        let args = (
            base,
            m,
            base + m,
            p,
            base + m + p,
            total - m - p,
            now.as_micros(),
        );
        let code = self.call("verge_handle", |r| {
            r.exports.handle.call(&mut r.store, args)
        })?;
        let status = self.check("verge_handle", code)?;
        let status = u16::try_from(status).context("the module returned a status out of range")?;
        Ok((status, self.result()?))
    }

    /// The loaded bundle described as JSON (features, classes, outputs).
    ///
    /// # Errors
    ///
    /// `ERR_NOT_LOADED` without a bundle, or a trap.
    pub fn model_info(&mut self) -> anyhow::Result<serde_json::Value> {
        self.ensure_live()?;
        let code = self.call("verge_model_info", |r| {
            r.exports.model_info.call(&mut r.store, ())
        })?;
        self.check("verge_model_info", code)?;
        serde_json::from_slice(&self.result()?).context("the module's model info is not JSON")
    }

    /// The size of the instance's linear memory in bytes. Wasm memory only
    /// grows, so this is the peak of every request the instance has answered.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.exports.memory.data_size(&self.store)
    }

    /// Floats per row the batch paths write (the class count, or 1).
    ///
    /// # Errors
    ///
    /// `ERR_NOT_LOADED` without a bundle, or a trap.
    pub fn output_width(&mut self) -> anyhow::Result<usize> {
        self.ensure_live()?;
        let code = self.call("verge_output_width", |r| {
            r.exports.output_width.call(&mut r.store, ())
        })?;
        Ok(self.check("verge_output_width", code)? as usize)
    }

    fn batch(
        &mut self,
        input: &[u8],
        rows: usize,
        run: impl FnOnce(&mut Self, u32, u32) -> wasmtime::Result<i32>,
        export: &'static str,
    ) -> anyhow::Result<Vec<f64>> {
        let width = self.output_width()?;
        let in_len = to_u32(input.len(), "the batch")?;
        let out_len = to_u32(rows * width * 8, "the batch output")?;
        let total = in_len
            .checked_add(out_len)
            .context("the batch is too large")?;
        let base = self.scratch(total.max(1))?;
        self.write(base, input)?;
        let out_ptr = base + in_len;
        let code = self.call(export, |r| run(r, base, out_ptr))?;
        self.check(export, code)?;
        let bytes = self.read_memory(out_ptr, out_len)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect())
    }

    /// Scores rows of feature values the caller already has (`rows.len()` is a
    /// multiple of `cols`; NaN marks a missing value). Returns `rows ×
    /// output_width` floats: class probabilities row by row, or values.
    ///
    /// # Errors
    ///
    /// `ERR_INPUT` naming the row for a wrong width or a value the model cannot
    /// take; `ERR_NOT_LOADED` without a bundle.
    pub fn score_batch(&mut self, values: &[f64], cols: usize) -> anyhow::Result<Vec<f64>> {
        if cols == 0 || !values.len().is_multiple_of(cols) {
            bail!("{} values do not make rows of {cols}", values.len());
        }
        let rows = values.len() / cols;
        let input: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let (r32, c32) = (to_u32(rows, "rows")?, to_u32(cols, "cols")?);
        self.batch(
            &input,
            rows,
            |r, ptr, out| {
                r.exports
                    .score_batch
                    .call(&mut r.store, (ptr, r32, c32, out))
            },
            "verge_score_batch",
        )
    }

    /// Predicts for int64 entity keys at `now` (request fields null). Returns
    /// `keys.len() × output_width` floats.
    ///
    /// # Errors
    ///
    /// `ERR_INPUT` for a model whose entity is not one int64 join key;
    /// `ERR_NOT_LOADED` before a bundle and a snapshot are loaded.
    pub fn predict_batch_i64(&mut self, keys: &[i64], now: Timestamp) -> anyhow::Result<Vec<f64>> {
        let input: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
        let n = to_u32(keys.len(), "keys")?;
        let now = now.as_micros();
        self.batch(
            &input,
            keys.len(),
            |r, ptr, out| {
                r.exports
                    .predict_batch_i64
                    .call(&mut r.store, (ptr, n, now, out))
            },
            "verge_predict_batch_i64",
        )
    }
}
