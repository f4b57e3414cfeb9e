//! One accepted TCP connection: read the request head, route it, run the opening
//! handshake and the handler, close.
//!
//! Every refusal is an HTTP status with a log line: 400 for a malformed or non-WebSocket
//! request to a handled path, 404 for a path without a handler, 431 for an oversized
//! head, the handler's own status for a [`crate::Rejection`]. A client that does not
//! finish its head within the handshake timeout is disconnected.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wshd_proto::Connection;
use wshd_proto::deflate::negotiate_compression;
use wshd_proto::handshake::{
    self, Accept, HandshakeError, Request, accept_response, error_response, format_extensions,
    is_upgrade_request, validate_upgrade,
};

use crate::handler::{DynHandler, HandshakeRequest, Rejection};
use crate::listener::Shared;
use crate::target::{self, Target};
use crate::transport::{Transport, linger_close};
use crate::unwind::{CatchUnwind, panic_message};
use crate::websocket::{Info, Timing, WebSocket};

/// Serves one connection from accept to close. Never panics on peer input.
///
/// The handshake and the closing phase are boxed: a task's size is fixed when it is
/// spawned and is the largest of its states, so keeping them out of this future is what
/// lets an idle connection cost only the open-phase state.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let Some((mut ws, handler)) = Box::pin(open(stream, peer, shared)).await else { return };
    if let Err(payload) = CatchUnwind::new(handler.transfer_data(&mut ws)).await {
        // A broken handler: the peer gets 1011 (RFC 6455 §7.4.1, "unexpected condition").
        tracing::error!(%peer, resource = %ws.resource(), "handler panicked in transfer_data: {}", panic_message(&*payload));
        let _ = ws.start_close(Some(1011), "");
    }
    Box::pin(ws.finish_after_handler()).await;
}

