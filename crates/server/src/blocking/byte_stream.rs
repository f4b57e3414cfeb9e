//! [`ByteStream`]: the transport seam of the blocking shell, and its TCP implementation.
//!
//! A blocking WebSocket runs over anything that can read and write bytes from several
//! threads at once: a TCP socket ([`TcpByteStream`]), TLS over one
//! ([`super::TlsByteStream`]), or a connection object a host hands over (an HTTP/2
//! stream of a Python server, Apache's connection under mod_python), implemented by the
//! crate that knows the host. The trait takes `&self` everywhere: one thread may block
//! in `read` while another writes.
//!
//! It is not a buffer and not a framing layer: the shell owns the protocol state and
//! decides what to read and write; a byte stream only moves bytes.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A bidirectional byte stream a [`super::BlockingWebSocket`] runs over.
///
/// Reads are serialized by the shell (one reader at a time); writes are serialized by
/// the shell too, but may run while a read is blocked.
pub trait ByteStream: Send + Sync + 'static {
    /// Reads into `buf`: at least one byte, or `Ok(0)` at the end of the stream. With a
    /// `timeout`, gives up after it with an error of kind `WouldBlock` or `TimedOut`.
    fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize>;

    /// Writes all of `head`, then all of `body` (a frame header and its payload, written
    /// without joining them first).
    fn write_all(&self, head: &[u8], body: &[u8]) -> io::Result<()>;

    /// Writes what it can of `data` without waiting, and returns how much. For going away
    /// on shutdown from a thread that must never block. The default writes nothing.
    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let _ = data;
        Ok(0)
    }

    /// Whether `read(buf)` waits until all of `buf` is filled (a host's `read(n)`), so the
    /// shell must never ask for more than the protocol needs next. Sockets return what
    /// has arrived and say `false`.
    fn exact_reads(&self) -> bool {
        false
    }

    /// Ends our sending side (a TCP FIN; on TLS, `close_notify` first), keeping the
    /// receiving side open for the peer's last bytes.
    fn shutdown_write(&self) -> io::Result<()>;

    /// Stops both directions now: reads and writes blocked in other threads return.
    /// Called before the stream is dropped while another thread may still use it.
    fn cut_off(&self);

    /// Whether a connection that completed its closing handshake may be closed at once,
    /// without shutting down and draining first (plain TCP: yes; TLS, whose peer may
    /// still send `close_notify`: no).
    fn closes_at_once(&self) -> bool {
        false
    }

    /// Makes a write that moves no bytes for `timeout` fail with `WouldBlock` or
    /// `TimedOut` (the connection's send timeout; `None`: wait forever). Sockets support
    /// it; the default, for hosts' connection objects, keeps their own write timeouts.
    /// A stream with [`ByteStream::write_some`] waits at most `timeout` per call.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// One write of what it can of `head` then `body`, waiting at most the write timeout:
    /// how many bytes it took, or `WouldBlock`/`TimedOut` with none taken. `None` for a
    /// stream that only writes whole buffers ([`ByteStream::write_all`]), the default.
    /// It lets the shell see every bit of progress, so a slow reader is never mistaken
    /// for one that stopped.
    fn write_some(&self, head: &[u8], body: &[u8]) -> Option<io::Result<usize>> {
        let _ = (head, body);
        None
    }

    /// Hands `data` to the transport to leave together with the end of the stream, when
    /// it can do so without waiting; returns how much it took (the shell writes the rest
    /// as usual). The default takes nothing.
    fn send_before_close(&self, data: &[u8]) -> usize {
        let _ = data;
        0
    }
}

/// A TCP socket in blocking mode: one descriptor, read and written through `&TcpStream`.
#[derive(Debug)]
pub struct TcpByteStream {
    socket: TcpStream,
    /// The read timeout last set on the socket: one system call saved per read while it
    /// stays the same.
    read_timeout: LastTimeout,
}

