//! Random sequences of API calls on a server or client `Connection`.
//!
//! Every call is checked against a model of what the docs promise:
//! - no panic;
//! - a `UsageError` only for a reason that holds (closed, control payload over 125 bytes,
//!   bad close code or reason, fragment kind mismatch), and `Ok` when none holds;
//! - each call appends exactly the frames it should (a successful send: its frame; popping
//!   a ping: its pong; popping an error: a close frame with its code; a timer: nothing, an
//!   empty keepalive ping, a 1011 close or, with an idle timeout, a 1001 close), the unsent
//!   bytes are never rewritten, and nothing at all follows our close frame;
//! - the send timeout as its docs say: once the transport has taken nothing for the
//!   timeout (from the first `send_blocked` after the last progress), a timer or
//!   `send_blocked` fails the connection with `SendTimeout` and drops the unsent output;
//!   before that, never;
//! - the state only moves Open → CloseSent | CloseReceived | Closed and
//!   CloseSent | CloseReceived → Closed; `Closed` exactly when there is an ending;
//! - no event after an error or the peer's close, none once closed, and text messages are
//!   valid UTF-8.

use std::time::{Duration, Instant};

use crate::frame_reader::{SMALL_LIMITS, WireFrame, connection, parse_frames};
use arbitrary::Arbitrary;
use wshd_proto::frame::FrameHeader;
use wshd_proto::frame::mask::extend_masked;
use wshd_proto::{
    Connection, Ending, Event, Limits, MessageKind, OpCode, ProtocolError, Role, State, UsageError,
};

#[derive(Arbitrary, Debug)]
/// One fuzz input: the role, the limits and the operations to apply in turn.
pub struct Input {
    client: bool,
    small_limits: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum PeerOpcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Raw(u8),
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Raw bytes from the peer.
    ReceiveBytes(Vec<u8>),
    /// One frame from the peer, correctly masked for our role unless `wrong_mask`.
    ReceiveFrame {
        fin: bool,
        rsv: u8,
        opcode: PeerOpcode,
        wrong_mask: bool,
        key: [u8; 4],
        payload: Vec<u8>,
    },
    /// A close frame from the peer with this code and reason.
    ReceiveClose {
        code: Option<u16>,
        reason: String,
        key: [u8; 4],
    },
    ReceiveEof,
    NextEvent,
    DrainEvents,
    SendData {
        text: bool,
        data: Vec<u8>,
        fin: bool,
    },
    SendText(String),
    SendBinary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close {
        code: Option<u16>,
        reason: String,
    },
    AdvanceSent(usize),
    /// Moves the clock forward by this many milliseconds and calls `handle_timeout`.
    AdvanceTime(u16),
    /// Calls `handle_timeout` at `poll_timeout()`, if there is one.
    FireTimer,
    ReleaseIdleBuffers,
    SetAutoPong(bool),
    SetCloseTimeout(Option<u16>),
    SetKeepalive {
        interval_ms: u16,
        timeout_ms: u16,
    },
    SetSendTimeout(Option<u16>),
    /// `send_blocked(now)`: the transport took nothing.
    SendBlocked,
    SendProgressed,
    SetIdleTimeout(Option<u16>),
}

/// What an operation may append to the output.
enum Expect {
    Frames(Vec<WireFrame>),
    /// `handle_timeout` or `send_blocked`: nothing, an empty ping, a 1011 close (keepalive),
    /// a 1001 close (idle), or the unsent output dropped (send timeout).
    Timer,
}

/// RFC 6455 §7.4 as a table, kept apart from `CloseCode::is_allowed_on_wire` on purpose.
fn code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 1012..=1014 | 3000..=4999)
}

struct Harness {
    c: Connection,
    role: Role,
    now: Instant,
    /// Every byte the connection has written, and how many of them were "sent".
    stream: Vec<u8>,
    sent: usize,
    our_close_sent: bool,
    /// Kind of our outgoing message whose last fragment is not sent yet.
    sending: Option<MessageKind>,
    auto_pong: bool,
    /// An error or the peer's close was popped: no event may follow.
    events_over: bool,
    incoming: Option<(MessageKind, Vec<u8>)>,
    /// `set_keepalive` was called on a closed connection: it arms a timer that never fires
    /// anything (observed, reported; not promised either way by the docs).
    keepalive_after_close: bool,
    /// The send timeout, and since when the transport has taken nothing (the model of
    /// `set_send_timeout`'s docs: progress stops the clock, the first block starts it).
    send_timeout: Option<Duration>,
    blocked_since: Option<Instant>,
    idle_timeout: Option<Duration>,
}

impl Harness {
    fn can_send(&self) -> bool {
        matches!(self.c.state(), State::Open | State::CloseReceived)
    }

