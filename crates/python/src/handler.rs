//! [`PythonHandler`]: a loaded `*_wsh.py` file served through the server's handler API.
//!
//! Each connection has one OS thread of its own, as in pywebsocket: it builds the
//! `request` object and runs the extra handshake (whose raw reads and writes go to the
//! accept task through [`crate::bridge`]), waits for the 101, then runs
//! `web_socket_transfer_data` over the connection detached into the server's blocking
//! shell ([`crate::driver`]). The request is kept from one phase to the other. Exceptions become
//! what docs/compatibility.md ("When a handler ends") says the peer sees. Nothing here
//! touches sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use tokio::sync::mpsc::unbounded_channel;
use wshd_proto::handshake::ExtensionOffer;
use wshd_proto::{CloseCode, CloseFrame};
use wshd_server::embed::{BoxFuture, DynHandler, HandshakeRequestExt, WebSocketExt};
use wshd_server::{HandshakeRequest, Rejection, WebSocket};

use crate::bridge::{Cmd, Fault, Outcome};
use crate::driver::Driver;
use crate::gil;
use crate::handshake_io::HandshakeSocket;
use crate::loader::Handlers;
use crate::stream::Stream;
use crate::threads::{self, Job};

/// Serves one resource with the hooks of one handler file.
pub struct PythonHandler {
    handlers: Arc<Handlers>,
    strict_extra_headers: bool,
}

impl PythonHandler {
    /// A handler for the file whose hooks are `handlers`. `request.extra_headers` go out
    /// verbatim, as pywebsocket writes them (see [`PythonHandler::strict_extra_headers`]).
    pub fn new(handlers: Arc<Handlers>) -> Self {
        PythonHandler { handlers, strict_extra_headers: false }
    }

    /// With `strict`, an `extra_headers` entry whose name is not a token or whose value
    /// holds CR, LF or NUL refuses the handshake with 500 instead of going out as written.
    pub fn strict_extra_headers(mut self, strict: bool) -> Self {
        self.strict_extra_headers = strict;
        self
    }
}

/// What the extra handshake needs from the HTTP request, owned, for the blocking pool.
struct HandshakeInput {
    resource: String,
    headers: Vec<(String, String)>,
    origin: Option<String>,
    protocols: Option<Vec<String>>,
    extensions: Vec<ExtensionOffer>,
    offered_extensions: bool,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    /// `request.is_https()`.
    use_tls: bool,
    /// HyBi 00 only: `ws_location`, `ws_challenge` and `ws_challenge_md5`.
    hybi00: Option<Hybi00Input>,
}

/// What a HyBi 00 request adds (`request.ws_version` is 0 then).
struct Hybi00Input {
    location: String,
    challenge: [u8; 16],
    response: [u8; 16],
}

/// What the extra handshake decided.
struct HandshakeOutput {
    request: Py<PyAny>,
    protocol: Option<String>,
    /// `request.sts` (Firefox's HSTS patch), checked like any response header.
    sts: Option<String>,
    /// `request.extra_headers`, in order.
    headers: Vec<(String, String)>,
    decline_compression: bool,
    client_max_window_bits: Option<u8>,
    client_no_context_takeover: bool,
    /// The offer behind the permessage-deflate processor the handler kept, as it is now
    /// (`processor._request`, which a handler may have added parameters to).
    deflate_offer: Option<ExtensionOffer>,
}

impl HandshakeInput {
    fn new(req: &HandshakeRequest) -> Self {
        HandshakeInput {
            resource: req.resource().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            origin: req.origin().map(str::to_owned),
            protocols: req
                .header("Sec-WebSocket-Protocol")
                .map(|_| req.requested_protocols().to_vec()),
            extensions: req.extension_offers().to_vec(),
            offered_extensions: !req.extension_offers().is_empty(),
            peer: req.peer_addr(),
            local: req.local_addr(),
            use_tls: req.is_tls(),
            hybi00: req.hybi00_location().zip(req.hybi00_challenge()).map(
                |(location, (challenge, response))| Hybi00Input {
                    location: location.to_owned(),
                    challenge: *challenge,
                    response: *response,
                },
            ),
        }
    }
}

