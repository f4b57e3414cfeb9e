//! `request.ws_stream`: pywebsocket's `Stream` API for a handler's Python thread.
//!
//! Each method calls the connection's [`Driver`], which reads or writes the socket from
//! the calling thread with the GIL released, so other Python threads run meanwhile.
//! It keeps pywebsocket's bookkeeping on the request (`client_terminated`,
//! `server_terminated`, `ws_close_code`, `ws_close_reason`), runs the passive closing
//! handshake inside `receive_message` as pywebsocket does, and raises pywebsocket's
//! exceptions. It does not frame or parse anything.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyWeakrefReference};

use crate::bridge::{Fault, Received};
use crate::driver::Driver;
use crate::gil;

/// `request.ws_stream`.
///
/// No `__dict__`: allocating one while the object is being built lets Python's cycle
/// collector run on a half-initialized stream. The state the frame-level helpers of
/// `pywebsocket3._wshd_frames` keep is in fields here.
#[pyclass(module = "pywebsocket3.stream", name = "Stream")]
pub(crate) struct Stream {
    driver: Arc<Driver>,
    request: RequestRef,
    /// `web_socket_passive_closing_handshake`, if the handler file defines one.
    passive: Option<Py<PyAny>>,
    /// `get_last_received_opcode()`; -1 before anything arrived.
    last_opcode: AtomicI32,
    /// The payloads of a fragmented message read frame by frame (a Python list of bytes).
    fragments: Mutex<Option<Py<PyAny>>>,
}

/// The stream's link to its request: weak where the request's type allows it, so that
/// `request.ws_stream` and the stream are no reference cycle, and both (with the
/// request's headers, extension processors and connection object) are freed as soon as
/// the handler thread and the handler let go of the request, not when Python's cycle
/// collector next runs, which an idle server may not do for hours. Whoever runs the
/// handler holds the request until it returns, so it lives as long as the connection is
/// used; a handler that keeps it keeps the stream working.
enum RequestRef {
    Weak(Py<PyWeakrefReference>),
    /// A host's request object that takes no weak references.
    Strong(Py<PyAny>),
}

impl Stream {
    pub(crate) fn new(
        driver: Arc<Driver>,
        request: &Bound<'_, PyAny>,
        passive: Option<Py<PyAny>>,
    ) -> Self {
        let request = match PyWeakrefReference::new(request) {
            Ok(weak) => RequestRef::Weak(weak.unbind()),
            Err(_) => RequestRef::Strong(request.clone().unbind()),
        };
        Stream {
            driver,
            request,
            passive,
            last_opcode: AtomicI32::new(-1),
            fragments: Mutex::new(None),
        }
    }

    /// `name` comes from `intern!`: these run on every message, and an interned name
    /// costs neither a new string nor a hash per lookup.
    fn flag(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<bool> {
        self.request(py)?.getattr(name)?.is_truthy()
    }

    /// The request, or ConnectionTerminatedException once nobody holds it any more (the
    /// handler kept the stream alone and uses it after its connection ended).
    fn request<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.request {
            RequestRef::Strong(request) => Ok(request.bind(py).clone()),
            RequestRef::Weak(weak) => weak.bind(py).upgrade().ok_or_else(|| {
                raise(
                    py,
                    Fault::Terminated("the connection has ended and its request is gone".into()),
                )
            }),
        }
    }

    /// The handler's answer to the peer's close, or pywebsocket's default `(1000, '')`.
    fn passive_reply(&self, py: Python<'_>) -> PyResult<(Option<u16>, String)> {
        let Some(hook) = &self.passive else { return Ok((Some(1000), String::new())) };
        let answer = hook.bind(py).call1((self.request(py)?,))?;
        let (code, reason): (Option<u16>, Option<String>) = answer.extract()?;
        let reason = reason.unwrap_or_default();
        if code.is_none() && !reason.is_empty() {
            tracing::warn!(
                "passive closing handshake returned a reason without a code; the reason is dropped"
            );
            return Ok((None, String::new()));
        }
        Ok((code, reason))
    }
}

/// Calls `pywebsocket3._wshd_frames.<name>(stream)`, or `(stream, arg)`.
fn frames(
    slf: &Bound<'_, Stream>,
    name: &str,
    arg: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let function = slf.py().import("pywebsocket3._wshd_frames")?.getattr(name)?;
    let result = match arg {
        None => function.call1((slf,))?,
        Some(arg) => function.call1((slf, arg))?,
    };
    Ok(result.unbind())
}

