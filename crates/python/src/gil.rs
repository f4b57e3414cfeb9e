//! Taking the GIL in turn once many threads want it: past a few contenders, wshd's threads
//! wait here, each parked on its own, and only one of them waits in CPython's GIL
//! acquisition.
//!
//! A thread waiting for the GIL wakes every switch interval (5 ms) to ask the holder to
//! let go. With thousands of connection threads waiting at once (a burst of messages to
//! every connection, thousands of clients leaving together), those wake-ups alone take
//! the machine: 19,000 waiters make about four million wake-ups a second, and a new
//! client waits for minutes. Under ordinary load (up to [`FREE_CONTENDERS`] threads
//! wanting the GIL) threads go straight to CPython, with no hand-off here to pay for.
//!
//! [`attach`] and [`detach`] replace `Python::attach` and `Python::detach` on the paths a
//! connection thread takes for every message. A thread already attached through
//! [`attach`] does not queue again. Nothing here runs Python code.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;

use pyo3::prelude::*;

/// Who holds the turn, and who waits for it, in order. Each waiter sleeps on its own
/// thread's parker: thousands of threads asleep on one futex make every wake-up of
/// anything hashed beside it walk all of them.
struct Queue {
    taken: bool,
    waiting: VecDeque<(Thread, Arc<AtomicBool>)>,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue { taken: false, waiting: VecDeque::new() });

fn queue() -> std::sync::MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many threads may wait in CPython's GIL acquisition before the others queue here.
const FREE_CONTENDERS: usize = 128;

/// Threads of ours between wanting the GIL and having it.
static CONTENDERS: AtomicUsize = AtomicUsize::new(0);

/// One thread's way to the GIL: counted as a contender, queued for the turn when there are
/// many. Dropped once the GIL is held.
struct Entry(#[allow(dead_code)] Option<Turn>);

impl Entry {
    fn enter() -> Entry {
        let ahead = CONTENDERS.fetch_add(1, Ordering::AcqRel);
        Entry((ahead >= FREE_CONTENDERS).then(Turn::take))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        CONTENDERS.fetch_sub(1, Ordering::AcqRel);
    }
}

thread_local! {
    /// How deep this thread is in [`attach`]: nested calls already hold the GIL.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// The right to wait for the GIL; handed to the next waiter when dropped.
struct Turn;

impl Turn {
    fn take() -> Turn {
        let granted = {
            let mut q = queue();
            if !q.taken {
                q.taken = true;
                return Turn;
            }
            let granted = Arc::new(AtomicBool::new(false));
            q.waiting.push_back((std::thread::current(), granted.clone()));
            granted
        };
        while !granted.load(Ordering::Acquire) {
            std::thread::park();
        }
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut q = queue();
        match q.waiting.pop_front() {
            // The turn passes straight to the next waiter: `taken` stays set.
            Some((thread, granted)) => {
                drop(q);
                granted.store(true, Ordering::Release);
                thread.unpark();
            }
            None => q.taken = false,
        }
    }
}

/// `Python::attach`, queueing for the turn first when many threads want the GIL (unless
/// this thread is already inside).
pub(crate) fn attach<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> T {
    let entry = (DEPTH.get() == 0).then(Entry::enter);
    DEPTH.set(DEPTH.get() + 1);
    let value = Python::attach(|py| {
        drop(entry);
        f(py)
    });
    DEPTH.set(DEPTH.get() - 1);
    value
}

/// `py.detach(f)`: runs `f` without the GIL, then queues for the turn (when many threads
/// want the GIL) before taking the GIL back.
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    let depth = DEPTH.replace(0);
    let (value, entry) = py.detach(|| {
        let value = f();
        (value, Entry::enter())
    });
    DEPTH.set(depth);
    drop(entry);
    value
}
