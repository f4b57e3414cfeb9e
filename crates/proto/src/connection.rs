//! One WebSocket connection after the opening handshake, as a sans-I/O state machine.
//!
//! Bytes read from the network go in through [`Connection::receive_data`]; what the peer
//! sent comes out of [`Connection::next_event`]; what the local side sends is encoded by
//! the `send_*` methods and [`Connection::close`] into [`Connection::data_to_send`]. Time
//! goes in through [`Connection::handle_timeout`]. The closing handshake of RFC 6455 §7
//! is the [`State`] machine below, and every transition of it is in this file.
//!
//! This type performs no I/O, reads no clock and spawns nothing: the caller owns the
//! socket and decides when to read, write and wake up.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::close::{self, CloseCode};
use crate::config::Limits;
use crate::deflate::{Compression, Compressor, DeflateConfig};
use crate::error::{ProtocolError, UsageError};
use crate::frame::{FrameHeader, OpCode, mask};
use crate::framing::{Control, Events, Framing};
use crate::incoming::{Incoming, Queue};
use crate::watchdog::Watchdog;

/// Which end of the connection this is; it decides the masking direction (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Sends masked frames, receives unmasked ones.
    Client,
}

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Arbitrary bytes (opcode 0x2).
    Binary,
}

/// Supplies masking keys to a client connection (§5.3: "unpredictable").
///
/// The core has no source of randomness; the embedding layer provides one, and tests
/// provide a fixed one.
pub trait MaskSource: Send {
    /// The key for the next frame.
    fn next_mask(&mut self) -> [u8; 4];
}

/// What the peer sent, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Payload of a data message: one frame, or several consecutive frames of the same
    /// message merged. `fin` marks the last piece. For text, the bytes of the whole
    /// message are valid UTF-8, but a piece may end inside a code point.
    Data {
        /// Text or binary, as the message's first frame said.
        kind: MessageKind,
        /// The unmasked payload.
        data: Vec<u8>,
        /// Whether this piece ends the message.
        fin: bool,
    },
    /// A ping. Unless automatic pongs were turned off, the pong is already queued when
    /// this event is returned.
    Ping(Vec<u8>),
    /// A pong (solicited or not).
    Pong(Vec<u8>),
    /// The peer's close frame: its code and reason, or `None` for an empty body (1005).
    ///
    /// If the local side had not closed yet, the connection is now
    /// [`State::CloseReceived`] and the caller must answer with [`Connection::close`].
    Close(Option<(u16, String)>),
}

/// The states of the closing handshake (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Both sides may send.
    Open,
    /// We sent a close frame and wait for the peer's (until the close timeout).
    CloseSent,
    /// The peer sent a close frame; we still owe ours.
    CloseReceived,
    /// Both close frames were exchanged, or the connection failed or timed out. The
    /// caller should write out [`Connection::data_to_send`] and close the transport.
    Closed,
}

/// How a connection reached [`State::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The closing handshake completed.
    Clean,
    /// The peer violated the protocol or stopped taking part (see [`ProtocolError`]); a
    /// close frame with its code was queued, except after the send timeout.
    Failed(ProtocolError),
    /// Our close frame got no answer before the close timeout.
    CloseTimedOut,
    /// The transport ended before the closing handshake did (close code 1006).
    Abnormal,
}

#[derive(Debug, Clone, Copy)]
struct Keepalive {
    interval: Duration,
    timeout: Duration,
    phase: KeepalivePhase,
    /// Bytes arrived since the last check: the peer is alive.
    activity: bool,
}

#[derive(Debug, Clone, Copy)]
enum KeepalivePhase {
    /// Check for activity at this instant; ping if there was none.
    Idle(Instant),
    /// A ping is out; the peer must show activity by `deadline`. Activity is looked
    /// for again at `check` (one interval after the last look), so that a peer that
    /// answered goes back to `Idle` and the pings keep their cadence, whatever the
    /// timeout: an idle connection carries a ping every one to two intervals.
    AwaitingPong { deadline: Instant, check: Instant },
}

/// The sending half of a negotiated compression extension.
#[derive(Debug)]
struct Outgoing {
    compressor: Compressor,
    per_frame: bool,
    /// Whether new messages (or, for deflate-frame, frames) are compressed.
    enabled: bool,
    /// Reused buffer for compressed payloads; freed with the idle buffers.
    buf: Vec<u8>,
}

/// The header of a frame from [`Connection::send_data_unbuffered`].
#[derive(Debug, Clone, Copy)]
pub struct FrameHead {
    bytes: [u8; crate::frame::MAX_HEADER_LEN],
    len: usize,
}