    fn run(&mut self, op: Op) {
        let before = self.c.state();
        let expect = self.apply(op);
        self.check_output(expect, before);
        self.check_state(before);
    }

    fn apply(&mut self, op: Op) -> Expect {
        let none = || Expect::Frames(Vec::new());
        match op {
            Op::ReceiveBytes(bytes) => {
                self.c.receive_data(&bytes);
                none()
            }
            Op::ReceiveFrame { fin, rsv, opcode, wrong_mask, key, payload } => {
                let opcode = match opcode {
                    PeerOpcode::Continuation => 0,
                    PeerOpcode::Text => 1,
                    PeerOpcode::Binary => 2,
                    PeerOpcode::Close => 8,
                    PeerOpcode::Ping => 9,
                    PeerOpcode::Pong => 10,
                    PeerOpcode::Raw(op) => op & 0xf,
                };
                let masked = (self.role == Role::Server) != wrong_mask;
                let frame = peer_frame(fin, rsv & 7, opcode, masked.then_some(key), &payload);
                self.c.receive_data(&frame);
                none()
            }
            Op::ReceiveClose { code, reason, key } => {
                let mut body = Vec::new();
                if let Some(code) = code {
                    body.extend_from_slice(&code.to_be_bytes());
                    body.extend_from_slice(reason.as_bytes());
                }
                let key = (self.role == Role::Server).then_some(key);
                self.c.receive_data(&peer_frame(true, 0, 8, key, &body));
                none()
            }
            Op::ReceiveEof => {
                let before = self.c.state();
                let ending = self.c.ending().cloned();
                self.c.receive_eof();
                assert_eq!(self.c.state(), State::Closed);
                if before == State::Closed {
                    assert_eq!(self.c.ending().cloned(), ending, "EOF changed the ending");
                } else {
                    assert_eq!(self.c.ending(), Some(&Ending::Abnormal));
                }
                none()
            }
            Op::NextEvent => Expect::Frames(self.next_event().unwrap_or_default()),
            Op::DrainEvents => {
                let mut frames = Vec::new();
                while let Some(more) = self.next_event() {
                    frames.extend(more);
                }
                Expect::Frames(frames)
            }
            Op::SendData { text, data, fin } => {
                let kind = if text { MessageKind::Text } else { MessageKind::Binary };
                self.send_data(kind, &data, fin)
            }
            Op::SendText(text) => self.send_data(MessageKind::Text, text.as_bytes(), true),
            Op::SendBinary(data) => self.send_data(MessageKind::Binary, &data, true),
            Op::Ping(payload) => self.send_control(OpCode::Ping, &payload),
            Op::Pong(payload) => self.send_control(OpCode::Pong, &payload),
            Op::Close { code, reason } => self.close(code, &reason),
            Op::AdvanceSent(n) => {
                let unsent = self.c.data_to_send().len();
                self.c.advance_sent(n);
                self.sent += n.min(unsent);
                if n > 0 {
                    self.blocked_since = None;
                }
                none()
            }
            Op::SetSendTimeout(ms) => {
                self.send_timeout = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                if self.send_timeout.is_none() {
                    self.blocked_since = None;
                }
                self.c.set_send_timeout(self.send_timeout);
                none()
            }
            Op::SendBlocked => {
                if self.send_timeout.is_some() {
                    self.blocked_since.get_or_insert(self.now);
                }
                self.c.send_blocked(self.now);
                Expect::Timer
            }
            Op::SendProgressed => {
                self.blocked_since = None;
                self.c.send_progressed();
                none()
            }
            Op::SetIdleTimeout(ms) => {
                self.idle_timeout = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                self.c.set_idle_timeout(self.idle_timeout, self.now);
                none()
            }
            Op::AdvanceTime(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.c.handle_timeout(self.now);
                Expect::Timer
            }
            Op::FireTimer => {
                if let Some(at) = self.c.poll_timeout() {
                    self.now = self.now.max(at);
                    self.c.handle_timeout(self.now);
                }
                Expect::Timer
            }
            Op::ReleaseIdleBuffers => {
                self.c.release_idle_buffers();
                none()
            }
            Op::SetAutoPong(on) => {
                self.c.set_auto_pong(on);
                self.auto_pong = on;
                none()
            }
            Op::SetCloseTimeout(ms) => {
                self.c.set_close_timeout(ms.map(|ms| Duration::from_millis(u64::from(ms))));
                none()
            }
            Op::SetKeepalive { interval_ms, timeout_ms } => {
                let ms = |v: u16| Duration::from_millis(u64::from(v));
                self.keepalive_after_close |= self.c.state() == State::Closed;
                self.c.set_keepalive(ms(interval_ms), ms(timeout_ms), self.now);
                none()
            }
        }
    }

