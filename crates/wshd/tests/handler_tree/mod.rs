//! A directory of handler files a test writes, removed when dropped. Shared by the test
//! files of this crate that start `wshd` on trees of their own.
#![allow(dead_code)]

use std::path::PathBuf;

/// The directory; `.0` is its path.
pub struct Tree(pub PathBuf);

impl Tree {
    /// A fresh directory for the test `name` (unique per test process) holding `files`,
    /// each `(file name, source)`.
    pub fn new(name: &str, files: &[(&str, &str)]) -> Tree {
        let dir = std::env::temp_dir().join(format!("wshd-handlers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, source) in files {
            std::fs::write(dir.join(file), source).unwrap();
        }
        Tree(dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
