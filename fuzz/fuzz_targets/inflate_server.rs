//! The frame reader of a server that negotiated compression: arbitrary client bytes, in
//! arbitrary chunks, inflated with context takeover across messages (or per frame, or
//! without takeover, as the script's flags choose).
//!
//! Input layout and invariants: `wshd_proto_fuzz::ReaderScript` and
//! `wshd_proto_fuzz::check_frame_reader`; `FLAG_DEFLATE` is always on here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wshd_proto::Role;
use wshd_proto_fuzz::FLAG_DEFLATE;

fuzz_target!(|data: &[u8]| {
    wshd_proto_fuzz::check_frame_reader_with(Role::Server, data, FLAG_DEFLATE);
});
