//! The compiled ABI module: where its bytes come from (`$VERGE_WASM`, an explicit
//! path, or the module embedded in the binary), compiled once per process per
//! content, and refused when it imports anything.
//!
//! Compiling the module takes most of a second, which every `verge serve`,
//! `verify` and `run` used to pay at start. Compiled code is kept in wasmtime's
//! own on-disk cache ([`COMPILE_CACHE_ENV`], default
//! `$XDG_CACHE_HOME/verge/wasmtime`, else `~/.cache/verge/wasmtime`), keyed by
//! the module's bytes, the compiler settings and wasmtime's version, so a
//! changed module or wasmtime never reuses stale code. A cache that cannot be
//! opened only means compiling again.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, bail};
use verge_core::ContentId;
use wasmtime::{Cache, CacheConfig, Config, Engine, Instance, Linker, Module, Store};

use super::{BUILD_COMMAND, EMBEDDED, IntoAnyhow as _, WASM_ENV, WasmRuntime, embedded_id};

/// Where compiled modules are cached; `off` turns the cache off.
pub const COMPILE_CACHE_ENV: &str = "VERGE_WASM_CACHE";

/// The compile cache's directory, if there is one to use.
fn compile_cache_dir() -> Option<PathBuf> {
    match std::env::var_os(COMPILE_CACHE_ENV) {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("verge").join("wasmtime")),
    }
}

/// An engine whose compiled code goes to the cache when one can be opened.
fn engine() -> Engine {
    let cache = compile_cache_dir().and_then(|dir| {
        let mut config = CacheConfig::new();
        config.with_directory(dir);
        Cache::new(config).ok()
    });
    let mut config = Config::new();
    config.cache(cache);
    Engine::new(&config).unwrap_or_default()
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
        let engine = engine();
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
        WasmRuntime::new(self.clone())
    }

    /// A new store and instance of the module (also for rebuilding a broken one).
    pub(super) fn new_instance(&self) -> anyhow::Result<(Store<()>, Instance)> {
        let mut store = Store::new(&self.engine, ());
        let linker = Linker::new(&self.engine);
        let instance = linker
            .instantiate(&mut store, &self.module)
            .anyhow()
            .context("cannot instantiate the Wasm module")?;
        Ok((store, instance))
    }
}
