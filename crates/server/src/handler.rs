//! The native handler API: pywebsocket's three hooks as a Rust trait.
//!
//! [`Handler`] is what users implement. [`DynHandler`] is its object-safe form, which the
//! [`crate::Router`] stores; every `Handler` is a `DynHandler` through a blanket impl.
//! [`HandshakeRequest`] is what the extra handshake sees and may change, and
//! [`Rejection`] is how it refuses. `accept` runs the extra handshake; the transfer phase
//! runs on a task of its own, which [`DynHandler::spawn_transfer`] starts.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use wshd_proto::deflate::{FrameResponseOverrides, ResponseOverrides};
use wshd_proto::handshake::{
    ExtensionOffer, HandshakeError, Headers, UpgradeRequest, is_field_value, is_token,
};
use wshd_proto::{CloseCode, CloseFrame};

use crate::transport::Transport;
use crate::unwind::{CatchUnwind, panic_message};
use crate::websocket::{HandlerState, WebSocket};

/// A future a [`DynHandler`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Serves WebSocket connections on the paths a [`crate::Router`] gives it.
///
/// The three methods mirror pywebsocket's `web_socket_do_extra_handshake`,
/// `web_socket_transfer_data` and `web_socket_passive_closing_handshake`.
pub trait Handler: Send + Sync + 'static {
    /// Runs after the request was validated and before the 101 is sent. It may choose a
    /// subprotocol, add response headers, or refuse the connection with a status.
    /// The default accepts.
    fn do_extra_handshake(
        &self,
        request: &mut HandshakeRequest,
    ) -> impl Future<Output = Result<(), Rejection>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// Owns the connection after the 101. When it returns, the server closes the
    /// connection with 1000 unless it is already closed, and waits for the peer's close.
    fn transfer_data(&self, ws: &mut WebSocket) -> impl Future<Output = ()> + Send;

    /// Chooses the close that answers a close started by the peer (`peer`: its code,
    /// 1005 for an empty body, and reason). `None` answers with an empty body. The
    /// default answers 1000 with no reason, as pywebsocket does.
    fn passive_closing_handshake(&self, peer: &CloseFrame) -> Option<CloseFrame> {
        let _ = peer;
        Some(CloseFrame::new(CloseCode::NORMAL, ""))
    }
}

/// The object-safe form of [`Handler`], implemented for every `Handler`. Implement it
/// directly only to bridge another runtime (such as embedded Python) into the server.
pub trait DynHandler: Send + Sync + 'static {
    /// See [`Handler::do_extra_handshake`].
    fn do_extra_handshake<'a>(
        &'a self,
        request: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), Rejection>>;
    /// See [`Handler::transfer_data`].
    fn transfer_data<'a>(&'a self, ws: &'a mut WebSocket) -> BoxFuture<'a, ()>;
    /// See [`Handler::passive_closing_handshake`].
    fn passive_closing_handshake(&self, peer: &CloseFrame) -> Option<CloseFrame>;

    /// Runs the transfer phase of a connection that just opened on a task of its own:
    /// [`DynHandler::transfer_data`], then the end of the connection. This default boxes
    /// the handler's future; the implementation every [`Handler`] gets keeps it inside
    /// the task, so that an idle connection's task is one allocation, sized for its
    /// handler.
    fn spawn_transfer(self: Arc<Self>, mut ws: WebSocket) {
        tokio::spawn(async move {
            let outcome = CatchUnwind::new(self.transfer_data(&mut ws)).await;
            after_transfer(&mut ws, outcome);
            // Boxed: only a closing connection needs this state, not every idle one.
            Box::pin(ws.finish_after_handler()).await;
        });
    }
}

impl<H: Handler> DynHandler for H {
    fn do_extra_handshake<'a>(
        &'a self,
        request: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(Handler::do_extra_handshake(self, request))
    }

    fn transfer_data<'a>(&'a self, ws: &'a mut WebSocket) -> BoxFuture<'a, ()> {
        Box::pin(Handler::transfer_data(self, ws))
    }

    fn passive_closing_handshake(&self, peer: &CloseFrame) -> Option<CloseFrame> {
        Handler::passive_closing_handshake(self, peer)
    }

    fn spawn_transfer(self: Arc<Self>, mut ws: WebSocket) {
        tokio::spawn(async move {
            let outcome = {
                let transfer = pin!(Handler::transfer_data(&*self, &mut ws));
                CatchUnwind::new(transfer).await
            };
            after_transfer(&mut ws, outcome);
            Box::pin(ws.finish_after_handler()).await;
        });
    }
}

