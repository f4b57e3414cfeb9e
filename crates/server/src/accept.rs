//! One accepted TCP connection: read the request head, check Basic auth, route it, run
//! the opening handshake, and hand the open WebSocket to its handler's task. A path
//! without a WebSocket handler goes to `http` (static files, CGI) when there is a
//! document root; the connection may then stay open for further requests, any of which
//! may be a WebSocket handshake. With [`crate::Config::allow_hybi00`], a HyBi 00
//! handshake is answered too, and its connection uses HyBi 00's frames.
//!
//! Every refusal is an HTTP status with a log line: 401 without the Basic credential, 400
//! for a malformed or non-WebSocket request to a handled path, 404 for a path without a
//! handler (and no document root), 431 for an oversized head, the handler's own status
//! for a [`crate::Rejection`]. A client that does not finish its head (and, on a TLS
//! server, its TLS handshake first) within the handshake timeout, or the next head within
//! the idle timeout between kept-alive requests, is disconnected.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wshd_proto::deflate::{Compression, DeflateConfig, negotiate_compression};
use wshd_proto::framing::Hybi00Framing;
use wshd_proto::handshake::{
    self, Accept, ExtensionOffer, HandshakeError, InvalidHeader, Request, UpgradeRequest,
    accept_response, error_response, format_extensions, hybi00, is_upgrade_request,
    validate_upgrade,
};
use wshd_proto::{CloseCode, Connection, Role};

use crate::handler::{DynHandler, HandshakeRequest, Hybi00Handshake, Rejection};
use crate::http;
use crate::listener::Shared;
use crate::target::{self, Target};
use crate::transport::{Transport, linger_close};
use crate::unwind::{CatchUnwind, panic_message};
use crate::websocket::{HandlerState, Info, WebSocket};

/// Serves one connection from accept to the 101, then hands it to its handler's own task
/// ([`DynHandler::spawn_transfer`]). Never panics on peer input.
///
/// The handshake's state lives in this task only, so it is gone once the connection is
/// open: an idle connection pays for the transfer task alone.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    if let Some((ws, handler)) = open(stream, peer, shared).await {
        handler.spawn_transfer(ws);
    }
}

