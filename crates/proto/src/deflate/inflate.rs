//! The decompressing half of permessage-deflate (RFC 7692 §7.2.2) and deflate-frame, with a
//! hard cap on the output so a small compressed message cannot make us allocate more than
//! the message-size limit (the "zip bomb" of pywebsocket, CVE-2018-1000518 in
//! python-websockets, and others).
//!
//! It takes unmasked payload bytes as they arrive and appends plain bytes to a caller's
//! buffer. It does not read frame headers or RSV1, does not validate UTF-8, and does not
//! choose the close code: the framer does, from [`InflateError`]. The inflate state (about
//! 47.5 KB, the 32 KiB window included) is allocated on the first compressed byte and freed
//! by [`Decompressor::reset`], on drop, after an error, and after every message when the
//! client uses no context takeover.
//!
//! It always inflates with a 15-bit window, which decodes any smaller one.

use std::fmt;

use flate2::{Decompress, FlushDecompress, Status};

use super::compress::SYNC_TAIL;
use crate::error::ProtocolError;

/// Smallest growth of the output buffer, for the first bytes of a message.
const MIN_GROWTH: usize = 256;

/// Why a compressed message could not be inflated. Either way the connection must be
/// failed; the decompressor has already freed its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The output would exceed `limit` bytes (close code 1009).
    TooLarge {
        /// The limit that was passed in.
        limit: usize,
    },
    /// The payload is not valid deflate data (RFC 7692 §7.2.2: fail the connection).
    Corrupt,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::TooLarge { limit } => {
                write!(f, "decompressed message exceeds the limit of {limit} bytes")
            }
            InflateError::Corrupt => f.write_str("compressed message could not be inflated"),
        }
    }
}

impl std::error::Error for InflateError {}

impl From<InflateError> for ProtocolError {
    fn from(e: InflateError) -> Self {
        match e {
            InflateError::TooLarge { limit } => ProtocolError::MessageTooLarge { max: limit },
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        }
    }
}

/// Per-connection decompressor for incoming compressed messages (or frames).
///
/// For each compressed message: [`Decompressor::decompress`] with each piece of payload
/// as it arrives, then [`Decompressor::finish_message`] after the last frame. For
/// deflate-frame, the same per frame (or [`Decompressor::decompress_frame`]).
pub struct Decompressor {
    no_context_takeover: bool,
    /// Allocated on the first compressed byte.
    state: Option<Box<Decompress>>,
    /// Some payload of the current message has been fed.
    fed: bool,
    /// The current message contained a block with BFINAL set.
    stream_ended: bool,
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor")
            .field("no_context_takeover", &self.no_context_takeover)
            .field("allocated", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl Decompressor {
    /// A decompressor; with `no_context_takeover` (the peer compresses every message from
    /// an empty window) it starts afresh after each message. Allocates nothing.
    pub fn new(no_context_takeover: bool) -> Self {
        Decompressor { no_context_takeover, state: None, fed: false, stream_ended: false }
    }

    /// Inflates one piece of a compressed message's payload (unmasked), appending the
    /// output to `out`, which must not grow beyond `limit` bytes in total (pass the message
    /// limit when `out` holds the whole message).
    ///
    /// Pieces may be cut anywhere. Everything the input allows is written before this
    /// returns. `out` grows by doubling, but this never makes its capacity exceed
    /// `limit + 1` bytes: the one extra byte is how an overflow is seen, and
    /// [`InflateError::TooLarge`] is then returned at once, whatever the input still holds.
    /// (Spare capacity `out` already had is used as it is, without allocating.) Corrupt input gives
    /// [`InflateError::Corrupt`]. After an error the state is freed and the connection
    /// must be failed.
    ///
    /// A block with BFINAL set ends the deflate stream; what follows in the message is
    /// inflated as a new stream (pywebsocket does the same), and the next message starts a
    /// new stream too.
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if input.is_empty() {
            return Ok(());
        }
        self.fed = true;
        let result = self.inflate(input, out, limit);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Ends a compressed message (or, for deflate-frame, a frame): inflates the
    /// `00 00 ff ff` the sender removed (RFC 7692 §7.2.2), then starts afresh if the client
    /// uses no context takeover or the message ended its deflate stream.
    ///
    /// A message whose compressed payload was empty is taken as empty and leaves the stream
    /// untouched: Python's zlib produces exactly that for an empty message after another
    /// one, and inflating the tail alone would leave the stream inside a stored block.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        if !std::mem::take(&mut self.fed) {
            return Ok(());
        }
        let result = self.inflate(&SYNC_TAIL, out, limit);
        if result.is_err() || self.no_context_takeover {
            self.reset();
        } else if std::mem::take(&mut self.stream_ended)
            && let Some(inflater) = self.state.as_mut()
        {
            inflater.reset(false);
        }
        result
    }

