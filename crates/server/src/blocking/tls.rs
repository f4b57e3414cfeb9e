//! [`TlsByteStream`]: a rustls server session over a blocking TCP socket, as a
//! [`ByteStream`] that a reader and a writer thread use at once.
//!
//! The reader reads records from the socket without holding the session, then feeds them
//! to it under its lock; plaintext the caller's buffer cannot take waits in `pending`
//! (rustls holds at most 16 KiB of received plaintext and refuses records beyond it, so
//! it is drained after every batch). The writer encrypts under the lock and writes the
//! records out. It does not know WebSocket framing.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rustls::ServerConnection;

use super::byte_stream::{ByteStream, LastTimeout, send_now, set_read_timeout};

/// Raw bytes read from the socket per call: one full TLS record.
const RECORD_READ: usize = 16 * 1024 + 256;

thread_local! {
    /// The reading thread's buffer for raw records.
    static RAW: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; RECORD_READ]);
}

/// TLS over TCP, server side. See the module docs.
pub struct TlsByteStream {
    socket: TcpStream,
    session: Mutex<Session>,
    read_timeout: LastTimeout,
}

impl std::fmt::Debug for TlsByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsByteStream").field("socket", &self.socket).finish_non_exhaustive()
    }
}

struct Session {
    tls: ServerConnection,
    /// Plaintext decrypted and not yet read, in order.
    pending: Vec<u8>,
    /// Where `pending` starts (bytes before it were read).
    taken: usize,
    /// The peer's `close_notify` arrived: after `pending`, the stream ends.
    ended: bool,
}

impl TlsByteStream {
    /// Takes over a blocking `socket` whose TLS handshake `tls` completed (plaintext it
    /// already decrypted is read first).
    pub fn new(socket: TcpStream, tls: ServerConnection) -> io::Result<TlsByteStream> {
        let mut session = Session { tls, pending: Vec::new(), taken: 0, ended: false };
        session.drain_plaintext()?;
        Ok(TlsByteStream {
            socket,
            session: Mutex::new(session),
            read_timeout: LastTimeout::default(),
        })
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Session {
    /// Moves the plaintext the session holds into `pending`.
    fn drain_plaintext(&mut self) -> io::Result<()> {
        if self.taken == self.pending.len() {
            self.pending.clear();
            self.taken = 0;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.tls.reader().read(&mut chunk) {
                Ok(0) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Copies pending plaintext into `buf`; `None` when there is none.
    fn take(&mut self, buf: &mut [u8]) -> Option<usize> {
        let available = &self.pending[self.taken..];
        if available.is_empty() {
            return self.ended.then_some(0);
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.taken += n;
        Some(n)
    }

    /// Writes the records the session has ready.
    fn write_records(&mut self, mut out: &TcpStream) -> io::Result<()> {
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out)?;
        }
        Ok(())
    }

    /// Encrypts all of `data`, writing records out whenever the session's buffer is full
    /// (rustls takes at most 64 KiB of plaintext at a time and answers 0 beyond it).
    fn write_plaintext(&mut self, out: &TcpStream, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.tls.writer().write(data)?;
            data = &data[n..];
            if !data.is_empty() {
                self.write_records(out)?;
            }
        }
        Ok(())
    }
}

impl TlsByteStream {
    /// Reads records from the socket until some plaintext (or the end) is there.
    fn read_records(&self, raw: &mut [u8], buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let got = loop {
                match (&self.socket).read(raw) {
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if got == 0 {
                // TCP closed without close_notify: the end of the stream, as on TCP.
                return Ok(0);
            }
            let mut session = self.session();
            let mut rest = &raw[..got];
            while !rest.is_empty() {
                session.tls.read_tls(&mut rest)?;
                session.tls.process_new_packets().map_err(io::Error::other)?;
                session.drain_plaintext()?;
            }
            session.write_records(&self.socket)?;
            if let Some(n) = session.take(buf) {
                return Ok(n);
            }
            // Only handshake or alert records arrived: read again.
        }
    }
}

impl ByteStream for TlsByteStream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to the system.
        self.socket.set_write_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))
    }

    fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        if let Some(n) = self.session().take(buf) {
            return Ok(n);
        }
        set_read_timeout(&self.socket, &self.read_timeout, timeout)?;
        RAW.with_borrow_mut(|raw| self.read_records(raw, buf))
    }

    fn write_all(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        let mut session = self.session();
        session.write_plaintext(&self.socket, head)?;
        session.write_plaintext(&self.socket, body)?;
        session.write_records(&self.socket)
    }

    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let Ok(mut session) = self.session.try_lock() else { return Ok(0) };
        let n = session.tls.writer().write(data)?;
        // Records that do not fit the socket now stay in the session for the next write.
        while session.tls.wants_write() {
            let mut out = NonBlocking(&self.socket);
            match session.tls.write_tls(&mut out) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        let mut session = self.session();
        session.tls.send_close_notify();
        let _ = session.write_records(&self.socket);
        self.socket.shutdown(Shutdown::Write)
    }

    fn cut_off(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// Writes to a socket without waiting, for records going out from a thread that must not
/// block.
struct NonBlocking<'a>(&'a TcpStream);

impl Write for NonBlocking<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match send_now(self.0, data, false)? {
            0 if !data.is_empty() => Err(ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