/// Runs `web_socket_do_extra_handshake`; `socket` serves `request.connection`.
fn extra_handshake(
    py: Python<'_>,
    handlers: &Handlers,
    input: HandshakeInput,
    socket: HandshakeSocket,
) -> Result<HandshakeOutput, Rejection> {
    let internal = |e: PyErr| {
        tracing::error!("building the request object failed: {e}");
        Rejection::new(500, "internal error building the request object")
    };
    let request = build_request(py, &input, socket).map_err(internal)?;
    let called = handlers.extra_handshake.bind(py).call1((&request,));
    if let Err(e) = called {
        if is_instance(py, &e, "pywebsocket3.handshake", "AbortedByUserException") {
            return Err(Rejection::abort(
                "AbortedByUserException in web_socket_do_extra_handshake",
            ));
        }
        // pywebsocket wraps any other exception, a HandshakeException's status included,
        // into a 403.
        let trace = traceback(py, &e);
        tracing::warn!(path = %handlers.path.display(), "web_socket_do_extra_handshake raised: {trace}");
        // The client gets no more than the status: the exception's text may hold what a
        // handler would not show it (paths, secrets); the log above has it whole.
        return Err(Rejection::new(403, "handshake refused by the handler"));
    }
    read_choices(py, request, input.offered_extensions).map_err(internal)
}

fn build_request<'py>(
    py: Python<'py>,
    input: &HandshakeInput,
    socket: HandshakeSocket,
) -> PyResult<Bound<'py, PyAny>> {
    let wshd = py.import("_wshd")?;
    let remote = (input.peer.ip().to_string(), input.peer.port());
    let local = input.local.map(|a| (a.ip().to_string(), a.port()));
    let connection = wshd.getattr("Connection")?.call1((remote, local, PyList::empty(py)))?;
    connection.setattr("raw", Bound::new(py, socket)?)?;
    let request = wshd.getattr("Request")?.call1((
        "GET",
        &input.resource,
        "HTTP/1.1",
        input.headers.clone(),
        connection,
        input.use_tls,
    ))?;
    request.setattr("ws_origin", input.origin.clone())?;
    if let Some(hybi00) = &input.hybi00 {
        // pywebsocket's HyBi 00 request: the client's one subprotocol preset (kept unless
        // the handler changes it), the location, the challenge and its answer, and no
        // list of requested subprotocols.
        request.setattr("ws_version", 0)?;
        request.setattr("ws_location", &hybi00.location)?;
        request.setattr("ws_challenge", PyBytes::new(py, &hybi00.challenge))?;
        request.setattr("ws_challenge_md5", PyBytes::new(py, &hybi00.response))?;
        let protocol = input.protocols.as_ref().and_then(|p| p.first().cloned());
        request.setattr("ws_protocol", protocol)?;
        return Ok(request);
    }
    request.setattr("ws_requested_protocols", input.protocols.clone())?;
    let common = py.import("pywebsocket3.common")?;
    let extensions = py.import("pywebsocket3.extensions")?;
    if input.offered_extensions {
        let requested = PyList::empty(py);
        let processors = PyList::empty(py);
        for offer in &input.extensions {
            let param = common.getattr("ExtensionParameter")?.call1((&offer.name,))?;
            for (n, v) in &offer.params {
                param.call_method1("add_parameter", (n, v.clone()))?;
            }
            let processor = extensions.getattr("get_extension_processor")?.call1((&param,))?;
            if !processor.is_none() {
                processors.append(processor)?;
            }
            requested.append(param)?;
        }
        request.setattr("ws_requested_extensions", requested)?;
        request.setattr("ws_extension_processors", processors)?;
    }
    Ok(request)
}

