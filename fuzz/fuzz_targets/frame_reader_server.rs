//! Arbitrary bytes from a client, in arbitrary chunks, into a server `Connection`.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::frame_reader` (which
//! `cargo test` also replays every input saved under `fuzz/regressions/frame_reader_server/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("frame_reader_server", data));
});
