//! [`HandlerTree::load`]: scan a handler root once and source every `*_wsh.py` file.
//!
//! Each candidate file is read, decoded with the handler encoding and executed, as
//! pywebsocket's `_source_handler_file` does with `exec`, into a fresh globals dict (Python
//! adds only `__builtins__`; `__name__` and `__file__` are not set). The file must then define
//! callable `web_socket_do_extra_handshake` and `web_socket_transfer_data`; a callable
//! `web_socket_passive_closing_handshake` is taken when present. A file that fails becomes a
//! [`SourceWarning`] and is skipped; loading goes on. There is no reload. This module does not
//! call the handlers.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::error::{LoadError, SourceWarning};
use crate::{map_file, runtime, scan};

const DO_EXTRA_HANDSHAKE: &str = "web_socket_do_extra_handshake";
const TRANSFER_DATA: &str = "web_socket_transfer_data";
const PASSIVE_CLOSING_HANDSHAKE: &str = "web_socket_passive_closing_handshake";

/// Where the handlers are and how to read them; the standalone server's `-w`, `-s`, `-m`,
/// `--allow-handlers-outside-root-dir` and `--handler-encoding`.
///
/// Relative paths resolve against the process's current directory.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The handler root (`-w`); resource names are relative to it.
    pub root: PathBuf,
    /// Only files below this directory are loaded (`-s`); `None` scans the whole root.
    /// It must be the root or below it, compared by path components after canonicalisation.
    pub scan_dir: Option<PathBuf>,
    /// Load a file whose symlink target lies outside the root; its resource name is taken
    /// from the link's path (`--allow-handlers-outside-root-dir`).
    pub allow_handlers_outside_root: bool,
    /// Python codec name used to decode handler files (`--handler-encoding`). `None` means
    /// UTF-8; pywebsocket would use the locale's encoding, which we do not consult.
    pub encoding: Option<String>,
    /// The alias map file (`-m`), applied after the scan.
    pub map_file: Option<PathBuf>,
}

/// The three functions one handler file defines.
#[derive(Debug)]
pub struct Handlers {
    /// The file they were loaded from, as the scan found it (a symlink's own path).
    pub path: PathBuf,
    /// `web_socket_do_extra_handshake`.
    pub extra_handshake: Py<PyAny>,
    /// `web_socket_transfer_data`.
    pub transfer_data: Py<PyAny>,
    /// `web_socket_passive_closing_handshake`, when the file defines a callable one;
    /// otherwise the caller applies pywebsocket's default, `(1000, '')`.
    pub passive_closing_handshake: Option<Py<PyAny>>,
}

/// Resource paths (`/echo`, `/`, `/sub/`) and the handlers that serve them.
#[derive(Debug, Default)]
pub struct HandlerTree {
    pub(crate) handlers: HashMap<String, Arc<Handlers>>,
}

impl HandlerTree {
    /// Scans, sources and maps handler files as described on [`LoadOptions`].
    ///
    /// Starts the interpreter if needed ([`runtime::initialize`]). Each skipped file is
    /// returned as a [`SourceWarning`] and logged at WARN as
    /// `Warning in source loading: <path>: <message>`. A file whose canonical path is
    /// outside the root is skipped with a debug log only, as in pywebsocket.
    pub fn load(options: &LoadOptions) -> Result<(HandlerTree, Vec<SourceWarning>), LoadError> {
        let (root_real, scan_real) =
            scan::canonical_dirs(&options.root, options.scan_dir.as_deref())?;
        let encoding = options.encoding.as_deref().unwrap_or("utf-8");
        runtime::initialize();
        let (mut handlers, warnings) = Python::attach(|py| {
            check_encoding(py, encoding)?;
            Ok(source_all(py, &root_real, &scan_real, options, encoding))
        })?;
        for warning in &warnings {
            tracing::warn!("Warning in source loading: {warning}");
        }
        if let Some(map) = &options.map_file {
            map_file::apply(map, &mut handlers)?;
        }
        Ok((HandlerTree { handlers }, warnings))
    }

    /// Every resource path (aliases included) with its handlers, for building a router.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Handlers>)> {
        self.handlers.iter().map(|(path, handlers)| (path.as_str(), handlers))
    }

    /// A router that serves every resource path (aliases included) with its handler file;
    /// `strict_extra_headers` as on [`crate::PythonHandler::strict_extra_headers`].
    pub fn router(&self, strict_extra_headers: bool) -> wshd_server::Router {
        self.iter().fold(wshd_server::Router::new(), |router, (path, handlers)| {
            let handler = crate::PythonHandler::new(handlers.clone())
                .strict_extra_headers(strict_extra_headers);
            router.route_dyn(path, Arc::new(handler))
        })
    }

    /// Every registered resource path (aliases included), sorted.
    pub fn resources(&self) -> Vec<&str> {
        let mut resources: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        resources.sort_unstable();
        resources
    }
}

