//! Gives the `wshd` binary an rpath to the libpython PyO3 was configured against (see
//! `crates/python/build.rs`): without it the loader may pick another installed
//! `libpython3.x.so` of the same version.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
