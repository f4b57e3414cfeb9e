//! Test support shared by wshd's tests and its fuzz targets: the oracles each fuzz target
//! checks its input with, so that `cargo test` replays every committed crash input
//! through the same oracle that found it ([`replay`]).
//!
//! An oracle drives the sans-I/O core with its input and panics on any outcome the core's
//! documentation does not promise. Beside the oracles is what the crates' tests share:
//! [`line_framing`] (a test double of a second wire format), [`wire`] (frames built and
//! split by hand), [`raw_client`] (a client that writes and reads exact bytes),
//! [`hybi00_client`] (the HyBi 00 draft's example handshake),
//! [`core_client`] (a client core driven by hand over a socket),
//! [`process`] (a server binary run for a test), [`deploy`] (nginx and Apache in front
//! of wshd or hosting it, also started for scripts by the `wshd-deploy` command),
//! [`files`] (scratch directories) and [`alloc`] (a counting allocator). This crate is
//! for tests, fuzz targets and the scripts that test and measure wshd: nothing wshd
//! ships depends on it.

pub mod alloc;
pub mod close_payload;
pub mod connection_ops;
pub mod core_client;
pub mod deploy;
pub mod extensions_header;
pub mod files;
pub mod frame_reader;
pub mod handshake_request;
pub mod hybi00;
pub mod hybi00_client;
pub mod line_framing;
pub mod process;
pub mod raw_client;
pub mod saved;
pub mod utf8_stream;
pub mod wire;

use wshd_proto::Role;

/// Runs `input`, saved by the fuzz target `target`, through that target's oracle: panics
/// if the bug it found is back. Returns `false` for a target this crate does not know.
pub fn replay(target: &str, input: &[u8]) -> bool {
    match target {
        "frame_reader_server" => frame_reader::check_frame_reader(Role::Server, input),
        "frame_reader_client" => frame_reader::check_frame_reader(Role::Client, input),
        "inflate_server" => {
            frame_reader::check_frame_reader_with(Role::Server, input, frame_reader::FLAG_DEFLATE)
        }
        "connection_ops" => connection_ops::check_bytes(input),
        "handshake_request" => handshake_request::check(input),
        "extensions_header" => extensions_header::check(input),
        "hybi00_frames" => hybi00::check_frames(input),
        "hybi00_handshake" => hybi00::check_handshake(input),
        "utf8_stream" => utf8_stream::check(input),
        "close_payload" => close_payload::check(input),
        _ => return false,
    }
    true
}
