//! Python `logging` into wshd's log: records that handlers and the embedded pywebsocket3
//! modules log (e.g. through `util.get_class_logger`) are written by the same tracing
//! subscriber as wshd's own, with their level and logger name.
//!
//! [`install`] runs `py/_wshd_logging.py`, which puts one `logging.Handler` on the root
//! logger that calls [`emit`]. Levels are filtered on the Python side (so a record below
//! the level is never formatted) from [`set_levels`], which takes Python's numeric levels
//! (pywebsocket's FINE is 9). Records go to the tracing target `python` with fields
//! `logger` and `levelname`; Python's CRITICAL becomes a tracing ERROR whose `levelname`
//! still says CRITICAL. This module does not configure the subscriber: the binary does.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use pyo3::prelude::*;

/// The tracing target of every record that comes from Python.
pub const TARGET: &str = "python";

/// pywebsocket's level below DEBUG (`common.LOGLEVEL_FINE`).
pub const FINE: i32 = 9;

const SOURCE: &str = include_str!("py/_wshd_logging.py");
const MODULE: &str = "_wshd_logging";

/// Python's level for the root logger (default WARNING, as pywebsocket's `--log-level warn`).
static LEVEL: AtomicI32 = AtomicI32::new(30);
/// The level of pywebsocket's compression loggers (`--deflate-log-level`, default WARNING).
static DEFLATE_LEVEL: AtomicI32 = AtomicI32::new(30);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Sets the Python levels (numeric: FINE 9, DEBUG 10, INFO 20, WARNING 30, ERROR 40,
/// CRITICAL 50) of the root logger and of pywebsocket's `_Deflater`/`_Inflater`
/// loggers. Takes effect at once if the interpreter is running, else when it starts.
pub fn set_levels(level: i32, deflate_level: i32) {
    LEVEL.store(level, Ordering::SeqCst);
    DEFLATE_LEVEL.store(deflate_level, Ordering::SeqCst);
    if INSTALLED.load(Ordering::SeqCst) {
        Python::attach(|py| {
            let applied = py
                .import(MODULE)
                .and_then(|m| m.getattr("set_levels")?.call1((level, deflate_level)).map(drop));
            if let Err(e) = applied {
                tracing::error!("setting the Python log levels failed: {e}");
            }
        });
    }
}

/// Installs the handler; called once by [`crate::runtime::initialize`]. A failure (a bug
/// in the embedded source) is logged and leaves Python logging to its defaults.
pub(crate) fn install(py: Python<'_>) {
    if let Err(e) = try_install(py) {
        tracing::error!("routing Python logging into wshd's log failed: {e}");
    }
}

fn try_install(py: Python<'_>) -> PyResult<()> {
    let code = CString::new(SOURCE).expect("no NUL in _wshd_logging.py");
    let file = CString::new(format!("<wshd>/{MODULE}")).expect("no NUL");
    let name = CString::new(MODULE).expect("no NUL");
    let module = PyModule::from_code(py, &code, &file, &name)?;
    py.import("sys")?.getattr("modules")?.set_item(MODULE, &module)?;
    let emit = wrap_pyfunction!(emit, py)?;
    let (level, deflate) = (LEVEL.load(Ordering::SeqCst), DEFLATE_LEVEL.load(Ordering::SeqCst));
    module.getattr("install")?.call1((emit, level, deflate))?;
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Writes one Python record (already level-filtered and formatted, traceback included).
#[pyfunction]
fn emit(levelno: i32, name: &str, levelname: &str, text: &str) {
    match levelno {
        ..=9 => tracing::trace!(target: TARGET, logger = name, levelname, "{text}"),
        10..=19 => tracing::debug!(target: TARGET, logger = name, levelname, "{text}"),
        20..=29 => tracing::info!(target: TARGET, logger = name, levelname, "{text}"),
        30..=39 => tracing::warn!(target: TARGET, logger = name, levelname, "{text}"),
        _ => tracing::error!(target: TARGET, logger = name, levelname, "{text}"),
    }
}
