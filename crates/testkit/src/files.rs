//! A scratch directory of files a test writes (handler trees, document roots, config
//! files), unique per test process and removed when dropped. Not a general temp-file
//! library: names are the test's, and nothing is locked.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The directory; `.0` is its canonical path.
#[derive(Debug)]
pub struct TempTree(pub PathBuf);

impl TempTree {
    /// A fresh, empty directory for `name` under the system's temp dir.
    pub fn empty(name: &str) -> TempTree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "wshd-test-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        TempTree(std::fs::canonicalize(&dir).expect("the scratch directory exists"))
    }

    /// A fresh directory for `name` holding `files`, each `(relative path, contents)`.
    pub fn new(name: &str, files: &[(&str, &str)]) -> TempTree {
        let tree = TempTree::empty(name);
        for (path, contents) in files {
            tree.write(path, contents);
        }
        tree
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `relative`, creating parent directories; returns its path.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file inside the tree"))
            .expect("creating a parent directory");
        std::fs::write(&path, contents).expect("writing a test file");
        path
    }
}

impl TempTree {
    /// [`TempTree::write`], and makes the file executable (a CGI script).
    pub fn write_executable(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(relative, contents);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("making a test script executable");
        path
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
