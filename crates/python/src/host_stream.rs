//! [`HostStream`]: a connection object a Python host hands over (`read(n)` and
//! `write(data)`, as mod_python's connection and wptserve's HTTP/2 stream wrapper have),
//! as the server's blocking shell's [`ByteStream`].
//!
//! Such a `read(n)` waits until it has all `n` bytes, so the stream asks the shell for
//! exact reads: never more than the frame in hand. A host's read cannot be given a
//! timeout; the connection's close timeout applies only when the host's read returns.
//! It is not a framing layer, and it closes nothing: the host ends its stream itself.

use std::io;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wshd_server::blocking::ByteStream;

use crate::gil;

/// A host's connection object. See the module docs.
pub(crate) struct HostStream {
    connection: Py<PyAny>,
}

impl HostStream {
    pub(crate) fn new(connection: Py<PyAny>) -> HostStream {
        HostStream { connection }
    }
}

fn python_error(e: PyErr) -> io::Error {
    io::Error::other(format!("the host's connection failed: {e}"))
}

impl ByteStream for HostStream {
    fn read(&self, buf: &mut [u8], _timeout: Option<Duration>) -> io::Result<usize> {
        gil::attach(|py| {
            let data = self.connection.bind(py).call_method1("read", (buf.len(),));
            let data = data.map_err(python_error)?;
            let bytes = data.cast::<PyBytes>().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "the host's read() returned no bytes")
            })?;
            let bytes = bytes.as_bytes();
            // More than asked for would be bytes of a frame the shell does not expect.
            if bytes.len() > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the host's read({}) returned {} bytes", buf.len(), bytes.len()),
                ));
            }
            buf[..bytes.len()].copy_from_slice(bytes);
            Ok(bytes.len())
        })
    }

    fn write_all(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        let mut data = Vec::with_capacity(head.len() + body.len());
        data.extend_from_slice(head);
        data.extend_from_slice(body);
        gil::attach(|py| {
            let bytes = PyBytes::new(py, &data);
            self.connection.bind(py).call_method1("write", (bytes,)).map_err(python_error)?;
            Ok(())
        })
    }

    fn exact_reads(&self) -> bool {
        true
    }

    fn shutdown_write(&self) -> io::Result<()> {
        Ok(())
    }

    fn cut_off(&self) {}

    fn closes_at_once(&self) -> bool {
        true
    }
}