/// Reads, routes and answers the opening handshake; returns the open socket and its
/// handler, or `None` when the connection was refused or lost.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Option<(WebSocket, Arc<dyn DynHandler>)> {
    if !cfg!(target_os = "linux") {
        let _ = stream.set_nodelay(true);
    }
    let cfg = &shared.config;
    // One deadline for the TLS handshake, the first request head and its extra handshake
    // together (a later head of a kept-alive connection starts a new one).
    let mut deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
    let mut io = match &cfg.tls {
        None => Transport::Tcp(stream),
        // Boxed: rustls's handshake state would otherwise make every plain connection's
        // handshake task larger too (3,176 bytes in a release build, against 2,304).
        Some(tls) => Transport::Tls(Box::new(
            Box::pin(crate::tls::handshake(tls, stream, peer, deadline)).await?.into(),
        )),
    };
    // Bytes read past the previous request of a kept-alive HTTP connection.
    let mut pending = Vec::new();
    let mut first = true;
    let (request, mut leftover, handler, peer) = loop {
        let wait = if first { cfg.handshake_timeout } else { shared.http.idle_timeout() };
        let until = if first { deadline } else { tokio::time::Instant::now() + wait };
        let head = tokio::time::timeout_at(until, read_head(&mut io, pending, &shared)).await;
        let (mut request, leftover) = match head {
            Err(_) if first => {
                tracing::info!(%peer, "handshake timeout: no complete request head within {wait:?}");
                return None;
            }
            Err(_) => {
                tracing::debug!(%peer, "keep-alive connection idle for {wait:?}; closing");
                let _ = io.shutdown().await;
                return None;
            }
            Ok(Err(HeadError::Io(e))) => {
                tracing::debug!(%peer, "connection ended before a request head: {e}");
                return None;
            }
            Ok(Err(HeadError::Http(e))) => {
                return refuse(&mut io, peer, "-", &e, &shared, Refuser::Server).await;
            }
            Ok(Ok(parsed)) => parsed,
        };
        if !first {
            deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
        }
        first = false;
        // Behind a trusted reverse proxy, the client it forwarded this request for (per
        // request: a proxy reuses its connections to us for different clients).
        let peer = client_of(&request, peer, cfg);
        // Basic auth comes before anything else, WebSocket or not (pywebsocket does so).
        if let Err(e) = shared.http.authorize(&request) {
            return refuse(&mut io, peer, &request.target.clone(), &e, &shared, Refuser::Server)
                .await;
        }
        match target::resolve(&request.target, cfg.validation_host.as_deref(), cfg.validation_port)
        {
            Target::Path(path) => request.target = path,
            Target::Mismatch(why) => {
                let e = HandshakeError::new(404, format!("absolute request URI not served: {why}"));
                return refuse(
                    &mut io,
                    peer,
                    &request.target.clone(),
                    &e,
                    &shared,
                    Refuser::Server,
                )
                .await;
            }
        }
        if let Some(handler) = shared.router.find(&request.target).cloned() {
            break (request, leftover, handler, peer);
        }
        if is_upgrade_request(&request) {
            tracing::warn!(%peer, resource = %request.target, "no WebSocket handler for this resource (a handler file missing, or one that failed to load?)");
        }
        if !shared.http.serves_files() {
            let e = HandshakeError::new(404, "no handler for this resource");
            return refuse(&mut io, peer, &request.target.clone(), &e, &shared, Refuser::Server)
                .await;
        }
        // Plain HTTP; a kept-alive connection may carry a WebSocket handshake next.
        let local = io.local_addr().ok();
        let served = http::serve(&mut io, peer, local, &shared.http, &request, leftover);
        match Box::pin(served).await {
            http::Next::KeepAlive(rest) => pending = rest,
            http::Next::Close => {
                linger_close(&mut io, cfg.linger_timeout).await;
                return None;
            }
        }
    };
    let target = request.target.clone();
    if wshd_proto::handshake::Target::parse(&target).has_fragment() {
        // pywebsocket answers a fragment on a handled resource with 400.
        let e =
            HandshakeError::bad_request("request target of a WebSocket resource has a fragment");
        return refuse(&mut io, peer, &target, &e, &shared, Refuser::Server).await;
    }
    if !is_upgrade_request(&request) {
        let e = HandshakeError::bad_request("this resource only serves WebSocket handshakes");
        return refuse(&mut io, peer, &target, &e, &shared, Refuser::Server).await;
    }
    let (upgrade, hybi00) = if hybi00::is_hybi00_request(&request) {
        // Boxed: its state would otherwise make every connection's handshake task larger.
        let checked = check_hybi00(&mut io, request, &mut leftover, deadline, peer, &shared);
        let (upgrade, hybi00) = Box::pin(checked).await?;
        (upgrade, Some(hybi00))
    } else {
        match validate_upgrade(request) {
            Ok(u) => (u, None),
            Err(e) => return refuse(&mut io, peer, &target, &e, &shared, Refuser::Server).await,
        }
    };
    let key = upgrade.key.clone();
    let mut hreq = HandshakeRequest::new(upgrade, peer, io, leftover);
    if let Some(hybi00) = hybi00 {
        // HyBi 00 answers with the client's subprotocol unless the handler changes it.
        hreq.protocol = hreq.requested_protocols().first().cloned();
        hreq.set_hybi00(*hybi00);
    }
    // The extra handshake counts against the handshake deadline: a hook waiting on a
    // client that never sends, or one that never returns, cannot hold the connection.
    let hook = CatchUnwind::new(handler.do_extra_handshake(&mut hreq));
    let decision = match tokio::time::timeout_at(deadline, hook).await {
        Ok(Ok(decision)) => decision,
        Ok(Err(payload)) => {
            tracing::error!(%peer, resource = %target, "handler panicked in do_extra_handshake: {}", panic_message(&*payload));
            Err(Rejection::new(500, "the handler failed"))
        }
        Err(_) => {
            tracing::warn!(%peer, resource = %target, "the handler's extra handshake did not finish within the handshake timeout ({:?}); refusing with 503", cfg.handshake_timeout);
            Err(Rejection::new(503, "the handler did not answer the handshake in time"))
        }
    };
    // The handler had the connection for `read_raw`; take it back with what it left.
    let (Some(mut io), leftover) = (hreq.io.take(), std::mem::take(&mut hreq.leftover)) else {
        return None;
    };
    let raw = std::mem::take(&mut hreq.raw_output);
    if !raw.is_empty() && io.write_all(&raw).await.is_err() {
        return None;
    }
    match decision {
        Ok(()) => {}
        Err(Rejection::Abort(reason)) => {
            tracing::info!(%peer, resource = %target, "handshake aborted by the handler: {reason}");
            let _ = io.shutdown().await;
            return None;
        }
        Err(Rejection::Status(e)) => {
            return refuse(&mut io, peer, &target, &e, &shared, Refuser::Handler).await;
        }
    }
    let hybi00 = hreq.is_hybi00();
    let Answer { response, protocol, extensions, compression, state } =
        if hybi00 { answer_hybi00(hreq) } else { answer(hreq, &key, &cfg.deflate) };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            // Only a handler can put an invalid header here: a server-side fault.
            let e = HandshakeError::new(
                500,
                format!("handler produced an invalid response header: {e}"),
            );
            return refuse(&mut io, peer, &target, &e, &shared, Refuser::Handler).await;
        }
    };
    // The flush matters on TLS, where a write may leave records buffered in rustls.
    if io.write_all(&response).await.is_err() || io.flush().await.is_err() {
        return None;
    }
    drop(response);
    tracing::debug!(%peer, resource = %target, "WebSocket opened");

    let mut conn = if hybi00 {
        let framing = Box::new(Hybi00Framing::new(cfg.limits));
        Connection::with_framing(Role::Server, cfg.limits, framing)
    } else {
        Connection::server(cfg.limits)
    };
    if let Some((c, _)) = &compression {
        conn.set_compression(c, &cfg.deflate);
    }
    conn.set_close_timeout(Some(cfg.close_timeout));
    conn.set_send_timeout(cfg.send_timeout);
    if cfg.idle_timeout.is_some() {
        conn.set_idle_timeout(cfg.idle_timeout, std::time::Instant::now());
    }
    conn.set_unsupported_frame_close_code(CloseCode(cfg.unsupported_frame_close_code));
    // HyBi 00 has no pings.
    if let Some(interval) = cfg.ping_interval.filter(|_| !hybi00) {
        conn.set_keepalive(interval, cfg.ping_timeout, std::time::Instant::now());
    }
    // A first frame sent right behind the request head belongs to the connection.
    conn.receive_data(&leftover);
    drop(leftover);
    let info = Info::new(target, protocol, extensions, state, peer);
    let mut ws = WebSocket::new(io, conn, info, shared.timing.clone(), Some(handler.clone()));
    ws.set_shutdown(shared.shutdown.register());
    Some((ws, handler))
}

