//! Start-up of the embedded CPython interpreter, in one place.
//!
//! The interpreter is process-wide and is started at most once; every entry point of this
//! crate that needs Python calls [`initialize`] first. This module says nothing about
//! threads for handlers, requests or shutdown: those come with the code that calls handlers.

use pyo3::Python;

/// Starts the embedded interpreter if it is not running yet; later calls do nothing.
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
    static MODULES: std::sync::Once = std::sync::Once::new();
    Python::initialize();
    MODULES.call_once(|| {
        Python::attach(|py| {
            if let Err(e) = crate::modules::install(py) {
                tracing::error!("installing the embedded pywebsocket3 modules failed: {e}");
            }
            crate::logging::install(py);
        });
    });
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
