//! Arbitrary bytes from a client, in arbitrary chunks, into a server `Connection`.
//!
//! Input layout and invariants: `wshd_proto_fuzz::ReaderScript` and
//! `wshd_proto_fuzz::check_frame_reader`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wshd_proto::Role;

fuzz_target!(|data: &[u8]| {
    wshd_proto_fuzz::check_frame_reader(Role::Server, data);
});