/// Reads the handler's choices back from the request (pywebsocket's `do_handshake`).
fn read_choices(
    py: Python<'_>,
    request: Bound<'_, PyAny>,
    offered: bool,
) -> PyResult<HandshakeOutput> {
    let protocol: Option<String> = request.getattr("ws_protocol")?.extract()?;
    let mut headers = Vec::new();
    // Firefox's mochitest handlers set request.sts (its patched pywebsocket's HSTS).
    let sts = attr_or_none::<String>(&request, "sts")?;
    for item in request.getattr("extra_headers")?.try_iter()? {
        let (name, value): (String, String) = item?.extract()?;
        headers.push((name, value));
    }
    let mut out = HandshakeOutput {
        request: request.clone().unbind(),
        protocol,
        sts,
        headers,
        decline_compression: false,
        client_max_window_bits: None,
        client_no_context_takeover: false,
        deflate_offer: None,
    };
    if offered {
        // Entries a handler removed, set to None or deactivated decline their extension
        // (python/pywebsocket3/extensions.py describes the attributes read here).
        let mut deflate = None;
        for p in request.getattr("ws_extension_processors")?.try_iter()? {
            let p = p?;
            if p.is_none() || !p.call_method0("is_active")?.is_truthy()? {
                continue;
            }
            if p.getattr("_wshd_kind")?.extract::<String>()? == "permessage-deflate" {
                deflate = Some(p);
                break;
            }
        }
        match deflate {
            None => out.decline_compression = true,
            Some(p) => {
                out.client_max_window_bits = attr_or_none(&p, "_wshd_client_max_window_bits")?;
                out.client_no_context_takeover =
                    attr_or_none::<bool>(&p, "_wshd_client_no_context_takeover")?.unwrap_or(false);
                let offer = p.getattr("_request")?;
                // Values as pywebsocket formats them: None bare, anything else by str()
                // (a handler may add an int).
                let mut params = Vec::new();
                for pair in offer.call_method0("get_parameters")?.try_iter()? {
                    let (name, value): (String, Bound<'_, PyAny>) = pair?.extract()?;
                    let value = if value.is_none() { None } else { Some(value.str()?.to_string()) };
                    params.push((name, value));
                }
                out.deflate_offer =
                    Some(ExtensionOffer { name: offer.call_method0("name")?.extract()?, params });
            }
        }
    }
    let _ = py;
    Ok(out)
}

fn attr_or_none<T>(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<T>>
where
    T: for<'a, 'py> FromPyObject<'a, 'py>,
{
    match obj.getattr(name) {
        Ok(v) if v.is_none() => Ok(None),
        Ok(v) => v.extract().map(Some).map_err(Into::into),
        Err(_) => Ok(None),
    }
}

fn is_instance(py: Python<'_>, e: &PyErr, module: &str, class: &str) -> bool {
    py.import(module)
        .and_then(|m| m.getattr(class))
        .map(|cls| e.value(py).is_instance(&cls).unwrap_or(false))
        .unwrap_or(false)
}

pub(crate) fn traceback(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| tb.getattr("format_exception")?.call1((e.value(py),)))
        .and_then(|lines| lines.extract::<Vec<String>>());
    formatted.map(|l| l.concat()).unwrap_or_else(|_| e.to_string())
}

/// Makes the extension processors' live settings (`enable/disable_outgoing_compression`,
/// `set_bfinal`) reach the connection, including those made during the extra handshake.
fn watch_processors(request: &Bound<'_, PyAny>, stream: &Bound<'_, Stream>) -> PyResult<()> {
    let changed = stream.getattr("_wshd_compression_changed")?;
    for processor in request.getattr("ws_extension_processors")?.try_iter()? {
        let processor = processor?;
        if processor.is_none() || !processor.hasattr("_wshd_on_change")? {
            continue;
        }
        processor.setattr("_wshd_on_change", &changed)?;
        for (attribute, default) in [("_wshd_compress_outgoing", true), ("_wshd_bfinal", false)] {
            let value = processor.getattr(attribute)?.is_truthy()?;
            if value != default {
                changed.call1((&processor, attribute, value))?;
            }
        }
    }
    Ok(())
}

/// Runs `web_socket_transfer_data` and classifies how it ended (docs/compatibility.md,
/// "When a handler ends").
pub(crate) fn transfer(
    py: Python<'_>,
    handlers: &Handlers,
    request: Py<PyAny>,
    stream: Stream,
    extensions: Option<String>,
) -> Outcome {
    let request = request.bind(py);
    let setup = || -> PyResult<()> {
        let stream = Bound::new(py, stream)?;
        request.setattr("ws_stream", &stream)?;
        // wshd's own `request.connection` reads and writes through the stream from now
        // on; a host's connection object (mod_python's, wptserve's) is used as it is.
        let connection = request.getattr("connection")?;
        if connection.hasattr("raw")? {
            connection.setattr("raw", &stream)?;
        }
        let parsed = match &extensions {
            Some(e) => {
                py.import("pywebsocket3.common")?.getattr("parse_extensions")?.call1((e,))?.unbind()
            }
            None => py.None(),
        };
        request.setattr("ws_extensions", parsed)?;
        if extensions.is_some() {
            watch_processors(request, &stream)?;
        }
        Ok(())
    };
    if let Err(e) = setup() {
        tracing::error!("preparing the request for transfer failed: {e}");
        return Outcome::Close(1011);
    }
    // Our close frame is out (the stream's, or one the handler wrote itself and then set
    // server_terminated): pywebsocket's close_connection then sends no second one.
    let closed =
        || request.getattr("server_terminated").and_then(|t| t.is_truthy()).unwrap_or(false);
    let Err(e) = handlers.transfer_data.bind(py).call1((request,)) else {
        return if closed() { Outcome::ServerTerminated } else { Outcome::Returned };
    };
    let exceptions = [
        ("pywebsocket3.handshake", "AbortedByUserException", Outcome::Aborted),
        ("pywebsocket3._stream_exceptions", "BadOperationException", Outcome::Close(1011)),
        ("pywebsocket3._stream_exceptions", "InvalidFrameException", Outcome::Close(1002)),
        ("pywebsocket3._stream_exceptions", "UnsupportedFrameException", Outcome::Close(1003)),
        ("pywebsocket3._stream_exceptions", "InvalidUTF8Exception", Outcome::Close(1007)),
        ("pywebsocket3._stream_exceptions", "ConnectionTerminatedException", Outcome::Dropped),
    ];
    for (module, class, outcome) in exceptions {
        if is_instance(py, &e, module, class) {
            tracing::debug!(path = %handlers.path.display(), "web_socket_transfer_data raised {class}");
            if matches!(outcome, Outcome::Close(_)) && closed() {
                return Outcome::ServerTerminated;
            }
            return outcome;
        }
    }
    tracing::error!(path = %handlers.path.display(), "web_socket_transfer_data raised: {}", traceback(py, &e));
    Outcome::Dropped
}

/// Performs one `request.connection` call of the extra handshake.
async fn serve_handshake_io(req: &mut HandshakeRequest, cmd: Cmd) {
    match cmd {
        // Written at once: a handler may write its own response and never return.
        Cmd::Write { data, reply } => {
            req.write_raw(&data);
            let written = req.flush_raw().await;
            let _ = reply.send(written.map_err(|e| Fault::Terminated(e.to_string())));
        }
        Cmd::Read { len, reply } => {
            let read = req.read_raw(len).await;
            let _ = reply.send(read.map_err(|e| Fault::Terminated(e.to_string())));
        }
    }
}

/// What a connection's thread is handed once the 101 went out.
struct Go {
    driver: Arc<Driver>,
    /// The `Sec-WebSocket-Extensions` value of the 101.
    extensions: Option<String>,
    /// Dropped when the thread is done with the connection.
    done: tokio::sync::oneshot::Sender<()>,
}

/// The connection's thread, waiting between its extra handshake and the 101.
struct RequestState(SyncSender<Go>);

/// One connection's thread, as in pywebsocket: the extra handshake, then (unless it
/// refused, or the connection failed before the 101) the transfer phase. The request
/// object stays on this thread from one to the other.
struct ConnectionThread {
    handlers: Arc<Handlers>,
    input: HandshakeInput,
    socket: HandshakeSocket,
    verdict: tokio::sync::oneshot::Sender<Result<HandshakeOutput, Rejection>>,
    go: Receiver<Go>,
}

impl Job for ConnectionThread {
    fn run(self: Box<Self>) {
        let ConnectionThread { handlers, input, socket, verdict, go } = *self;
        let request = gil::attach(|py| {
            let decided = extra_handshake(py, &handlers, input, socket);
            let request = decided.as_ref().ok().map(|out| out.request.clone_ref(py));
            // The connection may have timed out meanwhile: then nobody listens.
            verdict.send(decided).ok().and(request)
        });
        let Some(request) = request else { return };
        // Waits for the 101 without the GIL; a refusal after the hook drops the sender.
        let Ok(Go { driver, extensions, done }) = go.recv() else {
            gil::attach(|_| drop(request));
            return;
        };
        let outcome = gil::attach(|py| {
            let passive = handlers.passive_closing_handshake.as_ref().map(|p| p.clone_ref(py));
            let stream = Stream::new(driver.clone(), request.bind(py), passive);
            transfer(py, &handlers, request, stream, extensions)
        });
        driver.finish(outcome);
        drop(done);
    }

    fn cannot_start(self: Box<Self>, why: String) {
        tracing::error!(peer = %self.input.peer, "cannot start a handler thread: {why}");
        let refused = Rejection::new(503, "the server cannot start a handler thread now");
        let _ = self.verdict.send(Err(refused));
    }
}

impl DynHandler for PythonHandler {
    fn do_extra_handshake<'a>(
        &'a self,
        req: &'a mut HandshakeRequest,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let input = HandshakeInput::new(req);
            let requested = input.protocols.is_some();
            let hybi00 = input.hybi00.is_some();
            let handlers = self.handlers.clone();
            let (tx, mut rx) = unbounded_channel();
            let socket = HandshakeSocket::new(tx);
            let (verdict_tx, mut verdict) = tokio::sync::oneshot::channel();
            let (go_tx, go_rx) = sync_channel(1);
            // A thread of the connection's own, not a shared pool: a hook that waits on
            // its client or sleeps holds only its own thread, never one that static files
            // or other handshakes need. Dropping this future (the handshake deadline)
            // ends the hook's raw reads and writes.
            threads::spawn(Box::new(ConnectionThread {
                handlers,
                input,
                socket,
                verdict: verdict_tx,
                go: go_rx,
            }));
            // Serve the hook's raw reads and writes until it returns.
            let verdict = loop {
                tokio::select! {
                    verdict = &mut verdict => break verdict,
                    Some(cmd) = rx.recv() => serve_handshake_io(req, cmd).await,
                }
            };
            let out =
                verdict.map_err(|_| Rejection::new(500, "the handler thread ended early"))??;
            // pywebsocket: a client that asked for subprotocols must get one chosen, and
            // one that asked for none must get none (400 otherwise). In HyBi 00 the 101
            // carries whatever `ws_protocol` holds, the client's value unless changed.
            match (&out.protocol, requested) {
                _ if hybi00 => match &out.protocol {
                    Some(p) => req.force_protocol(p)?,
                    None => req.clear_protocol(),
                },
                (None, true) => {
                    return Err(Rejection::new(400, "no subprotocol was selected by the handler"));
                }
                (Some(_), false) => {
                    return Err(Rejection::new(
                        400,
                        "handler selected a subprotocol the client did not request",
                    ));
                }
                (Some(p), true) => req.force_protocol(p)?,
                (None, false) => {}
            }
            if let Some(sts) = &out.sts {
                req.add_response_header("Strict-Transport-Security", sts)?;
            }
            for (name, value) in &out.headers {
                if self.strict_extra_headers {
                    req.add_response_header(name, value)?;
                } else {
                    req.add_verbatim_response_header(name, value);
                }
            }
            if out.decline_compression {
                req.decline_compression();
            }
            // Parameters a handler added to the offer (`processor._request.add_parameter`)
            // are answered as if the client had sent them.
            if let Some(offer) = out.deflate_offer
                && !req.extension_offers().contains(&offer)
            {
                req.negotiate_as_if_offered(vec![offer]);
            }
            if let Some(bits) = out.client_max_window_bits {
                req.force_client_max_window_bits(bits);
            }
            if out.client_no_context_takeover {
                req.force_client_no_context_takeover();
            }
            req.set_state(Box::new(RequestState(go_tx)));
            Ok(())
        })
    }

    fn transfer_data<'a>(&'a self, ws: &'a mut WebSocket) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(RequestState(go)) =
                ws.take_handler_state().and_then(|s| s.downcast::<RequestState>().ok()).map(|s| *s)
            else {
                tracing::error!("no handler thread from the extra handshake");
                let _ = ws.close(Some(CloseFrame::new(CloseCode::INTERNAL_ERROR, ""))).await;
                return;
            };
            let extensions = ws.extensions().map(str::to_owned);
            let peer = ws.peer_addr();
            let shutdown = ws.shutdown_handle();
            let driver = match ws.detach() {
                Ok(shell) => Arc::new(Driver::new(shell)),
                Err(e) => {
                    tracing::error!(%peer, "cannot hand the connection to its handler thread: {e}");
                    let _ = ws.close(Some(CloseFrame::new(CloseCode::INTERNAL_ERROR, ""))).await;
                    return;
                }
            };
            // The task stays until the handler's thread is done, so that the server
            // knows the connection is open.
            let (done, mut finished) = tokio::sync::oneshot::channel::<()>();
            let ours = driver.clone();
            let close_timeout = ours.shell().close_timeout().unwrap_or(Duration::from_secs(10));
            if go.send(Go { driver, extensions, done }).is_err() {
                tracing::error!(%peer, "the handler thread ended before the transfer phase; closing with 1011");
                ours.close_now(1011);
                return;
            }
            // A server shutdown closes with 1001 whatever the handler's thread is doing;
            // it then sees the connection end at its next stream call. Going away never
            // waits on that thread; if the connection is still open a close timeout
            // later (a send blocked on a peer that does not read), it is cut off.
            let triggered = async {
                match &shutdown {
                    Some(s) => s.triggered().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut finished => return,
                () = triggered => ours.shell().go_away(),
            }
            if tokio::time::timeout(close_timeout, &mut finished).await.is_err() {
                tracing::info!(%peer, "connection still open {close_timeout:?} after going away; cutting it off");
                ours.shell().cut_off();
                let _ = finished.await;
            }
        })
    }

    fn passive_closing_handshake(&self, peer: &CloseFrame) -> Option<CloseFrame> {
        // Not used: the connection leaves the server for the handler's thread (`Driver`),
        // which answers the peer's close there. Kept to pywebsocket's default.
        let _ = peer;
        Some(CloseFrame::new(CloseCode::NORMAL, ""))
    }
}
