//! ARCHITECTURE.md's code map against the tree: every source file of every crate, and
//! every module of the Python package, is named there, so the map cannot fall behind
//! the code unnoticed. A crate root (`lib.rs`) is covered by its crate's line; a
//! `mod.rs` by its directory (`blocking/`); every other file by its own name.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` whose name ends with one of `extensions`, skipping `skip`
/// directories.
fn files(dir: &Path, extensions: &[&str], skip: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !skip.contains(&name.as_str()) && name != "__pycache__" {
                files(&path, extensions, skip, out);
            }
        } else if extensions.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// What ARCHITECTURE.md must contain for `file` to count as named.
fn expected_name(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_string_lossy().into_owned();
    match name.as_str() {
        "lib.rs" => None,
        "mod.rs" => Some(format!("{}/", file.parent()?.file_name()?.to_string_lossy())),
        _ => Some(name),
    }
}

#[test]
fn the_code_map_names_every_source_file() {
    let root = root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut sources = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        files(&krate.path().join("src"), &[".rs", ".py"], &[], &mut sources);
    }
    files(&root.join("crates/python/python"), &[".py"], &["tests"], &mut sources);
    assert!(sources.len() > 100, "found only {} source files: wrong root?", sources.len());
    let missing: Vec<String> = sources
        .iter()
        .filter(|f| expected_name(f).is_some_and(|name| !map.contains(&name)))
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map does not name: {missing:#?}");
}
