//! The frame-reader oracle (targets `frame_reader_server`, `frame_reader_client`,
//! `inflate_server`), and the wire helpers the other oracles share.
//!
//! A target decodes its input, drives the sans-I/O core and hands what came out to the
//! checks here. The oracle is "documented outcomes only" (style rule 9): a panic, an error
//! the docs do not promise, or bytes on the wire that are not valid frames stop the run as
//! a crash.

use std::time::Instant;

use wshd_proto::deflate::{Compression, DeflateConfig, FrameNegotiated, Negotiated};
use wshd_proto::frame::FrameHeader;
use wshd_proto::frame::mask::apply_mask_bytewise;
use wshd_proto::{
    CloseCode, Connection, Ending, Event, Limits, MaskSource, MessageKind, OpCode, ProtocolError,
    Role, State,
};

/// A frame read back from what a connection wrote, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// FIN bit.
    pub fin: bool,
    /// The opcode (always one RFC 6455 defines: checked while parsing).
    pub opcode: OpCode,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl WireFrame {
    /// A frame built from its parts, for comparing against what was parsed.
    pub fn new(fin: bool, opcode: OpCode, payload: &[u8]) -> Self {
        WireFrame { fin, opcode, payload: payload.to_vec() }
    }

    /// A close frame carrying `code` (none for an empty body) and `reason`.
    pub fn close(code: Option<u16>, reason: &str) -> Self {
        let mut payload = Vec::new();
        if let Some(c) = code {
            payload.extend_from_slice(&c.to_be_bytes());
            payload.extend_from_slice(reason.as_bytes());
        }
        WireFrame { fin: true, opcode: OpCode::Close, payload }
    }
}

/// Parses `out`, which `role` wrote, as a sequence of complete, valid frames.
///
/// Panics unless every frame is well-formed for a sender of that role: no reserved bits or
/// opcodes, masked exactly when a client sent it (§5.1), control frames final and at most
/// 125 bytes (§5.5), a close body that `parse_payload` accepts, and no trailing partial
/// frame (the core only ever appends whole frames).
pub fn parse_frames(mut out: &[u8], role: Role) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let (h, used) = match FrameHeader::parse(out) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => panic!("output ends inside a frame header: {out:02x?}"),
            Err(e) => panic!("output has an invalid frame header ({e}): {out:02x?}"),
        };
        assert_eq!(h.rsv, 0, "output frame with reserved bits");
        let opcode =
            OpCode::from_u8(h.opcode).unwrap_or_else(|| panic!("reserved opcode {}", h.opcode));
        assert_eq!(h.mask.is_some(), role == Role::Client, "wrong masking for {role:?}");
        if opcode.is_control() {
            assert!(h.fin, "fragmented control frame in output");
            assert!(h.payload_len <= 125, "control frame of {} bytes in output", h.payload_len);
        }
        out = &out[used..];
        let len = usize::try_from(h.payload_len).expect("payload length fits usize");
        assert!(len <= out.len(), "output ends inside a payload");
        let mut payload = out[..len].to_vec();
        out = &out[len..];
        if let Some(key) = h.mask {
            apply_mask_bytewise(&mut payload, key, 0);
        }
        if opcode == OpCode::Close {
            let parsed = wshd_proto::close::parse_payload(&payload);
            assert!(parsed.is_ok(), "invalid close body in output: {payload:02x?}");
        }
        frames.push(WireFrame { fin: h.fin, opcode, payload });
    }
    frames
}

/// Checks that no frame follows a close frame (§5.5.1: "the endpoint MUST NOT send any more
/// data frames"; nor anything else, as the core promises).
pub fn assert_nothing_after_close(frames: &[WireFrame]) {
    if let Some(i) = frames.iter().position(|f| f.opcode == OpCode::Close) {
        assert_eq!(i + 1, frames.len(), "frames sent after our close frame: {frames:?}");
    }
}

