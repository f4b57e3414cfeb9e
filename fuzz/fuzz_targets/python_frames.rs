//! `request.ws_stream`'s frame-level API on a real connection.
//!
//! The oracle, its input layout and its checks: `wshd_python::fuzzing::check_python_frames` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_python::fuzzing::replay("python_frames", data));
});
