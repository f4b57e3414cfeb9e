//! Build script: the fuzz targets that embed Python load the libpython PyO3 was configured
//! against (an rpath, as `crates/python/build.rs` does for that crate's own binaries).

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
