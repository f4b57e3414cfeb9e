//! `request.connection` during `web_socket_do_extra_handshake`: raw reads and writes on
//! the client's socket before the server has answered.
//!
//! WPT and Chromium handlers write their own (sometimes deliberately broken) handshake
//! responses here and read what the client sends back, or block in `read(4096)` to stall
//! a client. Each call becomes a [`Cmd`] for the connection's task, which owns the socket
//! and performs it through [`wshd_server::HandshakeRequest`]; the handler's thread waits
//! with the GIL released. Writes are queued and go out before the next read, or when the
//! hook returns (before the server's own answer, or instead of it). It does no framing.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::bridge::{Cmd, call};
use crate::gil;
use crate::stream::{bytes_of, raise};

/// The raw socket behind `request.connection` while the extra handshake runs.
#[pyclass(module = "_wshd", name = "HandshakeSocket")]
pub(crate) struct HandshakeSocket {
    tx: UnboundedSender<Cmd>,
}

impl HandshakeSocket {
    pub(crate) fn new(tx: UnboundedSender<Cmd>) -> Self {
        HandshakeSocket { tx }
    }
}

#[pymethods]
impl HandshakeSocket {
    /// `length` bytes from the client, or fewer if it closes its side first.
    fn read_raw(&self, py: Python<'_>, length: usize) -> PyResult<Py<PyBytes>> {
        let tx = &self.tx;
        let data = py
            .detach(|| call(tx, |reply| Cmd::Read { len: length, reply }))
            .map_err(|f| raise(py, f))?;
        Ok(PyBytes::new(py, &data).unbind())
    }

    /// Queues bytes for the client.
    fn write_raw(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = bytes_of(data)?;
        let tx = &self.tx;
        gil::detach(py, || call(tx, |reply| Cmd::Write { data, reply })).map_err(|f| raise(py, f))
    }
}
