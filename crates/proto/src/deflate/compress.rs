//! The compressing half of permessage-deflate (RFC 7692 §7.2.1) and deflate-frame: one
//! raw-deflate stream per connection, sync-flushed at the end of every message (or frame)
//! with the trailing `00 00 ff ff` removed.
//!
//! It writes compressed payload bytes only: RSV1, frame headers, fragmentation and the
//! choice of which messages to compress are the framer's. The deflate state (about 165 KB
//! at the defaults) is allocated on the first message and freed by [`Compressor::reset`],
//! on drop, and after every message when context takeover is off, so an idle connection
//! holds none.
//!
//! zlib-rs is called directly, through its safe `Deflate` API, rather than through
//! flate2's `Compress`: flate2 fixes `memLevel` at 8, which costs 98 KiB more per
//! connection than the default 5 (see [`super::DeflateConfig::mem_level`]).

use zlib_rs::{Deflate, DeflateConfig as ZConfig, DeflateFlush, Method, Strategy};

use super::params::{DeflateConfig, compressor_bits};

/// The empty stored block that ends a sync flush (RFC 7692 §7.2.1: removed by the sender,
/// appended again by the receiver).
pub(crate) const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Most output produced per call into zlib-rs, so a large message grows `out` in steps.
const MAX_OUT_STEP: usize = 256 * 1024;

/// Per-connection compressor for outgoing messages (or frames, for deflate-frame).
pub struct Compressor {
    config: ZConfig,
    no_context_takeover: bool,
    /// End each message with a final block (see [`Compressor::set_bfinal`]).
    bfinal: bool,
    /// Allocated on first use.
    state: Option<Box<Deflate>>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("window_bits", &-self.config.window_bits)
            .field("mem_level", &self.config.mem_level)
            .field("level", &self.config.level)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("allocated", &self.state.is_some())
            .finish()
    }
}

impl Compressor {
    /// A compressor whose LZ77 window is at most `1 << window_bits` bytes (8..=15; 8 is
    /// compressed with 9, see [`super::Negotiated::compressor_window_bits`], and values out
    /// of range are clamped). With `no_context_takeover` every message starts from an empty
    /// window. `cfg` gives the level and memLevel. Allocates nothing.
    pub fn new(window_bits: u8, no_context_takeover: bool, cfg: &DeflateConfig) -> Self {
        let config = ZConfig {
            level: i32::from(cfg.level.min(9)),
            method: Method::Deflated,
            // Negative: raw deflate, no zlib header or checksum.
            window_bits: -i32::from(compressor_bits(window_bits)),
            mem_level: i32::from(cfg.mem_level.clamp(1, 9)),
            strategy: Strategy::Default,
        };
        Compressor { config, no_context_takeover, bfinal: false, state: None }
    }