fn check_encoding(py: Python<'_>, encoding: &str) -> Result<(), LoadError> {
    py.import("codecs").and_then(|codecs| codecs.call_method1("lookup", (encoding,))).map_err(
        |err| LoadError::UnknownEncoding {
            encoding: encoding.to_owned(),
            message: err.to_string(),
        },
    )?;
    Ok(())
}

fn source_all(
    py: Python<'_>,
    root_real: &Path,
    scan_real: &Path,
    options: &LoadOptions,
    encoding: &str,
) -> (HashMap<String, Arc<Handlers>>, Vec<SourceWarning>) {
    let mut handlers = HashMap::new();
    let mut warnings = Vec::new();
    for path in scan::handler_files(scan_real) {
        if !options.allow_handlers_outside_root {
            match scan::target_is_under_root(&path, root_real) {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(
                        "Canonical path of {} is not under root directory",
                        path.display()
                    );
                    continue;
                }
                Err(error) => {
                    let message = format!("cannot resolve: {error}");
                    warnings.push(SourceWarning { path, message });
                    continue;
                }
            }
        }
        let loaded = match source_file(py, &path, encoding) {
            Ok(loaded) => loaded,
            Err(message) => {
                warnings.push(SourceWarning { path, message });
                continue;
            }
        };
        // As pywebsocket: the file is executed first, then named; a suffix that differs in
        // case (`Foo_WSH.py`) ran but serves nothing.
        match scan::resource_name(&path, root_real) {
            Some(resource) => {
                handlers.insert(resource, Arc::new(loaded));
            }
            None => tracing::debug!("Path to resource conversion on {} failed", path.display()),
        }
    }
    (handlers, warnings)
}

/// Reads, decodes and executes one file; the error is the warning's message.
fn source_file(py: Python<'_>, path: &Path, encoding: &str) -> Result<Handlers, String> {
    let bytes = fs::read(path).map_err(|error| format!("cannot read: {error}"))?;
    let source = PyBytes::new(py, &bytes)
        .call_method1("decode", (encoding,))
        .map_err(|err| format!("cannot decode as {encoding}: {err}"))?;
    let globals = PyDict::new(py);
    execute(py, &source, path, &globals).map_err(|err| {
        format!("Error in sourcing handler:{}", format_traceback(py, &err).trim_end())
    })?;
    let passive_closing_handshake = match globals.get_item(PASSIVE_CLOSING_HANDSHAKE) {
        Ok(Some(function)) if function.is_callable() => Some(function.unbind()),
        _ => None,
    };
    Ok(Handlers {
        path: path.to_path_buf(),
        extra_handshake: required(&globals, DO_EXTRA_HANDSHAKE)?,
        transfer_data: required(&globals, TRANSFER_DATA)?,
        passive_closing_handshake,
    })
}

/// `exec(compile(source, path, 'exec'), globals)`. The file name is the path (pywebsocket
/// passes a bare string, so its tracebacks say `<string>`); globals are not affected.
fn execute(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    path: &Path,
    globals: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let builtins = py.import("builtins")?;
    let code =
        builtins.getattr("compile")?.call1((source, path.to_string_lossy().as_ref(), "exec"))?;
    builtins.getattr("exec")?.call1((code, globals))?;
    Ok(())
}

/// pywebsocket's `_extract_handler` messages.
fn required(globals: &Bound<'_, PyDict>, name: &str) -> Result<Py<PyAny>, String> {
    match globals.get_item(name) {
        Ok(Some(function)) if function.is_callable() => Ok(function.unbind()),
        Ok(Some(_)) => Err(format!("{name} is not callable.")),
        Ok(None) | Err(_) => Err(format!("{name} is not defined.")),
    }
}

/// The traceback as `traceback.format_exception` prints it, or the bare error if that fails.
fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|traceback| {
        let lines = traceback.call_method1("format_exception", (err.value(py),))?;
        "".into_pyobject(py)?.call_method1("join", (lines,))?.extract::<String>()
    });
    formatted.unwrap_or_else(|_| err.to_string())
}