impl FrameHead {
    /// The encoded header.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Where a client's masking keys come from.
struct ClientMasks(Box<dyn MaskSource>);

impl std::fmt::Debug for ClientMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientMasks")
    }
}

/// What most connections never need, or need only at their end: a client's mask
/// source, and what the closing handshake has seen so far.
#[derive(Debug, Default)]
struct Seldom {
    masks: Option<ClientMasks>,
    /// The peer's close frame, once received: `Some(None)` for an empty body.
    peer_close: Option<Option<(u16, String)>>,
    /// When our close frame goes unanswered for too long.
    deadline: Option<Instant>,
    /// Why the connection is closed, once it is.
    ending: Option<Ending>,
    /// In whole-message mode, the pieces of a message that were queued frame by frame
    /// (before the mode was turned on, or by a framing that delivers pieces), joined.
    assembling: Option<(MessageKind, Vec<u8>)>,
}

/// How this connection's frames are parsed and encoded.
#[derive(Debug)]
enum Wire {
    /// RFC 6455, by the connection itself: [`Incoming`] and `write_frame`.
    Rfc6455(Incoming),
    /// Another wire format (see [`crate::framing`]). Boxed: it is rare, and this enum is
    /// in every connection's state.
    Other(Box<OtherWire>),
}

#[derive(Debug)]
struct OtherWire {
    framing: Box<dyn Framing>,
    limits: Limits,
    /// The framing reported the peer's close or a violation: later bytes are ignored.
    done: bool,
}