/// The 101 a handler's choices make, and what the connection keeps of them.
struct Answer {
    response: Result<Vec<u8>, InvalidHeader>,
    protocol: Option<String>,
    extensions: Option<String>,
    compression: Option<(Compression, ExtensionOffer)>,
    state: Option<HandlerState>,
}

/// Negotiates compression (RFC 7692 §5: the first acceptable offer wins, after the
/// handler had its say: decline, force client parameters, or answer another offer) and
/// writes the 101. Not async, so the response headers are never held in the connection's
/// task across an await.
fn answer(mut hreq: HandshakeRequest, key: &str, deflate: &DeflateConfig) -> Answer {
    let unusual = hreq.unusual.take().map(|u| *u).unwrap_or_default();
    let choice = &hreq.compression;
    let compression = (!choice.declined)
        .then(|| {
            negotiate_compression(
                unusual.offers.as_deref().unwrap_or(hreq.extension_offers()),
                deflate,
                &choice.permessage,
                &choice.per_frame,
            )
        })
        .flatten();
    let accept = Accept {
        protocol: hreq.protocol.take(),
        extensions: compression
            .as_ref()
            .map(|(_, response)| format_extensions(std::slice::from_ref(response))),
        headers: std::mem::take(&mut hreq.response_headers),
        verbatim_headers: unusual.verbatim_headers,
    };
    Answer {
        response: accept_response(key, &accept),
        protocol: accept.protocol,
        extensions: accept.extensions,
        compression,
        state: hreq.state.take(),
    }
}

