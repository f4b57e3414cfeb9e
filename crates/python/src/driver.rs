//! [`Driver`]: a Python handler's connection, the server's blocking shell
//! ([`wshd_server::blocking::BlockingWebSocket`]) in pywebsocket's terms.
//!
//! The shell reads and writes the transport from the handler's own threads, with the GIL
//! released by the caller (`stream/mod.rs`), and makes every protocol decision through the
//! core. This adapter only maps its results to [`Received`] and its errors to the
//! [`Fault`]s pywebsocket's exceptions stand for, and a handler's [`Outcome`] to what
//! the connection does when the handler is done. It knows nothing of Python objects.

use wshd_proto::{CloseCode, CloseFrame, MessageKind, ProtocolError, UsageError};
use wshd_server::blocking::{BlockingWebSocket, Received as Got, WhenDone};
use wshd_server::{Error, Message};

use crate::bridge::{Fault, Outcome, Received};

/// A close as pywebsocket's calls give it: a code (or `None` for an empty body) and a reason.
fn frame(code: Option<u16>, reason: &str) -> Option<CloseFrame> {
    code.map(|c| CloseFrame::new(CloseCode(c), reason))
}

/// One Python handler's connection. See the module docs.
pub(crate) struct Driver {
    ws: BlockingWebSocket,
}

impl Driver {
    pub(crate) fn new(ws: BlockingWebSocket) -> Driver {
        Driver { ws }
    }

    /// The shell, for the connection's task (going away, cutting off).
    pub(crate) fn shell(&self) -> &BlockingWebSocket {
        &self.ws
    }

    /// The pywebsocket fault for a failed call.
    fn fault(&self, e: Error) -> Fault {
        match e {
            Error::Usage(UsageError::AlreadyClosed) => Fault::BadOperation(
                "a close frame was already sent; nothing more may be sent".into(),
            ),
            Error::Usage(other) => Fault::BadOperation(other.to_string()),
            Error::Busy(why) => Fault::BadOperation(why.into()),
            // The peer stopped taking part: to the handler, the connection is gone.
            Error::Protocol(
                e @ (ProtocolError::SendTimeout(_)
                | ProtocolError::IdleTimeout(_)
                | ProtocolError::KeepaliveTimeout),
            ) => Fault::Terminated(e.to_string()),
            Error::Protocol(e) => Fault::Protocol(self.ws.close_code_for(&e).0, e.to_string()),
            Error::Closed => Fault::Terminated("the connection is closed".into()),
            Error::Timeout => {
                Fault::Terminated("timed out waiting for the peer's close frame".into())
            }
            Error::Io(e) => Fault::Terminated(e.to_string()),
            other => Fault::Terminated(other.to_string()),
        }
    }

    /// The next whole message, the peer's close frame, or (when asked for) a ping or
    /// pong. Pings the caller does not want are answered automatically.
    pub(crate) fn receive(&self, pings: bool, pongs: bool) -> Result<Received, Fault> {
        Ok(match self.ws.receive(pings, pongs).map_err(|e| self.fault(e))? {
            Got::Message(Message::Text(t)) => Received::Text(t),
            Got::Message(Message::Binary(b)) => Received::Binary(b),
            Got::Ping(p) => Received::Ping(p),
            Got::Pong(p) => Received::Pong(p),
            Got::Close(frame) => Received::Close(frame),
        })
    }

    /// Sends a message or a fragment of one.
    pub(crate) fn send(&self, data: &[u8], binary: bool, fin: bool) -> Result<(), Fault> {
        let kind = if binary { MessageKind::Binary } else { MessageKind::Text };
        self.ws.send(kind, data, fin).map_err(|e| self.fault(e))
    }

    /// Sends a ping.
    pub(crate) fn ping(&self, data: &[u8]) -> Result<(), Fault> {
        self.ws.ping(data).map_err(|e| self.fault(e))
    }

    /// Sends a pong.
    pub(crate) fn pong(&self, data: &[u8]) -> Result<(), Fault> {
        self.ws.pong(data).map_err(|e| self.fault(e))
    }

    /// Starts the closing handshake (`code` `None`: an empty body); with `wait`, waits (at
    /// most the close timeout) for the peer's close frame and returns it.
    pub(crate) fn close(
        &self,
        code: Option<u16>,
        reason: &str,
        wait: bool,
    ) -> Result<Option<CloseFrame>, Fault> {
        let frame = frame(code, reason);
        if wait {
            self.ws.close_and_wait(frame.as_ref()).map_err(|e| self.fault(e))
        } else {
            self.ws.close(frame.as_ref()).map(|()| None).map_err(|e| self.fault(e))
        }
    }

    /// Answers the peer's close frame (the passive closing handshake) and closes the
    /// transport.
    pub(crate) fn answer(&self, code: Option<u16>, reason: &str) -> Result<(), Fault> {
        self.ws.answer_close(frame(code, reason).as_ref()).map_err(|e| self.fault(e))
    }

    /// Writes raw bytes after anything queued (`request.connection.write`).
    pub(crate) fn write_raw(&self, data: &[u8]) -> Result<(), Fault> {
        self.ws.write_raw(data).map_err(|e| self.fault(e))
    }

    /// Reads `len` raw bytes, fewer only if the peer closes first, past the frame parser
    /// (`request.connection.read`).
    pub(crate) fn read_raw(&self, len: usize) -> Result<Vec<u8>, Fault> {
        self.ws.read_raw(len).map_err(|e| match e {
            Error::Protocol(wshd_proto::ProtocolError::MessageTooLarge { max }) => {
                Fault::BadOperation(format!(
                    "a raw read of {len} bytes exceeds the message limit of {max}"
                ))
            }
            other => self.fault(other),
        })
    }

    /// Applies the extension processor's live settings from the next message on.
    pub(crate) fn set_compression(&self, outgoing: Option<bool>, bfinal: Option<bool>) {
        self.ws.set_compression(outgoing, bfinal);
    }

    /// Closes with `code` at once, without waiting for the peer's answer (when there is
    /// no thread to run the handler on).
    pub(crate) fn close_now(&self, code: u16) {
        let _ = self.ws.close(Some(&CloseFrame::new(CloseCode(code), "")));
        self.ws.abort();
    }

    /// Ends the connection after `web_socket_transfer_data` (docs/compatibility.md, "When a handler ends").
    pub(crate) fn finish(&self, outcome: Outcome) {
        self.ws.finish(match outcome {
            Outcome::Returned => WhenDone::Close(CloseCode::NORMAL),
            Outcome::Close(code) => WhenDone::Close(CloseCode(code)),
            Outcome::ServerTerminated => WhenDone::Leave,
            Outcome::Aborted | Outcome::Dropped => WhenDone::Abort,
        });
    }
}