/// A WebSocket connection in the open or closing phase. See the module docs.
pub struct Connection {
    role: Role,
    state: State,
    wire: Wire,
    /// Deliver each data message as one piece (see [`Connection::set_whole_messages`]).
    whole_messages: bool,
    /// Pieces of a message are held in `seldom.assembling`.
    assembling: bool,
    events: Queue,
    out: Vec<u8>,
    sent: usize,
    /// Kind of the outgoing message whose final fragment is not sent yet, and whether it
    /// is being compressed.
    sending: Option<(MessageKind, bool)>,
    /// Boxed, like `keepalive`: most connections never use it, and every byte here is
    /// paid by every idle connection.
    deflate: Option<Box<Outgoing>>,
    auto_pong: bool,
    close_timeout: Option<Duration>,
    /// Boxed: made for a client at once, for a server only once closing begins.
    seldom: Option<Box<Seldom>>,
    keepalive: Option<Box<Keepalive>>,
    /// The send and idle timeouts; boxed like `keepalive`, made when one is set.
    watchdog: Option<Box<Watchdog>>,
    /// A data message arrived or was sent since the idle timeout last looked.
    data_activity: bool,
    /// Close code for reserved bits and reserved opcodes (default 1002).
    unsupported_frame_code: CloseCode,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("ending", &self.ending())
            .field("queued_events", &self.events.len())
            .field("unsent_bytes", &self.data_to_send().len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server-side connection: expects masked frames, sends unmasked ones.
    pub fn server(limits: Limits) -> Self {
        Self::new(Role::Server, limits)
    }

    /// A client-side connection, masking each frame with a key from `masks`.
    pub fn client(limits: Limits, masks: Box<dyn MaskSource>) -> Self {
        let mut conn = Self::new(Role::Client, limits);
        conn.seldom_mut().masks = Some(ClientMasks(masks));
        conn
    }

    /// A connection whose frames are parsed and encoded by `framing`, a wire format
    /// other than RFC 6455's (see [`crate::framing`]). It has the same states, timers and
    /// API; it has no compression, and [`Connection::send_data_unbuffered`] always
    /// declines. The framing enforces `limits` on what it parses.
    pub fn with_framing(role: Role, limits: Limits, framing: Box<dyn Framing>) -> Self {
        let mut conn = Self::new(role, limits);
        conn.wire = Wire::Other(Box::new(OtherWire { framing, limits, done: false }));
        conn
    }

    fn new(role: Role, limits: Limits) -> Self {
        Connection {
            role,
            state: State::Open,
            wire: Wire::Rfc6455(Incoming::new(role == Role::Server, limits)),
            whole_messages: false,
            assembling: false,
            events: VecDeque::new(),
            out: Vec::new(),
            sent: 0,
            sending: None,
            deflate: None,
            auto_pong: true,
            close_timeout: Some(Duration::from_secs(10)),
            seldom: None,
            keepalive: None,
            watchdog: None,
            data_activity: false,
            unsupported_frame_code: CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The frame and message limits this connection enforces.
    pub fn limits(&self) -> &Limits {
        match &self.wire {
            Wire::Rfc6455(incoming) => incoming.limits(),
            Wire::Other(other) => &other.limits,
        }
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The closing-handshake state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Why the connection is closed, once it is.
    pub fn ending(&self) -> Option<&Ending> {
        self.seldom.as_ref().and_then(|c| c.ending.as_ref())
    }

    /// The peer's close frame, once received: `Some(None)` for an empty body.
    pub fn peer_close(&self) -> Option<&Option<(u16, String)>> {
        self.seldom.as_ref().and_then(|c| c.peer_close.as_ref())
    }

    /// The next masking key of a client (kept out of `write_frame`, the server's hot path).
    #[cold]
    fn client_mask(&mut self) -> Option<[u8; 4]> {
        self.seldom.as_mut().and_then(|s| s.masks.as_mut()).map(|m| m.0.next_mask())
    }

    /// The seldom-used state, made on first use.
    fn seldom_mut(&mut self) -> &mut Seldom {
        self.seldom.get_or_insert_default()
    }

    /// Whether pings are answered automatically (the default). When off, a ping is only
    /// reported and the caller decides whether to send a pong.
    pub fn set_auto_pong(&mut self, on: bool) {
        self.auto_pong = on;
    }

    /// The close code a frame with reserved bits or a reserved opcode is failed with
    /// (default 1002, protocol error, as RFC 6455 practice and Autobahn|Testsuite
    /// expect; pywebsocket sends 1003). Other protocol errors keep their own codes.
    pub fn set_unsupported_frame_close_code(&mut self, code: CloseCode) {
        self.unsupported_frame_code = code;
    }

    /// The close code this connection fails with for `e`: [`ProtocolError::close_code`],
    /// except for unsupported frames (see [`Connection::set_unsupported_frame_close_code`]).
    pub fn close_code_for(&self, e: &ProtocolError) -> CloseCode {
        if e.is_unsupported_frame() { self.unsupported_frame_code } else { e.close_code() }
    }

    /// How long to wait for the peer's close frame after sending ours (default 10 s;
    /// `None` waits forever). Applies to closes started after the call.
    pub fn set_close_timeout(&mut self, timeout: Option<Duration>) {
        self.close_timeout = timeout;
    }

    /// How long this connection waits for the peer's close frame after sending its own.
    pub fn close_timeout(&self) -> Option<Duration> {
        self.close_timeout
    }

    /// Sends a ping when nothing arrived for `interval`, and fails the connection with
    /// 1011 when nothing arrives within `timeout` of that ping. An idle peer that answers
    /// gets a ping every one to two intervals, whatever the timeout (what keeps a
    /// connection through proxies that cut idle ones). `now` starts the clock.
    pub fn set_keepalive(&mut self, interval: Duration, timeout: Duration, now: Instant) {
        self.keepalive = Some(Box::new(Keepalive {
            interval,
            timeout,
            phase: KeepalivePhase::Idle(now + interval),
            activity: false,
        }));
    }

    /// Fails the connection when the transport takes none of the bytes waiting for it for
    /// `timeout` (default: none): the peer stopped reading. The caller reports a transport
    /// that takes nothing with [`Connection::send_blocked`]; any progress
    /// ([`Connection::advance_sent`], [`Connection::send_progressed`]) stops the clock.
    /// The ending is [`ProtocolError::SendTimeout`], and what was waiting is dropped
    /// ([`Connection::data_to_send`] becomes empty): no close frame could reach the peer.
    pub fn set_send_timeout(&mut self, timeout: Option<Duration>) {
        self.watchdog.get_or_insert_with(|| Box::new(Watchdog::new())).set_send_timeout(timeout);
    }

    /// The send timeout, if one is set.
    pub fn send_timeout(&self) -> Option<Duration> {
        self.watchdog.as_ref().and_then(|w| w.send_timeout())
    }

    /// Fails the connection with [`ProtocolError::IdleTimeout`] (close code 1001) when no
    /// data message went either way for `timeout`, looking every half timeout: it fails
    /// between one and one and a half timeouts after the last message. Pings, pongs and
    /// close frames do not count. `None` turns it off (the default), and so does a closed
    /// connection. `now` starts the clock.
    pub fn set_idle_timeout(&mut self, timeout: Option<Duration>, now: Instant) {
        // A closed connection has nothing left to time out.
        let timeout = timeout.filter(|_| self.state != State::Closed);
        self.watchdog
            .get_or_insert_with(|| Box::new(Watchdog::new()))
            .set_idle_timeout(timeout, now);
        self.data_activity = false;
    }

    /// The idle timeout, if one is set.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.watchdog.as_ref().and_then(|w| w.idle_timeout())
    }

    /// The transport took no bytes at `now` while the caller has some to write (queued
    /// here, or a payload it writes itself after [`Connection::send_data_unbuffered`]).
    /// Starts the send timeout's clock unless it runs already, and fails the connection
    /// if it has run out (as [`Connection::handle_timeout`] would). No effect without a
    /// send timeout.
    pub fn send_blocked(&mut self, now: Instant) {
        if let Some(w) = &mut self.watchdog {
            w.blocked(now);
            self.check_send_timeout(now);
        }
    }

    /// Bytes the caller wrote itself (an unbuffered payload) reached the transport: the
    /// send timeout's clock stops. [`Connection::advance_sent`] does the same for bytes
    /// from [`Connection::data_to_send`].
    pub fn send_progressed(&mut self) {
        if let Some(w) = &mut self.watchdog {
            w.progressed();
        }
    }

    /// Fails the connection if the send timeout ran out; once closed, drops what waits.
    fn check_send_timeout(&mut self, now: Instant) {
        let Some(e) = self.watchdog.as_ref().and_then(|w| w.send_expired(now)) else { return };
        if let Some(w) = &mut self.watchdog {
            w.progressed();
        }
        if self.state == State::Closed {
            self.out.clear();
            self.sent = 0;
        } else {
            self.fail(e);
        }
    }

    /// Applies a negotiated compression extension (RFC 7692 permessage-deflate, or
    /// deflate-frame) to both directions. Call it once, right after the handshake, before
    /// any data is fed or sent. Compressor state is allocated when the first compressed
    /// message is sent, inflate state when the first compressed message arrives.
    ///
    /// A connection with another framing ([`Connection::with_framing`]) has no
    /// extensions, and its handshake negotiates none: there this does nothing.
    pub fn set_compression(&mut self, compression: &Compression, cfg: &DeflateConfig) {
        let per_frame = matches!(compression, Compression::PerFrame(_));
        let Wire::Rfc6455(incoming) = &mut self.wire else { return };
        incoming.set_decompressor(compression.decompressor(), per_frame);
        self.deflate = Some(Box::new(Outgoing {
            compressor: compression.compressor(cfg),
            per_frame,
            enabled: true,
            buf: Vec::new(),
        }));
    }

    /// Turns compression of outgoing messages off or back on (pywebsocket's
    /// `disable_outgoing_compression`). Takes effect at the next message; a fragmented
    /// message in progress keeps its mode. Without a negotiated extension this does nothing.
    pub fn set_outgoing_compression(&mut self, on: bool) {
        if let Some(d) = &mut self.deflate {
            d.enabled = on;
        }
    }

    /// Ends each outgoing compressed message with a final deflate block (pywebsocket's
    /// `set_bfinal`; see [`Compressor::set_bfinal`]). Takes effect at the next message.
    /// Without a negotiated extension this does nothing.
    pub fn set_outgoing_bfinal(&mut self, on: bool) {
        if let Some(d) = &mut self.deflate {
            d.compressor.set_bfinal(on);
        }
    }

    // ---- receiving -------------------------------------------------------------------

    /// Feeds bytes read from the transport.
    ///
    /// After calling this, call [`Connection::next_event`] until it returns `None`.
    /// Bytes after the peer's close frame, or after a violation, are ignored.
    pub fn receive_data(&mut self, data: &[u8]) {
        if let Some(k) = &mut self.keepalive {
            k.activity |= !data.is_empty();
        }
        if self.state == State::Closed {
            return;
        }
        match &mut self.wire {
            Wire::Rfc6455(incoming) => incoming.receive(data, &mut self.events),
            Wire::Other(other) => Self::receive_other(other, data, &mut self.events),
        }
    }

    /// [`Connection::receive_data`] for another framing: nothing after its close or a
    /// violation (RFC 6455 §5.5.1), whatever the framing would do.
    #[cold]
    fn receive_other(other: &mut OtherWire, data: &[u8], queue: &mut Queue) {
        if !other.done && !data.is_empty() {
            other.framing.receive(data, &mut Events::new(queue, &mut other.done));
        }
    }

    /// Reports that the transport reached end of file.
    ///
    /// If the closing handshake had not completed, the connection ends as
    /// [`Ending::Abnormal`] (close code 1006); either way it is now [`State::Closed`].
    pub fn receive_eof(&mut self) {
        if self.state != State::Closed {
            self.events.clear();
            self.finish(Ending::Abnormal);
        }
    }

    /// Chooses how data arrives: with `on`, each message as a single [`Event::Data`] with
    /// `fin` set, assembled in one buffer as its frames arrive (what a caller that wants
    /// whole messages should use: nothing is copied twice); otherwise frame by frame, as
    /// by default. The mode may change at any point: pieces of a message already queued
    /// when it is turned on are joined with the rest, and turning it off mid-message
    /// first delivers the part already held, as one piece.
    pub fn set_whole_messages(&mut self, on: bool) {
        if self.whole_messages == on {
            return;
        }
        self.whole_messages = on;
        if !on && let Some((kind, data)) = self.seldom.as_mut().and_then(|s| s.assembling.take()) {
            self.assembling = false;
            self.events.push_front(Ok(Event::Data { kind, data, fin: false }));
        }
        if let Wire::Rfc6455(incoming) = &mut self.wire {
            incoming.set_whole_messages(on, &mut self.events);
        }
    }

    /// Whether a frame or a fragmented message is partly received.
    pub fn receiving_message(&self) -> bool {
        self.assembling
            || match &self.wire {
                Wire::Rfc6455(incoming) => incoming.in_progress(),
                Wire::Other(other) => other.framing.in_progress(),
            }
    }

    /// The next thing the peer sent, in wire order, or `None` when more bytes are needed.
    ///
    /// An `Err` means the peer violated the protocol. The connection is then failed
    /// (RFC 6455 §7.1.7): a close frame with the error's code and an empty reason is
    /// queued, the state is [`State::Closed`], and the caller must write out
    /// [`Connection::data_to_send`] and close the transport.
    pub fn next_event(&mut self) -> Option<Result<Event, ProtocolError>> {
        let mut event = self.events.pop_front()?;
        // RFC 6455 frames arrive whole in whole-message mode; only pieces queued frame by
        // frame need joining (the check is kept to one test on the hot path).
        if self.whole_messages
            && (self.assembling || matches!(event, Ok(Event::Data { fin: false, .. })))
        {
            event = self.assemble_queued(event)?;
        }
        match &event {
            Ok(Event::Ping(payload)) if self.auto_pong && self.can_send() => {
                // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
                // frame in response [...] with identical Application data."
                let payload = payload.clone();
                let _ = self.write_control(Control::Pong, &payload);
            }
            Ok(Event::Close(code)) => {
                self.seldom_mut().peer_close = Some(code.clone());
                match self.state {
                    State::Open => self.state = State::CloseReceived,
                    State::CloseSent => self.finish(Ending::Clean),
                    State::CloseReceived | State::Closed => {}
                }
            }
            Err(e) => self.fail(e.clone()),
            Ok(Event::Data { .. }) => self.data_activity = true,
            Ok(_) => {}
        }
        Some(event)
    }

    /// Joins queued pieces of a message, starting with `event`, to the pieces held
    /// before: the whole message once its last piece is queued, or the first event that
    /// is not a piece; `None` when the queue ran out first (the pieces are held).
    #[cold]
    fn assemble_queued(
        &mut self,
        mut event: Result<Event, ProtocolError>,
    ) -> Option<Result<Event, ProtocolError>> {
        while let Ok(Event::Data { kind, data, fin }) = &mut event {
            let held = match self.seldom.as_mut().and_then(|s| s.assembling.take()) {
                None => (*kind, std::mem::take(data)),
                Some((kind, mut head)) => {
                    self.limits().append_to_message(&mut head, data);
                    (kind, head)
                }
            };
            if *fin {
                self.assembling = false;
                (*kind, *data) = held;
                break;
            }
            self.assembling = true;
            self.seldom_mut().assembling = Some(held);
            event = self.events.pop_front()?;
        }
        Some(event)
    }

    // ---- sending ---------------------------------------------------------------------

    /// Sends a data frame: a whole message when `fin` is true and no message is open,
    /// otherwise the next fragment of the open message (§5.4).
    pub fn send_data(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        if !self.can_send() {
            return Err(UsageError::AlreadyClosed);
        }
        self.data_activity = true;
        let (opcode, compress) = match self.sending {
            Some((open, _)) if open != kind => return Err(UsageError::FragmentKindMismatch),
            Some((_, compress)) => (OpCode::Continuation, compress),
            None => {
                let opcode = if kind == MessageKind::Text { OpCode::Text } else { OpCode::Binary };
                (opcode, self.deflate.as_ref().is_some_and(|d| d.enabled))
            }
        };
        if let Wire::Other(other) = &mut self.wire {
            other.framing.encode_data(kind, data, fin, &mut self.out)?;
            self.sending = if fin { None } else { Some((kind, false)) };
            return Ok(());
        }
        match self.deflate.as_mut().filter(|_| compress) {
            None => self.write_frame(fin, 0, opcode, data),
            Some(d) => {
                let mut buf = std::mem::take(&mut d.buf);
                buf.clear();
                // RFC 7692 §6: RSV1 on the first frame of a compressed message only;
                // deflate-frame marks every compressed frame.
                let rsv1 = if d.per_frame {
                    d.compressor.compress_frame(data, &mut buf);
                    true
                } else {
                    d.compressor.compress_fragment(data, fin, &mut buf);
                    opcode != OpCode::Continuation
                };
                self.write_frame(fin, if rsv1 { 0b100 } else { 0 }, opcode, &buf);
                if let Some(d) = self.deflate.as_mut() {
                    d.buf = buf;
                }
            }
        }
        self.sending = if fin { None } else { Some((kind, compress)) };
        Ok(())
    }

    /// Starts a data frame whose payload the caller writes itself, straight from its own
    /// buffer: returns the frame header to write first, immediately followed by exactly
    /// `len` payload bytes, before anything else is sent. This saves copying a large
    /// payload into [`Connection::data_to_send`].
    ///
    /// Returns `Ok(None)`, changing nothing, when the core must see the payload: on the
    /// client side (it masks), when the message is compressed, or when bytes are still
    /// queued (they must go first). Then use [`Connection::send_data`]. Errors as
    /// `send_data`.
    pub fn send_data_unbuffered(
        &mut self,
        kind: MessageKind,
        len: usize,
        fin: bool,
    ) -> Result<Option<FrameHead>, UsageError> {
        if !self.can_send() {
            return Err(UsageError::AlreadyClosed);
        }
        let opcode = match self.sending {
            Some((open, _)) if open != kind => return Err(UsageError::FragmentKindMismatch),
            Some((_, true)) => return Ok(None),
            Some((_, false)) => OpCode::Continuation,
            None if self.deflate.as_ref().is_some_and(|d| d.enabled) => return Ok(None),
            None if kind == MessageKind::Text => OpCode::Text,
            None => OpCode::Binary,
        };
        if self.role == Role::Client
            || !self.data_to_send().is_empty()
            || matches!(self.wire, Wire::Other(_))
        {
            return Ok(None);
        }
        self.data_activity = true;
        let header =
            FrameHeader { fin, rsv: 0, opcode: opcode as u8, mask: None, payload_len: len as u64 };
        let mut head = FrameHead { bytes: [0; crate::frame::MAX_HEADER_LEN], len: 0 };
        head.len = header.encode_into(&mut head.bytes);
        self.sending = if fin { None } else { Some((kind, false)) };
        Ok(Some(head))
    }

    /// Sends a whole text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send_data(MessageKind::Text, text.as_bytes(), true)
    }

    /// Sends a whole binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_data(MessageKind::Binary, data, true)
    }

    /// Sends a ping (at most 125 bytes of payload).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.send_control(Control::Ping, payload)
    }

