//! What both shells say about the end of a connection, in one place: the log lines of
//! closing decisions the core made. The decisions themselves are the core's
//! (`Connection::answer_close`, `go_away`, `close_when_done`, `needs_linger`).

use std::net::SocketAddr;

use wshd_proto::{Ending, ProtocolError, UsageError};

/// A passive closing hook chose a close the protocol does not allow; the core answered
/// with an empty close instead.
pub(crate) fn log_refused_answer(peer: SocketAddr, refused: &UsageError) {
    tracing::warn!(%peer, "passive closing handshake chose an invalid close ({refused}); answered with an empty close");
}

/// How a connection ended, when the closing handshake did not complete: every connection
/// that ends without one leaves a line saying why (a protocol failure is logged where it
/// is found).
pub(crate) fn log_ending(peer: SocketAddr, ending: Option<&Ending>) {
    match ending {
        Some(Ending::CloseTimedOut) => {
            tracing::warn!(%peer, "the peer did not answer our close frame within the close timeout; connection closed");
        }
        Some(Ending::Abnormal) => {
            tracing::info!(%peer, "the peer closed the connection without a closing handshake (1006)");
        }
        // The timeouts fail a connection without an event to report it by.
        Some(Ending::Failed(e @ ProtocolError::IdleTimeout(_))) => {
            tracing::info!(%peer, "closing the connection with 1001: {e}");
        }
        Some(Ending::Failed(e @ ProtocolError::KeepaliveTimeout)) => {
            tracing::warn!(%peer, "closing the connection with 1011: {e} within the ping timeout");
        }
        Some(Ending::Clean | Ending::Failed(_)) | None => {}
    }
}
