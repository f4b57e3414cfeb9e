//! Embedded CPython for wshd: loads pywebsocket `*_wsh.py` handler files.
//!
//! This is the only crate of the workspace that depends on PyO3. So far it implements
//! pywebsocket's `dispatch.py` loading semantics: [`HandlerTree::load`] scans a handler root
//! once, executes each `*_wsh.py` file into fresh globals, collects [`SourceWarning`]s for
//! files that fail, applies an alias map file (`-m`), and [`HandlerTree::lookup`] maps a
//! request target to the file's three functions ([`Handlers`]).
//!
//! It does not call the handlers: there is no `request` object, no `mod_pywebsocket` shim
//! and nothing about connections or streams yet. [`runtime`] owns interpreter start-up.

mod error;
mod loader;
mod lookup;
mod map_file;
pub mod runtime;
mod scan;

pub use error::{LoadError, SourceWarning};
pub use loader::{HandlerTree, Handlers, LoadOptions};
pub use lookup::Lookup;
