//! The seam for a wire format other than RFC 6455's frames.
//!
//! A [`Connection`](crate::Connection) frames with RFC 6455 by default, through its own
//! parser and encoder (the fast path, with compression). A handshake that agreed another
//! wire format (HyBi 00) builds the connection with
//! [`Connection::with_framing`](crate::Connection::with_framing) instead and hands it a
//! [`Framing`]: the parser and encoder of that format. Everything else stays in the
//! connection and works unchanged: the closing-handshake state machine, the close
//! timeout, going away, whole-message assembly, the output buffer, and the shells that
//! drive it. A framing decides only how bytes become events and how sends become bytes.
//!
//! This module is the trait and its small helper types; [`hybi00`] is the one other wire
//! format that implements it.

pub mod hybi00;

use std::fmt;

use crate::connection::{Event, MessageKind};
use crate::error::{ProtocolError, UsageError};
use crate::incoming::Queue;

pub use hybi00::Hybi00Framing;

/// A control frame to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// A ping (answered by the peer with a pong).
    Ping,
    /// A pong.
    Pong,
}

/// The parser and encoder of one wire format, for one connection.
///
/// The connection calls it with the bytes it is fed and the frames it is asked to send;
/// it never calls it again for input once the framing reported the peer's close or a
/// violation (RFC 6455 §5.5.1: later bytes are ignored).
pub trait Framing: Send + fmt::Debug {
    /// Parses `data` (any split of the stream), reporting to `events` what completes: data
    /// pieces (`fin` on a message's last), pings, pongs, the peer's close, or a violation.
    /// The framing enforces the [`Limits`](crate::Limits) it was built with.
    fn receive(&mut self, data: &[u8], events: &mut Events<'_>);

    /// Whether a frame is partly received.
    fn in_progress(&self) -> bool;

    /// How many bytes the next read may take without passing what the parser needs next
    /// (see [`Connection::read_hint`](crate::Connection::read_hint)). Never 0.
    fn read_hint(&self) -> usize;

    /// Appends a data frame to `out`: a piece of a message, `fin` on its last. A format
    /// that cannot carry it (binary data, fragments) refuses with
    /// [`UsageError::NotInFraming`] and appends nothing.
    fn encode_data(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError>;

    /// Appends a ping or a pong, or refuses with [`UsageError::NotInFraming`] when the
    /// format has none (then keepalive pings are not sent either).
    fn encode_control(
        &mut self,
        control: Control,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError>;

    /// Appends our close frame. `code` and `reason` were checked against RFC 6455; a
    /// format whose close carries no status drops them.
    fn encode_close(&mut self, code: Option<u16>, reason: &str, out: &mut Vec<u8>);
}

/// Where a [`Framing`] reports what it parsed, in wire order.
#[derive(Debug)]
pub struct Events<'a> {
    queue: &'a mut Queue,
    done: &'a mut bool,
}

impl<'a> Events<'a> {
    pub(crate) fn new(queue: &'a mut Queue, done: &'a mut bool) -> Self {
        Events { queue, done }
    }

    /// Reports a data piece, a ping, a pong or the peer's close. After a close, nothing
    /// more is read.
    pub fn push(&mut self, event: Event) {
        *self.done |= matches!(event, Event::Close(_));
        self.queue.push_back(Ok(event));
    }

    /// Reports a violation: the connection is failed with its close code once the events
    /// before it were taken, and nothing more is read.
    pub fn fail(&mut self, error: ProtocolError) {
        *self.done = true;
        self.queue.push_back(Err(error));
    }

    /// Whether the peer's close or a violation was reported: the framing should stop.
    pub fn done(&self) -> bool {
        *self.done
    }
}
