//! The native half of `pywebsocket3.dispatch.Dispatcher` in the installed package: for a
//! host that owns the connection and runs the handshake itself (wptserve's HTTP/2
//! WebSockets, RFC 8441), the handler tree ([`HandlerSuites`]), permessage-deflate
//! negotiation ([`negotiate_deflate`]), and the transfer phase over the host's connection
//! object ([`transfer_data`]), driven by the server's blocking shell.
//!
//! It does not parse the host's request or write its response: the Python side
//! (`handshake/base.py`'s `HandshakerBase`, `dispatch.py`) does, as pywebsocket's did.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use wshd_proto::deflate::{
    Compression, DeflateConfig, FrameResponseOverrides, ResponseOverrides, negotiate_compression,
};
use wshd_proto::handshake::{ExtensionOffer, format_extensions, parse_extensions};
use wshd_proto::{Connection, Limits};
use wshd_server::blocking::BlockingWebSocket;

use crate::driver::Driver;
use crate::host_stream::HostStream;
use crate::loader::Handlers;
use crate::lookup::Lookup;
use crate::stream::Stream;
use crate::{HandlerTree, LoadOptions};

/// How long the end of a host's connection may wait for the peer's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A loaded handler tree (`Dispatcher`'s table of handler suites).
#[pyclass(module = "wshd._native", name = "HandlerSuites")]
pub struct HandlerSuites {
    tree: HandlerTree,
    warnings: Vec<String>,
}

/// The hooks of one handler file (`Dispatcher.get_handler_suite`'s answer).
#[pyclass(module = "wshd._native", name = "HandlerSuite", frozen)]
pub struct HandlerSuite(Arc<Handlers>);

#[pymethods]
impl HandlerSuites {
    /// Loads the tree as the standalone server's `-w`, `-s`,
    /// `--allow-handlers-outside-root-dir` and `--handler-encoding` do.
    #[new]
    #[pyo3(signature = (root_dir, scan_dir=None, allow_handlers_outside_root_dir=true, handler_encoding=None))]
    fn new(
        py: Python<'_>,
        root_dir: PathBuf,
        scan_dir: Option<PathBuf>,
        allow_handlers_outside_root_dir: bool,
        handler_encoding: Option<String>,
    ) -> PyResult<HandlerSuites> {
        let options = LoadOptions {
            root: root_dir,
            scan_dir,
            allow_handlers_outside_root: allow_handlers_outside_root_dir,
            encoding: handler_encoding,
            map_file: None,
        };
        let (tree, warnings) = py
            .detach(|| HandlerTree::load(&options))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(HandlerSuites { tree, warnings: warnings.iter().map(ToString::to_string).collect() })
    }

    /// The suite serving `resource` (a request target; the query is ignored), or `None`.
    /// A fragment on a served resource raises `ValueError`.
    fn find(&self, resource: &str) -> PyResult<Option<HandlerSuite>> {
        match self.tree.lookup(resource) {
            Lookup::Found(handlers) => Ok(Some(HandlerSuite(handlers.clone()))),
            Lookup::FragmentOnHandled => Err(PyValueError::new_err(
                "fragment identifiers must not be used on WebSocket URIs",
            )),
            Lookup::NotFound => Ok(None),
        }
    }

    /// Serves `alias` with the handlers of `existing` (`add_resource_path_alias`).
    fn alias(&mut self, alias: String, existing: &str) -> PyResult<()> {
        let handlers = self
            .tree
            .handlers
            .get(existing)
            .cloned()
            .ok_or_else(|| PyKeyError::new_err(format!("no handler for {existing}")))?;
        self.tree.handlers.insert(alias, handlers);
        Ok(())
    }

    /// `Warning in source loading` messages, one per skipped file.
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

#[pymethods]
impl HandlerSuite {
    /// `web_socket_do_extra_handshake`.
    #[getter]
    fn do_extra_handshake(&self, py: Python<'_>) -> Py<PyAny> {
        self.0.extra_handshake.clone_ref(py)
    }

