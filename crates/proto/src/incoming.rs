//! The receiving half of a connection: frames in, data pieces and control frames out.
//!
//! [`Incoming`] consumes bytes as they arrive, whatever their boundaries. It parses frame
//! headers, checks every RFC 6455 rule a receiver must enforce, unmasks payloads and
//! validates text as UTF-8 while the bytes arrive, so a violation fails the connection at
//! the first offending byte. It keeps no copy of the raw input: a header split across
//! reads waits in a 14-byte stash, and payload bytes go straight into the frame's buffer.
//!
//! When a compression extension was negotiated, frames marked with RSV1 are inflated as
//! their bytes arrive, and the inflated size, not the wire size, is held to the message
//! limit. It does not answer anything (pongs, close replies) and holds no connection
//! state beyond the message being received; [`crate::connection`] does that.

use std::collections::VecDeque;

use crate::close;
use crate::config::Limits;
use crate::connection::{Event, MessageKind};
use crate::deflate::{Decompressor, InflateError};
use crate::error::ProtocolError;
use crate::frame::{
    FrameHeader, MAX_HEADER_LEN, OpCode,
    mask::{apply_mask, extend_masked},
};
use crate::utf8::Utf8Validator;

pub(crate) type Queue = VecDeque<Result<Event, ProtocolError>>;

/// Frame parser and message tracker for one direction of one connection.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// A server expects masked frames, a client unmasked ones (§5.1).
    expect_masked: bool,
    limits: Limits,
    stash: [u8; MAX_HEADER_LEN],
    stash_len: u8,
    frame: Option<InFrame>,
    message: Option<InMessage>,
    inflate: Inflate,
    /// Hold a message's data until its final frame and deliver it as one piece.
    whole_messages: bool,
    /// Set after a close frame or a violation: later bytes are ignored (§5.5.1).
    done: bool,
}

/// How compressed frames are recognised (RSV1) and inflated.
#[derive(Debug)]
enum Inflate {
    /// No compression extension: RSV1 is a violation.
    Off,
    /// permessage-deflate: RSV1 on a message's first frame compresses the whole message.
    /// (The decompressors are boxed: most connections have none, and this field is in
    /// every connection's state.)
    PerMessage(Box<Decompressor>),
    /// deflate-frame: RSV1 on any data frame compresses that frame alone.
    PerFrame(Box<Decompressor>),
}

#[derive(Debug)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    compressed: bool,
    remaining: u64,
    /// Payload bytes received so far (the masking key's position).
    offset: u64,
    /// The frame's payload, unmasked and, if compressed, inflated.
    buf: Vec<u8>,
}

#[derive(Debug)]
struct InMessage {
    kind: MessageKind,
    /// Payload bytes on the wire so far, frames announced included.
    len: u64,
    /// Inflated bytes of the message's completed frames (compressed messages).
    inflated: u64,
    /// permessage-deflate: the message's first frame had RSV1.
    compressed: bool,
    utf8: Utf8Validator,
    /// The data of completed frames, held in whole-message mode.
    data: Vec<u8>,
}

impl Incoming {
    pub(crate) fn new(expect_masked: bool, limits: Limits) -> Self {
        Incoming {
            expect_masked,
            limits,
            stash: [0; MAX_HEADER_LEN],
            stash_len: 0,
            frame: None,
            message: None,
            inflate: Inflate::Off,
            whole_messages: false,
            done: false,
        }
    }

    /// Inflates frames marked with RSV1 from now on: per message (permessage-deflate) or,
    /// with `per_frame`, frame by frame (deflate-frame).
    pub(crate) fn set_decompressor(&mut self, decompressor: Decompressor, per_frame: bool) {
        let decompressor = Box::new(decompressor);
        self.inflate = if per_frame {
            Inflate::PerFrame(decompressor)
        } else {
            Inflate::PerMessage(decompressor)
        };
    }

    /// Stops parsing for good (the connection is closed): later bytes are ignored, and the
    /// decompressor and any partial frame or message are freed.
    pub(crate) fn end(&mut self) {
        self.done = true;
        self.frame = None;
        self.message = None;
        self.inflate = Inflate::Off;
    }

