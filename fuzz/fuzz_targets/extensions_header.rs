//! The header tokenizers: `parse_extensions` and `parse_token_list` on arbitrary text.
//!
//! The oracle, its input layout and its checks: `wshd_testkit::extensions_header` (which
//! `cargo test` also replays every input saved under `fuzz/regressions/extensions_header/` through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_testkit::replay("extensions_header", data));
});