    /// Inflates one whole deflate-frame frame payload: [`Decompressor::decompress`] then
    /// [`Decompressor::finish_message`].
    pub fn decompress_frame(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.decompress(payload, out, limit)?;
        self.finish_message(out, limit)
    }

    /// Frees the inflate state and forgets the current message; the next byte starts a new
    /// deflate stream.
    pub fn reset(&mut self) {
        self.state = None;
        self.fed = false;
        self.stream_ended = false;
    }

    /// Whether inflate state is currently allocated.
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Whether the state is dropped after every message.
    pub fn no_context_takeover(&self) -> bool {
        self.no_context_takeover
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let inflater =
            self.state.get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, 15)));
        loop {
            if out.len() > limit {
                return Err(InflateError::TooLarge { limit });
            }
            make_room(out, limit, input.len());
            let (in_before, len_before) = (inflater.total_in(), out.len());
            // decompress_vec writes into the spare capacity only and never reallocates, so
            // `out` cannot pass its capacity, which make_room keeps at most limit + 1.
            let status = inflater
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|_| InflateError::Corrupt)?;
            let consumed = (inflater.total_in() - in_before) as usize;
            input = &input[consumed..];
            if out.len() > limit {
                return Err(InflateError::TooLarge { limit });
            }
            match status {
                Status::StreamEnd => {
                    // BFINAL: the sender finished its stream (RFC 7692 §7.2.3.4). Anything
                    // after it (typically an empty stored block, then our appended tail) is
                    // a new stream.
                    self.stream_ended = true;
                    inflater.reset(false);
                    if input.is_empty() {
                        return Ok(());
                    }
                }
                Status::Ok | Status::BufError => {
                    // zlib's contract: inflate returns when it needs input or has filled the
                    // output, so all input used and room left means everything is written.
                    if input.is_empty() && out.len() < out.capacity() {
                        return Ok(());
                    }
                    if consumed == 0 && out.len() == len_before && out.len() < out.capacity() {
                        // No progress with input and room available: not a deflate stream
                        // zlib understands. Unreachable in practice; never loop forever.
                        return Err(InflateError::Corrupt);
                    }
                }
            }
        }
    }
}