/// The close code in a close frame's body, `None` for an empty body.
pub fn close_code(frame: &WireFrame) -> Option<u16> {
    assert_eq!(frame.opcode, OpCode::Close);
    frame.payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Masking keys for client connections: a fixed, input-independent sequence. The frame
/// checker unmasks with whatever key the header carries, so any sequence works.
#[derive(Debug, Default)]
pub struct CountingMask(u32);

impl MaskSource for CountingMask {
    fn next_mask(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_mul(0x9e37_79b9).wrapping_add(0x7f4a_7c15);
        self.0.to_be_bytes()
    }
}

/// A fresh connection of `role`.
pub fn connection(role: Role, limits: Limits) -> Connection {
    match role {
        Role::Server => Connection::server(limits),
        Role::Client => Connection::client(limits, Box::new(CountingMask::default())),
    }
}

/// Small limits, so that 1009 paths are reachable with short inputs.
pub const SMALL_LIMITS: Limits = Limits { max_frame_size: 64, max_message_size: 200 };

/// How the first bytes of a frame-reader input are read.
///
/// ```text
/// byte 0   flags (see the FLAG_* constants)
/// byte 1   n: the low 3 bits are how many chunk-size bytes follow (0-7)
/// n bytes  chunk sizes, used in turn and cycled; 0 means "all that is left"
/// rest     the byte stream fed to the connection
/// ```
///
/// With no chunk-size bytes the stream is fed in one call.
#[derive(Debug, Clone, Copy)]
pub struct ReaderScript<'a> {
    /// FLAG_* bits.
    pub flags: u8,
    /// Chunk sizes, cycled.
    pub chunks: &'a [u8],
    /// The bytes from the peer.
    pub stream: &'a [u8],
}

/// Drain events after every chunk (otherwise only once everything was fed).
pub const FLAG_DRAIN_EACH: u8 = 1;
/// Use [`SMALL_LIMITS`] instead of the defaults.
pub const FLAG_SMALL_LIMITS: u8 = 2;
/// Answer the peer's close frame with [`Connection::close`], echoing its code.
pub const FLAG_ANSWER_CLOSE: u8 = 4;
/// Take the output after every chunk (otherwise it piles up until the end).
pub const FLAG_TAKE_OUTPUT_EACH: u8 = 8;
/// Turn automatic pongs off.
pub const FLAG_NO_AUTO_PONG: u8 = 16;
/// Negotiate compression: permessage-deflate with context takeover, unless the flags
/// below change it.
pub const FLAG_DEFLATE: u8 = 32;
/// With [`FLAG_DEFLATE`]: deflate-frame instead of permessage-deflate.
pub const FLAG_PER_FRAME: u8 = 64;
/// With [`FLAG_DEFLATE`]: the client uses no context takeover.
pub const FLAG_NO_TAKEOVER: u8 = 128;

impl<'a> ReaderScript<'a> {
    /// Splits a fuzz input as described on the type.
    pub fn decode(data: &'a [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let n = data.get(1).map_or(0, |b| usize::from(b & 7));
        let rest = data.get(2..).unwrap_or(&[]);
        let n = n.min(rest.len());
        ReaderScript { flags, chunks: &rest[..n], stream: &rest[n..] }
    }

    /// The stream cut into the chunks the script asks for.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut rest = self.stream;
        let mut sizes = self.chunks.iter().cycle();
        while !rest.is_empty() {
            let size = match sizes.next() {
                None | Some(0) => rest.len(),
                Some(&s) => usize::from(s).min(rest.len()),
            };
            let (piece, tail) = rest.split_at(size);
            pieces.push(piece);
            rest = tail;
        }
        pieces
    }
}