    /// Appends the compressed payload of one whole message to `out` (RFC 7692 §7.2.1):
    /// deflate, sync flush, remove the final `00 00 ff ff`. An empty message gives `00`.
    ///
    /// The caller sets RSV1 on the message's first frame and may split the result over
    /// any number of frames.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.compress_fragment(payload, true, out);
    }

    /// Appends the compressed bytes for one piece of a message that is sent in fragments.
    ///
    /// A piece with `fin == false` is sync-flushed so the peer can inflate it at once, and
    /// keeps its `00 00 ff ff` (only the end of the message loses it); it may compress to
    /// nothing. The piece with `fin == true` ends the message exactly like
    /// [`Compressor::compress`].
    pub fn compress_fragment(&mut self, payload: &[u8], fin: bool, out: &mut Vec<u8>) {
        let config = self.config;
        let deflate = self.state.get_or_insert_with(|| Box::new(Deflate::new_with_config(config)));
        let start = out.len();
        if fin && self.bfinal {
            // pywebsocket's set_bfinal: finish the deflate stream (its last block has
            // BFINAL set), then one zero byte, and start the next message afresh.
            run(deflate, payload, out, DeflateFlush::Finish);
            out.push(0x00);
            self.state = None;
            return;
        }
        run(deflate, payload, out, DeflateFlush::SyncFlush);
        if fin {
            if out[start..].ends_with(&SYNC_TAIL) {
                out.truncate(out.len() - SYNC_TAIL.len());
            } else {
                // zlib (and zlib-rs) write nothing for a flush that follows a flush with no
                // input in between, so an empty message after another has no `00 00 ff ff`
                // to remove. The stream is byte-aligned after the previous flush, so we
                // write the empty stored block's first byte ourselves: the receiver's
                // appended `00 00 ff ff` completes it (RFC 7692 §7.2.3.6 sends `00` for an
                // empty message). Python's zlib leaves such a message empty instead, which
                // the peer cannot inflate.
                debug_assert_eq!(out.len(), start, "a sync flush ends in 00 00 ff ff");
                out.push(0x00);
            }
            if self.no_context_takeover {
                // §7.2.1: without context takeover the next message starts from an empty
                // window; a new state costs about the same as a zlib reset, and freeing it
                // here means a connection between messages holds no deflate memory.
                self.state = None;
            }
        }
    }

    /// Compresses one whole frame payload for deflate-frame: the same bytes as
    /// [`Compressor::compress`], and with `no_context_takeover` the next frame starts from
    /// an empty window.
    pub fn compress_frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.compress_fragment(payload, true, out);
    }

    /// Ends every message (or its last fragment) with a final deflate block, BFINAL set,
    /// followed by one zero byte, and starts the next message from a new stream, as
    /// pywebsocket's `set_bfinal(True)` does (default off: a sync flush without the
    /// `00 00 ff ff` tail, RFC 7692 §7.2.1). Peers must accept both (§7.2.3.4 allows
    /// BFINAL). Takes effect at the next message.
    pub fn set_bfinal(&mut self, on: bool) {
        self.bfinal = on;
    }

    /// Frees the deflate state; the next message starts a new deflate stream from an empty
    /// window. Call it between messages only (in the middle of a fragmented message it
    /// would corrupt that message). It is safe with context takeover: the peer's inflater
    /// keeps its window, and the new stream simply makes no back-references into it.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Whether deflate state is currently allocated.
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Whether every message starts from an empty window.
    pub fn no_context_takeover(&self) -> bool {
        self.no_context_takeover
    }
}

