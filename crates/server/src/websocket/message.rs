//! The messages and frames a [`WebSocket`](super::WebSocket) hands out and takes, and the
//! state a handler leaves for its transfer phase. Types only: no I/O, no protocol rules.

use wshd_proto::MessageKind;

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked by the core).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Text(_) => MessageKind::Text,
            Message::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }
}

/// One piece of what the peer sent, as returned by [`WebSocket::recv_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Part of a data message; `fin` marks its last part. A text piece may end inside a
    /// UTF-8 code point; the whole message is valid UTF-8.
    Data {
        /// Text or binary.
        kind: MessageKind,
        /// The payload of one or more consecutive frames of the message.
        data: Vec<u8>,
        /// Whether this piece ends the message.
        fin: bool,
    },
    /// A ping; the pong has been queued unless automatic pongs are off.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
}

/// State a handler keeps from its extra handshake to its transfer phase.
pub type HandlerState = Box<dyn std::any::Any + Send>;