/// After a handler's `transfer_data`: a panic is logged and answered with 1011 (RFC 6455
/// §7.4.1, "unexpected condition"). `WebSocket::finish_after_handler` comes next.
fn after_transfer(ws: &mut WebSocket, outcome: Result<(), Box<dyn std::any::Any + Send>>) {
    if let Err(payload) = outcome {
        tracing::error!(peer = %ws.peer_addr(), resource = %ws.resource(), "handler panicked in transfer_data: {}", panic_message(&*payload));
        let _ = ws.start_close(Some(CloseFrame::new(CloseCode::INTERNAL_ERROR, "")));
    }
}

/// A refusal of the opening handshake.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// Answer with this HTTP error instead of the 101: its status, its reason (logged,
    /// and sent as the body) and any extra headers.
    Status(HandshakeError),
    /// Close the connection without sending anything (pywebsocket's
    /// `AbortedByUserException`; a handler that wrote its own bytes uses it). The reason
    /// is logged.
    Abort(String),
}

impl Rejection {
    /// Refuses with `status` (e.g. 403) and a short reason sent as the body and logged.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Rejection::Status(HandshakeError::new(status, reason.into()))
    }

    /// Closes the connection without any response.
    pub fn abort(reason: impl Into<String>) -> Self {
        Rejection::Abort(reason.into())
    }

    /// Adds a header to the error response (nothing is sent on an abort).
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        match self {
            Rejection::Status(e) => Rejection::Status(e.with_header(name, value)),
            abort => abort,
        }
    }

    /// The status sent, `None` on an abort.
    pub fn status(&self) -> Option<u16> {
        match self {
            Rejection::Status(e) => Some(e.status()),
            Rejection::Abort(_) => None,
        }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        match self {
            Rejection::Status(e) => e.reason(),
            Rejection::Abort(reason) => reason,
        }
    }
}

impl From<HandshakeError> for Rejection {
    fn from(e: HandshakeError) -> Rejection {
        Rejection::Status(e)
    }
}

/// The opening handshake as [`Handler::do_extra_handshake`] sees it: the validated
/// request, and the parts of the response the handler may set.
#[derive(Debug)]
pub struct HandshakeRequest {
    upgrade: UpgradeRequest,
    peer_addr: SocketAddr,
    pub(crate) protocol: Option<String>,
    pub(crate) response_headers: Vec<(String, String)>,
    /// What only compatibility layers ask for; boxed, as hardly any handshake has it.
    pub(crate) unusual: Option<Box<Unusual>>,
    pub(crate) compression: CompressionChoice,
    pub(crate) state: Option<HandlerState>,
    pub(crate) raw_output: Vec<u8>,
    /// The connection, lent to the handler for [`HandshakeRequest::read_raw`] while the
    /// hook runs; `accept` takes it back afterwards.
    pub(crate) io: Option<Transport>,
    /// Bytes that arrived behind the request head, not yet read by the handler.
    pub(crate) leftover: Vec<u8>,
    /// Set on TLS connections only; boxed, since most connections are plain.
    tls: Option<Box<TlsPeer>>,
}

/// What a HyBi 00 handshake adds to a request.
#[derive(Debug)]
pub(crate) struct Hybi00Handshake {
    /// `Sec-WebSocket-Location` of the 101.
    pub(crate) location: String,
    /// The challenge (the two key numbers and the 8 bytes after the head) and its answer.
    pub(crate) challenge: [u8; 16],
    pub(crate) response: [u8; 16],
}

/// What the TLS session told about the client.
#[derive(Debug)]
struct TlsPeer {
    certificates: Option<Vec<CertificateDer<'static>>>,
    server_name: Option<String>,
}

impl TlsPeer {
    /// What the TLS session (if any) knows about the client.
    fn of(io: &Transport) -> Option<Box<TlsPeer>> {
        io.tls_state().map(|state| {
            Box::new(TlsPeer {
                certificates: state.peer_certificates().map(<[_]>::to_vec),
                server_name: io.tls_server_name().map(str::to_owned),
            })
        })
    }
}

/// What only compatibility asks for: response choices of pywebsocket's handlers, which
/// native handlers never make, and a HyBi 00 handshake's challenge.
#[derive(Debug, Default)]
pub(crate) struct Unusual {
    /// See [`HandshakeRequest::add_verbatim_response_header`].
    pub(crate) verbatim_headers: Vec<(String, String)>,
    /// Offers to negotiate instead of the client's (see
    /// [`HandshakeRequest::negotiate_as_if_offered`]).
    pub(crate) offers: Option<Vec<ExtensionOffer>>,
    /// Set for a HyBi 00 handshake only.
    pub(crate) hybi00: Option<Hybi00Handshake>,
}

/// What the handler asked of compression negotiation.
#[derive(Debug, Default, Clone)]
pub(crate) struct CompressionChoice {
    pub(crate) declined: bool,
    pub(crate) permessage: ResponseOverrides,
    pub(crate) per_frame: FrameResponseOverrides,
}

