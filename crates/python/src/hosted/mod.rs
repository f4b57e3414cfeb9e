//! wshd inside a Python program: what the `wshd._native` extension module exposes to the
//! installed `pywebsocket3.standalone` (a [`server::HostedServer`] per
//! `WebSocketServer`), what its `dispatch.Dispatcher` needs to run handlers over a host's
//! own connection ([`dispatcher`]), and wshd's log carried into Python `logging` ([`log_bridge`]).
//!
//! This is the Rust half of `pip install`: argument parsing, option objects and the
//! socketserver-like surface harnesses call are Python (`python/pywebsocket3/standalone.py`),
//! the server itself is `wshd-server`. The extension module's crate (`crates/pymodule`)
//! only calls [`register`].

mod dispatcher;
mod log_bridge;
mod server;

use pyo3::prelude::*;

/// Adds wshd's classes and functions to the extension module `m` and sets wshd up in the
/// importing interpreter ([`crate::runtime::join_host`]).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::runtime::join_host(m.py());
    m.add_class::<server::HostedServer>()?;
    m.add_class::<dispatcher::HandlerSuites>()?;
    m.add_class::<dispatcher::HandlerSuite>()?;
    m.add_function(wrap_pyfunction!(dispatcher::negotiate_deflate, m)?)?;
    m.add_function(wrap_pyfunction!(dispatcher::transfer_data, m)?)?;
    m.add_function(wrap_pyfunction!(log_bridge::set_log_level, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