    /// Sends a pong (at most 125 bytes of payload); unsolicited pongs are allowed (§5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.send_control(Control::Pong, payload)
    }

    fn send_control(&mut self, control: Control, payload: &[u8]) -> Result<(), UsageError> {
        if !self.can_send() {
            return Err(UsageError::AlreadyClosed);
        }
        if payload.len() > 125 {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        self.write_control(control, payload)
    }

    /// Encodes a ping or a pong in this connection's framing.
    fn write_control(&mut self, control: Control, payload: &[u8]) -> Result<(), UsageError> {
        match &mut self.wire {
            Wire::Rfc6455(_) => {
                let opcode = match control {
                    Control::Ping => OpCode::Ping,
                    Control::Pong => OpCode::Pong,
                };
                self.write_frame(true, 0, opcode, payload);
                Ok(())
            }
            Wire::Other(other) => other.framing.encode_control(control, payload, &mut self.out),
        }
    }

    /// Sends our close frame: starts the closing handshake, or answers the peer's.
    ///
    /// `code` `None` sends an empty body. Starting the handshake moves to
    /// [`State::CloseSent`] and arms the close timeout from `now`; answering moves to
    /// [`State::Closed`].
    pub fn close(
        &mut self,
        code: Option<u16>,
        reason: &str,
        now: Instant,
    ) -> Result<(), UsageError> {
        close::check_outgoing(code, reason)?;
        let next = match self.state {
            State::Open => State::CloseSent,
            State::CloseReceived => State::Closed,
            State::CloseSent | State::Closed => return Err(UsageError::AlreadyClosed),
        };
        self.write_close(code, reason);
        if next == State::Closed {
            self.finish(Ending::Clean);
        } else {
            self.state = next;
            let deadline = self.close_timeout.map(|t| now + t);
            self.seldom_mut().deadline = deadline;
        }
        Ok(())
    }

    // ---- closing decisions the drivers share ----------------------------------------

    /// Answers the peer's close frame with the close a passive closing hook chose.
    ///
    /// A choice the protocol does not allow (a reserved code, a reason without a code, a
    /// reason over 123 bytes) is replaced by an empty close body, which always goes out;
    /// the error says why, for the caller to log. Errs only when our close frame was
    /// already sent: then nothing changes.
    pub fn answer_close(
        &mut self,
        code: Option<u16>,
        reason: &str,
        now: Instant,
    ) -> Result<Option<UsageError>, UsageError> {
        match self.close(code, reason, now) {
            Ok(()) => Ok(None),
            Err(UsageError::AlreadyClosed) => Err(UsageError::AlreadyClosed),
            Err(refused) => {
                self.close(None, "", now)?;
                Ok(Some(refused))
            }
        }
    }

    /// Starts the closing handshake with 1001 (going away) because the server is shutting
    /// down, or answers a pending peer close with it; returns whether a close frame was
    /// queued (not when ours was already sent).
    pub fn go_away(&mut self, now: Instant) -> bool {
        self.can_send()
            && self.close(Some(CloseCode::GOING_AWAY.0), "server shutting down", now).is_ok()
    }

    /// Closes because the local application is done with the connection (a handler
    /// returned): with `code`, unless our close frame was already sent. Returns whether a
    /// close frame was queued.
    pub fn close_when_done(&mut self, code: CloseCode, now: Instant) -> bool {
        self.can_send() && self.close(Some(code.0), "", now).is_ok()
    }

    /// Whether the transport should linger once the connection is closed: shut down our
    /// side and drain the peer's until it closes, so our last bytes are not lost to a
    /// reset. Not after a completed closing handshake: the peer has nothing more to send.
    pub fn needs_linger(&self) -> bool {
        self.ending() != Some(&Ending::Clean)
    }

    /// How many bytes the next read may take without reading past what the protocol
    /// needs next: the rest of a frame header, or of a frame's payload. For transports
    /// whose `read(n)` waits for exactly `n` bytes (a stream handed over by a host);
    /// socket readers take whatever has arrived instead. Never 0.
    pub fn read_hint(&self) -> usize {
        match &self.wire {
            Wire::Rfc6455(incoming) => incoming.read_hint(),
            Wire::Other(other) => other.framing.read_hint().max(1),
        }
    }

    /// Whether data and control frames may still be sent: not after our close frame.
    fn can_send(&self) -> bool {
        matches!(self.state, State::Open | State::CloseReceived)
    }

    /// §7.1.7 "Fail the WebSocket Connection": send a close frame with the error's code
    /// if ours has not gone out, and stop.
    fn fail(&mut self, e: ProtocolError) {
        if let ProtocolError::SendTimeout(_) = e {
            // The peer reads nothing: a close frame could not reach it.
            self.out.clear();
            self.sent = 0;
        } else if self.can_send() {
            self.write_close(Some(self.close_code_for(&e).0), "");
        }
        self.events.clear();
        self.finish(Ending::Failed(e));
    }

    fn finish(&mut self, ending: Ending) {
        self.state = State::Closed;
        self.keepalive = None;
        // Nothing is sent or parsed any more: the compression contexts (about 200 KiB
        // with context takeover) and any partial frame go now, not when whoever holds the
        // connection drops it (a Python request object can outlive its connection by
        // minutes, until the cyclic garbage collector runs).
        self.deflate = None;
        match &mut self.wire {
            Wire::Rfc6455(incoming) => incoming.end(),
            Wire::Other(other) => other.done = true,
        }
        if let Some(w) = &mut self.watchdog {
            // The send timeout still bounds writing out the last bytes.
            w.stop_idle();
        }
        self.assembling = false;
        let seldom = self.seldom_mut();
        seldom.deadline = None;
        seldom.assembling = None;
        seldom.ending.get_or_insert(ending);
    }

    fn write_close(&mut self, code: Option<u16>, reason: &str) {
        if let Wire::Other(other) = &mut self.wire {
            return other.framing.encode_close(code, reason, &mut self.out);
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        close::encode_payload(code, reason, &mut payload);
        self.write_frame(true, 0, OpCode::Close, &payload);
    }

    #[inline]
    fn write_frame(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) {
        let mask = match self.role {
            Role::Server => None,
            Role::Client => self.client_mask(),
        };
        let header =
            FrameHeader { fin, rsv, opcode: opcode as u8, mask, payload_len: payload.len() as u64 };
        self.out.reserve(payload.len() + 14);
        header.encode(&mut self.out);
        match mask {
            Some(key) => mask::extend_masked(&mut self.out, payload, key, 0),
            None => self.out.extend_from_slice(payload),
        }
    }

    // ---- output and buffers ----------------------------------------------------------

    /// Bytes waiting to be written to the transport, oldest first.
    pub fn data_to_send(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// Records that the first `n` bytes of [`Connection::data_to_send`] were written.
    pub fn advance_sent(&mut self, n: usize) {
        if n > 0
            && let Some(w) = &mut self.watchdog
        {
            w.progressed();
        }
        self.sent = self.sent.saturating_add(n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// Frees buffers that hold nothing, so an idle connection costs only its state.
    ///
    /// Call it before waiting for the peer; it keeps anything still unsent or unread.
    pub fn release_idle_buffers(&mut self) {
        self.release_idle_buffers_over(0);
    }

    /// [`Connection::release_idle_buffers`] for buffers larger than `keep` bytes only:
    /// for callers that would rather reuse buffers between messages (a connection that
    /// has a thread of its own anyway) but not keep one a rare large message grew.
    pub fn release_idle_buffers_over(&mut self, keep: usize) {
        if self.data_to_send().is_empty() && self.out.capacity() > keep {
            self.out = Vec::new();
            self.sent = 0;
        }
        // The event queue is small; it is only worth freeing when every buffer goes.
        if keep == 0 && self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
        if let Some(d) = self.deflate.as_mut().filter(|d| d.buf.capacity() > keep) {
            d.buf = Vec::new();
        }
    }

    // ---- time ------------------------------------------------------------------------

    /// The next instant at which [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let keepalive = self.keepalive.as_ref().map(|k| match k.phase {
            KeepalivePhase::Idle(at) => at,
            KeepalivePhase::AwaitingPong { deadline, check } => deadline.min(check),
        });
        let watchdog = self.watchdog.as_ref().and_then(|w| w.deadline());
        [self.seldom.as_ref().and_then(|c| c.deadline), keepalive, watchdog]
            .into_iter()
            .flatten()
            .min()
    }

    /// Advances timers to `now`: the close timeout, the send and idle timeouts and the
    /// keepalive ping.
    ///
    /// Afterwards the connection may have data to send (a ping, a 1001 or 1011 close),
    /// have dropped what it had to send (the send timeout), or be [`State::Closed`];
    /// check all three.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.seldom.as_ref().and_then(|c| c.deadline).is_some_and(|d| now >= d) {
            self.events.clear();
            self.finish(Ending::CloseTimedOut);
            return;
        }
        if self.watchdog.is_some() {
            self.check_send_timeout(now);
            let mut active = self.data_activity;
            let idle = self.watchdog.as_mut().and_then(|w| w.idle_expired(now, &mut active));
            self.data_activity = active;
            if let Some(e) = idle.filter(|_| self.can_send()) {
                return self.fail(e);
            }
            if self.state == State::Closed {
                return;
            }
        }
        let Some(mut k) = self.keepalive.take() else { return };
        match k.phase {
            KeepalivePhase::Idle(at) if now >= at => {
                if std::mem::take(&mut k.activity) || !self.can_send() {
                    k.phase = KeepalivePhase::Idle(now + k.interval);
                } else if self.write_control(Control::Ping, b"").is_ok() {
                    k.phase = KeepalivePhase::AwaitingPong {
                        deadline: now + k.timeout,
                        check: now + k.interval,
                    };
                } else {
                    // A framing without pings: nothing to ask the peer, nothing to time out.
                    k.phase = KeepalivePhase::Idle(now + k.interval);
                }
            }
            KeepalivePhase::AwaitingPong { deadline, check } if now >= deadline.min(check) => {
                if std::mem::take(&mut k.activity) {
                    k.phase = KeepalivePhase::Idle(now + k.interval);
                } else if now >= deadline {
                    self.keepalive = None;
                    return self.fail(ProtocolError::KeepaliveTimeout);
                } else {
                    k.phase = KeepalivePhase::AwaitingPong { deadline, check: now + k.interval };
                }
            }
            _ => {}
        }
        self.keepalive = Some(k);
    }
}