/// Reads, routes and answers the opening handshake; returns the open socket and its
/// handler, or `None` when the connection was refused or lost.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Option<(WebSocket, Arc<dyn DynHandler>)> {
    let _ = stream.set_nodelay(true);
    let mut io = Transport::Tcp(stream);
    let cfg = &shared.config;
    let head = tokio::time::timeout(cfg.handshake_timeout, read_head(&mut io, &shared)).await;
    let (request, leftover) = match head {
        Err(_) => {
            tracing::info!(%peer, "handshake timeout: no complete request head within {:?}", cfg.handshake_timeout);
            return None;
        }
        Ok(Err(HeadError::Io(e))) => {
            tracing::debug!(%peer, "connection ended before a request head: {e}");
            return None;
        }
        Ok(Err(HeadError::Http(e))) => return refuse(&mut io, peer, "-", &e, &shared).await,
        Ok(Ok(parsed)) => parsed,
    };
    let mut request = request;
    match target::resolve(&request.target, cfg.validation_host.as_deref(), cfg.validation_port) {
        Target::Path(path) => request.target = path,
        Target::Mismatch(why) => {
            let e = HandshakeError::new(404, format!("absolute request URI not served: {why}"));
            return refuse(&mut io, peer, &request.target.clone(), &e, &shared).await;
        }
    }
    let target = request.target.clone();
    let Some(handler) = shared.router.find(&target).cloned() else {
        let e = HandshakeError::new(404, "no handler for this resource");
        return refuse(&mut io, peer, &target, &e, &shared).await;
    };
    if target.contains('#') {
        // pywebsocket answers a fragment on a handled resource with 400.
        let e =
            HandshakeError::bad_request("request target of a WebSocket resource has a fragment");
        return refuse(&mut io, peer, &target, &e, &shared).await;
    }
    if !is_upgrade_request(&request) {
        let e = HandshakeError::bad_request("this resource only serves WebSocket handshakes");
        return refuse(&mut io, peer, &target, &e, &shared).await;
    }
    let upgrade = match validate_upgrade(request) {
        Ok(u) => u,
        Err(e) => return refuse(&mut io, peer, &target, &e, &shared).await,
    };
    let key = upgrade.key.clone();
    let mut hreq = HandshakeRequest::new(upgrade, peer);
    let decision = match CatchUnwind::new(handler.do_extra_handshake(&mut hreq)).await {
        Ok(decision) => decision,
        Err(payload) => {
            tracing::error!(%peer, resource = %target, "handler panicked in do_extra_handshake: {}", panic_message(&*payload));
            Err(Rejection::new(500, "the handler failed"))
        }
    };
    let raw = std::mem::take(&mut hreq.raw_output);
    if !raw.is_empty() && io.write_all(&raw).await.is_err() {
        return None;
    }
    if let Err(r) = decision {
        if r.is_abort() {
            tracing::info!(%peer, resource = %target, "handshake aborted by the handler: {}", r.reason());
            let _ = io.shutdown().await;
            return None;
        }
        return refuse(&mut io, peer, &target, &r.into(), &shared).await;
    }
    // RFC 7692 §5: the first acceptable compression offer wins, after the handler had
    // its say (decline, or force client parameters).
    let choice = &hreq.compression;
    let compression = (!choice.declined)
        .then(|| {
            negotiate_compression(
                hreq.extension_offers(),
                &cfg.deflate,
                &choice.permessage,
                &choice.per_frame,
            )
        })
        .flatten();
    let state = hreq.state.take();
    let accept = Accept {
        protocol: hreq.protocol.take(),
        extensions: compression
            .as_ref()
            .map(|(_, response)| format_extensions(std::slice::from_ref(response))),
        headers: std::mem::take(&mut hreq.response_headers),
    };
    drop(hreq);
    let response = match accept_response(&key, &accept) {
        Ok(r) => r,
        Err(e) => {
            // Only a handler can put an invalid header here: a server-side fault.
            let e = HandshakeError::new(
                500,
                format!("handler produced an invalid response header: {e}"),
            );
            return refuse(&mut io, peer, &target, &e, &shared).await;
        }
    };
    if io.write_all(&response).await.is_err() {
        return None;
    }
    drop(response);
    tracing::debug!(%peer, resource = %target, "WebSocket opened");

    let mut conn = Connection::server(cfg.limits);
    if let Some((c, _)) = &compression {
        conn.set_compression(c, &cfg.deflate);
    }
    conn.set_close_timeout(Some(cfg.close_timeout));
    if let Some(interval) = cfg.ping_interval {
        conn.set_keepalive(interval, cfg.ping_timeout, std::time::Instant::now());
    }
    // A first frame sent right behind the request head belongs to the connection.
    conn.receive_data(&leftover);
    drop(leftover);
    let info = Info::new(target, accept.protocol, accept.extensions, state, peer);
    let timing = Timing { linger: cfg.linger_timeout, write_high_water: cfg.write_high_water };
    let mut ws = WebSocket::new(io, conn, info, timing, Some(handler.clone()));
    ws.set_shutdown(shared.shutdown.register());
    Some((ws, handler))
}
enum HeadError {
    Io(std::io::Error),
    Http(HandshakeError),
}

/// Reads until a whole request head has arrived; returns it and the bytes after it.
async fn read_head(io: &mut Transport, shared: &Shared) -> Result<(Request, Vec<u8>), HeadError> {
    let limits = &shared.config.handshake_limits;
    let mut buf = Vec::with_capacity(1024);
    let mut scanned = 0;
    loop {
        // The parser refuses heads over the limit, so the buffer stays bounded.
        if buf.len() == buf.capacity() {
            buf.reserve(4096);
        }
        let n = io.read_buf(&mut buf).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        match handshake::parse_request_from(&buf, scanned, limits).map_err(HeadError::Http)? {
            Some((request, used)) => return Ok((request, buf.split_off(used))),
            None => scanned = buf.len(),
        }
    }
}

/// Answers with an error status, logs it, and closes. Returns `None`, the result of an
/// opening handshake that did not open anything.
async fn refuse<T>(
    io: &mut Transport,
    peer: SocketAddr,
    target: &str,
    e: &HandshakeError,
    shared: &Shared,
) -> Option<T> {
    tracing::info!(%peer, resource = %target, status = e.status(), "handshake refused: {}", e.reason());
    let response = error_response(e.status(), e.reason(), e.headers());
    if io.write_all(&response).await.is_ok() {
        linger_close(io, shared.config.linger_timeout).await;
    }
    None
}
