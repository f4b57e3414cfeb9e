//! What a Python handler's thread and its connection exchange: the results and faults of
//! stream calls ([`Received`], [`Fault`]), how a handler ended ([`Outcome`]), and, for the
//! extra handshake, the channel to the accept task that owns the socket then ([`Cmd`],
//! [`call`]). It knows nothing of Python objects.

use std::sync::mpsc::{SyncSender, sync_channel};

use tokio::sync::mpsc::UnboundedSender;

/// Where a command's answer goes: a one-slot channel the Python thread waits on.
pub(crate) type Reply<T> = SyncSender<Result<T, Fault>>;

/// What the extra handshake's Python thread asks of the accept task
/// (`request.connection` before the 101).
pub(crate) enum Cmd {
    /// Queue raw bytes for the client (`request.connection.write`).
    Write { data: Vec<u8>, reply: Reply<()> },
    /// Read raw bytes from the client (`request.connection.read`).
    Read { len: usize, reply: Reply<Vec<u8>> },
}

/// What a receive yields.
pub(crate) enum Received {
    Text(String),
    Binary(Vec<u8>),
    /// The peer's close frame (an empty body reads as 1005).
    Close(wshd_proto::CloseFrame),
    /// A ping, when the handler asked for them.
    Ping(Vec<u8>),
    /// A pong, when the handler asked for them.
    Pong(Vec<u8>),
}

/// Why a command failed, in the terms of pywebsocket's exceptions.
#[derive(Debug)]
pub(crate) enum Fault {
    /// `BadOperationException`: not allowed now (e.g. sending after our close).
    BadOperation(String),
    /// `ConnectionTerminatedException`: the connection is gone.
    Terminated(String),
    /// The peer violated the protocol; the connection was failed with this close code
    /// (`InvalidFrameException`, `UnsupportedFrameException`, `InvalidUTF8Exception`).
    Protocol(u16, String),
}

/// How `web_socket_transfer_data` ended, and what the connection does about it
/// (docs/compatibility.md, "When a handler ends").
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Returned normally: close with 1000 unless already closed.
    Returned,
    /// Returned with `request.server_terminated` set: no close frame from us beyond the
    /// one already sent (by the stream, or written by the handler itself).
    ServerTerminated,
    /// `AbortedByUserException`: close TCP without a close frame.
    Aborted,
    /// An exception that maps to a close code (1011, 1002, 1003, 1007).
    Close(u16),
    /// `ConnectionTerminatedException`, or any other exception (logged with its
    /// traceback): close TCP without a close frame.
    Dropped,
}

/// Sends `cmd` and blocks until it is answered. Call it with the GIL released.
pub(crate) fn call<T>(
    tx: &UnboundedSender<Cmd>,
    cmd: impl FnOnce(Reply<T>) -> Cmd,
) -> Result<T, Fault> {
    let (reply, answer) = sync_channel(1);
    let gone = || Fault::Terminated("the connection is closed".into());
    tx.send(cmd(reply)).map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}
