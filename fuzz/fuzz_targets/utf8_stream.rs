//! The incremental UTF-8 validator fed in pieces.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::utf8_stream` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("utf8_stream", data));
});
