//! Taking the GIL in turn: at most one of wshd's threads waits in CPython's GIL
//! acquisition at a time; the others wait here, on a lock that does not poll.
//!
//! A thread waiting for the GIL wakes every switch interval (5 ms) to ask the holder to
//! let go. With thousands of connection threads waiting at once (a burst of messages to
//! every connection, thousands of clients leaving together), those wake-ups alone take
//! the machine: 19,000 waiters make about four million wake-ups a second, and a new
//! client waits for minutes. Waiting here first leaves CPython one waiter to wake.
//!
//! [`attach`] and [`detach`] replace `Python::attach` and `Python::detach` on the paths a
//! connection thread takes for every message. A thread already attached through
//! [`attach`] does not queue again. Nothing here runs Python code.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// `Python::attach`, waiting for the turn first (unless this thread is already inside).
pub(crate) fn attach<T>(f: impl for<'py> FnOnce(Python<'py>) -> T) -> T {
    let turn = (DEPTH.get() == 0).then(Turn::take);
    DEPTH.set(DEPTH.get() + 1);
    let value = Python::attach(|py| {
        drop(turn);
        f(py)
    });
    DEPTH.set(DEPTH.get() - 1);
    value
}

/// `py.detach(f)`: runs `f` without the GIL, then takes the turn before taking the GIL
/// back.
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    let depth = DEPTH.replace(0);
    let (value, turn) = py.detach(|| {
        let value = f();
        (value, Turn::take())
    });
    DEPTH.set(depth);
    drop(turn);
    value
}