    /// Pops one event and checks it; returns the frames it must have caused, or `None`
    /// when there was no event.
    fn next_event(&mut self) -> Option<Vec<WireFrame>> {
        let before = self.c.state();
        let could_send = self.can_send();
        let event = self.c.next_event();
        if before == State::Closed {
            assert_eq!(event, None, "event on a closed connection");
        }
        let event = event?;
        assert!(!self.events_over, "event after an error or the peer's close: {event:?}");
        let mut frames = Vec::new();
        match event {
            Ok(Event::Data { kind, data, fin }) => {
                let (open, bytes) = self.incoming.get_or_insert_with(|| (kind, Vec::new()));
                assert_eq!(*open, kind, "a message changed kind between pieces");
                bytes.extend_from_slice(&data);
                if fin {
                    let (kind, bytes) = self.incoming.take().expect("open message");
                    if kind == MessageKind::Text {
                        assert!(std::str::from_utf8(&bytes).is_ok(), "text message not UTF-8");
                    }
                }
            }
            Ok(Event::Ping(payload)) => {
                if self.auto_pong && could_send {
                    frames.push(WireFrame::new(true, OpCode::Pong, &payload));
                }
            }
            Ok(Event::Pong(_)) => {}
            Ok(Event::Close(close)) => {
                self.events_over = true;
                assert_eq!(self.c.peer_close(), Some(&close));
                match before {
                    State::Open => assert_eq!(self.c.state(), State::CloseReceived),
                    State::CloseSent => {
                        assert_eq!(self.c.state(), State::Closed);
                        assert_eq!(self.c.ending(), Some(&Ending::Clean));
                    }
                    other => panic!("peer close popped in state {other:?}"),
                }
            }
            Err(e) => {
                self.events_over = true;
                assert_eq!(self.c.state(), State::Closed);
                assert_eq!(self.c.ending(), Some(&Ending::Failed(e.clone())));
                if could_send {
                    frames.push(WireFrame::close(Some(e.close_code().0), ""));
                }
            }
        }
        Some(frames)
    }

