//! The tokio WebSocket server of wshd, its native handler API and a client.
//!
//! This crate owns sockets and tasks. It reads bytes from the network, feeds them to the
//! sans-I/O core in `wshd-proto`, and writes back what the core produces. A connection is
//! one tokio task, not a thread; an idle one holds no read or write buffer.
//!
//! Handlers follow pywebsocket's model: [`Handler::do_extra_handshake`] sees the request
//! before the 101 goes out, [`Handler::transfer_data`] owns the [`WebSocket`] afterwards,
//! and [`Handler::passive_closing_handshake`] chooses the answer to a peer's close.
//! A [`Router`] maps resource paths to handlers and a [`Server`] serves them.
//!
//! It contains no protocol parsing (that is `wshd-proto`) and nothing about Python.

mod accept;
pub mod blocking;
pub mod client;
mod closing;
pub mod config;
pub mod embed;
mod error;
mod handler;
mod http;
mod listener;
pub mod memory;
mod router;
mod shutdown;
pub mod signals;
mod target;
#[cfg(test)]
mod test_log;
pub mod tls;
mod transport;
mod trusted_proxy;
mod unwind;
mod websocket;

pub use config::Config;
pub use error::Error;
pub use handler::{Handler, HandshakeRequest, Rejection};
pub use http::HttpConfig;
/// The fuzz targets' oracles for the HTTP side's parsers; see `fuzz/README.md`. Not an API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub use http::fuzzing;
pub use listener::Server;
pub use router::Router;
/// The TLS library, for [`tls::TlsConfig::from_rustls`] and certificate types.
pub use rustls;
pub use shutdown::Shutdown;
pub use trusted_proxy::TrustedProxy;
pub use websocket::{DIRECT_SEND_MIN, Frame, Message, WebSocket};
pub use wshd_proto::{CloseCode, CloseFrame, Limits, MessageKind};
