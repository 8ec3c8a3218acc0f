//! The raw C ABI: the core as a Wasm module with no imports, for wasmtime
//! (`verge verify`, `verge serve`) or any other Wasm runtime.
//!
//! `docs/abi.md` is the reference for hosts: every export, its arguments, its
//! return codes, who owns which memory, and an example session. In short:
//!
//! 1. `verge_alloc(len)` lends the host a buffer inside the module's memory; the
//!    host writes its bytes there and later gives it back with `verge_free`.
//! 2. `verge_load_bundle` / `verge_load_snapshot` read artifacts from such buffers
//!    (they copy what they keep, so the host may free the buffers at once);
//!    `verge_add_bundle` adds more bundles over the same snapshot.
//! 3. `verge_handle` answers an HTTP request through [`verge_core::api::Api::handle`]
//!    — the same function every other face calls — and returns the status; the
//!    JSON body is then at `verge_result_ptr()` for `verge_result_len()` bytes.
//! 4. `verge_score_batch` and `verge_predict_batch_i64` are the binary fast paths.
//!
//! Every pointer the host passes must lie inside a live buffer from `verge_alloc`;
//! anything else is refused with [`codes::ERR_POINTER`] before a byte is touched
//! (see [`memory`]), so a host bug becomes an error code and a message at
//! `verge_last_error_ptr/len`, never a wild write. Nothing here panics on bad
//! input: with `panic = abort` a panic would kill the instance.
//!
//! The exports are `#[unsafe(no_mangle)]` (the one thing this module needs
//! `unsafe_code` for): each is allowed individually, and each name is unique
//! within the module, which is what the attribute requires.

mod memory;
mod state;

use std::cell::RefCell;

use memory::MemoryError;
use state::{Failure, STATE, State};

/// Return codes of the exports and the ABI's version: the core's, which every
/// host imports too (`verge_core::abi`), so the two sides cannot drift.
pub use verge_core::abi::{ABI_VERSION, codes};

thread_local! {
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn set_error(message: &str) {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
            e.extend_from_slice(message.as_bytes());
        }
    });
}

impl From<MemoryError> for Failure {
    fn from(e: MemoryError) -> Self {
        match e {
            MemoryError::Pointer(m) => Failure::new(codes::ERR_POINTER, m),
            MemoryError::OutOfMemory(m) => Failure::new(codes::ERR_OUT_OF_MEMORY, m),
        }
    }
}

/// Runs `f` on the state, turning a failure into its code and last error; a success
/// clears the last error.
fn run(f: impl FnOnce(&mut State) -> Result<i32, Failure>) -> i32 {
    let outcome = STATE.with(|s| match s.try_borrow_mut() {
        Ok(mut state) => f(&mut state),
        Err(_) => Err(Failure::new(
            codes::ERR_INTERNAL,
            "the module was called re-entrantly",
        )),
    });
    match outcome {
        Ok(code) => {
            set_error("");
            code
        }
        Err(failure) => {
            set_error(&failure.message);
            failure.code
        }
    }
}

fn bytes_len(count: usize, width: usize, what: &str) -> Result<usize, Failure> {
    count
        .checked_mul(width)
        .and_then(|n| n.checked_mul(8))
        .ok_or_else(|| {
            Failure::new(
                codes::ERR_POINTER,
                format!("{what}: the byte length overflows"),
            )
        })
}

fn write_floats(out_ptr: usize, values: &[f64]) -> Result<(), Failure> {
    memory::with_output(out_ptr, values.len() * 8, "output", |out| {
        for (slot, v) in out.chunks_exact_mut(8).zip(values) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
    })?;
    Ok(())
}

/// Lends the host `len` zeroed bytes; returns their address, or 0 on failure.
#[allow(unsafe_code)]
// SAFETY: `no_mangle` needs a name unique in the module; every `verge_` export is.
#[unsafe(no_mangle)]
pub extern "C" fn verge_alloc(len: usize) -> usize {
    match memory::alloc(len) {
        Ok(ptr) => {
            set_error("");
            ptr
        }
        Err(e) => {
            set_error(&Failure::from(e).message);
            0
        }
    }
}

/// Frees a buffer from `verge_alloc`; `len` must be the length it was asked for.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_free(ptr: usize, len: usize) -> i32 {
    run(|_| {
        memory::free(ptr, len)?;
        Ok(codes::OK)
    })
}

