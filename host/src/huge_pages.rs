//! The `verge` binary's allocator: the system's, asking Linux to back large
//! blocks with transparent huge pages.
//!
//! The offline jobs decode whole Parquet columns: a 1M-row source with 20
//! features is about 150 MB of fresh buffers, touched once as they are
//! filled. With 4 KiB pages a 2-thread `verge historical` of that set takes
//! about 56,000 page faults, and on the virtual machines measured in
//! `docs/benchmarks.md` a fault costs about 3 µs: half the process's CPU time.
//! A 2 MiB page takes one fault where 4 KiB pages take 512.
//!
//! Debian and most distributions ship THP in `madvise` mode, so a process
//! must ask for it range by range. This allocator asks for every block of at
//! least [`HUGE_BLOCK`] bytes, on allocation and on growth, with
//! `madvise(MADV_HUGEPAGE)` over the block's whole 2 MiB-aligned pages. Small
//! blocks are left alone, so a small process's memory does not grow to 2 MiB
//! pages. The advice is only a hint: where THP is off, or on other systems,
//! the allocator is the system's, unchanged.
//!
//! Growing buffers double, so the first half of a buffer was filled before
//! it was large enough to advise: about half the faults remain. jemalloc
//! with `thp:always` removes nearly all of them, but it is C compiled from
//! source in every fresh build, and the hint alone took most of the gain.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large are advised (two huge pages, so at least one
/// whole aligned huge page lies inside any such block).
pub const HUGE_BLOCK: usize = 4 << 20;

/// The size of one transparent huge page on x86-64 and arm64 Linux.
const HUGE_PAGE: usize = 2 << 20;

/// [`System`], with large blocks advised to use huge pages (see the module
/// docs). Declared as the `verge` binary's `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HugePageHint;

// SAFETY: every call goes to `System` with the caller's arguments unchanged;
// `advise` only passes a hint to the kernel about pages inside the block
// just returned, which changes neither the block's bytes nor its extent.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received (the caller upholds `alloc`'s contract).
        let block = unsafe { System.alloc(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`; `ptr` came from `System` through this type.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        let block = unsafe { System.realloc(ptr, layout, new_size) };
        advise(block, new_size);
        block
    }
}

/// Advises the whole huge pages inside `len` bytes at `block` (nothing for a
/// small or failed block). A refusal is ignored: the advice is a hint.
#[cfg(target_os = "linux")]
fn advise(block: *mut u8, len: usize) {
    if block.is_null() || len < HUGE_BLOCK {
        return;
    }
    let start = (block as usize).next_multiple_of(HUGE_PAGE);
    let end = (block as usize + len) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: `[start, end)` lies inside the live block just returned by
        // `System`; MADV_HUGEPAGE changes how its pages are backed, never
        // their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_block: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_bytes_through_growth_and_release() {
        let alloc = HugePageHint;
        let small = Layout::from_size_align(64, 8).unwrap();
        let large = Layout::from_size_align(HUGE_BLOCK + 12_345, 64).unwrap();
        // SAFETY: each block is used within its layout and freed once with it.
        unsafe {
            let a = alloc.alloc(small);
            assert!(!a.is_null());
            a.write_bytes(7, 64);
            let b = alloc.realloc(a, small, 3 * HUGE_BLOCK);
            assert!(!b.is_null());
            assert!((0..64).all(|i| *b.add(i) == 7));
            alloc.dealloc(b, Layout::from_size_align(3 * HUGE_BLOCK, 8).unwrap());

            let z = alloc.alloc_zeroed(large);
            assert!(!z.is_null());
            assert!((0..large.size()).step_by(4093).all(|i| *z.add(i) == 0));
            alloc.dealloc(z, large);
        }
    }

    /// The `VmFlags` line of the mapping in `/proc/self/smaps` holding `addr`.
    #[cfg(target_os = "linux")]
    fn vm_flags_at(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split(' ').next().unwrap_or("");
            if let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                )
            {
                inside = (from..to).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_string());
            }
        }
        None
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_blocks_are_advised() {
        // Without THP in the kernel there is nothing to advise.
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return;
        }
        let alloc = HugePageHint;
        let large = Layout::from_size_align(3 * HUGE_BLOCK, 64).unwrap();
        // SAFETY: the block is only located, then freed with its layout.
        unsafe {
            let big = alloc.alloc(large);
            let inside = (big as usize).next_multiple_of(HUGE_PAGE);
            let flags = vm_flags_at(inside).expect("the block is mapped");
            assert!(flags.split(' ').any(|f| f == "hg"), "{flags}");
            alloc.dealloc(big, large);
        }
    }
}