impl TcpByteStream {
    /// Takes over `socket`, which must be in blocking mode.
    pub fn new(socket: TcpStream) -> TcpByteStream {
        TcpByteStream { socket, read_timeout: LastTimeout::default() }
    }

    /// The socket.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }
}

/// The read timeout last set on a socket, in nanoseconds (`u64::MAX`: none), read without
/// a lock on every read.
#[derive(Debug)]
pub(crate) struct LastTimeout(AtomicU64);

impl Default for LastTimeout {
    fn default() -> Self {
        LastTimeout(AtomicU64::new(u64::MAX))
    }
}

/// Sets `socket`'s read timeout to `timeout` unless `last` says it already is. Only the
/// one reading thread calls it.
pub(crate) fn set_read_timeout(
    socket: &TcpStream,
    last: &LastTimeout,
    timeout: Option<Duration>,
) -> io::Result<()> {
    // A zero timeout means "none" to the system: wait at least a millisecond instead.
    let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
    let nanos = timeout.map_or(u64::MAX, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX - 1));
    if last.0.load(Ordering::Relaxed) != nanos {
        socket.set_read_timeout(timeout)?;
        last.0.store(nanos, Ordering::Relaxed);
    }
    Ok(())
}

/// Writes `head` then `body` to `out`: vectored writes for two buffers, plain ones (one
/// `send` each, cheaper than `writev`) for one.
pub(crate) fn write_two(mut out: impl Write, head: &[u8], body: &[u8]) -> io::Result<()> {
    if body.is_empty() {
        return out.write_all(head);
    }
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let slices = [io::IoSlice::new(head), io::IoSlice::new(body)];
        let n = match out.write_vectored(&slices) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(())
}

/// `send(2)` without waiting (Linux: `MSG_DONTWAIT`, whatever the socket's mode).
pub(crate) fn send_now(socket: &TcpStream, data: &[u8], more: bool) -> io::Result<usize> {
    use rustix::net::{SendFlags, send};
    // MSG_MORE holds the bytes for the FIN that follows; Linux only.
    #[cfg(target_os = "linux")]
    let flags = if more { SendFlags::DONTWAIT | SendFlags::MORE } else { SendFlags::DONTWAIT };
    #[cfg(not(target_os = "linux"))]
    let flags = {
        let _ = more;
        SendFlags::DONTWAIT
    };
    match send(socket, data, flags) {
        Ok(n) => Ok(n),
        Err(e) if e == rustix::io::Errno::AGAIN => Ok(0),
        Err(e) => Err(e.into()),
    }
}

impl ByteStream for TcpByteStream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // Waits of a quarter of the send timeout: a blocking send that took some bytes
        // returns them only when its timeout ends, so the shell learns of progress within
        // a quarter. A zero timeout means "none" to the system.
        self.socket.set_write_timeout(timeout.map(|t| (t / 4).max(Duration::from_millis(1))))
    }

    fn write_some(&self, head: &[u8], body: &[u8]) -> Option<io::Result<usize>> {
        let slices = [io::IoSlice::new(head), io::IoSlice::new(body)];
        Some(loop {
            // One buffer: a plain send, cheaper than writev (as in `write_two`).
            let wrote = if body.is_empty() {
                (&self.socket).write(head)
            } else {
                (&self.socket).write_vectored(&slices)
            };
            match wrote {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        })
    }

    fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        set_read_timeout(&self.socket, &self.read_timeout, timeout)?;
        loop {
            match (&self.socket).read(buf) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn write_all(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        write_two(&self.socket, head, body)
    }

    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        send_now(&self.socket, data, false)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.socket.shutdown(Shutdown::Write)
    }

    fn cut_off(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    fn closes_at_once(&self) -> bool {
        true
    }

    fn send_before_close(&self, data: &[u8]) -> usize {
        send_now(&self.socket, data, true).unwrap_or(0)
    }
}