/// Loads a bundle from `ptr..ptr + len`, in place of every bundle loaded.
/// Returns 0, or a negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_load_bundle(ptr: usize, len: usize) -> i32 {
    run(|state| {
        memory::with_input([(ptr, len, "bundle")], |[bytes]| state.load_bundle(bytes))??;
        Ok(codes::OK)
    })
}

/// Adds a bundle from `ptr..ptr + len` to those loaded (replacing the bundle of
/// the same model, or the feature bundle of the same service): one snapshot then
/// serves every bundle, each request naming its `feature_service` or `model`.
/// Returns 0, or a negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_add_bundle(ptr: usize, len: usize) -> i32 {
    run(|state| {
        memory::with_input([(ptr, len, "bundle")], |[bytes]| state.add_bundle(bytes))??;
        Ok(codes::OK)
    })
}

/// A copy of the input at `ptr..ptr + len` the state can keep (a snapshot or
/// a delta outlives the call), reserved fallibly so a huge one is an error
/// code, not an abort; `what` names it in the messages.
fn owned_input(ptr: usize, len: usize, what: &str) -> Result<Vec<u8>, Failure> {
    memory::with_input([(ptr, len, what)], |[bytes]| {
        let mut owned = Vec::new();
        owned.try_reserve_exact(bytes.len()).map(|()| {
            owned.extend_from_slice(bytes);
            owned
        })
    })?
    .map_err(|_| {
        Failure::new(
            codes::ERR_OUT_OF_MEMORY,
            format!("cannot copy a {len}-byte {what}: out of memory"),
        )
    })
}

/// Loads a snapshot (or a shard of one) from `ptr..ptr + len`. Returns 0, or a
/// negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_load_snapshot(ptr: usize, len: usize) -> i32 {
    run(|state| {
        let bytes = owned_input(ptr, len, "snapshot")?;
        state.load_snapshot(bytes)?;
        Ok(codes::OK)
    })
}

/// Layers a delta snapshot from `ptr..ptr + len` over the snapshot loaded
/// (and earlier deltas): per key the newest row of any layer answers. A new
/// `verge_load_snapshot` drops the deltas. Returns 0, or a negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_add_delta(ptr: usize, len: usize) -> i32 {
    run(|state| {
        let bytes = owned_input(ptr, len, "delta")?;
        state.add_delta(bytes)?;
        Ok(codes::OK)
    })
}

/// Drops the loaded bundle and snapshot. Returns 0.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_unload() -> i32 {
    run(|state| {
        state.unload();
        Ok(codes::OK)
    })
}

/// Sets the request limits (0 keeps a limit as it is). Returns 0.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_set_limits(
    max_body_bytes: usize,
    max_entities: usize,
    max_cells: usize,
) -> i32 {
    run(|state| {
        state.set_limits(max_body_bytes, max_entities, max_cells);
        Ok(codes::OK)
    })
}

/// Answers an HTTP request (`method`, `path`, JSON `body`) at `now_micros`
/// (µs since the Unix epoch). Returns the HTTP status, the body being at
/// `verge_result_ptr/len`, or a negative code.
#[allow(unsafe_code, clippy::too_many_arguments)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_handle(
    method_ptr: usize,
    method_len: usize,
    path_ptr: usize,
    path_len: usize,
    body_ptr: usize,
    body_len: usize,
    now_micros: i64,
) -> i32 {
    answer(|state| {
        memory::with_input(
            [
                (method_ptr, method_len, "method"),
                (path_ptr, path_len, "path"),
                (body_ptr, body_len, "body"),
            ],
            |[method, path, body]| state.handle(method, path, body, now_micros),
        )?
    })
}

/// `verge_handle("POST", "/predict", body, now)`.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_predict_json(ptr: usize, len: usize, now_micros: i64) -> i32 {
    post("/predict", ptr, len, now_micros)
}

/// `verge_handle("POST", "/get-online-features", body, now)`.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_get_online_features_json(ptr: usize, len: usize, now_micros: i64) -> i32 {
    post("/get-online-features", ptr, len, now_micros)
}

fn post(path: &str, ptr: usize, len: usize, now: i64) -> i32 {
    answer(|state| {
        memory::with_input([(ptr, len, "body")], |[body]| {
            state.handle(b"POST", path.as_bytes(), body, now)
        })?
    })
}

