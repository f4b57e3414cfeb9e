//! Start-up of CPython for wshd, in one place: either an interpreter wshd embeds (the
//! `wshd` binary) or the interpreter that imported wshd's extension module (a harness's
//! Python, through `pip install`).
//!
//! The interpreter is process-wide and is set up at most once; every entry point of this
//! crate that needs Python calls [`initialize`] first, and the extension module calls
//! [`join_host`] before that. This module says nothing about threads for handlers,
//! requests or shutdown: those come with the code that calls handlers.

use std::sync::OnceLock;

use pyo3::Python;

/// Whose interpreter this is; fixed by the first of [`initialize`] and [`join_host`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// wshd started the interpreter: the `pywebsocket3` package is served from sources
    /// compiled into the binary, and Python `logging` goes into wshd's log.
    Embedded,
    /// A Python program imported wshd: the `pywebsocket3` and `mod_pywebsocket` packages
    /// are the installed ones, and wshd's log goes into Python `logging`
    /// ([`crate::hosted`]).
    Hosted,
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// Which interpreter this process runs handlers in, once one was set up.
pub fn mode() -> Option<Mode> {
    MODE.get().copied()
}

/// Starts the embedded interpreter if it is not running yet; later calls, and calls in a
/// process that [joined a host](join_host), do nothing.
///
/// PyO3 initialises CPython with `Py_InitializeEx(0)`, so **Python's signal handlers are not
/// installed**: SIGINT and SIGTERM stay with the Rust process (e.g. `tokio::signal`), and a
/// handler file never sees `KeyboardInterrupt`. The interpreter is never finalised, so
/// Python `atexit` hooks do not run at process exit.
///
/// It also installs the embedded `pywebsocket3` / `mod_pywebsocket` modules; if they fail
/// to import (a bug in the embedded sources), that is logged and handlers importing them
/// will fail to load with a source warning.
pub fn initialize() {
    if MODE.get().is_some() {
        return;
    }
    Python::initialize();
    // Another thread waits here without the GIL, which the installing thread needs.
    MODE.get_or_init(|| {
        Python::attach(|py| {
            if let Err(e) = crate::modules::install(py, true) {
                tracing::error!("installing the embedded pywebsocket3 modules failed: {e}");
            }
            crate::logging::install(py);
        });
        Mode::Embedded
    });
}

/// Sets wshd up inside the interpreter that imported its extension module: only wshd's
/// own helper module (`_wshd`) is added; `pywebsocket3` and `mod_pywebsocket` are the
/// installed packages, and Python `logging` is left to the host. Returns the mode in
/// force, which is [`Mode::Embedded`] only if this process embedded an interpreter first.
pub fn join_host(py: Python<'_>) -> Mode {
    *MODE.get_or_init(|| {
        if let Err(e) = crate::modules::install(py, false) {
            tracing::error!("installing wshd's _wshd helper module failed: {e}");
        }
        Mode::Hosted
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The libpython mapped into this process is the one PyO3 was built against
    /// (see `build.rs`), not another 3.x of the same soname found first by the loader.
    #[test]
    fn loaded_libpython_is_the_one_pyo3_was_configured_for() {
        let Some(lib_dir) = option_env!("WSHD_PYO3_LIB_DIR") else { return };
        super::initialize();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let loaded: Vec<&str> = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .filter(|path| path.contains("/libpython"))
            .collect();
        assert!(!loaded.is_empty(), "no libpython mapped");
        let lib_dir = std::fs::canonicalize(lib_dir).unwrap();
        for path in loaded {
            let path = std::fs::canonicalize(path).unwrap();
            assert!(
                path.starts_with(&lib_dir),
                "{} is not under {}",
                path.display(),
                lib_dir.display()
            );
        }
    }
}