/// Deflates all of `input` with `flush` (sync, or finish), appending to `out`.
fn run(deflate: &mut Deflate, mut input: &[u8], out: &mut Vec<u8>, flush: DeflateFlush) {
    loop {
        let len = out.len();
        // A sync flush of n bytes needs at most n plus 5 bytes per stored block of at most
        // 64 KiB, plus a few bytes for the flush: one step is usually enough.
        let step = (input.len() + input.len() / 8 + 64).min(MAX_OUT_STEP);
        out.resize(len + step, 0);
        let (in_before, out_before) = (deflate.total_in(), deflate.total_out());
        let result = deflate.compress(input, &mut out[len..], flush);
        // Ok and BufError are both progress reports; an error can only come from a bad
        // configuration, which `Compressor::new` rules out.
        debug_assert!(result.is_ok(), "deflate failed: {result:?}");
        let consumed = (deflate.total_in() - in_before) as usize;
        let written = (deflate.total_out() - out_before) as usize;
        out.truncate(len + written);
        input = &input[consumed..];
        // zlib: the flush is complete once deflate returns with output space left.
        if (input.is_empty() && written < step) || result.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }

    fn compressor(no_context_takeover: bool) -> Compressor {
        Compressor::new(15, no_context_takeover, &DeflateConfig::default())
    }

    fn compress(c: &mut Compressor, payload: &[u8]) -> String {
        let mut out = Vec::new();
        c.compress(payload, &mut out);
        hex(&out)
    }

    /// pywebsocket's `set_bfinal(True)`: Python's `compress() + flush(Z_FINISH) + b'\x00'`
    /// gives `f3 48 cd c9 c9 07 00 00` for "Hello", every time (a new stream each message).
    #[test]
    fn bfinal_finishes_each_message_like_pywebsocket() {
        let mut c = compressor(false);
        c.set_bfinal(true);
        assert_eq!(compress(&mut c, b"Hello"), "f3 48 cd c9 c9 07 00 00");
        assert!(!c.is_allocated());
        assert_eq!(compress(&mut c, b"Hello"), "f3 48 cd c9 c9 07 00 00");
        c.set_bfinal(false);
        assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
    }

    /// RFC 7692 §7.2.3.1 and pywebsocket's test_echo_permessage_deflate: "Hello" is
    /// `f2 48 cd c9 c9 07 00` (a fixed-Huffman block; the first byte is deflate's, not a
    /// frame header: the frame is `c1 07` followed by these seven bytes).
    #[test]
    fn rfc7692_7_2_3_1_hello_compresses_like_zlib() {
        let mut c = compressor(false);
        assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
    }

    /// RFC 7692 §7.2.3.2: with context takeover the second "Hello" is a back-reference,
    /// `f2 00 11 00 00`, as pywebsocket's end-to-end test expects.
    #[test]
    fn rfc7692_7_2_3_2_second_hello_uses_the_shared_window() {
        let mut c = compressor(false);
        assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
        assert_eq!(compress(&mut c, b"Hello"), "f2 00 11 00 00");
        assert!(c.is_allocated());
    }

    /// §7.2.1 with server_no_context_takeover: every message is compressed alone, and the
    /// state is freed between messages.
    #[test]
    fn rfc7692_7_2_1_no_context_takeover_repeats_the_first_output() {
        let mut c = compressor(true);
        for _ in 0..3 {
            assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
            assert!(!c.is_allocated());
        }
    }

    /// §7.2.3.6 (empty message): `00`, whether it comes first, after another message, or
    /// after another empty one, with or without context takeover.
    #[test]
    fn rfc7692_7_2_3_6_empty_message_is_one_zero_byte() {
        for nct in [false, true] {
            let mut c = compressor(nct);
            assert_eq!(compress(&mut c, b""), "00");
            assert_eq!(compress(&mut c, b""), "00");
            assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
            assert_eq!(compress(&mut c, b""), "00");
        }
    }

    #[test]
    fn rfc7692_7_2_1_fragments_keep_the_tail_until_fin() {
        let mut c = compressor(false);
        let mut out = Vec::new();
        c.compress_fragment(b"Hel", false, &mut out);
        assert!(out.ends_with(&SYNC_TAIL));
        let first = out.len();
        c.compress_fragment(b"", false, &mut out);
        assert_eq!(out.len(), first, "an empty non-final piece adds nothing");
        c.compress_fragment(b"lo", true, &mut out);
        assert!(!out.ends_with(&SYNC_TAIL));
        let mut d = super::super::Decompressor::new(false);
        let mut plain = Vec::new();
        d.decompress(&out, &mut plain, 100).unwrap();
        d.finish_message(&mut plain, 100).unwrap();
        assert_eq!(plain, b"Hello");
    }

    /// memLevel only sizes the symbol buffer: messages of one block (under ~2,000
    /// symbols) are the same bytes at the default 5 as at zlib's 8.
    #[test]
    fn mem_level_5_matches_8_on_small_messages() {
        let text: Vec<u8> = (0..1800u32)
            .map(|i| b"{\"id\": 17, \"tags\": [a, b]}"[(i * 7 % 26) as usize])
            .collect();
        let out = |mem_level| {
            let cfg = DeflateConfig { mem_level, ..DeflateConfig::default() };
            let mut c = Compressor::new(12, false, &cfg);
            let mut out = Vec::new();
            for end in [5, 300, 1800] {
                c.compress(&text[..end], &mut out);
            }
            out
        };
        assert_eq!(out(5), out(8));
    }

    #[test]
    fn lazy_allocation_and_reset_free_the_state() {
        let mut c = compressor(false);
        assert!(!c.is_allocated());
        compress(&mut c, b"Hello");
        assert!(c.is_allocated());
        c.reset();
        assert!(!c.is_allocated());
        // A reset starts a new stream: no back-reference to the first "Hello".
        assert_eq!(compress(&mut c, b"Hello"), "f2 48 cd c9 c9 07 00");
    }

    #[test]
    fn large_incompressible_message_round_trips() {
        // A xorshift stream: incompressible, so the output is larger than one step guess.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let payload: Vec<u8> = (0..700_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut c = compressor(false);
        let mut out = Vec::new();
        c.compress(&payload, &mut out);
        assert!(out.len() > payload.len());
        let mut d = super::super::Decompressor::new(false);
        let mut plain = Vec::new();
        d.decompress(&out, &mut plain, payload.len()).unwrap();
        d.finish_message(&mut plain, payload.len()).unwrap();
        assert!(plain == payload);
    }
}