    fn send_data(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Expect {
        let mut reasons = Vec::new();
        if !self.can_send() {
            reasons.push(UsageError::AlreadyClosed);
        }
        if self.sending.is_some_and(|open| open != kind) {
            reasons.push(UsageError::FragmentKindMismatch);
        }
        let result = self.c.send_data(kind, data, fin);
        check_reasons(&result, &reasons);
        if result.is_err() {
            return Expect::Frames(Vec::new());
        }
        let opcode = match (self.sending, kind) {
            (Some(_), _) => OpCode::Continuation,
            (None, MessageKind::Text) => OpCode::Text,
            (None, MessageKind::Binary) => OpCode::Binary,
        };
        self.sending = if fin { None } else { Some(kind) };
        Expect::Frames(vec![WireFrame::new(fin, opcode, data)])
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Expect {
        let mut reasons = Vec::new();
        if !self.can_send() {
            reasons.push(UsageError::AlreadyClosed);
        }
        if payload.len() > 125 {
            reasons.push(UsageError::ControlPayloadTooLong(payload.len()));
        }
        let result = match opcode {
            OpCode::Ping => self.c.send_ping(payload),
            _ => self.c.send_pong(payload),
        };
        check_reasons(&result, &reasons);
        Expect::Frames(match result {
            Ok(()) => vec![WireFrame::new(true, opcode, payload)],
            Err(_) => Vec::new(),
        })
    }

    fn close(&mut self, code: Option<u16>, reason: &str) -> Expect {
        let before = self.c.state();
        let mut reasons = Vec::new();
        match code {
            None if !reason.is_empty() => reasons.push(UsageError::ReasonWithoutCode),
            None => {}
            Some(c) => {
                if !code_allowed(c) {
                    reasons.push(UsageError::InvalidCloseCode(c));
                }
                if reason.len() > 123 {
                    reasons.push(UsageError::CloseReasonTooLong(reason.len()));
                }
            }
        }
        if matches!(before, State::CloseSent | State::Closed) {
            reasons.push(UsageError::AlreadyClosed);
        }
        let result = self.c.close(code, reason, self.now);
        check_reasons(&result, &reasons);
        if result.is_err() {
            return Expect::Frames(Vec::new());
        }
        match before {
            State::Open => assert_eq!(self.c.state(), State::CloseSent),
            _ => {
                assert_eq!(self.c.state(), State::Closed);
                assert_eq!(self.c.ending(), Some(&Ending::Clean));
            }
        }
        Expect::Frames(vec![WireFrame::close(code, reason)])
    }

    /// The unsent bytes are the old ones plus whole new frames, exactly those expected;
    /// or, when the send timeout ran out, none.
    fn check_output(&mut self, expect: Expect, before: State) {
        let expired = matches!(expect, Expect::Timer)
            && self.blocked_since.zip(self.send_timeout).is_some_and(|(b, t)| self.now >= b + t)
            // The close timeout is looked at first and ends the call when it runs out.
            && !(before != State::Closed && self.c.ending() == Some(&Ending::CloseTimedOut));
        if expired {
            assert!(self.c.data_to_send().is_empty(), "the send timeout ran out; output kept");
            if before != State::Closed {
                let t = self.send_timeout.expect("a send timeout");
                let ending = Ending::Failed(ProtocolError::SendTimeout(t));
                assert_eq!(self.c.ending(), Some(&ending), "send timeout ran out");
            }
            self.blocked_since = None;
            self.sent = self.stream.len();
            return;
        }
        let pending = self.c.data_to_send();
        let old = &self.stream[self.sent..];
        assert!(pending.len() >= old.len(), "unsent output shrank");
        assert_eq!(&pending[..old.len()], old, "unsent output was rewritten");
        let new = pending[old.len()..].to_vec();
        let frames = parse_frames(&new, self.role);
        if !frames.is_empty() {
            assert!(!self.our_close_sent, "frames after our close frame: {frames:?}");
        }
        match expect {
            Expect::Frames(expected) => assert_eq!(frames, expected),
            Expect::Timer => match &frames[..] {
                [] => {}
                [frame] if frame.opcode == OpCode::Ping => {
                    assert_eq!(*frame, WireFrame::new(true, OpCode::Ping, b""), "timer output");
                }
                [frame] if *frame == WireFrame::close(Some(1001), "") => {
                    let t = self.idle_timeout.expect("a 1001 from a timer needs an idle timeout");
                    assert_eq!(
                        self.c.ending(),
                        Some(&Ending::Failed(ProtocolError::IdleTimeout(t)))
                    );
                }
                [frame] => {
                    assert_eq!(*frame, WireFrame::close(Some(1011), ""), "timer output");
                    let ending = Ending::Failed(ProtocolError::KeepaliveTimeout);
                    assert_eq!(self.c.ending(), Some(&ending));
                }
                more => panic!("a timer wrote several frames: {more:?}"),
            },
        }
        self.our_close_sent |= frames.iter().any(|f| f.opcode == OpCode::Close);
        self.stream.extend_from_slice(&new);
    }

    fn check_state(&self, before: State) {
        let after = self.c.state();
        let legal = before == after
            || matches!(
                (before, after),
                (State::Open, _) | (State::CloseSent | State::CloseReceived, State::Closed)
            );
        assert!(legal, "illegal transition {before:?} -> {after:?}");
        assert_eq!(after == State::Closed, self.c.ending().is_some(), "ending vs state");
        if self.our_close_sent {
            assert!(matches!(after, State::CloseSent | State::Closed), "close sent, {after:?}");
        }
        // Once closed, only the send timeout may still run (it bounds the last bytes).
        let send_clock = self.blocked_since.zip(self.send_timeout).map(|(b, t)| b + t);
        if after == State::Closed && !self.keepalive_after_close {
            assert_eq!(self.c.poll_timeout(), send_clock, "timer armed on a closed connection");
        }
    }
}

fn check_reasons(result: &Result<(), UsageError>, reasons: &[UsageError]) {
    match result {
        Ok(()) => assert!(reasons.is_empty(), "accepted despite {reasons:?}"),
        Err(e) => assert!(reasons.contains(e), "undocumented error {e:?}; reasons: {reasons:?}"),
    }
}

/// A frame as the peer would send it (the header may still break a rule on purpose).
fn peer_frame(fin: bool, rsv: u8, opcode: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    FrameHeader { fin, rsv, opcode, mask: key, payload_len: payload.len() as u64 }.encode(&mut out);
    match key {
        Some(key) => extend_masked(&mut out, payload, key, 0),
        None => out.extend_from_slice(payload),
    }
    out
}

/// Decodes `data` as libFuzzer's typed target does (`Input::arbitrary_take_rest`) and runs
/// the oracle; an input that does not decode is skipped, as libFuzzer skips it.
pub fn check_bytes(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        check(input);
    }
}

/// The oracle: panics on any outcome the docs above do not allow.
pub fn check(input: Input) {
    let role = if input.client { Role::Client } else { Role::Server };
    let limits = if input.small_limits { SMALL_LIMITS } else { Limits::default() };
    let mut h = Harness {
        c: connection(role, limits),
        role,
        now: Instant::now(),
        stream: Vec::new(),
        sent: 0,
        our_close_sent: false,
        sending: None,
        auto_pong: true,
        events_over: false,
        incoming: None,
        keepalive_after_close: false,
        send_timeout: None,
        blocked_since: None,
        idle_timeout: None,
    };
    for op in input.ops {
        h.run(op);
    }
}
