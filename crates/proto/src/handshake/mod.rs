//! The opening handshake of RFC 6455 §4, server side ([`validate_upgrade`],
//! [`accept_response`], [`error_response`]) and client side ([`ClientRequest`],
//! [`validate_response`]), over an incremental HTTP/1.x head parser
//! ([`parse_request_from`], [`parse_response_from`]); and HyBi 00's, server side
//! ([`hybi00`]).
//!
//! Sans-I/O like the rest of the crate: functions take the bytes received so far and return
//! values or the bytes to send. They do not read sockets, keep time (the handshake timeout
//! is the caller's), draw random numbers (the client key's 16 bytes come from the caller),
//! or decide policy (subprotocol and extension selection, origin checks, handler lookup).
//!
//! Typical server use:
//!
//! ```
//! use wshd_proto::HandshakeLimits;
//! use wshd_proto::handshake::{Accept, accept_response, parse_request_from, validate_upgrade};
//!
//! let wire = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
//!              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!              Sec-WebSocket-Version: 13\r\n\r\n";
//! let limits = HandshakeLimits::default();
//! let mut scanned = 0;
//! let mut buf = Vec::new();
//! for chunk in wire.chunks(7) {
//!     buf.extend_from_slice(chunk); // bytes as they arrive
//!     let reply = match parse_request_from(&buf, scanned, &limits) {
//!         Ok(None) => { scanned = buf.len(); continue; }
//!         Ok(Some((request, _consumed))) => match validate_upgrade(request) {
//!             Ok(up) => accept_response(&up.key, &Accept::default()).unwrap(),
//!             Err(e) => e.to_response(),
//!         },
//!         Err(e) => e.to_response(),
//!     };
//!     assert!(reply.starts_with(b"HTTP/1.1 101 "));
//! }
//! ```

mod client;
mod error;
mod forwarded;
mod head;
mod headers;
pub mod hybi00;
mod request;
mod server;
mod target;

pub use client::{
    ClientAccepted, ClientRequest, Response, generate_key, parse_response, parse_response_from,
    validate_response,
};
pub use error::{HandshakeError, InvalidHeader};
pub use forwarded::forwarded_client;
pub use headers::{
    ExtensionOffer, HeaderSyntaxError, format_extensions, is_field_value, is_tchar, is_token,
    parse_extensions, parse_token_list,
};
pub use request::{Headers, Request, parse_request, parse_request_from};
pub use server::{
    Accept, UpgradeRequest, WEBSOCKET_GUID, accept_response, compute_accept, error_response,
    is_upgrade_request, status_phrase, validate_upgrade,
};
pub use target::Target;