impl Stream {
    /// `receive_message` without the opcode bookkeeping.
    fn receive(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.flag(py, intern!(py, "client_terminated"))? {
            return Err(raise(
                py,
                Fault::BadOperation(
                    "Requested receive_message after receiving a closing handshake".into(),
                ),
            ));
        }
        let driver = &self.driver;
        let request = &self.request(py)?;
        loop {
            // pywebsocket: with on_ping_handler set, pings go to it and no pong is sent
            // automatically; on_pong_handler sees every pong.
            let on_ping = handler_attr(request, intern!(py, "on_ping_handler"))?;
            let on_pong = handler_attr(request, intern!(py, "on_pong_handler"))?;
            let (pings, pongs) = (on_ping.is_some(), on_pong.is_some());
            match gil::detach(py, || driver.receive(pings, pongs)) {
                Ok(Received::Text(s)) => return Ok(PyString::new(py, &s).into_any().unbind()),
                Ok(Received::Binary(b)) => return Ok(PyBytes::new(py, &b).into_any().unbind()),
                Ok(Received::Ping(p)) => {
                    if let Some(h) = on_ping {
                        h.call1((request, PyBytes::new(py, &p)))?;
                    }
                }
                Ok(Received::Pong(p)) => {
                    if let Some(h) = on_pong {
                        h.call1((request, PyBytes::new(py, &p)))?;
                    }
                }
                Ok(Received::Close(peer)) => {
                    request.setattr("ws_close_code", peer.code.0)?;
                    request.setattr("ws_close_reason", peer.reason)?;
                    request.setattr("client_terminated", true)?;
                    if !self.flag(py, intern!(py, "server_terminated"))? {
                        let (code, reason) = self.passive_reply(py)?;
                        gil::detach(py, || driver.answer(code, &reason))
                            .map_err(|f| raise(py, f))?;
                        request.setattr("server_terminated", true)?;
                    }
                    return Ok(py.None());
                }
                Err(f) => return Err(raise(py, f)),
            }
        }
    }
}

/// Raises the pywebsocket exception for `fault`.
pub(crate) fn raise(py: Python<'_>, fault: Fault) -> PyErr {
    let (class, message) = match fault {
        Fault::BadOperation(m) => ("BadOperationException", m),
        Fault::Terminated(m) => ("ConnectionTerminatedException", m),
        Fault::Protocol(1007, m) => ("InvalidUTF8Exception", m),
        Fault::Protocol(1003, m) => ("UnsupportedFrameException", m),
        Fault::Protocol(_, m) => ("InvalidFrameException", m),
    };
    exception(py, class, message)
}

/// An instance of `pywebsocket3._stream_exceptions.<class>` carrying `message`.
pub(crate) fn exception(py: Python<'_>, class: &str, message: String) -> PyErr {
    match py.import("pywebsocket3._stream_exceptions").and_then(|m| m.getattr(class)) {
        Ok(cls) => PyErr::from_type(cls.cast_into().expect("exception classes are types"), message),
        Err(e) => PyException::new_err(format!("{class}: {message} ({e})")),
    }
}

/// A callable attribute of the request, or `None` when absent or set to None.
fn handler_attr<'py>(
    request: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match request.getattr(name) {
        Ok(v) if v.is_none() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(_) => Ok(None),
    }
}

pub(crate) fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    Err(pyo3::exceptions::PyTypeError::new_err("expected bytes or bytearray"))
}