/// What a frame reader run observed, for the final checks.
#[derive(Debug, Default)]
struct ReaderRun {
    /// Every byte the connection wrote, in order.
    wire: Vec<u8>,
    /// The kind and bytes of the data message being received.
    message: Option<(MessageKind, Vec<u8>)>,
    /// Ping payloads popped, in order (each must have been answered when auto-pong is on).
    pings: Vec<Vec<u8>>,
    /// The error the connection failed with.
    failed: Option<ProtocolError>,
    /// The peer's close, once popped.
    peer_close: Option<Option<(u16, String)>>,
    /// The code we answered the peer's close with.
    answered: Option<Option<u16>>,
    /// Events popped.
    events: usize,
}

/// Feeds a frame-reader fuzz input to a connection of `role` and checks every invariant.
///
/// - no panic;
/// - after an `Err` event the state is `Closed`, the ending is `Failed` with that error, no
///   further event comes out (not even after more bytes), and the output ends with a close
///   frame whose code is the error's `close_code()` and whose reason is empty;
/// - the pieces of a text message concatenate to valid UTF-8 when `fin` is seen; pieces of
///   one message keep its kind;
/// - the output parses as valid frames for the role: one pong per ping with the same
///   payload (when auto-pong is on), then at most one close frame, and nothing after it.
pub fn check_frame_reader(role: Role, data: &[u8]) {
    check_frame_reader_with(role, data, 0);
}

/// [`check_frame_reader`] with `extra_flags` forced on, so a target can spend all its
/// time on one configuration (such as inflating with context takeover).
pub fn check_frame_reader_with(role: Role, data: &[u8], extra_flags: u8) {
    let mut script = ReaderScript::decode(data);
    script.flags |= extra_flags;
    let limits =
        if script.flags & FLAG_SMALL_LIMITS != 0 { SMALL_LIMITS } else { Limits::default() };
    let mut c = connection(role, limits);
    if script.flags & FLAG_DEFLATE != 0 {
        c.set_compression(&compression(script.flags), &DeflateConfig::default());
    }
    let auto_pong = script.flags & FLAG_NO_AUTO_PONG == 0;
    c.set_auto_pong(auto_pong);
    let mut run = ReaderRun::default();
    for piece in script.pieces() {
        c.receive_data(piece);
        if script.flags & FLAG_DRAIN_EACH != 0 {
            drain(&mut c, &mut run, script.flags);
        }
        if script.flags & FLAG_TAKE_OUTPUT_EACH != 0 {
            take_output(&mut c, &mut run.wire);
        }
    }
    drain(&mut c, &mut run, script.flags);
    take_output(&mut c, &mut run.wire);

    // Bytes after a violation or after the peer's close are ignored (§5.5.1, §7.1.7).
    if run.failed.is_some() || run.peer_close.is_some() {
        c.receive_data(script.stream);
        c.receive_data(&[0x81, 0x80, 0, 0, 0, 0, 0x88, 0x00]);
        assert_eq!(c.next_event(), None, "event after an error or the peer's close");
        assert!(c.data_to_send().is_empty(), "output after an error or the peer's close");
    }

    let frames = parse_frames(&run.wire, role);
    assert_nothing_after_close(&frames);
    let (closes, pongs): (Vec<_>, Vec<_>) = frames.iter().partition(|f| f.opcode == OpCode::Close);
    assert!(pongs.iter().all(|f| f.opcode == OpCode::Pong), "unexpected frames: {frames:?}");
    let pong_payloads: Vec<&[u8]> = pongs.iter().map(|f| &f.payload[..]).collect();
    let expected_pongs: Vec<&[u8]> =
        if auto_pong { run.pings.iter().map(|p| &p[..]).collect() } else { Vec::new() };
    assert_eq!(pong_payloads, expected_pongs, "pongs do not echo the pings");

    match (&run.failed, &run.answered) {
        (Some(e), None) => {
            assert_eq!(c.state(), State::Closed);
            assert_eq!(c.ending(), Some(&Ending::Failed(e.clone())));
            assert_eq!(closes.len(), 1, "a failure sends exactly one close frame");
            assert_eq!(closes[0].payload, e.close_code().0.to_be_bytes(), "close code for {e}");
        }
        (None, Some(code)) => {
            assert_eq!(c.state(), State::Closed);
            assert_eq!(c.ending(), Some(&Ending::Clean));
            assert_eq!(closes.len(), 1);
            assert_eq!(close_code(closes[0]), *code);
        }
        (None, None) => {
            assert!(closes.is_empty(), "close frame without a reason: {frames:?}");
            let expected =
                if run.peer_close.is_some() { State::CloseReceived } else { State::Open };
            assert_eq!(c.state(), expected);
            assert_eq!(c.ending(), None);
        }
        (Some(_), Some(_)) => unreachable!("drain stops at the first of the two"),
    }
    assert!(run.events <= script.stream.len() + 1, "more events than input bytes");
}

