//! The error type of WebSocket operations in the server and the client.
//!
//! It separates the normal end of a connection ([`Error::Closed`]) from the peer's faults
//! ([`Error::Protocol`], [`Error::Handshake`]), the caller's mistakes ([`Error::Usage`])
//! and the transport's failures ([`Error::Io`], [`Error::Timeout`]).

use std::{fmt, io};

use wshd_proto::handshake::HandshakeError;
use wshd_proto::{Ending, ProtocolError, UsageError};

/// Why a WebSocket operation did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closed: the closing handshake finished and this call came after
    /// it. This is the normal end, not a fault.
    Closed,
    /// The peer violated RFC 6455. The connection was failed with the error's close code.
    Protocol(ProtocolError),
    /// The opening handshake failed (client side: the server's answer was not a valid 101).
    Handshake(HandshakeError),
    /// The call is not allowed by the protocol (a 126-byte ping, a close code of 1006, a
    /// send after our close). Nothing was sent; the connection is unchanged.
    Usage(UsageError),
    /// The transport failed, or ended without a closing handshake (close code 1006).
    Io(io::Error),
    /// A timeout expired: the handshake, or the wait for the peer's close frame.
    Timeout,
    /// The call cannot run now because another thread is making one that excludes it
    /// (two receives at once on a [`crate::blocking::BlockingWebSocket`]).
    Busy(&'static str),
}

impl Error {
    /// What the end of a connection means to a caller waiting on it: nothing wrong after
    /// a completed closing handshake (or a failure already reported), [`Error::Timeout`]
    /// when our close went unanswered, [`Error::Io`] when the transport ended first.
    pub(crate) fn from_ending(ending: Option<&Ending>) -> Result<(), Error> {
        match ending {
            Some(Ending::CloseTimedOut) => Err(Error::Timeout),
            Some(Ending::Abnormal) => Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed the transport without a closing handshake",
            ))),
            Some(Ending::Failed(
                e @ (ProtocolError::KeepaliveTimeout
                | ProtocolError::SendTimeout(_)
                | ProtocolError::IdleTimeout(_)),
            )) => Err(Error::Protocol(e.clone())),
            Some(Ending::Clean | Ending::Failed(_)) | None => Ok(()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("the WebSocket connection is closed"),
            Error::Protocol(e) => write!(f, "peer violated the WebSocket protocol: {e}"),
            // The handshake error says "opening handshake failed" itself.
            Error::Handshake(e) => write!(f, "{e}"),
            Error::Usage(e) => write!(f, "not allowed by the WebSocket protocol: {e}"),
            Error::Io(e) => write!(f, "transport error: {e}"),
            Error::Timeout => f.write_str("timed out"),
            Error::Busy(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Protocol(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Closed | Error::Timeout | Error::Busy(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}
