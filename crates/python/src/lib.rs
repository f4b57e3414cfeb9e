//! Embedded CPython for wshd: loads pywebsocket `*_wsh.py` handler files.
//!
//! This is the only crate of the workspace that depends on PyO3. So far it implements
//! pywebsocket's `dispatch.py` loading semantics: [`HandlerTree::load`] scans a handler root
//! once, executes each `*_wsh.py` file into fresh globals, collects [`SourceWarning`]s for
//! files that fail, applies an alias map file (`-m`), and [`HandlerTree::lookup`] maps a
//! request target to the file's three functions ([`Handlers`]).
//!
//! [`PythonHandler`] serves a loaded file through the server's handler API: the
//! `request` object, `request.ws_stream` (one OS thread per connection, the GIL released
//! while it waits on the network), and pywebsocket's exception semantics. The modules
//! handlers import (`pywebsocket3.*`, also as `mod_pywebsocket.*`) are embedded from
//! `python/`. [`runtime`] owns interpreter start-up.

mod bridge;
mod driver;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod gil;
mod handler;
mod handshake_io;
mod host_stream;
pub mod hosted;
mod loader;
pub mod logging;
mod lookup;
mod map_file;
mod modules;
pub mod runtime;
mod scan;
mod stream;
mod threads;

pub use error::{LoadError, SourceWarning};
pub use handler::PythonHandler;
pub use loader::{HandlerTree, Handlers, LoadOptions};
pub use lookup::Lookup;