#[pymethods]
impl Stream {
    /// Shows Python's cycle collector what this stream holds: a host's request held
    /// strongly holds the stream (`request.ws_stream`), and without this the pair would
    /// never be freed.
    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        match &self.request {
            RequestRef::Weak(weak) => visit.call(weak)?,
            RequestRef::Strong(request) => visit.call(request)?,
        }
        if let Some(passive) = &self.passive {
            visit.call(passive)?;
        }
        Ok(())
    }

    /// Receives the next message: `str` for text, `bytes` for binary, `None` once the
    /// peer closed (after the passive closing handshake has answered it).
    fn receive_message(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let message = slf.borrow().receive(py)?;
        let bound = message.bind(py);
        let opcode = if bound.is_none() {
            8
        } else if bound.is_instance_of::<PyString>() {
            1
        } else {
            2
        };
        slf.borrow().last_opcode.store(opcode, Ordering::Relaxed);
        Ok(message)
    }

    /// Sends a pong (used by handlers that answer pings themselves).
    fn _send_pong(&self, py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = bytes_of(body)?;
        if data.len() > 125 {
            return Err(raise(
                py,
                Fault::BadOperation(
                    "Application data size of pong frames must not exceed 125".into(),
                ),
            ));
        }
        let driver = &self.driver;
        gil::detach(py, || driver.pong(&data)).map_err(|f| raise(py, f))
    }

    /// Writes raw bytes to the socket (pywebsocket's private `_write`).
    fn _write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.write_raw(py, data)
    }

    /// Sends `message` (`str` as text unless `binary`; `bytes` otherwise); with
    /// `end=False` a fragment, continued by the next calls.
    #[pyo3(signature = (message, end=true, binary=false))]
    fn send_message(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        end: bool,
        binary: bool,
    ) -> PyResult<()> {
        if self.flag(py, intern!(py, "server_terminated"))? {
            return Err(raise(
                py,
                Fault::BadOperation(
                    "Requested send_message after sending out a closing handshake".into(),
                ),
            ));
        }
        let data = match message.cast::<PyString>() {
            Ok(_) if binary => {
                return Err(raise(
                    py,
                    Fault::BadOperation(
                        "Message for binary frame must not be instance of Unicode".into(),
                    ),
                ));
            }
            Ok(s) => utf8_of(s)?,
            Err(_) => bytes_of(message)?,
        };
        let driver = &self.driver;
        gil::detach(py, || driver.send(&data, binary, end)).map_err(|f| raise(py, f))
    }

    /// Sends a ping; a `str` body is encoded as UTF-8. At most 125 bytes.
    #[pyo3(signature = (body=None, binary=false))]
    fn send_ping(
        &self,
        py: Python<'_>,
        body: Option<&Bound<'_, PyAny>>,
        binary: bool,
    ) -> PyResult<()> {
        let _ = binary;
        let data = match body {
            None => Vec::new(),
            Some(b) => match b.cast::<PyString>() {
                Ok(s) => utf8_of(s)?,
                Err(_) => bytes_of(b)?,
            },
        };
        if data.len() > 125 {
            return Err(raise(
                py,
                Fault::BadOperation(
                    "Application data size of ping frames must not exceed 125".into(),
                ),
            ));
        }
        let driver = &self.driver;
        gil::detach(py, || driver.ping(&data)).map_err(|f| raise(py, f))
    }

    /// Starts the closing handshake. Does nothing if our close was already sent. Waits for
    /// the peer's close unless `wait_response` is false or `code` is 1001 or 1002.
    #[pyo3(signature = (code=Some(1000), reason=String::new(), wait_response=true))]
    fn close_connection(
        &self,
        py: Python<'_>,
        code: Option<u16>,
        reason: Option<String>,
        wait_response: bool,
    ) -> PyResult<()> {
        if self.flag(py, intern!(py, "server_terminated"))? {
            return Ok(());
        }
        let reason = reason.unwrap_or_default();
        if code.is_none() && !reason.is_empty() {
            return Err(raise(
                py,
                Fault::BadOperation("close reason must not be specified if code is None".into()),
            ));
        }
        let wait = wait_response && !matches!(code, Some(1001 | 1002));
        let driver = &self.driver;
        let peer =
            gil::detach(py, || driver.close(code, &reason, wait)).map_err(|f| raise(py, f))?;
        let request = self.request(py)?;
        request.setattr("server_terminated", true)?;
        if let Some(peer) = peer {
            request.setattr("ws_close_code", peer.code.0)?;
            request.setattr("ws_close_reason", peer.reason)?;
            request.setattr("client_terminated", true)?;
        }
        Ok(())
    }

    /// `length` raw bytes from the socket; raises `ConnectionTerminatedException` when the
    /// peer closes first (pywebsocket's `receive_bytes`).
    fn receive_bytes(&self, py: Python<'_>, length: usize) -> PyResult<Py<PyBytes>> {
        let driver = &self.driver;
        let data = gil::detach(py, || driver.read_raw(length)).map_err(|f| raise(py, f))?;
        if data.len() < length {
            let message =
                format!("receiving {length} bytes failed: the peer closed after {}", data.len());
            return Err(raise(py, Fault::Terminated(message)));
        }
        Ok(PyBytes::new(py, &data).unbind())
    }

    /// The opcode of the last message or frame received: `common.OPCODE_TEXT` or
    /// `OPCODE_BINARY` after `receive_message` returned one, `OPCODE_CLOSE` after it
    /// returned None; `None` before anything arrived.
    fn get_last_received_opcode(&self) -> Option<i32> {
        self._wshd_last_opcode()
    }

    /// The last opcode, for `pywebsocket3._wshd_frames`.
    #[getter]
    fn _wshd_last_opcode(&self) -> Option<i32> {
        let op = self.last_opcode.load(Ordering::Relaxed);
        (op >= 0).then_some(op)
    }

    #[setter(_wshd_last_opcode)]
    fn set_last_opcode(&self, opcode: i32) {
        self.last_opcode.store(opcode, Ordering::Relaxed);
    }

    /// The reassembly state of `pywebsocket3._wshd_frames`.
    #[getter]
    fn _wshd_fragments(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let fragments = self.fragments.lock().unwrap_or_else(|e| e.into_inner());
        fragments.as_ref().map(|f| f.clone_ref(py))
    }

    #[setter(_wshd_fragments)]
    fn set_fragments(&self, fragments: Option<Py<PyAny>>) {
        *self.fragments.lock().unwrap_or_else(|e| e.into_inner()) = fragments;
    }

    /// The request (pywebsocket's private `_request`); None once it is gone.
    #[getter]
    fn _request(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.request(py).ok().map(Bound::unbind)
    }

    /// pywebsocket's private `_options`: a `StreamOptions` whose filter lists are empty
    /// (compression is the server's, not a frame filter).
    #[getter]
    fn _options(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.import("pywebsocket3.stream")?.getattr("StreamOptions")?.call0()?.unbind())
    }

    /// One raw frame (opcode, payload, fin, rsv1, rsv2, rsv3), read past the server's
    /// parser (see `pywebsocket3._wshd_frames`).
    fn _receive_frame(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        frames(slf, "receive_frame", None)
    }

    /// [`Stream::_receive_frame`] as a `stream.Frame`.
    fn _receive_frame_as_frame_object(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        frames(slf, "receive_frame_as_frame_object", None)
    }

    /// The message a frame read with `_receive_frame*` completes, or None.
    fn _get_message_from_frame(
        slf: &Bound<'_, Self>,
        frame: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        frames(slf, "get_message_from_frame", Some(frame))
    }

    /// The closing handshake for a close frame read with `_receive_frame*`.
    fn _process_close_message(
        slf: &Bound<'_, Self>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        frames(slf, "process_close_message", Some(message))
    }

    /// Applies an extension processor's live setting (`_wshd_compress_outgoing` or
    /// `_wshd_bfinal`, see `pywebsocket3/extensions.py`) to the connection.
    fn _wshd_compression_changed(
        &self,
        py: Python<'_>,
        processor: &Bound<'_, PyAny>,
        attribute: &str,
        value: bool,
    ) -> PyResult<()> {
        let _ = processor;
        let (outgoing, bfinal) = match attribute {
            "_wshd_compress_outgoing" => (Some(value), None),
            "_wshd_bfinal" => (None, Some(value)),
            _ => return Ok(()),
        };
        let driver = &self.driver;
        gil::detach(py, || driver.set_compression(outgoing, bfinal));
        Ok(())
    }

    /// The passive closing handshake's answer, for `_process_close_message`.
    fn _wshd_passive_reply(&self, py: Python<'_>) -> PyResult<(Option<u16>, String)> {
        self.passive_reply(py)
    }

    /// Raw socket read used by `request.connection.read`: up to `length` bytes.
    fn read_raw(&self, py: Python<'_>, length: usize) -> PyResult<Py<PyBytes>> {
        let driver = &self.driver;
        let data = gil::detach(py, || driver.read_raw(length)).map_err(|f| raise(py, f))?;
        Ok(PyBytes::new(py, &data).unbind())
    }

    /// Raw socket write used by `request.connection.write`.
    fn write_raw(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = bytes_of(data)?;
        let driver = &self.driver;
        gil::detach(py, || driver.write_raw(&data)).map_err(|f| raise(py, f))
    }
}

/// A `str`'s UTF-8 bytes, copied once (also under the stable ABI of 3.9, which has no
/// borrowed UTF-8 view of a `str`).
fn utf8_of(s: &Bound<'_, PyString>) -> PyResult<Vec<u8>> {
    Ok(s.to_cow()?.into_owned().into_bytes())
}

#[cfg(test)]
mod tests;