impl HandshakeRequest {
    pub(crate) fn new(
        upgrade: UpgradeRequest,
        peer_addr: SocketAddr,
        io: Transport,
        leftover: Vec<u8>,
    ) -> Self {
        let tls = TlsPeer::of(&io);
        HandshakeRequest {
            upgrade,
            peer_addr,
            protocol: None,
            response_headers: Vec::new(),
            unusual: None,
            compression: CompressionChoice::default(),
            state: None,
            raw_output: Vec::new(),
            io: Some(io),
            leftover,
            tls,
        }
    }

    /// The protocol version the client speaks: 13 (RFC 6455), or 0 for HyBi 00 (only
    /// with [`crate::Config::allow_hybi00`]).
    pub fn version(&self) -> u8 {
        self.upgrade.version
    }

    /// HyBi 00 only: `Sec-WebSocket-Location`, the URL the 101 confirms.
    pub fn hybi00_location(&self) -> Option<&str> {
        self.hybi00().map(|h| h.location.as_str())
    }

    /// HyBi 00 only: the 16 bytes of the challenge (the two key numbers, big-endian, and
    /// the 8 bytes after the head) and the MD5 answer the 101 carries.
    pub fn hybi00_challenge(&self) -> Option<(&[u8; 16], &[u8; 16])> {
        self.hybi00().map(|h| (&h.challenge, &h.response))
    }

    fn hybi00(&self) -> Option<&Hybi00Handshake> {
        self.unusual.as_deref().and_then(|u| u.hybi00.as_ref())
    }

