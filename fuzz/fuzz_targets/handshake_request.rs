//! The server side of the opening handshake on arbitrary bytes in arbitrary chunks.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::handshake_request` (which
//! `cargo test` also replays every input saved under `fuzz/regressions/handshake_request/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("handshake_request", data));
});
