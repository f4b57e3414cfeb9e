//! The blocking shell: one WebSocket driven with blocking calls from the caller's own
//! threads, over any [`ByteStream`].
//!
//! It is the async [`crate::WebSocket`]'s twin for code that blocks a thread per
//! connection anyway (Python handlers, a host's connection object): each receive reads
//! the transport and each send writes it from the calling thread, around the same
//! sans-I/O core, which makes every protocol decision (message assembly, the answer to a
//! close, going away, when to linger). What is here is only the waiting.
//!
//! Three locks let a reader and a writer thread share one connection: `input` is held by
//! whoever reads (reads never interleave), `state` guards the core and the writing side
//! and is never held across a blocking read, and `io` (a read-write lock around the
//! transport) lets the connection drop its transport, closing the socket, as soon as it
//! ends, whoever still holds the connection. Going away on shutdown never waits: it
//! writes what the socket takes at once, and a send that stays blocked is cut off by the
//! caller ([`BlockingWebSocket::cut_off`]).

mod byte_stream;
mod tls;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use wshd_proto::{
    CloseCode, CloseFrame, Connection, Ending, Event, MessageKind, ProtocolError, State,
};

pub use byte_stream::{ByteStream, TcpByteStream};
pub use tls::TlsByteStream;

use crate::error::Error;
use crate::websocket::{DIRECT_SEND_MIN, Message};

/// Send buffers up to this size are kept between messages: a connection with a thread of
/// its own saves more by reusing them than an idle one would by freeing them.
const KEEP_BUFFERS: usize = 64 * 1024;

/// Most bytes read per call, into a buffer owned by the reading thread.
const READ_CHUNK: usize = 64 * 1024;

/// The reading thread's buffer starts this small and doubles (up to `READ_CHUNK`) each
/// time a read fills it: a thread per connection should not cost 64 KiB for small
/// messages.
const FIRST_READ_CHUNK: usize = 4 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; FIRST_READ_CHUNK]);
}

/// What [`BlockingWebSocket::receive`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A whole data message.
    Message(Message),
    /// A ping, when asked for (its pong is then the caller's to send).
    Ping(Vec<u8>),
    /// A pong, when asked for.
    Pong(Vec<u8>),
    /// The peer started the closing handshake with this close (an empty body reads as
    /// 1005, no status). Answer with [`BlockingWebSocket::answer_close`].
    Close(CloseFrame),
}

/// What happens to a connection once the code using it is done
/// ([`BlockingWebSocket::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDone {
    /// Close with this code unless a close frame was sent already, then wait (at most
    /// the close timeout) for the peer's.
    Close(CloseCode),
    /// Send nothing more of our own, but finish a closing handshake already under way.
    Leave,
    /// Close the transport at once, without a close frame.
    Abort,
}

/// A WebSocket connection driven with blocking calls. See the module docs.
pub struct BlockingWebSocket {
    io: RwLock<Option<Box<dyn ByteStream>>>,
    state: Mutex<Inner>,
    input: Mutex<()>,
    /// Set while a thread is inside [`BlockingWebSocket::receive`].
    receiving: AtomicBool,
    /// The server is shutting down: close with 1001 at the next chance.
    going_away: AtomicBool,
    linger: Duration,
    peer: SocketAddr,
}

impl std::fmt::Debug for BlockingWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingWebSocket").field("peer", &self.peer).finish_non_exhaustive()
    }
}

/// The core, and whether the transport's end has begun.
struct Inner {
    conn: Connection,
    /// Our side is shut down (or the transport released): nothing more is written.
    ended: bool,
}

/// What one write did.
enum Wrote {
    /// Everything, through a stream that writes whole buffers only.
    All(usize),
    /// This many bytes (maybe fewer than given) through a stream that writes pieces.
    Some(usize),
    /// Nothing more; `true` if the stream took none of it, so it may be written again.
    Failed(std::io::Error, bool),
}

