//! Build script: makes binaries of this package load the libpython that PyO3 was configured
//! against, not whichever `libpython3.x.so` the dynamic loader would pick first.
//!
//! PyO3 takes its configuration from the interpreter it finds (`PYO3_PYTHON`, else `python3`
//! on `PATH`; on our machines pyenv's 3.11.7, whose shared library lives outside the loader's
//! search path while Debian's 3.11.2 library is on it). Without an rpath the test binaries
//! would silently run against Debian's library. `add_libpython_rpath_link_args` emits
//! `-Wl,-rpath,<lib_dir>` for this package's tests, examples and binaries only; a binary in
//! another package that depends on this crate must do the same in its own build script.
//! `WSHD_PYO3_LIB_DIR` lets a unit test check which library was really loaded.
//!
//! It also generates `embedded_modules.rs`: the source of every module of the Python
//! compatibility package under `python/pywebsocket3/`, so the binary carries it and needs
//! no files at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    embed_python_package();
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    if let (true, Some(lib_dir)) = (config.shared(), config.lib_dir()) {
        println!("cargo:rustc-env=WSHD_PYO3_LIB_DIR={lib_dir}");
    }
}

/// Writes `$OUT_DIR/embedded_modules.rs`: `(module name, is package, source)` for every
/// `.py` file of `python/pywebsocket3` but `standalone.py` (which only the installed
/// package has), sorted by name.
fn embed_python_package() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("python");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut modules = Vec::new();
    collect(&root.join("pywebsocket3"), "pywebsocket3", &mut modules);
    modules.sort();
    let mut out = String::from("pub(crate) static MODULES: &[(&str, bool, &str)] = &[\n");
    for (name, is_package, path) in &modules {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({name:?}, {is_package}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("embedded_modules.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, package: &str, modules: &mut Vec<(String, bool, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && path.join("__init__.py").is_file() {
            collect(&path, &format!("{package}.{name}"), modules);
        } else if let Some(stem) = name.strip_suffix(".py") {
            match stem {
                // The harness side, for `pip install` only: it imports the extension module.
                "standalone" if package == "pywebsocket3" => {}
                "__init__" => modules.push((package.to_owned(), true, path)),
                _ => modules.push((format!("{package}.{stem}"), false, path)),
            }
        }
    }
}
