//! Close frame bodies, parsed and answered.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::close_payload` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("close_payload", data));
});
