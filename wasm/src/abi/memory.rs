//! Buffers lent to the host, and the check that every pointer the host hands back
//! lies inside one of them.
//!
//! The host cannot be trusted to pass sane pointers: a bug (or a hostile caller)
//! could point into the allocator's bookkeeping or past the end of memory. So
//! every buffer from [`alloc`] stays owned by a map here, keyed by its address,
//! and the exports reach the host's bytes only through [`with_input`] and
//! [`with_output`], which find the owning buffer and slice it with checked
//! bounds. A pointer that is not inside a live buffer is an error code, never a
//! read or write of memory Rust does not own — which is also why this module needs
//! no `unsafe` at all.

use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    /// Live buffers by start address. The host writes into them between calls;
    /// their addresses escaped through `expose_provenance`, so the compiler does not
    /// assume their contents unchanged across calls.
    static LIVE: RefCell<BTreeMap<usize, Box<[u8]>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Why a pointer or allocation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemoryError {
    /// The range is not inside a live buffer from `verge_alloc`.
    Pointer(String),
    /// The allocator could not provide the bytes.
    OutOfMemory(String),
}

/// Allocates `len` zeroed bytes owned by this module and returns their address.
///
/// Zero-length requests are refused: an empty input needs no buffer (pass pointer 0
/// with length 0), and a unique address for nothing would be a trap for hosts.
pub(crate) fn alloc(len: usize) -> Result<usize, MemoryError> {
    if len == 0 {
        return Err(MemoryError::Pointer(
            "verge_alloc(0): pass pointer 0 and length 0 for empty inputs instead".into(),
        ));
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).map_err(|_| {
        MemoryError::OutOfMemory(format!(
            "cannot allocate {len} bytes: the module's memory cannot grow that far"
        ))
    })?;
    bytes.resize(len, 0);
    let mut bytes = bytes.into_boxed_slice();
    let addr = bytes.as_mut_ptr().expose_provenance();
    LIVE.with(|live| {
        live.try_borrow_mut()
            .map(|mut live| {
                live.insert(addr, bytes);
            })
            .map_err(|_| MemoryError::Pointer("verge_alloc called re-entrantly".into()))
    })?;
    Ok(addr)
}

/// Frees the buffer that [`alloc`] returned at `ptr` with exactly `len` bytes.
pub(crate) fn free(ptr: usize, len: usize) -> Result<(), MemoryError> {
    LIVE.with(|live| {
        let mut live = live
            .try_borrow_mut()
            .map_err(|_| MemoryError::Pointer("verge_free called re-entrantly".into()))?;
        match live.get(&ptr) {
            Some(b) if b.len() == len => {
                live.remove(&ptr);
                Ok(())
            }
            Some(b) => Err(MemoryError::Pointer(format!(
                "verge_free({ptr}, {len}): that buffer holds {} bytes; pass the length given to verge_alloc",
                b.len()
            ))),
            None => Err(MemoryError::Pointer(format!(
                "verge_free({ptr}, {len}): no live buffer starts there (freed twice, or not from verge_alloc)"
            ))),
        }
    })
}

/// Number of live buffers (for tests and leak checks).
pub(crate) fn live_buffers() -> usize {
    LIVE.with(|live| live.try_borrow().map_or(0, |l| l.len()))
}

fn locate(
    live: &BTreeMap<usize, Box<[u8]>>,
    ptr: usize,
    len: usize,
    what: &str,
) -> Result<(usize, usize), MemoryError> {
    let bad = |why: &str| {
        MemoryError::Pointer(format!(
            "{what}: bytes {ptr}..+{len} {why}; pass a range inside a buffer from verge_alloc"
        ))
    };
    let end = ptr.checked_add(len).ok_or_else(|| bad("overflow"))?;
    let (&start, buffer) = live
        .range(..=ptr)
        .next_back()
        .ok_or_else(|| bad("are not in any live buffer"))?;
    if end > start + buffer.len() {
        return Err(bad("are not inside one live buffer"));
    }
    Ok((start, ptr - start))
}

/// Runs `f` on the host's bytes at `ptr..ptr + len`, each range checked to lie
/// inside one live buffer. An empty range (`len == 0`) is always valid and needs
/// no buffer, whatever `ptr` is.
pub(crate) fn with_input<const N: usize, T>(
    ranges: [(usize, usize, &str); N],
    f: impl FnOnce([&[u8]; N]) -> T,
) -> Result<T, MemoryError> {
    LIVE.with(|live| {
        let live = live
            .try_borrow()
            .map_err(|_| MemoryError::Pointer("module called re-entrantly".into()))?;
        let mut slices: [&[u8]; N] = [&[]; N];
        for (slot, (ptr, len, what)) in slices.iter_mut().zip(ranges) {
            if len == 0 {
                continue;
            }
            let (start, offset) = locate(&live, ptr, len, what)?;
            *slot = live
                .get(&start)
                .and_then(|b| b.get(offset..offset + len))
                .ok_or_else(|| MemoryError::Pointer(format!("{what}: range out of bounds")))?;
        }
        Ok(f(slices))
    })
}

/// Runs `f` on the host's output buffer at `ptr..ptr + len`, checked like
/// [`with_input`].
pub(crate) fn with_output<T>(
    ptr: usize,
    len: usize,
    what: &str,
    f: impl FnOnce(&mut [u8]) -> T,
) -> Result<T, MemoryError> {
    LIVE.with(|live| {
        let mut live = live
            .try_borrow_mut()
            .map_err(|_| MemoryError::Pointer("module called re-entrantly".into()))?;
        if len == 0 {
            return Ok(f(&mut []));
        }
        let (start, offset) = locate(&live, ptr, len, what)?;
        let slice = live
            .get_mut(&start)
            .and_then(|b| b.get_mut(offset..offset + len))
            .ok_or_else(|| MemoryError::Pointer(format!("{what}: range out of bounds")))?;
        Ok(f(slice))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_must_lie_inside_one_live_buffer() {
        let a = alloc(16).unwrap();
        let got = with_input(
            [(a, 16, "a"), (a + 4, 4, "b"), (12345, 0, "empty")],
            |[x, y, z]| (x.len(), y.len(), z.len()),
        );
        assert_eq!(got.unwrap(), (16, 4, 0));
        assert!(with_input([(a, 17, "long")], |_| ()).is_err());
        assert!(with_input([(a + 16, 1, "past")], |_| ()).is_err());
        assert!(with_input([(usize::MAX, 2, "overflow")], |_| ()).is_err());
        assert!(with_input([(1, 1, "low")], |_| ()).is_err());
        with_output(a + 8, 2, "out", |o| o.copy_from_slice(&[7, 9])).unwrap();
        assert_eq!(
            with_input([(a + 8, 2, "x")], |[x]| x.to_vec()).unwrap(),
            [7, 9]
        );
        assert!(free(a, 15).is_err(), "wrong length");
        assert!(free(a + 1, 16).is_err(), "not a start");
        free(a, 16).unwrap();
        assert!(free(a, 16).is_err(), "double free");
        assert!(with_input([(a, 1, "freed")], |_| ()).is_err());
        assert!(alloc(0).is_err());
        assert!(matches!(
            alloc(usize::MAX),
            Err(MemoryError::OutOfMemory(_))
        ));
        assert_eq!(live_buffers(), 0);
    }
}