    /// Whether the connection runs over TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The certificate chain the client presented (DER, its own certificate first), when
    /// the server asked for one and the client sent it; verified against the client CAs.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.tls.as_ref().and_then(|t| t.certificates.as_deref())
    }

    /// The server name the client asked for in its TLS handshake (SNI), if any.
    pub fn tls_server_name(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|t| t.server_name.as_deref())
    }

    /// The request target: path and query, as sent.
    pub fn resource(&self) -> &str {
        &self.upgrade.request.target
    }

    /// The path part of the request target.
    pub fn path(&self) -> &str {
        wshd_proto::handshake::Target::parse(self.resource()).path
    }

    /// All request headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.upgrade.request.headers
    }

    /// The first value of a request header, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.upgrade.request.headers.get_str(name)
    }

    /// The `Origin` header, if sent.
    pub fn origin(&self) -> Option<&str> {
        self.upgrade.origin.as_deref()
    }

    /// The subprotocols the client offered, in its order (empty if none).
    pub fn requested_protocols(&self) -> &[String] {
        self.upgrade.protocols.as_deref().unwrap_or(&[])
    }

    /// The extensions the client offered, in its order (empty if none).
    pub fn extension_offers(&self) -> &[ExtensionOffer] {
        self.upgrade.extensions.as_deref().unwrap_or(&[])
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Chooses the subprotocol of the 101. It must be one the client offered
    /// (RFC 6455 §4.2.2), otherwise this refuses with 500, since it is a handler bug.
    pub fn select_protocol(&mut self, protocol: &str) -> Result<(), Rejection> {
        if !self.requested_protocols().iter().any(|p| p == protocol) {
            return Err(Rejection::new(
                500,
                format!("handler chose subprotocol {protocol:?}, which the client did not offer"),
            ));
        }
        self.protocol = Some(protocol.to_owned());
        Ok(())
    }

    /// Chooses the subprotocol of the 101 without checking it against the client's offer,
    /// as pywebsocket does (its handlers may answer any token; in HyBi 00, any printable
    /// ASCII). Prefer [`HandshakeRequest::select_protocol`]; this exists for
    /// compatibility layers.
    pub fn force_protocol(&mut self, protocol: &str) -> Result<(), Rejection> {
        let valid = if self.version() == 0 {
            !protocol.is_empty() && protocol.bytes().all(|b| (0x20..=0x7e).contains(&b))
        } else {
            is_token(protocol)
        };
        if !valid {
            return Err(Rejection::new(400, format!("invalid subprotocol {protocol:?}")));
        }
        self.protocol = Some(protocol.to_owned());
        Ok(())
    }

    /// Sends no subprotocol. In HyBi 00 the client's is chosen unless the handler calls
    /// this (pywebsocket presets `ws_protocol` there).
    pub fn clear_protocol(&mut self) {
        self.protocol = None;
    }

    /// The subprotocol chosen so far.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Adds a header to the 101 response, after the WebSocket headers. Names must be
    /// tokens and values must not contain CR, LF or NUL (no response splitting).
    pub fn add_response_header(&mut self, name: &str, value: &str) -> Result<(), Rejection> {
        if !is_token(name) || !is_field_value(value) {
            return Err(Rejection::new(
                500,
                format!("handler added an invalid response header {name:?}"),
            ));
        }
        self.response_headers.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Adds a line `name: value` to the 101 response exactly as given, after the headers
    /// of [`HandshakeRequest::add_response_header`], without checking either part: a value
    /// with CRLF forges further header lines. This is pywebsocket's `extra_headers`, which
    /// browser test suites use to send deliberately malformed responses; never pass a
    /// client's input here.
    /// Marks this as a HyBi 00 handshake (the server's, before the handler runs).
    pub(crate) fn set_hybi00(&mut self, hybi00: Hybi00Handshake) {
        self.unusual.get_or_insert_default().hybi00 = Some(hybi00);
    }

    /// Whether this is a HyBi 00 handshake.
    pub(crate) fn is_hybi00(&self) -> bool {
        self.hybi00().is_some()
    }

    pub(crate) fn add_verbatim_response_header(&mut self, name: &str, value: &str) {
        let unusual = self.unusual.get_or_insert_default();
        unusual.verbatim_headers.push((name.to_owned(), value.to_owned()));
    }

    /// Bytes to write to the socket before the server's own answer (the 101, or the error
    /// status of a [`Rejection`]), or instead of it when the handshake is aborted with
    /// [`Rejection::abort`]. For handlers that forge their own handshake response
    /// (pywebsocket's `request.connection.write` in the extra handshake). They are written
    /// when the extra handshake returns.
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) {
        self.raw_output.extend_from_slice(bytes);
    }

    /// Writes what [`HandshakeRequest::write_raw`] queued to the client now, instead of
    /// when the extra handshake returns: pywebsocket's `request.connection.write` reaches
    /// the client when it is called, and some handlers never return.
    pub(crate) async fn flush_raw(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let io = self.io.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotConnected, "the connection is gone")
        })?;
        if !self.raw_output.is_empty() {
            io.write_all(&self.raw_output).await?;
            io.flush().await?;
            self.raw_output.clear();
        }
        Ok(())
    }

    /// Reads raw bytes from the client: `len` bytes, or fewer if the client closes its
    /// side first (pywebsocket's `request.connection.read`). What
    /// [`HandshakeRequest::write_raw`] queued is written out first, so a handler can write
    /// its own response and read the client's answer. Bytes read here are gone: the
    /// WebSocket starts after them. Waits as long as the client does not send (the
    /// handler chose to block); use a timeout around it to bound that.
    pub(crate) async fn read_raw(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        self.flush_raw().await?;
        let from_leftover = len.min(self.leftover.len());
        let mut buf: Vec<u8> = self.leftover.drain(..from_leftover).collect();
        let rest = (len - from_leftover) as u64;
        if rest > 0 {
            let io = self.io.as_mut().expect("flush_raw checked it");
            io.take(rest).read_to_end(&mut buf).await?;
        }
        Ok(buf)
    }

    /// Our address on this connection, when the socket reports it (asked of the socket
    /// on each call: most handlers never want it).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.io.as_ref().and_then(|io| io.local_addr().ok())
    }

    /// Keeps a value for the transfer phase: [`WebSocket::take_handler_state`] returns it.
    /// (pywebsocket handlers keep one `request` object across both hooks.)
    pub(crate) fn set_state(&mut self, state: HandlerState) {
        self.state = Some(state);
    }

    /// Refuses every compression extension the client offered (pywebsocket handlers do
    /// this by emptying `ws_extension_processors`).
    pub fn decline_compression(&mut self) {
        self.compression.declined = true;
    }

    /// Makes the 101 ask the client to compress with at most `bits` (8 to 15) of window
    /// (RFC 7692 §7.1.2.2). Only possible if the client offered `client_max_window_bits`;
    /// otherwise its offer is declined.
    pub fn force_client_max_window_bits(&mut self, bits: u8) {
        self.compression.permessage.client_max_window_bits = Some(bits);
    }

    /// Negotiates compression as if the client had offered `offers` instead of what it
    /// sent: the response then accepts parameters the client never asked for. This is
    /// pywebsocket's `processor._request.add_parameter`, which browser test suites use to
    /// send an unsolicited negotiation response that the browser must refuse.
    pub(crate) fn negotiate_as_if_offered(&mut self, offers: Vec<ExtensionOffer>) {
        self.unusual.get_or_insert_default().offers = Some(offers);
    }

    /// Makes the 101 ask the client not to use context takeover (RFC 7692 §7.1.1.2).
    pub fn force_client_no_context_takeover(&mut self) {
        self.compression.permessage.client_no_context_takeover = true;
    }
}
