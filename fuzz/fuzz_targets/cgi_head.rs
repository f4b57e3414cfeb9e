//! A CGI script's header block, then the response head made from it.
//!
//! The oracle, its input layout and its checks: `wshd_server::fuzzing::check_cgi_head` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_server::fuzzing::replay("cgi_head", data));
});
