//! Errors of the protocol core, sorted by whose fault they are.
//!
//! [`ProtocolError`] means the peer broke RFC 6455, or stopped taking part (no pong, no
//! reading, no messages within their timeouts): each one carries the close code the
//! connection is failed with. [`UsageError`] means the caller asked for something the
//! protocol does not allow (a 200-byte ping, a close code of 1005, a send after close):
//! nothing goes on the wire and the connection is unchanged. Handshake errors live in
//! [`crate::handshake`] because they are answered with an HTTP status, not a close code.

use std::fmt;

use crate::close::CloseCode;

/// The peer violated RFC 6455; the connection is failed with [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A client sent an unmasked frame (§5.1: the server MUST close the connection).
    UnmaskedFrame,
    /// A server sent a masked frame (§5.1: the client MUST close the connection).
    MaskedFrame,
    /// RSV1, RSV2 or RSV3 set without an extension that defines them (§5.2).
    ReservedBits,
    /// An opcode that RFC 6455 reserves (3-7, 0xB-0xF) (§5.2).
    ReservedOpcode(u8),
    /// A control frame with FIN clear (§5.5: control frames MUST NOT be fragmented).
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlFrameTooLong(u64),
    /// A 64-bit payload length with its most significant bit set (§5.2).
    InvalidLength,
    /// A continuation frame with no fragmented message in progress (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still open (§5.4).
    ExpectedContinuation,
    /// A frame payload longer than the configured maximum frame size.
    FrameTooLarge {
        /// Declared payload length.
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// A message longer than the configured maximum message size.
    MessageTooLarge {
        /// Configured limit.
        max: usize,
    },
    /// A text message (or close reason) that is not valid UTF-8 (§8.1).
    InvalidUtf8,
    /// A close frame whose payload is one byte long (§5.5.1).
    InvalidClosePayload,
    /// A close frame carrying a code that may not appear on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A compressed message that could not be decompressed (RFC 7692 §8).
    InvalidCompressedData,
    /// The peer stopped answering pings within the keepalive timeout.
    KeepaliveTimeout,
    /// The peer took none of our bytes for this long while some were waiting (the send
    /// timeout): it stopped reading. The bytes are dropped; no close frame can reach it.
    SendTimeout(std::time::Duration),
    /// No data message went either way for this long (the idle timeout).
    IdleTimeout(std::time::Duration),
    /// A frame a wire format other than RFC 6455's cannot parse (see [`crate::framing`]);
    /// the text says what was wrong.
    MalformedFrame(&'static str),
}

impl ProtocolError {
    /// The close code this violation is answered with (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        use ProtocolError::*;
        match self {
            InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            FrameTooLarge { .. } | MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            KeepaliveTimeout | SendTimeout(_) => CloseCode::INTERNAL_ERROR,
            IdleTimeout(_) => CloseCode::GOING_AWAY,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// Whether this is a frame the endpoint does not support, rather than a malformed
    /// one: reserved bits or a reserved opcode. RFC 6455 calls both protocol errors
    /// (1002, the default); pywebsocket answers them with 1003, which
    /// [`crate::Connection::set_unsupported_frame_close_code`] can restore.
    pub fn is_unsupported_frame(&self) -> bool {
        matches!(self, ProtocolError::ReservedBits | ProtocolError::ReservedOpcode(_))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProtocolError::*;
        match self {
            UnmaskedFrame => f.write_str("client frame is not masked"),
            MaskedFrame => f.write_str("server frame is masked"),
            ReservedBits => f.write_str("reserved bits set without a negotiated extension"),
            ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FragmentedControlFrame => f.write_str("fragmented control frame"),
            ControlFrameTooLong(n) => write!(f, "control frame payload of {n} bytes exceeds 125"),
            InvalidLength => f.write_str("64-bit payload length has its most significant bit set"),
            UnexpectedContinuation => {
                f.write_str("continuation frame without a message to continue")
            }
            ExpectedContinuation => f.write_str("new data frame inside a fragmented message"),
            FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            MessageTooLarge { max } => write!(f, "message exceeds the limit of {max} bytes"),
            InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            InvalidClosePayload => f.write_str("close frame payload of 1 byte"),
            InvalidCloseCode(c) => write!(f, "close code {c} is not allowed on the wire"),
            InvalidCompressedData => f.write_str("compressed message could not be inflated"),
            KeepaliveTimeout => f.write_str("no answer to a keepalive ping"),
            SendTimeout(t) => write!(
                f,
                "the peer took none of our bytes for {} s, so it stopped reading (send timeout)",
                t.as_secs_f64()
            ),
            IdleTimeout(t) => {
                write!(f, "no message either way for {} s (idle timeout)", t.as_secs_f64())
            }
            MalformedFrame(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The caller asked for something RFC 6455 does not allow; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A close frame has already been sent; no more frames may follow it (§5.5.1).
    AlreadyClosed,
    /// A ping or pong payload over 125 bytes (§5.5).
    ControlPayloadTooLong(usize),
    /// A close code the sender may not use (1004-1006, 1015, below 1000, above 4999).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes (§5.5: the whole close payload is at most 125).
    CloseReasonTooLong(usize),
    /// A close reason without a close code (§5.5.1: the reason follows the code).
    ReasonWithoutCode,
    /// A fragment of one kind sent while a message of the other kind is open.
    FragmentKindMismatch,
    /// The connection's wire format cannot carry this (see [`crate::framing`]): HyBi 00
    /// has no binary sends, no fragments and no pings.
    NotInFraming(&'static str),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use UsageError::*;
        match self {
            AlreadyClosed => {
                f.write_str("a close frame was already sent; nothing more may be sent")
            }
            ControlPayloadTooLong(n) => write!(f, "control payload of {n} bytes exceeds 125"),
            InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            CloseReasonTooLong(n) => write!(f, "close reason of {n} bytes exceeds 123"),
            ReasonWithoutCode => f.write_str("a close reason needs a close code"),
            FragmentKindMismatch => {
                f.write_str("fragment kind differs from the message in progress (text vs binary)")
            }
            NotInFraming(what) => write!(f, "this connection's wire format has no {what}"),
        }
    }
}

impl std::error::Error for UsageError {}
