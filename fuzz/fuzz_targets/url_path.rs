//! Request targets: the URL path parser, then the filesystem resolver on a tree with symlinks.
//!
//! The oracle, its input layout and its checks: `wshd_server::fuzzing::check_url_path` (which `cargo test` also replays
//! every saved input of this target through).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(wshd_server::fuzzing::replay("url_path", data));
});
