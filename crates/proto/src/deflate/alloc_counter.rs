//! A counting global allocator for this crate's unit-test binary, so the deflate tests can
//! measure heap bytes per connection and the peak of a decompression bomb.
//!
//! Test-only (`#[cfg(test)]`), and not a profiler: it forwards every call to the system
//! allocator and keeps, per thread, the bytes currently allocated and the peak since the
//! last [`measure`]. Per-thread counters keep tests that run in parallel out of each
//! other's numbers; memory freed on another thread than it was allocated on is not
//! attributed correctly, which the measured code (single-threaded) never does.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // `const` initialisers without destructors: reading them never allocates and never
    // fails, even while a thread is being torn down.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + bytes;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the bookkeeping touches
// only thread-local `Cell<isize>`s, which neither allocate nor unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as the new size only: glibc moves large blocks with mremap, without
            // holding both; a copying realloc briefly holds old + new.
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// What [`measure`] saw on this thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    /// Bytes still allocated when `f` returned (what it left behind), net of what it freed.
    pub retained: isize,
    /// Highest number of bytes allocated at once while `f` ran, above the starting point.
    pub peak: isize,
}

/// Runs `f` and reports the heap it used on this thread.
pub(crate) fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let value = f();
    let end = CURRENT.with(Cell::get);
    let peak = PEAK.with(Cell::get);
    (value, Usage { retained: end - start, peak: peak - start })
}
