//! One instance of the module: its lifecycle (a trap marks it broken, the next
//! call rebuilds it and reloads what was loaded), memory access, buffers lent by
//! the module, and the raw ABI calls tests use to hand it hostile input.

use std::fmt;

use anyhow::{Context as _, bail};
use wasmtime::{Instance, Store, Val};

use super::exports::Exports;
use verge_core::artifact::Bundle;
use verge_core::online::Deployment;

use super::{ABI_VERSION, AbiError, BUILD_COMMAND, IntoAnyhow as _, WasmModule, codes, to_u32};

/// One instance of the module, loaded with (up to) one bundle and one snapshot.
pub struct WasmRuntime {
    /// The compiled module, to rebuild a broken instance from.
    module: WasmModule,
    /// The instance's store.
    pub(super) store: Store<()>,
    /// The instance.
    instance: Instance,
    /// Its typed exports.
    pub(super) exports: Exports,
    /// The loaded bundles' bytes, in load order, to reload after a rebuild.
    pub(super) bundles: Vec<Vec<u8>>,
    /// The loaded snapshot's bytes, to reload after a rebuild.
    pub(super) snapshot: Option<Vec<u8>>,
    /// The deltas loaded over it, oldest first, likewise.
    pub(super) deltas: Vec<Vec<u8>>,
    /// The request limits set, to set again after a rebuild.
    pub(super) limits: Option<(u32, u32, u32)>,
    /// A reusable buffer in the module for requests: (address, capacity).
    scratch: Option<(u32, u32)>,
    /// Set by a trap: the next call rebuilds the instance first.
    pub(super) broken: bool,
}

impl fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmRuntime")
            .field(
                "bundle_bytes",
                &self.bundles.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .field("snapshot_bytes", &self.snapshot.as_ref().map(Vec::len))
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl WasmRuntime {
    /// A fresh instance of `module`, its ABI version checked.
    pub(super) fn new(module: WasmModule) -> anyhow::Result<WasmRuntime> {
        let (mut store, instance) = module.new_instance()?;
        let mut runtime = WasmRuntime {
            exports: Exports::get(&mut store, &instance)?,
            module,
            store,
            instance,
            bundles: Vec::new(),
            snapshot: None,
            deltas: Vec::new(),
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

    /// Rebuilds a broken instance and reloads what was loaded.
    pub(super) fn ensure_live(&mut self) -> anyhow::Result<()> {
        if !self.broken {
            return Ok(());
        }
        let (mut store, instance) = self.module.new_instance()?;
        self.exports = Exports::get(&mut store, &instance)?;
        self.store = store;
        self.instance = instance;
        self.scratch = None;
        self.broken = false;
        if let Some(limits) = self.limits {
            let code = self.call("verge_set_limits", |r| {
                r.exports.set_limits.call(&mut r.store, limits)
            })?;
            self.check("verge_set_limits", code)?;
        }
        let bundles = std::mem::take(&mut self.bundles);
        for (i, bytes) in bundles.iter().enumerate() {
            let kind = if i == 0 {
                Load::Bundle
            } else {
                Load::AddBundle
            };
            self.load(bytes, kind)?;
        }
        let deltas = std::mem::take(&mut self.deltas);
        if let Some(bytes) = self.snapshot.take() {
            self.load(&bytes, Load::Snapshot)?;
        }
        for bytes in &deltas {
            self.load(bytes, Load::Delta)?;
        }
        Ok(())
    }

    /// Calls into the module; a trap marks the instance broken.
    pub(super) fn call<T>(
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

    pub(super) fn read_memory(&mut self, ptr: u32, len: u32) -> anyhow::Result<Vec<u8>> {
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

    pub(super) fn check(&mut self, export: &'static str, code: i32) -> anyhow::Result<i32> {
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
    pub(super) fn with_buffer<T>(
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
    pub(super) fn scratch(&mut self, len: u32) -> anyhow::Result<u32> {
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

    pub(super) fn load(&mut self, bytes: &[u8], kind: Load) -> anyhow::Result<()> {
        let export = match kind {
            Load::Bundle => "verge_load_bundle",
            Load::AddBundle => "verge_add_bundle",
            Load::Snapshot => "verge_load_snapshot",
            Load::Delta => "verge_add_delta",
        };
        if matches!(kind, Load::Delta) && self.exports.add_delta.is_none() {
            anyhow::bail!(
                "this Wasm module has no `verge_add_delta`; rebuild it with `{}`",
                BUILD_COMMAND
            );
        }
        let code = self.with_buffer(bytes, |r, ptr, len| {
            r.call(export, |r| {
                let f = match kind {
                    Load::Bundle => &r.exports.load_bundle,
                    Load::AddBundle => &r.exports.add_bundle,
                    Load::Snapshot => &r.exports.load_snapshot,
                    Load::Delta => match &r.exports.add_delta {
                        Some(f) => f,
                        None => &r.exports.load_snapshot,
                    },
                };
                f.call(&mut r.store, (ptr, len))
            })
        })?;
        self.check(export, code)?;
        match kind {
            Load::Bundle => self.bundles = vec![bytes.to_vec()],
            Load::AddBundle => {
                // Keep what the module kept, in its order (the module took
                // these bytes, so they decode).
                let decoded = |b: Vec<u8>| Bundle::load(&b).ok().map(|d| (d, b));
                let kept = std::mem::take(&mut self.bundles)
                    .into_iter()
                    .filter_map(decoded)
                    .collect();
                self.bundles = match decoded(bytes.to_vec()) {
                    Some(new) => Deployment::place(kept, new, |(b, _)| b),
                    None => kept,
                }
                .into_iter()
                .map(|(_, bytes)| bytes)
                .collect();
            }
            Load::Snapshot => {
                self.snapshot = Some(bytes.to_vec());
                self.deltas.clear();
            }
            Load::Delta => self.deltas.push(bytes.to_vec()),
        }
        Ok(())
    }
}

/// Which load export to call.
#[derive(Debug, Clone, Copy)]
pub(super) enum Load {
    /// `verge_load_bundle`: this bundle in place of all.
    Bundle,
    /// `verge_add_bundle`: this bundle beside the others.
    AddBundle,
    /// `verge_load_snapshot`.
    Snapshot,
    /// `verge_add_delta`.
    Delta,
}
