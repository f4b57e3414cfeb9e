//! `--config` files: the INI reader of the `wshd` binary, built here from its source file
//! (`crates/wshd/src/ini.rs` has no dependencies; the binary crate has no library to link).
//!
//! The oracle, its input layout and its checks: `check` in that file (whose tests also
//! replay every saved input of this target through it).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/wshd/src/ini.rs"]
mod ini;

fuzz_target!(|data: &[u8]| {
    ini::check(data);
});
