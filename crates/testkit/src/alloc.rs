//! A counting global allocator for test binaries that measure heap use: bytes live and
//! the peak, per thread.
//!
//! A test binary installs it with
//! `#[global_allocator] static A: wshd_testkit::alloc::Counting = wshd_testkit::alloc::Counting;`
//! and calls [`measure`]. It forwards every call to the system allocator. Counters are
//! per thread, so tests running in parallel stay out of each other's numbers; memory
//! freed on another thread than the one that allocated it is misattributed, which the
//! single-threaded code measured with it never does. Not a profiler.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator. See the module docs.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    // `const` initialisers without destructors: reading them never allocates and never
    // fails, even while a thread is being torn down.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the bookkeeping touches
// only thread-local `Cell<isize>`s with const initialisers, which neither allocate nor
// unwind.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as the new size only: glibc moves large blocks with mremap, without
            // holding both; a copying realloc briefly holds old and new.
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// What [`measure`] saw on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes still allocated when the measured call returned, net of what it freed.
    pub retained: isize,
    /// The most bytes allocated at once during the call, above the starting point.
    pub peak: usize,
}

/// Runs `f` and reports the heap it used on this thread. Without [`Counting`] installed
/// as the global allocator every figure is 0.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let value = f();
    let end = LIVE.with(Cell::get);
    let peak = PEAK.with(Cell::get);
    let peak = usize::try_from(peak - start).expect("the peak is at least the start");
    (value, Usage { retained: end - start, peak })
}