/// One write of `head` then `body`: a piece where the stream allows it, else all of it.
fn write_once(io: &dyn ByteStream, head: &[u8], body: &[u8]) -> Wrote {
    match io.write_some(head, body) {
        Some(Ok(0)) => Wrote::Failed(ErrorKind::WriteZero.into(), false),
        Some(Ok(n)) => Wrote::Some(n),
        Some(Err(e)) => Wrote::Failed(e, true),
        None => match io.write_all(head, body) {
            Ok(()) => Wrote::All(head.len() + body.len()),
            Err(e) => Wrote::Failed(e, false),
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked while holding a lock left consistent data behind: every
    // critical section here only moves bytes between the core and the transport.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error for a call on a connection whose transport is gone.
fn released() -> Error {
    Error::Closed
}

impl BlockingWebSocket {
    /// Drives `conn` (an open connection, server or client side) over `io`. `linger` is
    /// how long the end of the connection drains the peer's bytes after shutting down
    /// ours, when the closing handshake did not complete; `peer` names it in logs.
    pub fn new(
        io: Box<dyn ByteStream>,
        mut conn: Connection,
        linger: Duration,
        peer: SocketAddr,
    ) -> BlockingWebSocket {
        conn.set_whole_messages(true);
        if let Err(e) = io.set_write_timeout(conn.send_timeout()) {
            tracing::warn!(%peer, "cannot set the send timeout on the transport: {e}");
        }
        BlockingWebSocket {
            io: RwLock::new(Some(io)),
            state: Mutex::new(Inner { conn, ended: false }),
            input: Mutex::new(()),
            receiving: AtomicBool::new(false),
            going_away: AtomicBool::new(false),
            linger,
            peer,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The closing-handshake state.
    pub fn state(&self) -> State {
        lock(&self.state).conn.state()
    }

    /// The peer's close frame once received (an empty body reads as 1005, no status).
    pub fn peer_close(&self) -> Option<CloseFrame> {
        lock(&self.state).conn.peer_close().map(|body| CloseFrame::received(body.as_ref()))
    }

    /// How long the connection waits for the peer's close frame after sending its own
    /// (`None`: forever).
    pub fn close_timeout(&self) -> Option<Duration> {
        lock(&self.state).conn.close_timeout()
    }

    /// The close code this connection was (or would be) failed with for `e`.
    pub fn close_code_for(&self, e: &ProtocolError) -> CloseCode {
        lock(&self.state).conn.close_code_for(e)
    }

    /// Turns compression of outgoing messages off or on (from the next message), and
    /// whether each compressed message ends with a final deflate block; `None` leaves a
    /// setting as it is.
    pub fn set_compression(&self, outgoing: Option<bool>, bfinal: Option<bool>) {
        let mut inner = lock(&self.state);
        if let Some(on) = outgoing {
            inner.conn.set_outgoing_compression(on);
        }
        if let Some(on) = bfinal {
            inner.conn.set_outgoing_bfinal(on);
        }
    }

    // ---- receiving -------------------------------------------------------------------

    /// The next whole message, the peer's close frame, or (when asked for) a ping or a
    /// pong; pings the caller does not take are answered automatically.
    ///
    /// Errors: [`Error::Closed`] after the closing handshake, [`Error::Protocol`] when the
    /// peer violated the protocol (the connection was failed with
    /// [`BlockingWebSocket::close_code_for`] the error), [`Error::Timeout`] when our close
    /// went unanswered, [`Error::Io`] when the transport failed or ended early,
    /// [`Error::Busy`] when another thread is receiving.
    pub fn receive(&self, pings: bool, pongs: bool) -> Result<Received, Error> {
        if self.receiving.swap(true, Ordering::AcqRel) {
            return Err(Error::Busy("another thread is already receiving on this connection"));
        }
        let _receiving = Receiving(&self.receiving);
        let _input = lock(&self.input);
        loop {
            let (deadline, hint) = {
                let mut inner = lock(&self.state);
                self.apply_going_away(&mut inner);
                inner.conn.set_auto_pong(!pings);
                if let Some(found) = self.next_received(&mut inner, pings, pongs) {
                    return found;
                }
                if inner.conn.state() == State::Closed {
                    let result = Error::from_ending(inner.conn.ending());
                    drop(inner);
                    self.end_transport();
                    return Err(result.err().unwrap_or(Error::Closed));
                }
                self.flush(&mut inner)?;
                inner.conn.release_idle_buffers_over(KEEP_BUFFERS);
                (inner.conn.poll_timeout(), inner.conn.read_hint())
            };
            self.fill(deadline, hint)?;
        }
    }

    /// The core's next event, mapped, if there is one to report.
    fn next_received(
        &self,
        inner: &mut Inner,
        pings: bool,
        pongs: bool,
    ) -> Option<Result<Received, Error>> {
        loop {
            let event = match inner.conn.next_event()? {
                Ok(event) => event,
                Err(e) => {
                    let code = inner.conn.close_code_for(&e).0;
                    tracing::info!(peer = %self.peer, code, "failing connection: {e}");
                    // The core queued our close frame; it goes out before the transport ends.
                    let _ = self.flush(inner);
                    return Some(Err(Error::Protocol(e)));
                }
            };
            return Some(Ok(match event {
                Event::Data { kind, data, fin: _ } => Received::Message(match kind {
                    MessageKind::Binary => Message::Binary(data),
                    // The core validated the whole message as UTF-8.
                    MessageKind::Text => match String::from_utf8(data) {
                        Ok(text) => Message::Text(text),
                        Err(_) => return Some(Err(Error::Protocol(ProtocolError::InvalidUtf8))),
                    },
                }),
                Event::Ping(p) if pings => Received::Ping(p),
                Event::Pong(p) if pongs => Received::Pong(p),
                Event::Ping(_) | Event::Pong(_) => continue,
                // The peer's close before ours: the caller answers it. After ours, the
                // closing handshake is complete and the next loop reports the end.
                Event::Close(body) if inner.conn.state() == State::CloseReceived => {
                    Received::Close(CloseFrame::received(body.as_ref()))
                }
                Event::Close(_) => continue,
            }));
        }
    }

    /// Reads once, waiting at most until `deadline`, and feeds the core. At most `hint`
    /// bytes from a transport with exact reads.
    fn fill(&self, deadline: Option<Instant>, hint: usize) -> Result<(), Error> {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        SCRATCH.with_borrow_mut(|buf| {
            let read = {
                let io = self.io.read().unwrap_or_else(|e| e.into_inner());
                let Some(io) = io.as_ref() else { return Err(released()) };
                let want = if io.exact_reads() { hint.min(buf.len()) } else { buf.len() };
                io.read(&mut buf[..want], timeout)
            };
            let mut inner = lock(&self.state);
            match read {
                Ok(0) => inner.conn.receive_eof(),
                Ok(n) => {
                    inner.conn.receive_data(&buf[..n]);
                    if n == buf.len() && n < READ_CHUNK {
                        buf.resize(2 * n, 0);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    inner.conn.handle_timeout(Instant::now());
                }
                Err(e) => {
                    inner.conn.receive_eof();
                    return Err(Error::Io(e));
                }
            }
            Ok(())
        })
    }

    /// Runs the connection until the closing handshake is over, discarding data.
    fn wait_closed(&self) -> Result<(), Error> {
        let _input = lock(&self.input);
        loop {
            let (deadline, hint) = {
                let mut inner = lock(&self.state);
                while let Some(event) = inner.conn.next_event() {
                    if let Err(e) = event {
                        let _ = self.flush(&mut inner);
                        return Err(Error::Protocol(e));
                    }
                }
                if inner.conn.state() == State::Closed {
                    return Error::from_ending(inner.conn.ending());
                }
                self.flush(&mut inner)?;
                (inner.conn.poll_timeout(), inner.conn.read_hint())
            };
            self.fill(deadline, hint)?;
        }
    }

    /// Reads `len` bytes straight from the transport, fewer only if it ends first, past
    /// the frame parser (pywebsocket's `request.connection.read`). Bytes the parser already
    /// received are not returned. At most the message limit.
    pub fn read_raw(&self, len: usize) -> Result<Vec<u8>, Error> {
        let max = lock(&self.state).conn.limits().max_message_size;
        if len > max {
            return Err(Error::Protocol(ProtocolError::MessageTooLarge { max }));
        }
        let _input = lock(&self.input);
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let io = self.io.read().unwrap_or_else(|e| e.into_inner());
            let Some(io) = io.as_ref() else { return Err(released()) };
            match io.read(&mut buf[filled..], None)? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    // ---- sending ---------------------------------------------------------------------

    /// Sends a message, or a fragment of one (`fin` ends it), and writes it out.
    pub fn send(&self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), Error> {
        let mut inner = lock(&self.state);
        self.apply_going_away(&mut inner);
        if data.len() >= DIRECT_SEND_MIN {
            // A large payload goes out behind its header without a copy, when the core
            // allows (nothing queued, no compression, server side).
            self.flush(&mut inner)?;
            if let Some(head) = inner.conn.send_data_unbuffered(kind, data.len(), fin)? {
                return self.write_out(&mut inner.conn, head.as_bytes(), data);
            }
        }
        inner.conn.send_data(kind, data, fin)?;
        self.flush(&mut inner)
    }

    /// Sends a ping (at most 125 bytes).
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let mut inner = lock(&self.state);
        inner.conn.send_ping(payload)?;
        self.flush(&mut inner)
    }

    /// Sends a pong (at most 125 bytes).
    pub fn pong(&self, payload: &[u8]) -> Result<(), Error> {
        let mut inner = lock(&self.state);
        inner.conn.send_pong(payload)?;
        self.flush(&mut inner)
    }

    /// Writes `data` as it is, after everything queued: no framing
    /// (pywebsocket's `request.connection.write`).
    pub fn write_raw(&self, data: &[u8]) -> Result<(), Error> {
        let mut inner = lock(&self.state);
        self.flush(&mut inner)?;
        self.write_out(&mut inner.conn, data, &[])
    }

    /// Writes out everything the core queued.
    fn flush(&self, inner: &mut Inner) -> Result<(), Error> {
        if inner.conn.data_to_send().is_empty() || inner.ended {
            return Ok(());
        }
        loop {
            let call = Instant::now();
            let wrote = self.with_io(|io| Ok(write_once(io, inner.conn.data_to_send(), &[])))?;
            match wrote {
                Wrote::All(n) | Wrote::Some(n) => inner.conn.advance_sent(n),
                Wrote::Failed(e, resumable) => {
                    self.write_error(&mut inner.conn, e, call, resumable)?;
                }
            }
            if inner.conn.data_to_send().is_empty() {
                return Ok(());
            }
        }
    }

    /// Writes `head` then `body` (bytes the core does not hold: a payload written behind
    /// its header, a handler's raw bytes), telling the core of progress as `flush` does.
    fn write_out(&self, conn: &mut Connection, head: &[u8], body: &[u8]) -> Result<(), Error> {
        let (mut head, mut body) = (head, body);
        while !head.is_empty() || !body.is_empty() {
            let call = Instant::now();
            let n = match self.with_io(|io| Ok(write_once(io, head, body)))? {
                Wrote::All(_) => return Ok(()),
                Wrote::Some(n) => n,
                Wrote::Failed(e, resumable) => {
                    self.write_error(conn, e, call, resumable)?;
                    continue;
                }
            };
            conn.send_progressed();
            let from_head = n.min(head.len());
            head = &head[from_head..];
            body = &body[n - from_head..];
        }
        Ok(())
    }

    /// A write that failed after starting at `call`: `Ok` to try again (the transport took
    /// nothing yet and the send timeout has not run out), else the error to return. The
    /// core hears of a transport that takes nothing and decides (`ProtocolError::SendTimeout`).
    fn write_error(
        &self,
        conn: &mut Connection,
        e: std::io::Error,
        call: Instant,
        resumable: bool,
    ) -> Result<(), Error> {
        if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            return Err(Error::Io(e));
        }
        // Nothing moved since `call`: the core decides whether the send timeout ran out.
        conn.send_blocked(call);
        conn.handle_timeout(Instant::now());
        if let Some(Ending::Failed(p @ ProtocolError::SendTimeout(_))) = conn.ending() {
            tracing::warn!(peer = %self.peer, "dropping the connection: {p}");
            return Err(Error::Protocol(p.clone()));
        }
        if resumable { Ok(()) } else { Err(Error::Io(e)) }
    }

    fn with_io<T>(
        &self,
        f: impl FnOnce(&dyn ByteStream) -> std::io::Result<T>,
    ) -> Result<T, Error> {
        let io = self.io.read().unwrap_or_else(|e| e.into_inner());
        match io.as_deref() {
            Some(io) => Ok(f(io)?),
            None => Err(released()),
        }
    }

    // ---- closing ---------------------------------------------------------------------

    /// Starts the closing handshake (`None` sends an empty body) without waiting.
    pub fn close(&self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        let (code, reason) = CloseFrame::wire(frame);
        let mut inner = lock(&self.state);
        inner.conn.close(code, reason, Instant::now())?;
        self.flush(&mut inner)
    }

    /// Starts the closing handshake and waits (at most the close timeout) for the peer's
    /// close frame; returns it. Once the connection is closed, answered or not, the
    /// transport ends (and an unanswered close is logged).
    pub fn close_and_wait(&self, frame: Option<&CloseFrame>) -> Result<Option<CloseFrame>, Error> {
        self.close(frame)?;
        let waited = self.wait_closed();
        if self.state() == State::Closed {
            self.end_transport();
        }
        waited?;
        Ok(self.peer_close())
    }

    /// Answers the peer's close frame (see [`Received::Close`]) with the close the caller
    /// chose (`None`: an empty body), or with an empty one when the protocol does not
    /// allow that choice (logged), and ends the transport.
    pub fn answer_close(&self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        let (code, reason) = CloseFrame::wire(frame);
        {
            let mut inner = lock(&self.state);
            let replaced = inner.conn.answer_close(code, reason, Instant::now())?;
            if let Some(e) = replaced {
                crate::closing::log_refused_answer(self.peer, &e);
            }
            self.flush(&mut inner)?;
        }
        self.end_transport();
        Ok(())
    }

    /// The server is shutting down: close with 1001 unless a close was sent already.
    ///
    /// Never waits: if another thread holds the connection (a send blocked on a peer that
    /// does not read), the close goes out when that thread lets go; what the transport
    /// does not take at once goes out with the next write. Call
    /// [`BlockingWebSocket::cut_off`] if the connection is still open a close timeout later.
    pub fn go_away(&self) {
        self.going_away.store(true, Ordering::Release);
        let Ok(mut inner) = self.state.try_lock() else { return };
        if !inner.conn.go_away(Instant::now()) || inner.ended {
            return;
        }
        let Ok(io) = self.io.try_read() else { return };
        let Some(io) = io.as_deref() else { return };
        while !inner.conn.data_to_send().is_empty() {
            match io.try_write(inner.conn.data_to_send()) {
                Ok(n) if n > 0 => inner.conn.advance_sent(n),
                _ => break,
            }
        }
    }

    fn apply_going_away(&self, inner: &mut Inner) {
        if self.going_away.load(Ordering::Acquire) && inner.conn.go_away(Instant::now()) {
            tracing::debug!(peer = %self.peer, "server shutting down: closing with 1001");
        }
    }

    /// Stops the transport in both directions now, without waiting for any lock: reads
    /// and writes blocked in other threads return with an error. For a connection that
    /// outlived its close timeout on shutdown.
    pub fn cut_off(&self) {
        if let Ok(io) = self.io.try_read()
            && let Some(io) = io.as_deref()
        {
            io.cut_off();
        }
    }

    /// Ends the connection once the code using it is done: see [`WhenDone`]. Then waits
    /// for the closing handshake to finish (at most the close timeout) and releases the
    /// transport.
    pub fn finish(&self, when: WhenDone) {
        let open = {
            let mut inner = lock(&self.state);
            let open = matches!(inner.conn.state(), State::Open | State::CloseReceived);
            if let WhenDone::Close(code) = when
                && inner.conn.close_when_done(code, Instant::now())
            {
                let _ = self.flush(&mut inner);
            }
            open
        };
        if when == WhenDone::Abort || (when == WhenDone::Leave && open) {
            return self.abort();
        }
        let _ = self.wait_closed();
        self.end_transport();
    }

    /// Writes what is queued and releases the transport at once, without a close frame.
    pub fn abort(&self) {
        {
            let mut inner = lock(&self.state);
            let _ = self.flush(&mut inner);
            inner.ended = true;
        }
        self.release();
    }

    /// Closes the transport at the end of the connection, once: at once after a clean
    /// closing handshake on a transport that allows it (our last bytes leave with the
    /// end of the stream); otherwise shuts down our side and reads and discards until the
    /// peer closes or the linger time passes, so our last bytes are not lost to a reset.
    /// Then releases the transport.
    fn end_transport(&self) {
        // Whether the transport is done with (closed at once, or failed to shut down).
        let done = {
            let mut inner = lock(&self.state);
            if inner.ended {
                return;
            }
            inner.ended = true;
            crate::closing::log_ending(self.peer, inner.conn.ending());
            let linger = inner.conn.needs_linger();
            let guard = self.io.read().unwrap_or_else(|e| e.into_inner());
            let Some(io) = guard.as_deref() else { return };
            let at_once = !linger && io.closes_at_once();
            if at_once {
                let n = io.send_before_close(inner.conn.data_to_send());
                inner.conn.advance_sent(n);
            }
            let _ = io.write_all(inner.conn.data_to_send(), &[]);
            at_once || io.shutdown_write().is_err()
        };
        if done {
            return self.release();
        }
        // Drain only if no other thread is reading (it will see the end itself), and not
        // a stream whose reads wait for all they are asked (nothing more is expected).
        let exact = self.with_io(|io| Ok(io.exact_reads())).unwrap_or(true);
        if !exact && let Ok(_input) = self.input.try_lock() {
            let until = Instant::now() + self.linger;
            let mut sink = [0u8; 4096];
            loop {
                let left = until.saturating_duration_since(Instant::now());
                let io = self.io.read().unwrap_or_else(|e| e.into_inner());
                let Some(io) = io.as_deref() else { break };
                if left.is_zero() || !matches!(io.read(&mut sink, Some(left)), Ok(n) if n > 0) {
                    break;
                }
            }
        }
        self.release();
    }

    /// Stops and drops the transport: its socket is closed now, whoever still holds this
    /// connection; every later call fails with [`Error::Closed`]. The core is told the
    /// transport is gone, so it is closed too (1006 if no closing handshake finished)
    /// and frees its buffers and compression contexts now: the shell itself may live on
    /// for as long as a Python request object refers to it.
    fn release(&self) {
        self.cut_off();
        let taken = self.io.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
        let mut inner = lock(&self.state);
        inner.conn.receive_eof();
        inner.conn.release_idle_buffers();
    }
}

/// Clears [`BlockingWebSocket::receiving`] when a receive ends, however it ends.
struct Receiving<'a>(&'a AtomicBool);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
