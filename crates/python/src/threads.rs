//! Handler threads as CPython's own threads (`_thread.start_new_thread`), started by one
//! spawner thread so that no runtime worker waits for the GIL to start one.
//!
//! A Python connection keeps a thread for its whole life, as in pywebsocket, so the
//! number of threads is the number of connections. A thread Rust's standard library
//! starts costs four memory mappings (its stack and guard, and a signal stack and guard
//! for stack-overflow reports); the kernel allows 65,530 mappings per process, about
//! 16,000 such threads. CPython's threads cost two, as pywebsocket's did, so 19,900
//! connections fit beside the 20,000-descriptor limit. This module does not know what a
//! thread runs.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyTuple};

use crate::gil;

/// Work for a new thread, and what to do if none can be started.
pub(crate) trait Job: Send + 'static {
    /// Runs on the new thread, without the GIL (take it as needed).
    fn run(self: Box<Self>);
    /// No thread could be started: `why` says what the system answered.
    fn cannot_start(self: Box<Self>, why: String);
}

type Slot = Arc<Mutex<Option<Box<dyn Job>>>>;

fn take(slot: &Slot) -> Option<Box<dyn Job>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Starts `job` on a new CPython thread, soon: the spawner thread starts it. Never waits
/// for the GIL.
pub(crate) fn spawn(job: Box<dyn Job>) {
    static SPAWNER: OnceLock<Sender<Box<dyn Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<Box<dyn Job>>();
        let started = std::thread::Builder::new().name("wshd-spawner".into()).spawn(move || {
            while let Ok(job) = rx.recv() {
                start(job);
            }
        });
        if let Err(e) = started {
            tracing::error!("cannot start the handler thread spawner: {e}");
        }
        tx
    });
    if let Err(unsent) = spawner.send(job) {
        unsent.0.cannot_start("the handler thread spawner is not running".into());
    }
}

/// Starts one CPython thread for `job`, with the GIL; tells the job if that fails.
fn start(job: Box<dyn Job>) {
    let slot: Slot = Arc::new(Mutex::new(Some(job)));
    let theirs = slot.clone();
    let started = gil::attach(|py| -> PyResult<()> {
        let run = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
            if let Some(job) = take(&theirs) {
                gil::detach(args.py(), || job.run());
            }
        })?;
        py.import("_thread")?.call_method1("start_new_thread", (run, PyTuple::empty(py)))?;
        Ok(())
    });
    if let Err(e) = started
        && let Some(job) = take(&slot)
    {
        job.cannot_start(e.to_string());
    }
}
