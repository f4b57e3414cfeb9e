//! What only an embedder needs: the hooks for bridging another runtime (an interpreter
//! with blocking handlers) into the server. Native handlers need none of it.
//!
//! - [`DynHandler`], the object-safe handler a bridge implements, and [`BoxFuture`];
//! - [`HandshakeRequestExt`]: raw bytes on the connection during the extra handshake
//!   (pywebsocket's `request.connection`), response headers written verbatim, a
//!   compression offer answered as if the client had made it, state kept for the
//!   transfer phase;
//! - [`WebSocketExt`]: taking the connection out into the blocking shell
//!   ([`crate::blocking::BlockingWebSocket`]), that state, raw bytes past the frame
//!   parser, and the server's shutdown handle.
//!
//! Bring the traits into scope (`use wshd_server::embed::{HandshakeRequestExt,
//! WebSocketExt}`) to call them.

use std::future::Future;

use wshd_proto::handshake::ExtensionOffer;

pub use crate::handler::{BoxFuture, DynHandler};
pub use crate::websocket::HandlerState;

use crate::blocking::BlockingWebSocket;
use crate::error::Error;
use crate::handler::HandshakeRequest;
use crate::shutdown::Shutdown;
use crate::websocket::WebSocket;

/// The extra handshake as a bridge sees it. See the module docs.
pub trait HandshakeRequestExt {
    /// Adds a line `name: value` to the 101 exactly as given, after the checked headers,
    /// without checking either part: a value with CRLF forges further header lines
    /// (pywebsocket's `extra_headers`, which browser test suites use to send malformed
    /// responses on purpose). Never pass a client's input here.
    fn add_verbatim_response_header(&mut self, name: &str, value: &str);

    /// Queues bytes for the client, to go out before the server's own answer (or instead
    /// of it, when the handshake is aborted): pywebsocket's `request.connection.write`.
    /// They leave at the next [`HandshakeRequestExt::flush_raw`] or when the hook returns.
    fn write_raw(&mut self, bytes: &[u8]);

    /// Writes what [`HandshakeRequestExt::write_raw`] queued now.
    fn flush_raw(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;

    /// Reads `len` bytes from the client, fewer if it closes first (pywebsocket's
    /// `request.connection.read`), after writing out what is queued. The WebSocket starts
    /// after the bytes read here. Bounded by the server's handshake deadline.
    fn read_raw(&mut self, len: usize) -> impl Future<Output = std::io::Result<Vec<u8>>> + Send;

    /// Keeps a value for the transfer phase ([`WebSocketExt::take_handler_state`]).
    fn set_state(&mut self, state: HandlerState);

    /// Negotiates compression as if the client had offered `offers`: the response may then
    /// accept parameters the client never asked for (pywebsocket's
    /// `processor._request.add_parameter`; a browser must refuse such a response).
    fn negotiate_as_if_offered(&mut self, offers: Vec<ExtensionOffer>);
}

impl HandshakeRequestExt for HandshakeRequest {
    fn add_verbatim_response_header(&mut self, name: &str, value: &str) {
        self.add_verbatim_response_header(name, value);
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        self.write_raw(bytes);
    }

    fn flush_raw(&mut self) -> impl Future<Output = std::io::Result<()>> + Send {
        self.flush_raw()
    }

    fn read_raw(&mut self, len: usize) -> impl Future<Output = std::io::Result<Vec<u8>>> + Send {
        self.read_raw(len)
    }

    fn set_state(&mut self, state: HandlerState) {
        self.set_state(state);
    }

    fn negotiate_as_if_offered(&mut self, offers: Vec<ExtensionOffer>) {
        self.negotiate_as_if_offered(offers);
    }
}

/// An open connection as a bridge sees it. See the module docs.
pub trait WebSocketExt {
    /// Hands the connection to the blocking shell: the socket (in blocking mode), its TLS
    /// session and the protocol state leave this `WebSocket`, which is finished
    /// afterwards (every call returns [`Error::Closed`]; the server neither closes nor
    /// lingers). Fails, changing nothing, on the client side of TLS.
    fn detach(&mut self) -> Result<BlockingWebSocket, Error>;

    /// Takes the state kept with [`HandshakeRequestExt::set_state`].
    fn take_handler_state(&mut self) -> Option<HandlerState>;

    /// The shutdown of the server this connection belongs to (`None` on the client
    /// side), for code that does not always poll the connection.
    fn shutdown_handle(&self) -> Option<Shutdown>;

    /// Writes `data` as it is after anything queued: no framing (pywebsocket's
    /// `request.connection.write`).
    fn write_raw(&mut self, data: &[u8]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Reads up to `len` bytes straight from the transport, fewer only at its end,
    /// bypassing the frame parser (pywebsocket's `request.connection.read`); at most the
    /// message limit.
    fn read_raw(&mut self, len: usize) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
}

impl WebSocketExt for WebSocket {
    fn detach(&mut self) -> Result<BlockingWebSocket, Error> {
        self.detach()
    }

    fn take_handler_state(&mut self) -> Option<HandlerState> {
        self.take_handler_state()
    }

    fn shutdown_handle(&self) -> Option<Shutdown> {
        self.shutdown_handle()
    }

    fn write_raw(&mut self, data: &[u8]) -> impl Future<Output = Result<(), Error>> + Send {
        self.write_raw(data)
    }

    fn read_raw(&mut self, len: usize) -> impl Future<Output = Result<Vec<u8>, Error>> + Send {
        self.read_raw(len)
    }
}