fn take_output(c: &mut Connection, wire: &mut Vec<u8>) {
    let out = c.data_to_send();
    let n = out.len();
    wire.extend_from_slice(out);
    c.advance_sent(n);
    assert!(c.data_to_send().is_empty(), "advance_sent(len) left bytes behind");
}

fn drain(c: &mut Connection, run: &mut ReaderRun, flags: u8) {
    while let Some(event) = c.next_event() {
        run.events += 1;
        assert!(run.failed.is_none(), "event after an error: {event:?}");
        assert!(run.peer_close.is_none(), "event after the peer's close: {event:?}");
        match event {
            Ok(Event::Data { kind, data, fin }) => {
                let (open_kind, bytes) = run.message.get_or_insert_with(|| (kind, Vec::new()));
                assert_eq!(*open_kind, kind, "a message changed kind between pieces");
                bytes.extend_from_slice(&data);
                if fin {
                    let (kind, bytes) = run.message.take().expect("open message");
                    if kind == MessageKind::Text {
                        assert!(std::str::from_utf8(&bytes).is_ok(), "text message not UTF-8");
                    }
                }
                assert_eq!(c.state(), State::Open);
            }
            Ok(Event::Ping(p)) => {
                assert!(p.len() <= 125);
                run.pings.push(p);
            }
            Ok(Event::Pong(p)) => assert!(p.len() <= 125),
            Ok(Event::Close(close)) => {
                assert_eq!(c.state(), State::CloseReceived);
                assert_eq!(c.peer_close(), Some(&close));
                if let Some((code, reason)) = &close {
                    assert!(CloseCode(*code).is_allowed_on_wire(), "peer close code {code}");
                    assert!(reason.len() <= 123);
                }
                if flags & FLAG_ANSWER_CLOSE != 0 {
                    let code = close.as_ref().map(|(code, _)| *code);
                    c.close(code, "", Instant::now()).expect("answering a close is allowed");
                    assert_eq!(c.state(), State::Closed);
                    run.answered = Some(code);
                }
                run.peer_close = Some(close);
            }
            Err(e) => {
                assert_eq!(c.state(), State::Closed, "failed but not closed: {e}");
                assert_eq!(c.ending(), Some(&Ending::Failed(e.clone())));
                run.failed = Some(e);
            }
        }
    }
}

/// The compression extension [`FLAG_DEFLATE`] and its companions select. Both sides use
/// 15-bit windows, so anything zlib produces is valid input.
fn compression(flags: u8) -> Compression {
    let no_takeover = flags & FLAG_NO_TAKEOVER != 0;
    if flags & FLAG_PER_FRAME != 0 {
        Compression::PerFrame(FrameNegotiated {
            name: "deflate-frame".into(),
            no_context_takeover: false,
            max_window_bits: 15,
            client_no_context_takeover: no_takeover,
            client_max_window_bits: 15,
        })
    } else {
        Compression::PerMessage(Negotiated {
            server_no_context_takeover: false,
            client_no_context_takeover: no_takeover,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        })
    }
}
