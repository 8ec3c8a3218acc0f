//! The module's typed exports (`docs/abi.md`), looked up once per instance, so a
//! missing or mistyped export is found at instantiation rather than mid-request.

use anyhow::Context as _;
use wasmtime::{Instance, Memory, Store, TypedFunc};

use super::{BUILD_COMMAND, IntoAnyhow as _};

/// `verge_handle`'s arguments: method, path and body (pointer, length), `now`.
pub(super) type HandleArgs = (u32, u32, u32, u32, u32, u32, i64);

/// The typed exports, looked up once.
#[derive(Clone)]
pub(super) struct Exports {
    pub(super) memory: Memory,
    pub(super) alloc: TypedFunc<u32, u32>,
    pub(super) free: TypedFunc<(u32, u32), i32>,
    pub(super) load_bundle: TypedFunc<(u32, u32), i32>,
    pub(super) add_bundle: TypedFunc<(u32, u32), i32>,
    pub(super) load_snapshot: TypedFunc<(u32, u32), i32>,
    /// `verge_add_delta`, which modules before delta snapshots lack.
    pub(super) add_delta: Option<TypedFunc<(u32, u32), i32>>,
    pub(super) set_limits: TypedFunc<(u32, u32, u32), i32>,
    pub(super) handle: TypedFunc<HandleArgs, i32>,
    pub(super) output_width: TypedFunc<(), i32>,
    pub(super) model_info: TypedFunc<(), i32>,
    pub(super) score_batch: TypedFunc<(u32, u32, u32, u32), i32>,
    pub(super) predict_batch_i64: TypedFunc<(u32, u32, i64, u32), i32>,
    pub(super) result_ptr: TypedFunc<(), u32>,
    pub(super) result_len: TypedFunc<(), u32>,
    pub(super) last_error_ptr: TypedFunc<(), u32>,
    pub(super) last_error_len: TypedFunc<(), u32>,
    pub(super) abi_version: TypedFunc<(), i32>,
    pub(super) live_buffers: TypedFunc<(), u32>,
}

impl Exports {
    /// Looks up every export the host calls, with its type.
    pub(super) fn get(store: &mut Store<()>, instance: &Instance) -> anyhow::Result<Exports> {
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
            add_bundle: func!("verge_add_bundle"),
            load_snapshot: func!("verge_load_snapshot"),
            add_delta: instance.get_typed_func(&mut *store, "verge_add_delta").ok(),
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
