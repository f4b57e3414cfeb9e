//! HyBi 00's opening handshake: validate_hybi00 and the 101.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::hybi00` (which `cargo
//! test` also replays every input saved under `fuzz/regressions/hybi00_handshake/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("hybi00_handshake", data));
});
