//! `wshd_server::memory::trim` gives memory freed between blocks still in use back to
//! the system. A binary of its own: it reads the process's resident memory, which tests
//! running beside it in one process would move.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::sync::{Arc, Barrier};

use wshd_server::memory::trim;

/// 64 threads at once each allocate 1 MiB in 4 KiB blocks from glibc's per-thread arenas
/// and keep one block in 64, so the freed space lies between blocks still in use, where
/// `free` never returns it.
#[test]
fn trimming_returns_what_threads_freed_between_blocks_still_used() {
    let baseline = trim().after_kib;
    let start = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let blocks: Vec<Vec<u8>> = (0..256).map(|_| vec![1u8; 4096]).collect();
                blocks.into_iter().step_by(64).collect::<Vec<_>>()
            })
        })
        .collect();
    let kept: Vec<Vec<Vec<u8>>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let trimmed = trim();
    assert_eq!(kept.iter().map(Vec::len).sum::<usize>(), 64 * 4);
    eprintln!("baseline {baseline} KiB, {trimmed:?}");
    // What `free` left resident, and what is left after the trim (the kept blocks are
    // 1 MiB, 2 with the pages they straddle; the threads' stacks, which glibc caches, add some).
    let (freed, left) = (trimmed.before_kib - baseline, trimmed.after_kib.saturating_sub(baseline));
    assert!(freed >= 12 * 1024, "free() left only {freed} KiB resident: {trimmed:?}");
    assert!(left <= 6 * 1024, "{left} KiB above the baseline of {baseline} KiB: {trimmed:?}");
}
