//! The sans-I/O WebSocket protocol core of wshd (RFC 6455).
//!
//! This crate turns bytes and time into events and bytes: the opening handshake
//! ([`handshake`]), frame encoding and decoding ([`frame`]), incremental UTF-8
//! validation ([`utf8`]) and the connection state machine with its closing
//! handshake ([`connection`]). A wire format other than RFC 6455's frames plugs into the
//! same connection through [`framing`].
//!
//! It is not a server: it contains no sockets, no threads, no clock and no async
//! runtime. Callers feed it the bytes they read and the current [`std::time::Instant`],
//! and write out the bytes it hands back. That is what makes it fuzzable and what lets
//! the tokio server, the client and the tests share one implementation.

pub mod close;
pub mod config;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod framing;
pub mod handshake;
mod incoming;
pub mod utf8;
mod watchdog;

pub use close::{CloseCode, CloseFrame};
pub use config::{HandshakeLimits, Limits};
pub use connection::{Connection, Ending, Event, FrameHead, MaskSource, MessageKind, Role, State};
pub use error::{ProtocolError, UsageError};
pub use frame::OpCode;
