//! `wshd._native`, the extension module `pip install` builds: it only registers what
//! `wshd_python::hosted` defines. What it is for, and what runs where, is said there; the
//! Python side is `crates/python/python/pywebsocket3/standalone.py`.

use pyo3::prelude::*;

/// The module's contents: `Server`, `set_log_level`, `__version__`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    wshd_python::hosted::register(m)
}
