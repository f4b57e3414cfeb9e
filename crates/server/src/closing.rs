//! What both shells say about the end of a connection, in one place: the log lines of
//! closing decisions the core made. The decisions themselves are the core's
//! (`Connection::answer_close`, `go_away`, `close_when_done`, `needs_linger`).

use std::net::SocketAddr;

use wshd_proto::UsageError;

/// A passive closing hook chose a close the protocol does not allow; the core answered
/// with an empty close instead.
pub(crate) fn log_refused_answer(peer: SocketAddr, refused: &UsageError) {
    tracing::warn!(%peer, "passive closing handshake chose an invalid close ({refused}); answered with an empty close");
}
