//! [`Driver`]: a Python handler's connection, driven with blocking system calls from the
//! handler's own threads.
//!
//! A Python handler blocks an OS thread for its whole life, as pywebsocket's do, so its
//! connection leaves the async server after the opening handshake
//! ([`wshd_server::WebSocket::detach`]): each `receive_message` reads the socket and each
//! `send_message` writes it, from the calling thread with the GIL released, around the
//! same sans-I/O core the async server uses. There is no hop to another thread per call.
//!
//! Two locks make one stream usable from a reader and a writer thread at once: `input`
//! is held by whoever reads the socket (so reads are serialized and never interleave),
//! `state` guards the core and the writing side and is never held across a blocking
//! read. The core's deadlines (close timeout, keepalive) become read timeouts.
//!
//! This module knows nothing of Python objects; `stream.rs` maps its results to
//! pywebsocket's API and exceptions.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wshd_proto::{Connection, Ending, Event, MessageKind, State, UsageError};
use wshd_server::Detached;
use wshd_server::rustls::ServerConnection;

use crate::bridge::{Fault, Outcome, Received};

/// Send buffers up to this size are kept between messages.
const KEEP_BUFFERS: usize = 64 * 1024;

/// Most bytes read from the socket per call, into a buffer owned by the reading thread.
const READ_CHUNK: usize = 64 * 1024;

/// The reading thread's buffer starts this small and doubles (up to `READ_CHUNK`) each
/// time a read fills it: a thread per connection should not cost 64 KiB for small
/// messages.
const FIRST_READ_CHUNK: usize = 4 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; FIRST_READ_CHUNK]);
}

/// One detached connection of a Python handler. See the module docs.
pub(crate) struct Driver {
    state: Mutex<Inner>,
    input: Mutex<Input>,
    /// Set while a thread is inside [`Driver::receive`]: a second receiver is refused.
    receiving: AtomicBool,
    linger: Duration,
    peer: SocketAddr,
}

/// The core and the writing side.
struct Inner {
    conn: Connection,
    out: TcpStream,
    /// The TLS session of a `wss://` connection: what goes over `out` are its records.
    tls: Option<Box<ServerConnection>>,
    /// A message the core handed over in pieces.
    partial: Option<(MessageKind, Vec<u8>)>,
    /// Our side of TCP is shut down; nothing more is written.
    tcp_done: bool,
}

/// The reading side, with the read timeout last set on it (one system call saved per
/// read while it stays the same).
struct Input {
    stream: TcpStream,
    timeout: Option<Duration>,
}

/// Decrypts TLS records read from the socket, handing the plaintext to `drain` after
/// each batch (rustls holds at most 16 KiB of received plaintext and refuses records
/// beyond it), then writes what the session answers.
fn read_records(
    tls: &mut ServerConnection,
    raw: &[u8],
    out: &mut TcpStream,
    mut drain: impl FnMut(&mut ServerConnection) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut rest = raw;
    while !rest.is_empty() {
        tls.read_tls(&mut rest)?;
        tls.process_new_packets().map_err(std::io::Error::other)?;
        drain(tls)?;
    }
    write_records(tls, out)
}

