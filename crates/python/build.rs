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

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    if let (true, Some(lib_dir)) = (config.shared(), config.lib_dir()) {
        println!("cargo:rustc-env=WSHD_PYO3_LIB_DIR={lib_dir}");
    }
}
