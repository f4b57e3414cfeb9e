//! The two failure kinds of handler loading: fatal [`LoadError`]s and per-file
//! [`SourceWarning`]s.
//!
//! A `LoadError` stops start-up (pywebsocket raises `DispatchException` from the
//! `Dispatcher` constructor or fails to open a file). A `SourceWarning` only skips one
//! handler file, as pywebsocket's `source_warnings()`. Map-file problems are neither: they
//! are logged and loading goes on.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A problem that prevents the handler tree from being built at all.
#[derive(Debug)]
pub enum LoadError {
    /// The handler root (`-w`) could not be resolved (it does not exist, for example).
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why it could not be resolved.
        source: io::Error,
    },
    /// The scan directory (`-s`) could not be resolved.
    ScanDir {
        /// The scan directory as given.
        path: PathBuf,
        /// Why it could not be resolved.
        source: io::Error,
    },
    /// The canonical scan directory is not the canonical root or a directory below it.
    ScanDirOutsideRoot {
        /// The scan directory as given.
        scan_dir: PathBuf,
        /// The root as given.
        root: PathBuf,
    },
    /// Python has no codec of this name (`--handler-encoding`).
    UnknownEncoding {
        /// The name as given.
        encoding: String,
        /// Python's message.
        message: String,
    },
    /// The map file (`-m`) could not be read.
    MapFile {
        /// The map file as given.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Root { path, source } => {
                write!(f, "root_dir:{}: {source}", path.display())
            }
            LoadError::ScanDir { path, source } => {
                write!(f, "scan_dir:{}: {source}", path.display())
            }
            // pywebsocket's wording (dispatch.py, Dispatcher.__init__).
            LoadError::ScanDirOutsideRoot { scan_dir, root } => write!(
                f,
                "scan_dir:{} must be a directory under root_dir:{}.",
                scan_dir.display(),
                root.display()
            ),
            LoadError::UnknownEncoding { encoding, message } => {
                write!(f, "handler encoding {encoding:?}: {message}")
            }
            LoadError::MapFile { path, source } => {
                write!(f, "map file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Root { source, .. }
            | LoadError::ScanDir { source, .. }
            | LoadError::MapFile { source, .. } => Some(source),
            LoadError::ScanDirOutsideRoot { .. } | LoadError::UnknownEncoding { .. } => None,
        }
    }
}

/// One handler file that was skipped, and why.
///
/// Displays as pywebsocket's `source_warnings()` entries, `<path>: <message>`; the log line
/// is `Warning in source loading: <path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceWarning {
    /// The file as found by the scan (a symlink's own path, not its target).
    pub path: PathBuf,
    /// What went wrong, e.g. `web_socket_transfer_data is not defined.` or
    /// `Error in sourcing handler:` followed by the Python traceback.
    pub message: String,
}

impl fmt::Display for SourceWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}