    /// `web_socket_transfer_data`.
    #[getter]
    fn transfer_data(&self, py: Python<'_>) -> Py<PyAny> {
        self.0.transfer_data.clone_ref(py)
    }

    /// `web_socket_passive_closing_handshake`, or `None` when the file has none.
    #[getter]
    fn passive_closing_handshake(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.0.passive_closing_handshake.as_ref().map(|p| p.clone_ref(py))
    }

    /// The handler file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.0.path.clone()
    }
}

/// The compression the server agrees to for `offer` (a `Sec-WebSocket-Extensions` value
/// with the processor's parameters), with a handler's forced response parameters.
fn negotiated(
    offer: &str,
    client_max_window_bits: Option<u8>,
    client_no_context_takeover: bool,
) -> PyResult<Option<(Compression, ExtensionOffer)>> {
    let offers = parse_extensions(offer)
        .map_err(|e| PyValueError::new_err(format!("invalid extension offer {offer:?}: {e}")))?;
    let permessage = ResponseOverrides { client_max_window_bits, client_no_context_takeover };
    Ok(negotiate_compression(
        &offers,
        &DeflateConfig::default(),
        &permessage,
        &FrameResponseOverrides::default(),
    ))
}

/// The `Sec-WebSocket-Extensions` response to `offer`, or `None` to decline it.
#[pyfunction]
#[pyo3(signature = (offer, client_max_window_bits=None, client_no_context_takeover=false))]
pub fn negotiate_deflate(
    offer: &str,
    client_max_window_bits: Option<u8>,
    client_no_context_takeover: bool,
) -> PyResult<Option<String>> {
    let agreed = negotiated(offer, client_max_window_bits, client_no_context_takeover)?;
    Ok(agreed.map(|(_, response)| format_extensions(&[response])))
}

/// The peer's address from the host's connection, when it gives an `(address, port)`
/// pair: `client_addr` (mod_python under Apache 2.4, which warns on every read of the
/// older name) or `remote_addr` (wptserve); only for logs.
fn remote_addr(connection: &Bound<'_, PyAny>) -> SocketAddr {
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    let pair = ["client_addr", "remote_addr"].into_iter().find_map(|name| {
        let (host, port) = connection.getattr(name).ok()?.extract::<(String, u16)>().ok()?;
        host.parse().ok().map(|ip| SocketAddr::new(ip, port))
    });
    pair.unwrap_or(unknown)
}

/// Runs `suite`'s `web_socket_transfer_data` over `request.connection` (the host's
/// connection object, after the host sent its handshake response), then ends the
/// WebSocket as the standalone server does. `deflate` is the offer and forced parameters
/// given to [`negotiate_deflate`] when it agreed on compression.
#[pyfunction]
#[pyo3(signature = (request, suite, deflate=None))]
pub fn transfer_data(
    py: Python<'_>,
    request: Bound<'_, PyAny>,
    suite: &HandlerSuite,
    deflate: Option<(String, Option<u8>, bool)>,
) -> PyResult<()> {
    let connection = request.getattr("connection")?;
    let peer = remote_addr(&connection);
    let mut conn = Connection::server(Limits::default());
    conn.set_close_timeout(Some(CLOSE_TIMEOUT));
    let mut extensions = None;
    if let Some((offer, bits, no_takeover)) = deflate
        && let Some((compression, response)) = negotiated(&offer, bits, no_takeover)?
    {
        conn.set_compression(&compression, &DeflateConfig::default());
        extensions = Some(format_extensions(&[response]));
    }
    let io = Box::new(HostStream::new(connection.unbind()));
    let shell = BlockingWebSocket::new(io, conn, Duration::ZERO, peer);
    let driver = Arc::new(Driver::new(shell));
    let handlers = &suite.0;
    let passive = handlers.passive_closing_handshake.as_ref().map(|p| p.clone_ref(py));
    let stream = Stream::new(driver.clone(), &request, passive);
    let outcome = crate::handler::transfer(py, handlers, request.unbind(), stream, extensions);
    py.detach(|| driver.finish(outcome));
    Ok(())
}