/// Makes sure `out` has spare capacity, doubling it (at least `MIN_GROWTH`, or four times
/// the compressed input for a first guess) but never beyond `limit + 1` bytes.
fn make_room(out: &mut Vec<u8>, limit: usize, input_len: usize) {
    let len = out.len();
    if out.capacity() > len {
        return;
    }
    let ceiling = limit.saturating_add(1);
    let want = out
        .capacity()
        .saturating_mul(2)
        .max(len.saturating_add(MIN_GROWTH.max(input_len.saturating_mul(4))))
        .min(ceiling)
        .max(len + 1);
    out.reserve_exact(want - len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(
        d: &mut Decompressor,
        pieces: &[&[u8]],
        limit: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        for piece in pieces {
            d.decompress(piece, &mut out, limit)?;
        }
        d.finish_message(&mut out, limit)?;
        Ok(out)
    }

    const HELLO: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    /// RFC 7692 §7.2.3.1: "Hello" in one frame, and split over two frames
    /// (`f2 48 cd` and `c9 c9 07 00`).
    #[test]
    fn rfc7692_7_2_3_1_hello_in_one_or_two_frames() {
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[&HELLO[..3], &HELLO[3..]], 100).unwrap(), b"Hello");
        // And cut at every byte.
        let pieces: Vec<&[u8]> = HELLO.chunks(1).collect();
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &pieces, 100).unwrap(), b"Hello");
    }

    /// RFC 7692 §7.2.3.2: the second message refers back to the first.
    #[test]
    fn rfc7692_7_2_3_2_sharing_the_window() {
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut d, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(), b"Hello");
        // Without context takeover the window is gone: the back-reference is invalid.
        let mut d = Decompressor::new(true);
        assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
        assert!(!d.is_allocated());
        assert_eq!(
            inflate_all(&mut d, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100),
            Err(InflateError::Corrupt)
        );
    }

    /// RFC 7692 §7.2.3.3: "Hello" in a stored (uncompressed) block.
    #[test]
    fn rfc7692_7_2_3_3_stored_block() {
        let payload = [0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00];
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[&payload], 100).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
    }

    /// RFC 7692 §7.2.3.4: a block with BFINAL set, then a padding byte; the next message
    /// is a new stream. Also without the padding byte.
    #[test]
    fn rfc7692_7_2_3_4_bfinal_block() {
        let with_pad = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        for payload in [&with_pad[..], &with_pad[..7]] {
            let mut d = Decompressor::new(false);
            assert_eq!(inflate_all(&mut d, &[payload], 100).unwrap(), b"Hello");
            assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
            assert_eq!(inflate_all(&mut d, &[payload], 100).unwrap(), b"Hello");
        }
    }

    /// RFC 7692 §7.2.3.5: two deflate blocks in one message.
    #[test]
    fn rfc7692_7_2_3_5_two_blocks() {
        let payload =
            [0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00];
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[&payload], 100).unwrap(), b"Hello");
    }

    /// §7.2.3.6: an empty message is `00`; an empty payload (what Python's zlib sends for
    /// an empty message after a flush) is also taken as empty and does not break the
    /// stream.
    #[test]
    fn rfc7692_7_2_3_6_empty_messages() {
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[&[0x00]], 100).unwrap(), b"");
        assert_eq!(inflate_all(&mut d, &[HELLO], 100).unwrap(), b"Hello");
        assert_eq!(inflate_all(&mut d, &[], 100).unwrap(), b"");
        assert_eq!(inflate_all(&mut d, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]], 100).unwrap(), b"Hello");
    }

    #[test]
    fn rfc7692_7_2_2_corrupt_data_fails() {
        // BTYPE 11 is reserved; a stored block whose NLEN is not the complement of LEN.
        for bad in [&[0xff, 0xff, 0xff][..], &[0x00, 0x05, 0x00, 0x00, 0x00]] {
            let mut d = Decompressor::new(false);
            let mut out = Vec::new();
            let r = d.decompress(bad, &mut out, 100).and_then(|()| d.finish_message(&mut out, 100));
            assert_eq!(r, Err(InflateError::Corrupt), "{bad:02x?}");
            assert!(!d.is_allocated());
        }
        assert_eq!(
            ProtocolError::from(InflateError::Corrupt),
            ProtocolError::InvalidCompressedData
        );
        assert_eq!(
            ProtocolError::from(InflateError::TooLarge { limit: 7 }),
            ProtocolError::MessageTooLarge { max: 7 }
        );
    }

    #[test]
    fn limit_is_exact() {
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[HELLO], 5).unwrap(), b"Hello");
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[HELLO], 4), Err(InflateError::TooLarge { limit: 4 }));
        let mut d = Decompressor::new(false);
        assert_eq!(inflate_all(&mut d, &[HELLO], 0), Err(InflateError::TooLarge { limit: 0 }));
    }

    #[test]
    fn lazy_allocation() {
        let mut d = Decompressor::new(false);
        let mut out = Vec::new();
        d.decompress(&[], &mut out, 10).unwrap();
        d.finish_message(&mut out, 10).unwrap();
        assert!(!d.is_allocated());
        d.decompress(HELLO, &mut out, 10).unwrap();
        assert!(d.is_allocated());
        d.reset();
        assert!(!d.is_allocated());
    }
}