/// Checks a HyBi 00 handshake and reads the 8 challenge bytes after its head (by
/// `deadline`): the request as the handler sees it, or `None` once it was refused or the
/// bytes did not arrive.
async fn check_hybi00(
    io: &mut Transport,
    request: Request,
    leftover: &mut Vec<u8>,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<(UpgradeRequest, Box<Hybi00Handshake>)> {
    let target = request.target.clone();
    let cfg = &shared.config;
    if !cfg.allow_hybi00 {
        let e = HandshakeError::bad_request(
            "a HyBi 00 (hixie-76) handshake, which this server does not serve; \
             start it with --allow-hybi00 to serve legacy clients",
        );
        return refuse(io, peer, &target, &e, shared, Refuser::Server).await;
    }
    let request = match hybi00::validate_hybi00(request) {
        Ok(request) => request,
        Err(e) => return refuse(io, peer, &target, &e, shared, Refuser::Server).await,
    };
    let Some(key3) = read_key3(io, leftover, deadline).await else {
        tracing::info!(%peer, resource = %target, "HyBi 00 handshake: the 8 bytes after the head did not arrive in time");
        return None;
    };
    Some(hybi00_request(request, &key3, cfg.tls.is_some()))
}

/// A checked HyBi 00 request as the handler sees it (version 0, its one subprotocol as the
/// offer, no extensions), and what its 101 needs.
fn hybi00_request(
    request: hybi00::Hybi00Request,
    key3: &[u8; hybi00::KEY3_LEN],
    secure: bool,
) -> (UpgradeRequest, Box<Hybi00Handshake>) {
    let handshake = Hybi00Handshake {
        location: hybi00::location(secure, &request.host, &request.request.target),
        challenge: hybi00::challenge(request.parts, key3),
        response: hybi00::challenge_response(request.parts, key3),
    };
    let upgrade = UpgradeRequest {
        request: request.request,
        key: String::new(),
        version: 0,
        origin: request.origin,
        protocols: request.protocol.map(|p| vec![p]),
        extensions: None,
    };
    (upgrade, Box::new(handshake))
}

/// Reads until `buf` holds HyBi 00's 8 challenge bytes, by `deadline`; takes them out.
async fn read_key3(
    io: &mut Transport,
    buf: &mut Vec<u8>,
    deadline: tokio::time::Instant,
) -> Option<[u8; hybi00::KEY3_LEN]> {
    while buf.len() < hybi00::KEY3_LEN {
        match tokio::time::timeout_at(deadline, io.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
    let key3 = buf[..hybi00::KEY3_LEN].try_into().expect("8 bytes");
    buf.drain(..hybi00::KEY3_LEN);
    Some(key3)
}

/// The HyBi 00 101: the handler's subprotocol and headers, and the challenge's answer.
fn answer_hybi00(mut hreq: HandshakeRequest) -> Answer {
    let unusual = hreq.unusual.take().map(|u| *u).unwrap_or_default();
    let hybi00 = unusual.hybi00.expect("a HyBi 00 handshake");
    let mut headers = std::mem::take(&mut hreq.response_headers);
    headers.extend(unusual.verbatim_headers);
    let accept = hybi00::Hybi00Accept {
        location: hybi00.location,
        origin: hreq.origin().map(str::to_owned),
        protocol: hreq.protocol.take(),
        headers,
    };
    Answer {
        response: hybi00::accept_response(&accept, &hybi00.response),
        protocol: accept.protocol,
        extensions: None,
        compression: None,
        state: hreq.state.take(),
    }
}

/// Who refused a handshake: it decides the level of the log line.
#[derive(Clone, Copy)]
enum Refuser {
    /// The request was bad, unauthorized, or for nothing served.
    Server,
    /// A handler rejected it or produced an invalid response.
    Handler,
}

enum HeadError {
    Io(std::io::Error),
    Http(HandshakeError),
}

/// Reads until a whole request head has arrived in `buf` (which may already hold bytes
/// pipelined after a previous request); returns it and the bytes after it.
async fn read_head(
    io: &mut Transport,
    mut buf: Vec<u8>,
    shared: &Shared,
) -> Result<(Request, Vec<u8>), HeadError> {
    let limits = &shared.config.handshake_limits;
    if buf.capacity() == 0 {
        buf.reserve(1024);
    }
    let mut scanned = 0;
    let mut unparsed = !buf.is_empty();
    loop {
        if unparsed {
            // The parser refuses heads over the limit, so the buffer stays bounded.
            match handshake::parse_request_from(&buf, scanned, limits).map_err(HeadError::Http)? {
                Some((request, used)) => return Ok((request, buf.split_off(used))),
                None => scanned = buf.len(),
            }
        }
        if buf.len() == buf.capacity() {
            buf.reserve(4096);
        }
        let n = io.read_buf(&mut buf).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        unparsed = true;
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
    by: Refuser,
) -> Option<T> {
    match by {
        Refuser::Server => {
            tracing::info!(%peer, resource = %target, status = e.status(), "handshake refused: {}", e.reason());
        }
        // The operator has a handler to fix.
        Refuser::Handler => {
            tracing::warn!(%peer, resource = %target, status = e.status(), "the handler refused the handshake: {}", e.reason());
        }
    }
    let response = error_response(e.status(), e.reason(), e.headers());
    if io.write_all(&response).await.is_ok() {
        linger_close(io, shared.config.linger_timeout).await;
    }
    None
}

/// The address a request is served as from: the TCP peer, or the client a trusted
/// reverse proxy forwarded it for ([`crate::Config::trusted_proxies`]).
fn client_of(
    request: &wshd_proto::handshake::Request,
    peer: SocketAddr,
    cfg: &crate::Config,
) -> SocketAddr {
    if cfg.trusted_proxies.is_empty() {
        return peer;
    }
    let trusted = |ip| cfg.trusted_proxies.iter().any(|p| p.contains(ip));
    match wshd_proto::handshake::forwarded_client(&request.headers, peer, trusted) {
        Some(client) => {
            tracing::debug!(%peer, %client, "request forwarded by a trusted proxy");
            client
        }
        None => peer,
    }
}