/// Runs a request and returns its HTTP status; an error status also puts the JSON
/// error body in the last error, so every failure reads the same way.
fn answer(f: impl FnOnce(&mut State) -> Result<u16, Failure>) -> i32 {
    let mut failed = false;
    let code = run(|state| {
        let status = f(state)?;
        failed = status >= 400;
        Ok(i32::from(status))
    });
    if failed {
        STATE.with(|s| {
            if let Ok(s) = s.try_borrow() {
                set_error(&String::from_utf8_lossy(&s.result));
            }
        });
    }
    code
}

/// Writes a JSON description of the loaded bundle (features, classes, outputs) to
/// the result. Returns 0, or a negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_model_info() -> i32 {
    run(|state| {
        state.model_info()?;
        Ok(codes::OK)
    })
}

/// Floats per row that the batch paths write (the class count, or 1 for a
/// regressor), or a negative code.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_output_width() -> i32 {
    run(|state| {
        let width = state.output_width()?;
        i32::try_from(width).map_err(|_| Failure::new(codes::ERR_INTERNAL, "too many classes"))
    })
}

/// Scores `rows` rows of `cols` little-endian f64 features (service order, NaN
/// for missing) at `ptr`, writing `rows × verge_output_width()` f64 at `out_ptr`.
/// Returns 0, or a negative code (nothing is written then).
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_score_batch(ptr: usize, rows: usize, cols: usize, out_ptr: usize) -> i32 {
    run(|state| {
        let input = (ptr, bytes_len(rows, cols, "rows × cols")?, "features");
        let out_len = bytes_len(rows, state.output_width()?, "rows × outputs")?;
        batch(state, input, (out_ptr, out_len), |state, input, values| {
            state.score_batch(input, rows, cols, values)
        })
    })
}

/// The frame of both batch paths: check the output range before any work (so a
/// bad pointer costs nothing), run `f` on the input into the reusable float
/// buffer, and write the floats only if every row succeeded.
fn batch(
    state: &mut State,
    (ptr, len, what): (usize, usize, &str),
    (out_ptr, out_len): (usize, usize),
    f: impl FnOnce(&mut State, &[u8], &mut Vec<f64>) -> Result<(), Failure>,
) -> Result<i32, Failure> {
    memory::with_output(out_ptr, out_len, "output", |_| ())?;
    let mut values = state.take_values();
    let done = memory::with_input([(ptr, len, what)], |[input]| f(state, input, &mut values));
    let written = match done {
        Ok(Ok(())) => write_floats(out_ptr, &values),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.into()),
    };
    state.put_values(values);
    written?;
    Ok(codes::OK)
}

/// Predicts for `n` little-endian i64 keys at `keys_ptr` (the bundle's single int64
/// join key) at `now_micros`, writing `n × verge_output_width()` f64 at `out_ptr`.
/// Returns 0, or a negative code (nothing is written then).
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_predict_batch_i64(
    keys_ptr: usize,
    n: usize,
    now_micros: i64,
    out_ptr: usize,
) -> i32 {
    run(|state| {
        let keys = (keys_ptr, bytes_len(n, 1, "n")?, "keys");
        let out_len = bytes_len(n, state.output_width()?, "n × outputs")?;
        batch(state, keys, (out_ptr, out_len), |state, keys, values| {
            state.predict_batch_i64(keys, now_micros, values)
        })
    })
}

/// Address of the last answer (JSON). Valid until the next call that answers.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_result_ptr() -> usize {
    STATE.with(|s| {
        s.try_borrow()
            .map_or(0, |s| s.result.as_ptr().expose_provenance())
    })
}

/// Length in bytes of the last answer.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_result_len() -> usize {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.result.len()))
}

/// Address of the last error message (UTF-8; empty after a success).
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_last_error_ptr() -> usize {
    LAST_ERROR.with(|e| e.try_borrow().map_or(0, |e| e.as_ptr().expose_provenance()))
}

/// Length in bytes of the last error message.
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_last_error_len() -> usize {
    LAST_ERROR.with(|e| e.try_borrow().map_or(0, |e| e.len()))
}

/// [`ABI_VERSION`].
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_abi_version() -> i32 {
    ABI_VERSION
}

/// Number of buffers lent by `verge_alloc` and not yet freed (a host's leak check).
#[allow(unsafe_code)]
// SAFETY: as for `verge_alloc`.
#[unsafe(no_mangle)]
pub extern "C" fn verge_live_buffers() -> usize {
    memory::live_buffers()
}
