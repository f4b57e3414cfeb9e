//! Finding handler files on disk and naming their resources; no Python here.
//!
//! Mirrors pywebsocket's `os.walk` over the real scan directory: files whose name ends in
//! `_wsh.py` in any case are candidates, symlinked files are included, symlinked directories
//! are not entered. Unlike pywebsocket, "under the root" is decided by path components of
//! canonical paths, not by a string prefix, so `/a/bc` is not under `/a/b`. This module
//! does not read or execute the files (that is `loader`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::LoadError;

/// The suffix the scan matches case-insensitively and the resource name drops
/// case-sensitively.
const SUFFIX: &str = "_wsh.py";

/// Canonical root and scan directory; the scan directory must be the root or below it.
pub(crate) fn canonical_dirs(
    root: &Path,
    scan_dir: Option<&Path>,
) -> Result<(PathBuf, PathBuf), LoadError> {
    let root_real = fs::canonicalize(root)
        .map_err(|source| LoadError::Root { path: root.to_path_buf(), source })?;
    let scan_real = match scan_dir {
        None => root_real.clone(),
        Some(scan) => fs::canonicalize(scan)
            .map_err(|source| LoadError::ScanDir { path: scan.to_path_buf(), source })?,
    };
    if !scan_real.starts_with(&root_real) {
        return Err(LoadError::ScanDirOutsideRoot {
            scan_dir: scan_dir.unwrap_or(root).to_path_buf(),
            root: root.to_path_buf(),
        });
    }
    Ok((root_real, scan_real))
}

/// Every candidate handler file below `dir`, in a stable (sorted, depth-first) order.
///
/// A directory that cannot be read is skipped with a debug log, as `os.walk` skips it.
/// Anything that is not a directory after following symlinks counts as a file (as in
/// `os.walk`), so a broken symlink is a candidate and fails later when it is read.
pub(crate) fn handler_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(dir, &mut found);
    found
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::debug!("skipping unreadable directory {}: {error}", dir.display());
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else { continue };
        if file_type.is_dir() {
            walk(&path, found);
            continue;
        }
        if file_type.is_symlink() && fs::metadata(&path).is_ok_and(|meta| meta.is_dir()) {
            // A symlinked directory: os.walk(followlinks=False) does not enter it.
            continue;
        }
        if has_handler_suffix(&path) {
            found.push(path);
        }
    }
}

/// The scan's test: the file name ends in `_wsh.py`, ignoring ASCII case.
fn has_handler_suffix(path: &Path) -> bool {
    let name = path.file_name().map(|name| name.as_encoded_bytes()).unwrap_or_default();
    name.len() >= SUFFIX.len()
        && name[name.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX.as_bytes())
}

/// Whether a found file's canonical path (a symlink's target) lies under the canonical root.
pub(crate) fn target_is_under_root(path: &Path, root_real: &Path) -> std::io::Result<bool> {
    Ok(fs::canonicalize(path)?.starts_with(root_real))
}

/// The resource a found file serves: its path relative to the canonical root, with `/`
/// separators and a case-sensitive `_wsh.py` dropped. `None` when the suffix differs in
/// case (`Foo_WSH.py`) or the path is not valid UTF-8.
///
/// `<root>/echo_wsh.py` gives `/echo`, `<root>/_wsh.py` gives `/`, `<root>/sub/_wsh.py`
/// gives `/sub/`. For a symlink this is the link's own path, never its target's.
pub(crate) fn resource_name(path: &Path, root_real: &Path) -> Option<String> {
    let relative = path.strip_prefix(root_real).ok()?;
    let mut resource = String::new();
    for component in relative.components() {
        resource.push('/');
        resource.push_str(component.as_os_str().to_str()?);
    }
    resource.strip_suffix(SUFFIX).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_follow_pywebsocket() {
        let root = Path::new("/r");
        assert_eq!(resource_name(Path::new("/r/echo_wsh.py"), root).as_deref(), Some("/echo"));
        assert_eq!(resource_name(Path::new("/r/_wsh.py"), root).as_deref(), Some("/"));
        assert_eq!(resource_name(Path::new("/r/sub/_wsh.py"), root).as_deref(), Some("/sub/"));
        assert_eq!(resource_name(Path::new("/r/a/b/c_wsh.py"), root).as_deref(), Some("/a/b/c"));
        assert_eq!(resource_name(Path::new("/r/Foo_WSH.py"), root), None);
    }

    #[test]
    fn scan_suffix_ignores_case() {
        assert!(has_handler_suffix(Path::new("/r/Foo_WSH.py")));
        assert!(has_handler_suffix(Path::new("/r/_wsh.py")));
        assert!(!has_handler_suffix(Path::new("/r/wsh.py")));
        assert!(!has_handler_suffix(Path::new("/r/echo_wsh.pyc")));
    }
}
