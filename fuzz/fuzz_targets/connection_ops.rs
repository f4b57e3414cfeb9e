//! Random sequences of API calls on a server or client `Connection`, checked against a
//! model of what the docs promise.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::connection_ops` (which
//! `cargo test` also replays every input saved under `fuzz/regressions/connection_ops/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("connection_ops", data));
});
