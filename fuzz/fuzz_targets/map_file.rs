//! The handler map file's lines, against pywebsocket's reading of them in Python.
//!
//! The oracle, its input layout and its checks: `wshd_python::fuzzing::check_map_file` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_python::fuzzing::replay("map_file", data));
});
