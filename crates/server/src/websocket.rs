//! [`WebSocket`]: one open connection, driven by tokio around the sans-I/O core.
//!
//! Reads go through a per-thread scratch buffer straight into the core, which keeps only
//! what it must (a split header, a message in progress), so a connection waiting for its
//! peer owns no read buffer. Writes are queued in the core and written out when a send
//! asks for it, or before the connection waits for input, so answers to several frames
//! that arrived together leave in one write.
//!
//! It does not parse frames (the core does) and does not know about routing or handlers
//! beyond the one hook it calls when the peer starts the closing handshake.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};
use wshd_proto::{
    CloseCode, CloseFrame, Connection, Ending, Event, MessageKind, ProtocolError, State,
};

use crate::blocking::{BlockingWebSocket, ByteStream, TcpByteStream, TlsByteStream};
use crate::error::Error;
use crate::handler::DynHandler;
use crate::shutdown::{Registration, Shutdown};
use crate::transport::{Transport, linger_close};

pub(crate) use info::Info;
pub use message::{Frame, HandlerState, Message};

mod info;
mod message;
mod stream_sink;
#[cfg(test)]
mod tests;

/// Payloads from this size on are written behind their frame header without being copied
/// into the send queue (when uncompressed, on the server side).
pub const DIRECT_SEND_MIN: usize = 16 * 1024;

/// Bytes read from the socket per call; the buffer is shared by all connections of a
/// thread. Larger than a 64 KiB message and its header, so that such a message, once it
/// has arrived, takes one read instead of two.
const READ_CHUNK: usize = 256 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// In a receive call: the frame its poll function found, or else the call's return: the
/// error, or `Ok(None)` once the transport is closed at the end of the connection. A macro
/// rather than an async helper, so that only an ending connection carries the (boxed)
/// future of `WebSocket::end`, not every waiting receive.
macro_rules! found {
    ($ws:expr, $next:expr) => {
        'found: {
            // Out of the `match` before the await: a scrutinee kept across it would
            // hold a whole `Next` in every waiting future.
            let ending = match $next {
                Next::Frame(frame) => break 'found frame,
                Next::Failed(e) => return Err(e),
                Next::End(result) => result,
            };
            Box::pin($ws.end(ending)).await?;
            return Ok(None);
        }
    };
}

/// What a receive poll function found: a frame (or, for `recv`, a message) or the end.
enum Next<T = Frame> {
    Frame(T),
    /// The connection is over: close the transport, then report this.
    End(Result<(), Error>),
    /// A failed read or write, or a call after the end.
    Failed(Error),
}

/// Timeouts the driver applies around the core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) linger: Duration,
    pub(crate) write_high_water: usize,
}

impl Timing {
    pub(crate) fn of(config: &crate::Config) -> Timing {
        Timing { linger: config.linger_timeout, write_high_water: config.write_high_water }
    }
}

/// An open WebSocket connection, server or client side.
pub struct WebSocket {
    io: Transport,
    conn: Connection,
    info: Info,
    /// Shared by every connection of a server (a pointer here rather than the values).
    timing: Arc<Timing>,
    /// The handler whose passive closing hook answers the peer's close (server side).
    handler: Option<Arc<dyn DynHandler>>,
    /// Set once a terminal result (`Ok(None)` or an error) has been returned.
    finished: bool,
    /// The timer for the core's next deadline, allocated only while one is armed.
    timer: Option<Pin<Box<Sleep>>>,
    /// The server's shutdown this connection answers with 1001 (server side only).
    shutdown: Option<Registration>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("info", &self.info).field("conn", &self.conn).finish()
    }
}

impl WebSocket {
    pub(crate) fn new(
        io: Transport,
        conn: Connection,
        info: Info,
        timing: Arc<Timing>,
        handler: Option<Arc<dyn DynHandler>>,
    ) -> Self {
        WebSocket { io, conn, info, timing, handler, finished: false, timer: None, shutdown: None }
    }

    /// Makes the connection close with 1001 when its server shuts down.
    pub(crate) fn set_shutdown(&mut self, registration: Registration) {
        self.shutdown = Some(registration);
    }

    /// The shutdown handle of the server this connection belongs to (`None` on the client
    /// side). Its [`Shutdown::triggered`] lets code that does not always poll the socket
    /// (a bridge to another runtime) notice a shutdown; the socket itself starts closing
    /// with 1001 the next time it waits for input or sends.
    pub(crate) fn shutdown_handle(&self) -> Option<Shutdown> {
        self.shutdown.as_ref().map(Registration::handle)
    }

