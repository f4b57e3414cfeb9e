//! WebSocket compression: permessage-deflate (RFC 7692) and the older deflate-frame, as
//! negotiation ([`negotiate`], [`negotiate_compression`]) and a per-connection
//! [`Compressor`] and [`Decompressor`] over raw deflate.
//!
//! This module is not a framer. It never sees frame headers: setting and checking RSV1,
//! refusing it on control frames, deciding which messages to compress and splitting the
//! output into frames are the frame reader's and writer's job. It keeps no clock and does
//! no I/O. What it guarantees is the byte format of RFC 7692 §7.2 (sync flush, the
//! `00 00 ff ff` removed and restored, context takeover or not) and a hard cap on inflated
//! output.
//!
//! Typical server use:
//!
//! ```
//! use wshd_proto::deflate::{DeflateConfig, ResponseOverrides, negotiate};
//! use wshd_proto::handshake::{format_extensions, parse_extensions};
//!
//! let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
//! let cfg = DeflateConfig::default();
//! let (agreed, response) = negotiate(&offers, &cfg, &ResponseOverrides::default()).unwrap();
//! assert_eq!(format_extensions(&[response]), "permessage-deflate");
//!
//! let mut compressor = agreed.compressor(&cfg);
//! let mut payload = Vec::new();
//! compressor.compress(b"Hello", &mut payload); // sent with RSV1 set
//! assert_eq!(payload, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
//!
//! let mut decompressor = agreed.decompressor();
//! let mut message = Vec::new();
//! let limit = 16 << 20;
//! for piece in payload.chunks(3) {
//!     decompressor.decompress(piece, &mut message, limit).unwrap(); // as frames arrive
//! }
//! decompressor.finish_message(&mut message, limit).unwrap(); // after the FIN frame
//! assert_eq!(message, b"Hello");
//! ```
//!
//! # Decisions
//!
//! * **Backend.** flate2 with the pure-Rust zlib-rs backend for inflating, and zlib-rs's
//!   own safe `Deflate` API for deflating, because flate2 does not expose `memLevel` and
//!   its fixed 8 costs 98 KiB per connection more than 5. No `unsafe` code is involved.
//!   zlib-rs's `std` feature is on so it picks its AVX2 paths at run time.
//! * **Memory per connection** (counting allocator, after one message each way, context
//!   takeover; `deflate::tests::memory_per_connection` prints them):
//!
//!   | compressor window / memLevel | compressor | decompressor | total |
//!   |---|---|---|---|
//!   | 12 / 5 (default) | 165,120 | 47,704 | 212,824 |
//!   | 15 / 5 | 279,808 | 47,704 | 327,512 |
//!   | 15 / 8 (flate2's fixed memLevel) | 380,160 | 47,704 | 427,864 |
//!   | 9 / 5 (smallest) | 150,784 | 47,704 | 198,488 |
//!
//!   The floor is zlib-rs's fixed 128 KiB hash table (C zlib would shrink it with
//!   `memLevel`). Nothing is held before the first compressed message, and nothing between
//!   messages when context takeover is off: each message then allocates and frees its
//!   state, which costs about 1.5 µs more than a zlib reset (5.2 against 3.7 µs for a
//!   300-byte message, release build).
//! * **Window 8.** A client may ask for `server_max_window_bits=8`; we answer 8 and
//!   compress with 9, which zlib's match-distance limit makes safe (see
//!   [`Negotiated::compressor_window_bits`]). We always inflate with 15 bits.
//! * **Bomb.** The output buffer grows by doubling but never past `limit + 1` bytes of
//!   capacity, so a 64 KiB message that inflates to 64 MiB stops at the limit (16 MiB by
//!   default) after allocating at most that (see `deflate::tests::bomb_*`).

mod compress;
mod inflate;
mod params;

#[cfg(test)]
mod tests;

pub use compress::Compressor;
pub use inflate::{Decompressor, InflateError};
pub use params::{
    Compression, DEFAULT_LEVEL, DEFAULT_MEM_LEVEL, DEFAULT_SERVER_MAX_WINDOW_BITS, DEFLATE_FRAME,
    DeflateConfig, FrameNegotiated, FrameResponseOverrides, InvalidDeflateConfig, Negotiated,
    PERMESSAGE_DEFLATE, ResponseOverrides, X_WEBKIT_DEFLATE_FRAME, accept_response, negotiate,
    negotiate_compression, negotiate_deflate_frame,
};