/// Moves the plaintext `tls` holds into the core; the peer's `close_notify` is the end of
/// the stream.
fn plaintext_into(tls: &mut ServerConnection, conn: &mut Connection) -> std::io::Result<()> {
    let mut plain = [0u8; 16 * 1024];
    loop {
        match tls.reader().read(&mut plain) {
            Ok(0) => {
                conn.receive_eof();
                return Ok(());
            }
            Ok(n) => conn.receive_data(&plain[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Hands all of `data` to the TLS session, writing records out whenever the session's
/// buffer is full: rustls takes at most its buffer limit (64 KiB) of plaintext at a time
/// and answers `Ok(0)` beyond it, which `write_all` would take for a dead peer.
fn tls_write_all(
    tls: &mut ServerConnection,
    out: &mut TcpStream,
    mut data: &[u8],
) -> std::io::Result<()> {
    while !data.is_empty() {
        let n = tls.writer().write(data)?;
        data = &data[n..];
        if !data.is_empty() {
            write_records(tls, out)?;
        }
    }
    Ok(())
}

/// Writes the TLS records the session has ready.
fn write_records(tls: &mut ServerConnection, out: &mut TcpStream) -> std::io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(out)?;
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked while holding a lock left consistent data behind: every
    // critical section here only moves bytes between the core and the socket.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn terminated(e: impl std::fmt::Display) -> Fault {
    Fault::Terminated(e.to_string())
}

fn usage(e: UsageError) -> Fault {
    match e {
        UsageError::AlreadyClosed => {
            Fault::BadOperation("a close frame was already sent; nothing more may be sent".into())
        }
        other => Fault::BadOperation(other.to_string()),
    }
}

impl Inner {
    /// Writes out everything the core queued.
    fn flush(&mut self) -> std::io::Result<()> {
        let Inner { conn, out, tls, .. } = self;
        match tls {
            None => {
                while !conn.data_to_send().is_empty() {
                    let n = out.write(conn.data_to_send())?;
                    if n == 0 {
                        return Err(ErrorKind::WriteZero.into());
                    }
                    conn.advance_sent(n);
                }
                Ok(())
            }
            Some(tls) => {
                let n = conn.data_to_send().len();
                if n > 0 {
                    tls_write_all(tls, out, conn.data_to_send())?;
                    conn.advance_sent(n);
                }
                write_records(tls, out)
            }
        }
    }

    /// Writes a frame header and its payload, from two buffers.
    fn write_frame(&mut self, head: &[u8], body: &[u8]) -> std::io::Result<()> {
        let Inner { out, tls, .. } = self;
        if let Some(tls) = tls {
            tls_write_all(tls, out, head)?;
            tls_write_all(tls, out, body)?;
            return write_records(tls, out);
        }
        let (mut head, mut body) = (head, body);
        while !head.is_empty() || !body.is_empty() {
            let slices = [std::io::IoSlice::new(head), std::io::IoSlice::new(body)];
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

    /// Writes `data` as it is, after everything queued.
    fn write_raw(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.flush()?;
        match &mut self.tls {
            None => self.out.write_all(data),
            Some(tls) => {
                tls_write_all(tls, &mut self.out, data)?;
                write_records(tls, &mut self.out)
            }
        }
    }

    /// Hands bytes read from the socket to the core (through TLS, if any); an empty
    /// read is the end of the stream.
    fn receive(&mut self, raw: &[u8]) -> std::io::Result<()> {
        if raw.is_empty() {
            self.conn.receive_eof();
            return Ok(());
        }
        let Inner { conn, out, tls, .. } = self;
        let Some(tls) = tls else {
            conn.receive_data(raw);
            return Ok(());
        };
        read_records(tls, raw, out, |tls| plaintext_into(tls, conn))
    }

    /// Raw reads on a TLS connection: up to `max` bytes of the plaintext the session
    /// holds, past the core; `None` once the peer's `close_notify` came.
    fn read_plaintext(&mut self, max: usize) -> std::io::Result<Option<Vec<u8>>> {
        let Some(tls) = &mut self.tls else { return Ok(Some(Vec::new())) };
        let mut buf = vec![0u8; max.min(READ_CHUNK)];
        match tls.reader().read(&mut buf) {
            Ok(0) => Ok(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Some(Vec::new())),
            Err(e) => Err(e),
        }
    }

    /// Sends TLS's `close_notify` on a TLS connection; nothing on plain TCP.
    fn close_tls(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = write_records(tls, &mut self.out);
        }
    }

    /// Moves the plaintext the TLS session holds into the core. The peer's
    /// `close_notify` is the end of the stream.
    fn take_plaintext(&mut self) -> std::io::Result<()> {
        let Inner { conn, tls, .. } = self;
        match tls {
            Some(tls) => plaintext_into(tls, conn),
            None => Ok(()),
        }
    }

    /// How the connection ended, once the core is closed.
    fn ending(&self) -> Fault {
        match self.conn.ending() {
            Some(Ending::CloseTimedOut) => {
                terminated("timed out waiting for the peer's close frame")
            }
            Some(Ending::Abnormal) => {
                terminated("the peer closed the transport without a closing handshake")
            }
            _ => terminated("the connection is closed"),
        }
    }
}

impl Input {
    /// Reads once, waiting at most until `deadline`, and feeds the core.
    fn fill(&mut self, state: &Mutex<Inner>, deadline: Option<Instant>) -> Result<(), Fault> {
        let timeout = deadline
            .map(|d| d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        if timeout != self.timeout {
            self.stream.set_read_timeout(timeout).map_err(terminated)?;
            self.timeout = timeout;
        }
        SCRATCH.with_borrow_mut(|buf| {
            loop {
                match self.stream.read(buf) {
                    Ok(n) => {
                        lock(state).receive(&buf[..n]).map_err(terminated)?;
                        if n == buf.len() && n < READ_CHUNK {
                            buf.resize(2 * n, 0);
                        }
                        return Ok(());
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        lock(state).conn.handle_timeout(Instant::now());
                        return Ok(());
                    }
                    Err(e) => {
                        lock(state).conn.receive_eof();
                        return Err(terminated(e));
                    }
                }
            }
        })
    }
}

/// Clears [`Driver::receiving`] when a receive ends, however it ends.
struct Receiving<'a>(&'a AtomicBool);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Driver {
    /// Takes over a detached connection.
    pub(crate) fn new(detached: Detached, peer: SocketAddr) -> std::io::Result<Driver> {
        let Detached { stream, tls, mut conn, linger } = detached;
        conn.set_whole_messages(true);
        let input = Input { stream: stream.try_clone()?, timeout: None };
        let mut inner = Inner { conn, out: stream, tls, partial: None, tcp_done: false };
        // Plaintext TLS decrypted before the handover belongs to the connection.
        inner.take_plaintext()?;
        Ok(Driver {
            state: Mutex::new(inner),
            input: Mutex::new(input),
            receiving: AtomicBool::new(false),
            linger,
            peer,
        })
    }

    /// The next whole message, the peer's close frame, or (when asked for) a ping or
    /// pong. Pings the caller does not want are answered automatically.
    pub(crate) fn receive(&self, pings: bool, pongs: bool) -> Result<Received, Fault> {
        if self.receiving.swap(true, Ordering::AcqRel) {
            return Err(Fault::BadOperation(
                "another thread is already receiving on this stream".into(),
            ));
        }
        let _receiving = Receiving(&self.receiving);
        let mut input = lock(&self.input);
        loop {
            let deadline = {
                let mut inner = lock(&self.state);
                inner.conn.set_auto_pong(!pings);
                if let Some(result) = self.next_received(&mut inner, pings, pongs) {
                    return result;
                }
                if inner.conn.state() == State::Closed {
                    let fault = inner.ending();
                    drop(inner);
                    drop(input);
                    self.finish_tcp();
                    return Err(fault);
                }
                // Buffers up to 64 KiB are kept between messages (the async server frees
                // them on every wait): a Python connection already costs a thread, and
                // freeing and reallocating per message costs more than it saves.
                inner.flush().map_err(terminated)?;
                inner.conn.release_idle_buffers_over(KEEP_BUFFERS);
                inner.conn.poll_timeout()
            };
            input.fill(&self.state, deadline)?;
        }
    }

    /// Maps the core's next event, if there is one to report.
    fn next_received(
        &self,
        inner: &mut Inner,
        pings: bool,
        pongs: bool,
    ) -> Option<Result<Received, Fault>> {
        loop {
            match inner.conn.next_event()? {
                Ok(Event::Data { kind, data, fin }) => {
                    let (kind, data) = match inner.partial.take() {
                        None => (kind, data),
                        Some((kind, mut head)) => {
                            inner.conn.limits().append_to_message(&mut head, &data);
                            (kind, head)
                        }
                    };
                    if !fin {
                        inner.partial = Some((kind, data));
                        continue;
                    }
                    return Some(Ok(match kind {
                        MessageKind::Binary => Received::Binary(data),
                        // The core validated the message as UTF-8.
                        MessageKind::Text => match String::from_utf8(data) {
                            Ok(text) => Received::Text(text),
                            Err(_) => {
                                return Some(Err(Fault::Protocol(1007, "invalid UTF-8".into())));
                            }
                        },
                    }));
                }
                Ok(Event::Ping(p)) if pings => return Some(Ok(Received::Ping(p))),
                Ok(Event::Pong(p)) if pongs => return Some(Ok(Received::Pong(p))),
                Ok(Event::Ping(_) | Event::Pong(_)) => continue,
                // The peer's close, before ours: the handler answers it (`answer`). After
                // ours, the closing handshake is complete and `receive` reports the end.
                Ok(Event::Close(close)) if inner.conn.state() == State::CloseReceived => {
                    let (code, reason) = close.map_or((None, String::new()), |(c, r)| (Some(c), r));
                    return Some(Ok(Received::Close(code, reason)));
                }
                Ok(Event::Close(_)) => continue,
                Err(e) => {
                    let code = inner.conn.close_code_for(&e).0;
                    tracing::info!(peer = %self.peer, code, "failing connection: {e}");
                    // The core queued our close frame; it goes out with the TCP close.
                    let _ = inner.flush();
                    return Some(Err(Fault::Protocol(code, e.to_string())));
                }
            }
        }
    }

    /// Sends a message or a fragment of one.
    pub(crate) fn send(&self, data: &[u8], binary: bool, fin: bool) -> Result<(), Fault> {
        let kind = if binary { MessageKind::Binary } else { MessageKind::Text };
        let mut inner = lock(&self.state);
        if data.len() >= wshd_server::DIRECT_SEND_MIN {
            // A large payload goes out behind its header without a copy, when the core
            // allows (nothing queued, no compression).
            inner.flush().map_err(terminated)?;
            if let Some(head) =
                inner.conn.send_data_unbuffered(kind, data.len(), fin).map_err(usage)?
            {
                return inner.write_frame(head.as_bytes(), data).map_err(terminated);
            }
        }
        inner.conn.send_data(kind, data, fin).map_err(usage)?;
        inner.flush().map_err(terminated)
    }

    /// Sends a ping.
    pub(crate) fn ping(&self, data: &[u8]) -> Result<(), Fault> {
        let mut inner = lock(&self.state);
        inner.conn.send_ping(data).map_err(usage)?;
        inner.flush().map_err(terminated)
    }

    /// Sends a pong.
    pub(crate) fn pong(&self, data: &[u8]) -> Result<(), Fault> {
        let mut inner = lock(&self.state);
        inner.conn.send_pong(data).map_err(usage)?;
        inner.flush().map_err(terminated)
    }

    /// Starts the closing handshake; with `wait`, waits (at most the close timeout) for
    /// the peer's close frame and returns it.
    pub(crate) fn close(
        &self,
        code: Option<u16>,
        reason: &str,
        wait: bool,
    ) -> Result<Option<(Option<u16>, String)>, Fault> {
        {
            let mut inner = lock(&self.state);
            inner.conn.close(code, reason, Instant::now()).map_err(usage)?;
            inner.flush().map_err(terminated)?;
        }
        if !wait {
            return Ok(None);
        }
        self.wait_closed()?;
        let inner = lock(&self.state);
        Ok(inner.conn.peer_close().map(|c| match c {
            Some((code, reason)) => (Some(*code), reason.clone()),
            None => (None, String::new()),
        }))
    }

    /// Answers the peer's close frame (the passive closing handshake) and closes TCP.
    pub(crate) fn answer(&self, code: Option<u16>, reason: &str) -> Result<(), Fault> {
        {
            let mut inner = lock(&self.state);
            if let Err(e) = inner.conn.close(code, reason, Instant::now()) {
                tracing::warn!(peer = %self.peer, "passive closing handshake chose an invalid close ({e}); answering with an empty close");
                inner.conn.close(None, "", Instant::now()).map_err(usage)?;
            }
            inner.flush().map_err(terminated)?;
        }
        self.finish_tcp();
        Ok(())
    }

    /// Runs the connection until the closing handshake is over, discarding data.
    fn wait_closed(&self) -> Result<(), Fault> {
        let mut input = lock(&self.input);
        loop {
            let deadline = {
                let mut inner = lock(&self.state);
                while let Some(event) = inner.conn.next_event() {
                    if let Err(e) = event {
                        let code = inner.conn.close_code_for(&e).0;
                        let _ = inner.flush();
                        return Err(Fault::Protocol(code, e.to_string()));
                    }
                }
                if inner.conn.state() == State::Closed {
                    return match inner.conn.ending() {
                        Some(Ending::Clean) | None => Ok(()),
                        _ => Err(inner.ending()),
                    };
                }
                inner.flush().map_err(terminated)?;
                inner.conn.poll_timeout()
            };
            input.fill(&self.state, deadline)?;
        }
    }

    /// Writes raw bytes after anything queued (`request.connection.write`).
    pub(crate) fn write_raw(&self, data: &[u8]) -> Result<(), Fault> {
        lock(&self.state).write_raw(data).map_err(terminated)
    }

    /// Reads `len` raw bytes, fewer only if the peer closes first, past the frame parser
    /// (`request.connection.read`). Bytes the parser already received are not returned.
    pub(crate) fn read_raw(&self, len: usize) -> Result<Vec<u8>, Fault> {
        let max = lock(&self.state).conn.limits().max_message_size;
        if len > max {
            return Err(Fault::BadOperation(format!(
                "a raw read of {len} bytes exceeds the message limit of {max}"
            )));
        }
        let mut input = lock(&self.input);
        if input.timeout.is_some() {
            input.stream.set_read_timeout(None).map_err(terminated)?;
            input.timeout = None;
        }
        let mut buf = Vec::with_capacity(len.min(READ_CHUNK));
        if lock(&self.state).tls.is_none() {
            (&input.stream).take(len as u64).read_to_end(&mut buf).map_err(terminated)?;
            return Ok(buf);
        }
        // TLS: plaintext the session holds first, then more records from the socket, at
        // most 16 KiB at a time: their plaintext stays in the session until it is asked
        // for, and the session holds no more than 16 KiB of it.
        let mut raw = vec![0u8; 16 * 1024];
        while buf.len() < len {
            match lock(&self.state).read_plaintext(len - buf.len()).map_err(terminated)? {
                None => break,
                Some(plain) if !plain.is_empty() => {
                    buf.extend_from_slice(&plain);
                    continue;
                }
                Some(_) => {}
            }
            let n = loop {
                match input.stream.read(&mut raw) {
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    other => break other.map_err(terminated)?,
                }
            };
            if n == 0 {
                break;
            }
            let mut inner = lock(&self.state);
            let Inner { tls, out, .. } = &mut *inner;
            if let Some(tls) = tls {
                read_records(tls, &raw[..n], out, |_| Ok(())).map_err(terminated)?;
            }
        }
        Ok(buf)
    }

    /// Applies the extension processor's live settings from the next message on.
    pub(crate) fn set_compression(&self, outgoing: Option<bool>, bfinal: Option<bool>) {
        let mut inner = lock(&self.state);
        if let Some(on) = outgoing {
            inner.conn.set_outgoing_compression(on);
        }
        if let Some(on) = bfinal {
            inner.conn.set_outgoing_bfinal(on);
        }
    }

    /// The closing-handshake state.
    pub(crate) fn state(&self) -> State {
        lock(&self.state).conn.state()
    }

    /// The server is shutting down: sends close 1001 unless a close was sent already.
    pub(crate) fn go_away(&self) {
        let mut inner = lock(&self.state);
        if matches!(inner.conn.state(), State::Open | State::CloseReceived)
            && inner.conn.close(Some(1001), "server shutting down", Instant::now()).is_ok()
        {
            let _ = inner.flush();
        }
    }

    /// Closes with `code` at once, without waiting for the peer's answer (when there is
    /// no thread to run the handler on).
    pub(crate) fn close_now(&self, code: u16) {
        {
            let mut inner = lock(&self.state);
            if inner.conn.close(Some(code), "", Instant::now()).is_ok() {
                let _ = inner.flush();
            }
        }
        self.abort();
    }

    /// Ends the connection after `web_socket_transfer_data` (pywebsocket.md §2.4).
    pub(crate) fn finish(&self, outcome: Outcome) {
        let state = self.state();
        let open = matches!(state, State::Open | State::CloseReceived);
        match outcome {
            Outcome::Aborted | Outcome::Dropped => return self.abort(),
            Outcome::ServerTerminated if open => return self.abort(),
            Outcome::Returned | Outcome::ServerTerminated if open => {
                let _ = self.close(Some(1000), "", false);
            }
            Outcome::Close(code) if open => {
                let _ = self.close(Some(code), "", false);
            }
            _ => {}
        }
        // Wait for the peer's close (at most the close timeout), unless the handshake is
        // already over, then close TCP, unless that is done too.
        let _ = self.wait_closed();
        self.finish_tcp();
    }

    /// Writes what is queued and closes TCP at once, without a close frame.
    fn abort(&self) {
        let mut inner = lock(&self.state);
        let _ = inner.flush();
        inner.close_tls();
        let _ = inner.out.shutdown(Shutdown::Both);
        inner.tcp_done = true;
    }

    /// Shuts down our side once, then reads and discards until the peer closes or the
    /// linger time passes, so our last bytes are not lost to a reset.
    fn finish_tcp(&self) {
        {
            let mut inner = lock(&self.state);
            if inner.tcp_done {
                return;
            }
            inner.tcp_done = true;
            let _ = inner.flush();
            inner.close_tls();
            if inner.out.shutdown(Shutdown::Write).is_err() {
                return;
            }
        }
        let Ok(mut input) = self.input.try_lock() else { return };
        if input.stream.set_read_timeout(Some(self.linger.max(Duration::from_millis(1)))).is_ok() {
            input.timeout = Some(self.linger);
            let until = Instant::now() + self.linger;
            let mut sink = [0u8; 4096];
            while Instant::now() < until && matches!(input.stream.read(&mut sink), Ok(n) if n > 0) {
            }
        }
        let _ = input.stream.shutdown(Shutdown::Both);
    }
}
