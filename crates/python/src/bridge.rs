//! The channel between a handler's Python thread and its connection's tokio task.
//!
//! A Python handler runs on an OS thread of its own and blocks as pywebsocket handlers
//! do. Each stream call becomes a [`Cmd`] sent to the connection's task, and the thread
//! waits for the reply with the GIL released. [`serve`] is the task's side: it performs
//! sends at once and keeps at most one `receive_message` waiting for input, so one thread
//! can read while another writes on the same stream. It knows nothing of Python objects.

use std::sync::mpsc::{SyncSender, sync_channel};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use wshd_server::{Error, Frame, MessageKind, WebSocket};

/// Where a command's answer goes: a one-slot channel the Python thread waits on.
pub(crate) type Reply<T> = SyncSender<Result<T, Fault>>;

/// What a Python thread asks of its connection.
pub(crate) enum Cmd {
    /// Wait for the next whole message or the peer's close frame; with `pings` (the
    /// handler set `on_ping_handler`) pings are returned and not answered automatically,
    /// with `pongs` (`on_pong_handler`) pongs are returned.
    Receive { pings: bool, pongs: bool, reply: Reply<Received> },
    /// Send a message or a fragment of one.
    Send { data: Vec<u8>, binary: bool, fin: bool, reply: Reply<()> },
    /// Send a ping.
    Ping { data: Vec<u8>, reply: Reply<()> },
    /// Send a pong.
    Pong { data: Vec<u8>, reply: Reply<()> },
    /// Start the closing handshake; with `wait`, until the peer answers, returning its
    /// close frame.
    Close {
        code: Option<u16>,
        reason: String,
        wait: bool,
        reply: Reply<Option<(Option<u16>, String)>>,
    },
    /// Answer the peer's close frame (the passive closing handshake).
    Answer { code: Option<u16>, reason: String, reply: Reply<()> },
    /// Write raw bytes to the socket (`request.connection.write`).
    Write { data: Vec<u8>, reply: Reply<()> },
    /// Read raw bytes from the socket (`request.connection.read`).
    Read { len: usize, reply: Reply<Vec<u8>> },
    /// The handler returned or raised; nothing follows.
    Done(Outcome),
}

/// What a `Receive` yields.
pub(crate) enum Received {
    Text(String),
    Binary(Vec<u8>),
    /// The peer's close frame: its code (`None` for an empty body) and reason.
    Close(Option<u16>, String),
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
/// (pywebsocket.md §2.4).
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Returned normally: close with 1000 unless already closed.
    Returned,
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

fn fault(e: Error) -> Fault {
    match e {
        Error::Protocol(p) => Fault::Protocol(p.close_code().0, p.to_string()),
        Error::Usage(u) => Fault::BadOperation(u.to_string()),
        Error::Closed => Fault::BadOperation("the connection is closed".into()),
        other => Fault::Terminated(other.to_string()),
    }
}

/// Runs the connection for a Python handler until its thread reports [`Cmd::Done`] (or
/// goes away), and returns how the handler ended.
pub(crate) async fn serve(ws: &mut WebSocket, rx: &mut UnboundedReceiver<Cmd>) -> Outcome {
    let mut waiting: Option<Reply<Received>> = None;
    let (mut want_pings, mut want_pongs) = (false, false);
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    // A server shutdown closes with 1001 even while the thread is not receiving.
    let shutdown = ws.shutdown_handle();
    let mut going_away = false;
    loop {
        tokio::select! {
            () = shutdown_triggered(shutdown.as_ref()), if !going_away => {
                going_away = true;
                // Sending nothing lets the socket queue and write its 1001 close.
                let _ = ws.flush().await;
            }
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return Outcome::Dropped };
                match cmd {
                    Cmd::Done(outcome) => return outcome,
                    Cmd::Receive { reply, .. } if waiting.is_some() => {
                        let _ = reply.send(Err(Fault::BadOperation(
                            "another thread is already receiving on this stream".into())));
                    }
                    Cmd::Receive { pings, pongs, reply } => {
                        (want_pings, want_pongs) = (pings, pongs);
                        ws.set_auto_pong(!pings);
                        waiting = Some(reply);
                    }
                    Cmd::Send { data, binary, fin, reply } => {
                        let kind = if binary { MessageKind::Binary } else { MessageKind::Text };
                        let _ = reply.send(ws.send_fragment(kind, &data, fin).await.map_err(fault));
                    }
                    Cmd::Ping { data, reply } => {
                        let _ = reply.send(ws.ping(&data).await.map_err(fault));
                    }
                    Cmd::Pong { data, reply } => {
                        let _ = reply.send(ws.pong(&data).await.map_err(fault));
                    }
                    Cmd::Close { code, reason, wait, reply } => {
                        let result = if wait {
                            ws.close(code, &reason).await.map(|()| {
                                ws.peer_close().map(|(c, r)| (c, r.to_owned()))
                            })
                        } else {
                            match ws.start_close(code, &reason) {
                                Ok(()) => ws.flush().await.map(|()| None),
                                Err(e) => Err(e),
                            }
                        };
                        let _ = reply.send(result.map_err(fault));
                        if let Some(r) = waiting.take() {
                            let _ = r.send(Err(Fault::BadOperation("the connection was closed".into())));
                        }
                    }
                    Cmd::Answer { code, reason, reply } => {
                        let _ = reply.send(ws.close(code, &reason).await.map_err(fault));
                    }
                    Cmd::Write { data, reply } => {
                        let _ = reply.send(ws.write_raw(&data).await.map_err(fault));
                    }
                    Cmd::Read { len, reply } => {
                        let _ = reply.send(ws.read_raw(len).await.map_err(fault));
                    }
                }
            }
            frame = ws.recv_frame(), if waiting.is_some() => {
                let received = match frame {
                    Ok(Some(Frame::Data { kind, data, fin })) => {
                        let data = match partial.take() {
                            None => data,
                            Some((_, mut head)) => {
                                head.extend_from_slice(&data);
                                head
                            }
                        };
                        if !fin {
                            partial = Some((kind, data));
                            continue;
                        }
                        match kind {
                            MessageKind::Binary => Ok(Received::Binary(data)),
                            // The core validated the message as UTF-8.
                            MessageKind::Text => String::from_utf8(data)
                                .map(Received::Text)
                                .map_err(|_| Fault::Protocol(1007, "invalid UTF-8".into())),
                        }
                    }
                    Ok(Some(Frame::Ping(p))) if want_pings => Ok(Received::Ping(p)),
                    Ok(Some(Frame::Pong(p))) if want_pongs => Ok(Received::Pong(p)),
                    Ok(Some(Frame::Ping(_) | Frame::Pong(_))) => continue,
                    Ok(Some(Frame::Close(code, reason))) => Ok(Received::Close(code, reason)),
                    Ok(None) => Err(Fault::Terminated("the connection is closed".into())),
                    Err(e) => Err(fault(e)),
                };
                if let Some(reply) = waiting.take() {
                    let _ = reply.send(received);
                }
            }
        }
    }
}

/// Completes when the server shuts down; never without a server.
async fn shutdown_triggered(shutdown: Option<&wshd_server::Shutdown>) {
    match shutdown {
        Some(s) => s.triggered().await,
        None => std::future::pending().await,
    }
}
