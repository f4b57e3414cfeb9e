//! The frame reader of a server that negotiated compression, inflating with context
//! takeover across messages (or per frame, or without takeover, as the script chooses).
//!
//! The oracle, its input layout and its checks: `wshd_testkit::frame_reader` (which
//! `cargo test` also replays every input saved under `fuzz/regressions/inflate_server/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("inflate_server", data));
});