    /// Delivers each data message as one piece at its final frame (`on`), or frame by
    /// frame. Turning it off in the middle of a message first queues what is held.
    pub(crate) fn set_whole_messages(&mut self, on: bool, queue: &mut Queue) {
        if self.whole_messages
            && !on
            && let Some(msg) = self.message.as_mut().filter(|m| !m.data.is_empty())
        {
            let data = std::mem::take(&mut msg.data);
            queue.push_back(Ok(Event::Data { kind: msg.kind, data, fin: false }));
        }
        self.whole_messages = on;
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a frame or a fragmented message is partly received.
    pub(crate) fn in_progress(&self) -> bool {
        self.stash_len > 0 || self.frame.is_some() || self.message.is_some()
    }

    /// Bytes the reader can take without going past the current frame header or payload
    /// (at least 1). See `Connection::read_hint`.
    pub(crate) fn read_hint(&self) -> usize {
        if let Some(frame) = &self.frame {
            return usize::try_from(frame.remaining).unwrap_or(usize::MAX).max(1);
        }
        let had = usize::from(self.stash_len);
        if had < 2 {
            return 2 - had;
        }
        let extended = match self.stash[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let masked = if self.stash[1] & 0x80 != 0 { 4 } else { 0 };
        (2 + extended + masked - had).max(1)
    }

    /// Consumes `data`, appending what completes to `queue`.
    ///
    /// After a close frame or a violation the rest is ignored; a violation is queued as
    /// an `Err` behind everything that preceded it, so the caller sees events in wire order.
    pub(crate) fn receive(&mut self, mut data: &[u8], queue: &mut Queue) {
        while !self.done && !data.is_empty() {
            if self.frame.is_none() {
                match self.read_header(data) {
                    Ok((used, Some(header))) => {
                        data = &data[used..];
                        if let Err(e) = self.start_frame(header, queue) {
                            self.fail(e, queue);
                        }
                    }
                    Ok((used, None)) => data = &data[used..],
                    Err(e) => self.fail(e, queue),
                }
                continue;
            }
            let used = self.read_payload(data, queue);
            data = &data[used..];
        }
    }

    /// Reads a header from the stash and `data`; returns the bytes of `data` it used.
    fn read_header(&mut self, data: &[u8]) -> Result<(usize, Option<FrameHeader>), ProtocolError> {
        if self.stash_len == 0 {
            return match FrameHeader::parse(data)? {
                Some((header, used)) => Ok((used, Some(header))),
                None => {
                    // An incomplete header is shorter than MAX_HEADER_LEN by definition.
                    self.stash[..data.len()].copy_from_slice(data);
                    self.stash_len = data.len() as u8;
                    Ok((data.len(), None))
                }
            };
        }
        let had = usize::from(self.stash_len);
        let take = (MAX_HEADER_LEN - had).min(data.len());
        self.stash[had..had + take].copy_from_slice(&data[..take]);
        match FrameHeader::parse(&self.stash[..had + take])? {
            Some((header, used)) => {
                self.stash_len = 0;
                Ok((used - had, Some(header)))
            }
            None => {
                self.stash_len = (had + take) as u8;
                Ok((take, None))
            }
        }
    }

    /// Checks a header against the rules of §5 and the limits, and starts its frame.
    fn start_frame(&mut self, h: FrameHeader, queue: &mut Queue) -> Result<(), ProtocolError> {
        let opcode = OpCode::from_u8(h.opcode).ok_or(ProtocolError::ReservedOpcode(h.opcode))?;
        // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for
        // non-zero values. If a nonzero value is received [...] the receiving endpoint
        // MUST _Fail the WebSocket Connection_." RFC 7692 §6 gives RSV1 a meaning on the
        // first frame of a data message only; deflate-frame on any data frame.
        let rsv1 = h.rsv & 0b100 != 0;
        if h.rsv & 0b011 != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        if rsv1 {
            match (&self.inflate, opcode) {
                (Inflate::PerMessage(_), OpCode::Text | OpCode::Binary) => {}
                (Inflate::PerFrame(_), OpCode::Text | OpCode::Binary | OpCode::Continuation) => {}
                _ => return Err(ProtocolError::ReservedBits),
            }
        }
        // §5.1: "The server MUST close the connection upon receiving a frame that is not
        // masked", and a client MUST close it upon receiving a masked frame.
        match (self.expect_masked, h.mask.is_some()) {
            (true, false) => return Err(ProtocolError::UnmaskedFrame),
            (false, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if opcode.is_control() {
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less
            // and MUST NOT be fragmented."
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if h.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(h.payload_len));
            }
        } else {
            // §5.4: fragments of one message arrive in order, each new message after
            // the previous one's final fragment.
            match (opcode, &self.message) {
                (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                (OpCode::Text | OpCode::Binary, None) => {
                    let kind = if opcode == OpCode::Text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    self.message = Some(InMessage {
                        kind,
                        len: 0,
                        inflated: 0,
                        compressed: rsv1 && matches!(self.inflate, Inflate::PerMessage(_)),
                        utf8: Utf8Validator::new(),
                        data: Vec::new(),
                    });
                }
                _ => {}
            }
            if h.payload_len > self.limits.max_frame_size as u64 {
                return Err(ProtocolError::FrameTooLarge {
                    len: h.payload_len,
                    max: self.limits.max_frame_size,
                });
            }
            // The wire size is held to the limit too, compressed or not: a compressed
            // message larger than the limit on the wire is refused without inflating it.
            let message = self.message.as_mut().expect("data frame has a message");
            message.len += h.payload_len;
            if message.len > self.limits.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge { max: self.limits.max_message_size });
            }
        }
        let compressed = match &self.inflate {
            Inflate::PerMessage(_) => {
                !opcode.is_control() && self.message.as_ref().is_some_and(|m| m.compressed)
            }
            Inflate::PerFrame(_) => rsv1,
            Inflate::Off => false,
        };
        self.frame = Some(InFrame {
            opcode,
            fin: h.fin,
            mask: h.mask,
            compressed,
            remaining: h.payload_len,
            offset: 0,
            buf: Vec::new(),
        });
        if h.payload_len == 0 {
            self.finish_frame(queue);
        }
        Ok(())
    }

    /// Takes payload bytes for the current frame; returns how many it used.
    fn read_payload(&mut self, data: &[u8], queue: &mut Queue) -> usize {
        let frame = self.frame.as_mut().expect("payload without a frame");
        let take = frame.remaining.min(data.len() as u64) as usize;
        let start = frame.buf.len();
        if frame.compressed {
            let limit = self.message_room();
            let frame = self.frame.as_mut().expect("payload without a frame");
            if let Err(e) = inflate_masked(&mut self.inflate, &data[..take], frame, limit) {
                self.fail(self.inflate_error(e), queue);
                return take;
            }
        } else {
            match frame.mask {
                Some(key) => {
                    extend_masked(&mut frame.buf, &data[..take], key, frame.offset as usize)
                }
                None => frame.buf.extend_from_slice(&data[..take]),
            }
        }
        let frame = self.frame.as_mut().expect("payload without a frame");
        frame.offset += take as u64;
        frame.remaining -= take as u64;
        if !self.check_utf8(start) {
            // §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
            // that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
            // MUST _Fail the WebSocket Connection_." Done at the first bad byte.
            self.fail(ProtocolError::InvalidUtf8, queue);
            return take;
        }
        if self.frame.as_ref().is_some_and(|f| f.remaining == 0) {
            self.finish_frame(queue);
        }
        take
    }

    /// The violation an inflate failure is: the message limit (not the room that was
    /// left in it) for an oversized message, corrupt data otherwise.
    fn inflate_error(&self, e: InflateError) -> ProtocolError {
        match e {
            InflateError::TooLarge { .. } => {
                ProtocolError::MessageTooLarge { max: self.limits.max_message_size }
            }
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        }
    }

    /// Bytes the current message may still inflate to before it exceeds the limit.
    fn message_room(&self) -> usize {
        let used = self.message.as_ref().map_or(0, |m| m.inflated);
        (self.limits.max_message_size as u64).saturating_sub(used) as usize
    }

    /// Feeds the current frame's payload from byte `start` on to the text message's
    /// UTF-8 validator; false if it can no longer be valid UTF-8.
    fn check_utf8(&mut self, start: usize) -> bool {
        let (Some(frame), Some(msg)) = (&self.frame, &mut self.message) else { return true };
        frame.opcode.is_control()
            || msg.kind != MessageKind::Text
            || msg.utf8.feed(&frame.buf[start..]).is_ok()
    }

    fn finish_frame(&mut self, queue: &mut Queue) {
        if let Some(frame) = self.frame.as_mut().filter(|f| f.compressed) {
            // RFC 7692 §7.2.2: append 00 00 ff ff to the message's (or, for deflate-frame,
            // the frame's) payload and inflate it.
            let ends_stream = frame.fin || matches!(self.inflate, Inflate::PerFrame(_));
            if ends_stream {
                let start = frame.buf.len();
                let limit = self.message_room();
                let frame = self.frame.as_mut().expect("finishing a frame");
                let result = match &mut self.inflate {
                    Inflate::PerMessage(d) | Inflate::PerFrame(d) => {
                        d.finish_message(&mut frame.buf, limit)
                    }
                    Inflate::Off => Ok(()),
                };
                if let Err(e) = result {
                    return self.fail(self.inflate_error(e), queue);
                }
                if !self.check_utf8(start) {
                    return self.fail(ProtocolError::InvalidUtf8, queue);
                }
            }
        }
        let frame = self.frame.take().expect("finishing a frame");
        let event = match frame.opcode {
            OpCode::Ping => Event::Ping(frame.buf),
            OpCode::Pong => Event::Pong(frame.buf),
            OpCode::Close => match close::parse_payload(&frame.buf) {
                Ok(c) => {
                    self.done = true;
                    Event::Close(c)
                }
                Err(e) => return self.fail(e, queue),
            },
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let limits = self.limits;
                let whole = self.whole_messages;
                let msg = self.message.as_mut().expect("data frame has a message");
                let kind = msg.kind;
                msg.inflated += frame.buf.len() as u64;
                if frame.fin && kind == MessageKind::Text && msg.utf8.finish().is_err() {
                    return self.fail(ProtocolError::InvalidUtf8, queue);
                }
                if whole {
                    // One buffer per message, whatever its number of frames or reads.
                    let data = match std::mem::take(&mut msg.data) {
                        held if held.is_empty() => frame.buf,
                        mut held => {
                            limits.append_to_message(&mut held, &frame.buf);
                            held
                        }
                    };
                    if !frame.fin {
                        msg.data = data;
                        return;
                    }
                    self.message = None;
                    queue.push_back(Ok(Event::Data { kind, data, fin: true }));
                    return;
                }
                if frame.fin {
                    self.message = None;
                }
                // Consecutive pieces of one message queued in the same read are merged,
                // so a flood of tiny fragments costs one buffer, not one per fragment.
                if let Some(Ok(Event::Data { data, fin, .. })) = queue.back_mut()
                    && !*fin
                {
                    limits.append_to_message(data, &frame.buf);
                    *fin = frame.fin;
                    return;
                }
                Event::Data { kind, data: frame.buf, fin: frame.fin }
            }
        };
        queue.push_back(Ok(event));
    }

    fn fail(&mut self, e: ProtocolError, queue: &mut Queue) {
        self.done = true;
        self.frame = None;
        self.message = None;
        queue.push_back(Err(e));
    }
}

/// Unmasks `wire` a block at a time and inflates it into the frame's buffer, never
/// letting the message grow past `limit` inflated bytes.
fn inflate_masked(
    inflate: &mut Inflate,
    wire: &[u8],
    frame: &mut InFrame,
    limit: usize,
) -> Result<(), InflateError> {
    let (Inflate::PerMessage(d) | Inflate::PerFrame(d)) = inflate else { return Ok(()) };
    let mut block = [0u8; 4096];
    let mut offset = frame.offset as usize;
    for piece in wire.chunks(block.len()) {
        let block = &mut block[..piece.len()];
        block.copy_from_slice(piece);
        if let Some(key) = frame.mask {
            apply_mask(block, key, offset);
        }
        offset += piece.len();
        d.decompress(block, &mut frame.buf, limit)?;
    }
    Ok(())
}