    /// Starts the closing handshake with 1001 (going away) if the server is shutting down
    /// and nobody has closed yet; returns whether it did.
    fn go_away_if_shutting_down(&mut self, triggered: bool) -> bool {
        if !triggered || !self.conn.go_away(Instant::now().into_std()) {
            return false;
        }
        tracing::debug!(peer = %self.info.peer_addr(), resource = %self.info.resource, "server shutting down: closing with 1001");
        true
    }

    /// The request target the connection was opened with (path and query).
    pub fn resource(&self) -> &str {
        &self.info.resource
    }

    /// The negotiated subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.info.agreed.as_ref().and_then(|a| a.protocol.as_deref())
    }

    /// The `Sec-WebSocket-Extensions` value of the 101 response, if any.
    pub fn extensions(&self) -> Option<&str> {
        self.info.agreed.as_ref().and_then(|a| a.extensions.as_deref())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.info.peer_addr()
    }

    /// Whether the connection runs over TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        self.io.is_tls()
    }

    /// The certificate chain the peer presented in the TLS handshake (DER, its own
    /// certificate first): on the server, the client certificate when one was asked for
    /// and sent (verified against the client CAs). Read from the TLS session: nothing is
    /// stored per connection for it.
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.io.tls_state().and_then(|s| s.peer_certificates())
    }

    /// The server name the client asked for (SNI), on the server side of a TLS session.
    pub fn tls_server_name(&self) -> Option<&str> {
        self.io.tls_server_name()
    }

    /// The closing-handshake state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The peer's close frame once received (an empty body reads as 1005, no status).
    pub fn peer_close(&self) -> Option<CloseFrame> {
        self.conn.peer_close().map(|body| CloseFrame::received(body.as_ref()))
    }

    /// Hands the connection over to blocking I/O: the socket (in blocking mode), its TLS
    /// session and the protocol state leave this `WebSocket` for a
    /// [`BlockingWebSocket`], which is driven from the caller's own threads. This
    /// `WebSocket` is finished afterwards (every call returns [`Error::Closed`] and the
    /// server neither closes nor lingers). For embedders whose handlers block a thread of
    /// their own anyway (Python handlers): they then read and write with system calls
    /// instead of a hop through the runtime. Fails, and changes nothing, on a transport
    /// that cannot be detached (the client side of TLS).
    pub(crate) fn detach(&mut self) -> Result<BlockingWebSocket, Error> {
        let blocking = |s: tokio::net::TcpStream| {
            s.into_std().and_then(|s| s.set_nonblocking(false).map(|()| s))
        };
        let io: Box<dyn ByteStream> = match std::mem::replace(&mut self.io, Transport::Gone) {
            Transport::Tcp(s) => Box::new(TcpByteStream::new(blocking(s)?)),
            Transport::Tls(s) => match *s {
                tokio_rustls::TlsStream::Server(s) => {
                    let (tcp, session) = s.into_inner();
                    Box::new(TlsByteStream::new(blocking(tcp)?, session)?)
                }
                client => {
                    self.io = Transport::Tls(Box::new(client));
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        "the client side of a TLS connection cannot be detached",
                    )));
                }
            },
            Transport::Gone => return Err(Error::Closed),
        };
        let limits = *self.conn.limits();
        let conn = std::mem::replace(&mut self.conn, Connection::server(limits));
        self.finished = true;
        self.timer = None;
        Ok(BlockingWebSocket::new(io, conn, self.timing.linger, self.info.peer_addr()))
    }

    /// Turns automatic pongs off (they are on by default); pings are then only reported
    /// by [`WebSocket::recv_frame`] and answering them is up to the caller.
    pub fn set_auto_pong(&mut self, on: bool) {
        self.conn.set_auto_pong(on);
    }

    /// Takes the state the handler stored with [`crate::HandshakeRequest::set_state`].
    pub(crate) fn take_handler_state(&mut self) -> Option<HandlerState> {
        self.info.agreed.as_mut().and_then(|a| a.state.take())
    }

    /// Closes the transport at once, without a close frame (pywebsocket's
    /// `AbortedByUserException`). Queued bytes are still written first.
    pub async fn abort(&mut self) {
        self.finished = true;
        let _ = self.flush().await;
        let _ = self.io.shutdown().await;
    }

    /// Turns compression of outgoing messages off or on, when an extension was negotiated
    /// (it starts on). Takes effect at the next message.
    pub fn set_compression(&mut self, on: bool) {
        self.conn.set_outgoing_compression(on);
    }

    /// Sends a ping when nothing arrived for `interval`; fails the connection with 1011
    /// when nothing arrives within `timeout` of the ping.
    pub fn set_keepalive(&mut self, interval: Duration, timeout: Duration) {
        self.conn.set_keepalive(interval, timeout, Instant::now().into_std());
    }

    // ---- receiving -------------------------------------------------------------------

    /// Receives the next whole message.
    ///
    /// Pings are answered and pongs skipped on the way. Returns `Ok(None)` when the peer
    /// closed the connection: its close frame has then been answered (through the
    /// handler's passive closing hook on the server side) and the transport closed.
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        // The receive calls wait in poll functions over `self`, so an idle connection's
        // future holds little more than a reference; only the end of the connection is a
        // future of its own, boxed (see `found!`).
        Ok(Some(found!(self, poll_fn(|cx| self.poll_recv(cx)).await)))
    }

    /// Receives the next whole message (as a [`Frame::Data`] with `fin` set) or the next
    /// control frame, whichever comes first: [`WebSocket::recv`] for callers that also
    /// want pings and pongs. The core reassembles fragments into one buffer, so a
    /// fragmented message is copied once.
    pub async fn recv_message_or_control(&mut self) -> Result<Option<Frame>, Error> {
        Ok(Some(found!(self, poll_fn(|cx| self.poll_message_or_control(cx)).await)))
    }

    /// Receives the next piece of what the peer sent: a data fragment, a ping or a pong.
    ///
    /// Returns `Ok(None)` when the peer closed the connection, as [`WebSocket::recv`] does.
    /// A message partly assembled by an earlier `recv` is returned first, as one piece.
    pub async fn recv_frame(&mut self) -> Result<Option<Frame>, Error> {
        self.conn.set_whole_messages(false);
        Ok(Some(found!(self, poll_fn(|cx| self.poll_next_frame(cx)).await)))
    }

    /// The next frame of any kind, for [`WebSocket::wait_closed`].
    async fn recv_any(&mut self) -> Result<Option<Frame>, Error> {
        Ok(Some(found!(self, poll_fn(|cx| self.poll_next_frame(cx)).await)))
    }

    /// [`WebSocket::recv`]: the next whole data message, control frames skipped.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Next<Message>> {
        loop {
            let (kind, data) = match ready!(self.poll_message_or_control(cx)) {
                Next::Frame(Frame::Data { kind, data, .. }) => (kind, data),
                Next::Frame(Frame::Ping(_) | Frame::Pong(_)) => continue,
                Next::End(result) => return Poll::Ready(Next::End(result)),
                Next::Failed(e) => return Poll::Ready(Next::Failed(e)),
            };
            return Poll::Ready(match kind {
                MessageKind::Binary => Next::Frame(Message::Binary(data)),
                // The core validated the whole message as UTF-8; this cannot fail.
                MessageKind::Text => match String::from_utf8(data) {
                    Ok(text) => Next::Frame(Message::Text(text)),
                    Err(_) => Next::Failed(Error::Protocol(ProtocolError::InvalidUtf8)),
                },
            });
        }
    }

    /// [`WebSocket::recv_message_or_control`]: the core joins fragments into one message,
    /// including those queued before whole messages were asked for.
    fn poll_message_or_control(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        self.conn.set_whole_messages(true);
        self.poll_next_frame(cx)
    }

    fn poll_next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        if self.finished {
            return Poll::Ready(Next::Failed(Error::Closed));
        }
        loop {
            match self.conn.next_event() {
                Some(Ok(Event::Data { kind, data, fin })) => {
                    return Poll::Ready(Next::Frame(Frame::Data { kind, data, fin }));
                }
                Some(Ok(Event::Ping(p))) => return Poll::Ready(Next::Frame(Frame::Ping(p))),
                Some(Ok(Event::Pong(p))) => return Poll::Ready(Next::Frame(Frame::Pong(p))),
                Some(Ok(Event::Close(code))) => {
                    if self.conn.state() == State::CloseReceived {
                        let answer = self.passive_close_reply(&CloseFrame::received(code.as_ref()));
                        let (code, reason) = CloseFrame::wire(answer.as_ref());
                        let now = Instant::now().into_std();
                        if let Ok(Some(refused)) = self.conn.answer_close(code, reason, now) {
                            crate::closing::log_refused_answer(self.info.peer_addr(), &refused);
                        }
                    }
                    return Poll::Ready(Next::End(Ok(())));
                }
                Some(Err(e)) => {
                    tracing::info!(peer = %self.info.peer_addr(), resource = %self.info.resource, code = self.conn.close_code_for(&e).0, "failing connection: {e}");
                    return Poll::Ready(Next::End(Err(Error::Protocol(e))));
                }
                None => {}
            }
            if self.conn.state() == State::Closed {
                return Poll::Ready(Next::End(Error::from_ending(self.conn.ending())));
            }
            if let Err(e) = ready!(self.poll_flush_queue(cx)) {
                return Poll::Ready(Next::Failed(e));
            }
            self.conn.release_idle_buffers();
            if let Err(e) = ready!(self.poll_read_or_timeout(cx)) {
                return Poll::Ready(Next::Failed(Error::Io(e)));
            }
        }
    }

    /// The reply to the peer's close: the handler's choice on the server, an echo of the
    /// peer's code on the client (RFC 6455 §5.5.1: "typically echos the status code").
    fn passive_close_reply(&self, peer: &CloseFrame) -> Option<CloseFrame> {
        match &self.handler {
            Some(h) => h.passive_closing_handshake(peer),
            None if peer.code == CloseCode::NO_STATUS => None,
            None => Some(CloseFrame::new(peer.code, "")),
        }
    }

    /// Waits for input or for the core's next deadline, whichever comes first.
    fn poll_read_or_timeout(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let triggered = self.shutdown.as_ref().is_some_and(Registration::is_triggered);
        if self.go_away_if_shutting_down(triggered) {
            return Poll::Ready(Ok(()));
        }
        if let Poll::Ready(r) = self.poll_fill(cx) {
            return Poll::Ready(r);
        }
        // About to sleep: make sure a shutdown wakes us.
        let triggered = self.shutdown.as_ref().is_some_and(|r| r.register_waker(cx.waker()));
        if self.go_away_if_shutting_down(triggered) {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_timer(cx));
        Poll::Ready(Ok(()))
    }

    /// Waits for the core's next deadline, then advances its timers; pending forever when
    /// it has none.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.conn.poll_timeout() else {
            self.timer = None;
            return Poll::Pending;
        };
        let deadline = Instant::from_std(deadline);
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        ready!(timer.as_mut().poll(cx));
        self.conn.handle_timeout(Instant::now().into_std());
        Poll::Ready(())
    }

    /// One write to the transport through `write`. While the transport takes nothing, the
    /// core's clock runs: past the send timeout the connection fails with
    /// `ProtocolError::SendTimeout` (see `Connection::set_send_timeout`).
    fn poll_write_timed(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(
            Pin<&mut Transport>,
            &Connection,
            &mut Context<'_>,
        ) -> Poll<std::io::Result<usize>>,
    ) -> Poll<Result<usize, Error>> {
        loop {
            if let Poll::Ready(r) = write(Pin::new(&mut self.io), &self.conn, cx) {
                return Poll::Ready(r.map_err(Error::Io));
            }
            self.conn.send_blocked(Instant::now().into_std());
            if let Some(e) = self.send_timed_out() {
                return Poll::Ready(Err(e));
            }
            ready!(self.poll_timer(cx));
            if let Some(e) = self.send_timed_out() {
                return Poll::Ready(Err(e));
            }
        }
    }

    /// The send timeout's error, once it has failed the connection (logged here: the
    /// write that found it is the only one).
    fn send_timed_out(&self) -> Option<Error> {
        match self.conn.ending() {
            Some(Ending::Failed(e @ ProtocolError::SendTimeout(_))) => {
                tracing::warn!(peer = %self.info.peer_addr(), resource = %self.info.resource, "dropping the connection: {e}");
                Some(Error::Protocol(e.clone()))
            }
            _ => None,
        }
    }

    /// Reads once into the thread's scratch buffer and hands the bytes to the core.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        SCRATCH.with_borrow_mut(|buf| {
            let mut rb = ReadBuf::new(buf);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
            match rb.filled() {
                [] => self.conn.receive_eof(),
                bytes => self.conn.receive_data(bytes),
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Marks the socket finished, logs an ending without a closing handshake, and says
    /// whether the transport may close at once: after a clean closing handshake on TCP
    /// (on TLS the peer may still send `close_notify`, so it lingers).
    fn begin_end(&mut self) -> bool {
        self.finished = true;
        self.timer = None;
        crate::closing::log_ending(self.info.peer_addr(), self.conn.ending());
        !self.conn.needs_linger() && matches!(self.io, Transport::Tcp(_))
    }

    /// Flushes what is queued, closes the transport, and marks the socket finished.
    async fn end(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        let clean = self.begin_end();
        if clean {
            // Our close frame, if still unsent, leaves in one segment with the FIN.
            let n = self.io.send_before_close(self.conn.data_to_send());
            self.conn.advance_sent(n);
        }
        let _ = self.flush().await;
        if clean {
            // Both close frames were exchanged, so the peer has nothing more to send and
            // closing now cannot turn into a reset that loses our close frame. The server
            // closes the TCP connection first (RFC 6455 §7.1.1), without the shutdown and
            // drain a lingering close costs.
            self.io = Transport::Gone;
        } else {
            // Boxed: the lingering close would otherwise enlarge every recv future.
            Box::pin(linger_close(&mut self.io, self.timing.linger)).await;
        }
        result
    }

    /// Closes the transport at the end of the connection without waiting, for callers
    /// that cannot hold a future across polls (the `Stream` half): at once after a clean
    /// closing handshake on TCP, otherwise by a lingering close on a task of its own.
    /// What is queued must have been written out.
    fn end_without_waiting(&mut self) {
        let clean = self.begin_end();
        let mut io = std::mem::replace(&mut self.io, Transport::Gone);
        if !clean {
            let linger = self.timing.linger;
            tokio::spawn(async move { linger_close(&mut io, linger).await });
        }
    }

    // ---- sending ---------------------------------------------------------------------

    /// Sends a whole message and writes it out.
    ///
    /// A payload of [`DIRECT_SEND_MIN`] bytes or more that needs no compression is
    /// written straight from `message` behind its frame header, without a copy. Dropping
    /// such a send part-way leaves a partial frame on the wire: the connection then
    /// refuses every later call ([`Error::Closed`]) and is dropped without a close frame.
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(t) => self.send_text(t).await,
            Message::Binary(b) => self.send_binary(b).await,
        }
    }

    /// Sends a whole text message and writes it out (see [`WebSocket::send`]).
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        if self.takes_direct(text.len())
            && Box::pin(self.send_direct(MessageKind::Text, text.as_bytes(), true)).await?
        {
            return Ok(());
        }
        self.conn.send_text(text)?;
        self.flush().await
    }

    /// Sends a whole binary message and writes it out (see [`WebSocket::send`]).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.takes_direct(data.len())
            && Box::pin(self.send_direct(MessageKind::Binary, data, true)).await?
        {
            return Ok(());
        }
        self.conn.send_binary(data)?;
        self.flush().await
    }

    /// Whether a payload of `len` bytes goes to [`WebSocket::send_direct`]. Asked before
    /// that future is made, which is boxed: every send future, and so every idle
    /// connection's handler future, would otherwise carry its state.
    fn takes_direct(&self, len: usize) -> bool {
        len >= DIRECT_SEND_MIN && !self.finished
    }

    /// Writes a large payload behind its frame header without copying it, when the core
    /// allows (see `Connection::send_data_unbuffered`); `false` when the caller must
    /// queue it as usual. Only for payloads [`WebSocket::takes_direct`] accepts.
    async fn send_direct(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<bool, Error> {
        // Queued bytes go first (and a pending shutdown's close, which ends sending).
        self.flush().await?;
        let Some(head) = self.conn.send_data_unbuffered(kind, data.len(), fin)? else {
            return Ok(false);
        };
        // Until the whole frame is out the connection counts as finished: if this future
        // is dropped part-way, nothing else may follow a partial frame.
        self.finished = true;
        let (mut head, mut body) = (head.as_bytes(), data);
        while !head.is_empty() || !body.is_empty() {
            let slices = [std::io::IoSlice::new(head), std::io::IoSlice::new(body)];
            let n = poll_fn(|cx| {
                self.poll_write_timed(cx, |io, _, cx| io.poll_write_vectored(cx, &slices))
            })
            .await?;
            if n == 0 {
                return Err(Error::Io(std::io::ErrorKind::WriteZero.into()));
            }
            self.conn.send_progressed();
            let from_head = n.min(head.len());
            head = &head[from_head..];
            body = &body[n - from_head..];
        }
        self.io.flush().await?;
        self.finished = false;
        Ok(true)
    }

    /// Sends one fragment of a message (§5.4); `fin` ends the message.
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        if self.takes_direct(data.len()) && Box::pin(self.send_direct(kind, data, fin)).await? {
            return Ok(());
        }
        self.conn.send_data(kind, data, fin)?;
        self.flush().await
    }

    /// Queues a message without writing it yet.
    ///
    /// Queued bytes are written by the next send or [`WebSocket::flush`], before the
    /// connection waits for input in `recv`, or here once they exceed the write high-water
    /// mark. An echo loop that feeds its replies therefore answers a burst of messages
    /// with one write.
    pub async fn feed(&mut self, message: &Message) -> Result<(), Error> {
        // A payload this large would be written at once anyway: skip the copy. (The
        // arguments are computed inside the call, so no local outlives the await.)
        if self.takes_direct(message.as_bytes().len())
            && Box::pin(self.send_direct(message.kind(), message.as_bytes(), true)).await?
        {
            return Ok(());
        }
        self.queue(message)?;
        if self.conn.data_to_send().len() >= self.timing.write_high_water {
            // The poll function itself, not `flush()`: its future would enlarge this one.
            poll_fn(|cx| self.poll_flush_queue(cx)).await?;
        }
        Ok(())
    }

    fn queue(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(t) => self.conn.send_text(t)?,
            Message::Binary(b) => self.conn.send_binary(b)?,
        }
        Ok(())
    }

    /// Sends a ping (at most 125 bytes).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.send_ping(payload)?;
        self.flush().await
    }

    /// Sends a pong (at most 125 bytes).
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.conn.send_pong(payload)?;
        self.flush().await
    }

    /// Writes `data` to the transport as it is, after anything queued: no framing. For
    /// handlers that forge their own frames (pywebsocket's `request.connection.write`).
    pub(crate) async fn write_raw(&mut self, data: &[u8]) -> Result<(), Error> {
        self.flush().await?;
        let mut rest = data;
        while !rest.is_empty() {
            let n = poll_fn(|cx| self.poll_write_timed(cx, |io, _, cx| io.poll_write(cx, rest)))
                .await?;
            if n == 0 {
                return Err(Error::Io(std::io::ErrorKind::WriteZero.into()));
            }
            self.conn.send_progressed();
            rest = &rest[n..];
        }
        self.io.flush().await?;
        Ok(())
    }

    /// Reads up to `len` bytes straight from the transport, fewer only at end of file,
    /// bypassing the frame parser (pywebsocket's `request.connection.read`). Bytes the
    /// parser already received are not returned.
    pub(crate) async fn read_raw(&mut self, len: usize) -> Result<Vec<u8>, Error> {
        use tokio::io::AsyncReadExt;
        let max = self.conn.limits().max_message_size;
        if len > max {
            return Err(Error::Protocol(ProtocolError::MessageTooLarge { max }));
        }
        let mut buf = Vec::with_capacity(len.min(64 * 1024));
        (&mut self.io).take(len as u64).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    /// Writes out everything queued (and, once the server is shutting down, a 1001 close).
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_queue(cx)).await
    }

    fn poll_flush_queue(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let triggered = self.shutdown.as_ref().is_some_and(Registration::is_triggered);
        self.go_away_if_shutting_down(triggered);
        while !self.conn.data_to_send().is_empty() {
            let n = ready!(
                self.poll_write_timed(cx, |io, conn, cx| io.poll_write(cx, conn.data_to_send()))
            )?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(std::io::ErrorKind::WriteZero.into())));
            }
            self.conn.advance_sent(n);
        }
        // A no-op on TCP; on TLS it writes out records rustls still holds.
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Starts the closing handshake (or answers the peer's close) and waits for it to end.
    ///
    /// `None` sends an empty close body. Data messages that arrive before the peer's close
    /// frame are discarded. Waits at most the close timeout for the peer.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.start_close(frame)?;
        self.wait_closed().await
    }

    /// Sends our close frame without waiting for the peer's.
    pub fn start_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let (code, reason) = CloseFrame::wire(frame.as_ref());
        self.conn.close(code, reason, Instant::now().into_std())?;
        Ok(())
    }

    /// Runs the connection until the closing handshake ends, discarding incoming data.
    pub async fn wait_closed(&mut self) -> Result<(), Error> {
        loop {
            match self.recv_any().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(Error::Closed) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the connection after its handler returned: closes with 1000 if nobody has
    /// closed yet, and waits for the handshake to finish.
    pub(crate) async fn finish_after_handler(&mut self) {
        if self.finished {
            return;
        }
        self.conn.close_when_done(wshd_proto::CloseCode::NORMAL, Instant::now().into_std());
        let _ = self.wait_closed().await;
    }
}
