//! Giving freed heap memory back to the operating system once connections end.
//!
//! glibc's `malloc` keeps what it freed for reuse: memory in the middle of its heaps,
//! and in the per-thread arenas it makes for many threads (a Python handler runs on a
//! thread of its own), is not returned by `free`. A server that once held 5,000 Python
//! connections kept over a gigabyte it no longer used. [`release_after_connections_end`]
//! asks glibc to give back its free pages (`malloc_trim(0)`) when connections have ended
//! since it last did, at most once per period.
//!
//! This module is not an allocator and changes nothing in how memory is allocated. With
//! another global allocator (the native echo example's jemalloc purges by itself) or
//! another C library, `malloc_trim` is not there and the task only waits. The one
//! `unsafe` block of the crate is the call.

#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use crate::Shutdown;

/// How often, at most, [`release_after_connections_end`] trims by default: 10 s.
pub const DEFAULT_TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// Runs until dropped: every `every`, if connections of `shutdown`'s servers ended since
/// the last look, returns the C allocator's free pages to the operating system (on a
/// blocking thread: a large heap takes milliseconds) and logs at DEBUG how much the
/// process's resident memory fell and how long it took.
///
/// A steady load with connections coming and going trims once per period; a server whose
/// connections all stay open never trims, since what they free they reuse.
pub async fn release_after_connections_end(shutdown: Shutdown, every: Duration) {
    if !trim_supported() {
        return;
    }
    after_connections_end(shutdown, every, || async {
        let Ok(trimmed) = tokio::task::spawn_blocking(trim).await else { return false };
        tracing::debug!(
            target: "wshd::memory",
            "returned {} KiB of freed memory to the system in {:?} (resident: {} KiB)",
            trimmed.before_kib.saturating_sub(trimmed.after_kib),
            trimmed.took,
            trimmed.after_kib,
        );
        true
    })
    .await;
}

/// The schedule of [`release_after_connections_end`]: `act` once per `every` in which
/// connections ended, until it returns false.
async fn after_connections_end<F: Future<Output = bool>>(
    shutdown: Shutdown,
    every: Duration,
    mut act: impl FnMut() -> F,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = shutdown.ended_connections();
    loop {
        tick.tick().await;
        let ended = shutdown.ended_connections();
        if ended == seen {
            continue;
        }
        seen = ended;
        if !act().await {
            return;
        }
    }
}

/// What one trim did.
#[derive(Debug, Clone, Copy)]
pub struct Trimmed {
    /// Resident memory before and after, KiB (0 where `/proc/self/statm` is unreadable).
    pub before_kib: u64,
    /// See `before_kib`.
    pub after_kib: u64,
    /// How long `malloc_trim` ran.
    pub took: Duration,
}

/// Whether this build can trim: Linux with glibc.
pub fn trim_supported() -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

/// Returns the C allocator's free pages to the system now (`malloc_trim(0)`); does
/// nothing where [`trim_supported`] is false.
pub fn trim() -> Trimmed {
    let before_kib = resident_kib();
    let start = Instant::now();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer and only walks glibc's own heaps, each under
    // its arena lock; glibc documents it as safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    let took = start.elapsed();
    Trimmed { before_kib, after_kib: resident_kib(), took }
}

/// The process's resident memory in KiB, from `/proc/self/statm` (0 if unreadable).
fn resident_kib() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * rustix::param::page_size() as u64 / 1024
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn acts_once_per_period_in_which_connections_ended_and_never_otherwise() {
        let shutdown = Shutdown::new();
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let every = Duration::from_millis(20);
        let task = tokio::spawn(after_connections_end(shutdown.clone(), every, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { true }
        }));
        let wait_for = |n: usize| {
            let calls = calls.clone();
            async move {
                while calls.load(Ordering::SeqCst) < n {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        // Open connections that stay open: nothing to give back.
        let open = shutdown.register();
        tokio::time::sleep(every * 5).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        // Three end at once: one trim.
        let (a, b, c) = (shutdown.register(), shutdown.register(), shutdown.register());
        drop((a, b, c));
        tokio::time::timeout(Duration::from_secs(5), wait_for(1)).await.unwrap();
        tokio::time::sleep(every * 5).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another ends later: another trim.
        drop(open);
        tokio::time::timeout(Duration::from_secs(5), wait_for(2)).await.unwrap();
        task.abort();
    }
}
