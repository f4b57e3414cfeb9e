//! Unit tests of the async shell ([`super::WebSocket`]) over a loopback TCP pair, the
//! client a core driven by hand: receiving in both modes and switching between them
//! mid-message, the passive close, a violation, sends after the end, an unanswered close,
//! and a connection of another framing (the framing seam's test double).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wshd_proto::{CloseCode, CloseFrame, Connection, Event, Limits, MessageKind, UsageError};
use wshd_testkit::wire::FixedMask;

use super::{Frame, Info, Timing, WebSocket};
use crate::transport::Transport;
use crate::{Error, Message};

/// Longest a test waits for what should come at once: a hang fails, a slow machine not.
const PATIENCE: Duration = Duration::from_secs(10);

/// The client's side: a core over a socket, driven by hand.
struct Client {
    conn: Connection,
    socket: TcpStream,
}

impl Client {
    async fn send(&mut self, build: impl FnOnce(&mut Connection)) {
        build(&mut self.conn);
        self.socket.write_all(self.conn.data_to_send()).await.unwrap();
        let n = self.conn.data_to_send().len();
        self.conn.advance_sent(n);
    }

    async fn next(&mut self) -> Option<Event> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(event) = self.conn.next_event() {
                return Some(event.expect("the server sends valid frames"));
            }
            let read = tokio::time::timeout(PATIENCE, self.socket.read(&mut buf));
            match read.await.expect("the server answers in time").unwrap() {
                0 => return None,
                n => self.conn.receive_data(&buf[..n]),
            }
        }
    }
}

/// A server-side shell (no handler: the passive close echoes the peer's code) and its client.
async fn pair() -> (WebSocket, Client) {
    let (ws, socket) = shell_with(Connection::server(Limits::default())).await;
    let client =
        Client { conn: Connection::client(Limits::default(), Box::new(FixedMask)), socket };
    (ws, client)
}

/// The shell driving `conn` over one end of a loopback pair; the other end.
async fn shell_with(conn: Connection) -> (WebSocket, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    let timing = Timing { linger: Duration::from_millis(100), write_high_water: 64 * 1024 };
    let info = Info::new("/test".into(), None, None, None, peer);
    let ws = WebSocket::new(Transport::Tcp(server), conn, info, Arc::new(timing), None);
    (ws, socket)
}

fn piece(data: &[u8], fin: bool) -> Frame {
    Frame::Data { kind: MessageKind::Text, data: data.to_vec(), fin }
}

#[tokio::test]
async fn recv_after_recv_frame_joins_the_rest_of_the_message_with_pieces_already_queued() {
    let (mut ws, mut client) = pair().await;
    // One write: a piece, a ping between pieces, another piece. recv_frame reads it all
    // and takes the first; the ping and the second piece stay queued frame by frame.
    client
        .send(|c| {
            c.send_data(MessageKind::Text, b"a", false).unwrap();
            c.send_ping(b"p").unwrap();
            c.send_data(MessageKind::Text, b"b", false).unwrap();
        })
        .await;
    assert_eq!(ws.recv_frame().await.unwrap(), Some(piece(b"a", false)));
    client.send(|c| c.send_data(MessageKind::Text, b"c", true).unwrap()).await;
    // The queued piece "b" and the later "c" make up the rest of the message.
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("bc".into())));
    assert_eq!(client.next().await, Some(Event::Pong(b"p".to_vec())));
}

#[tokio::test]
async fn recv_frame_after_an_abandoned_recv_delivers_the_part_already_held_first() {
    let (mut ws, mut client) = pair().await;
    client.send(|c| c.send_data(MessageKind::Text, b"held ", false).unwrap()).await;
    // recv holds the piece while it waits for the message's end, and is given up.
    let waited = tokio::time::timeout(Duration::from_millis(100), ws.recv()).await;
    assert!(waited.is_err(), "the message is not complete: recv must still be waiting");
    assert_eq!(ws.recv_frame().await.unwrap(), Some(piece(b"held ", false)));
    client.send(|c| c.send_data(MessageKind::Text, b"end", true).unwrap()).await;
    assert_eq!(ws.recv_frame().await.unwrap(), Some(piece(b"end", true)));
}

#[tokio::test]
async fn the_peers_close_ends_recv_and_is_answered_with_its_code() {
    let (mut ws, mut client) = pair().await;
    client.send(|c| c.close(Some(4000), "bye", Instant::now()).unwrap()).await;
    assert_eq!(ws.recv().await.unwrap(), None);
    assert_eq!(ws.peer_close(), Some(CloseFrame::new(CloseCode(4000), "bye")));
    assert_eq!(client.next().await, Some(Event::Close(Some((4000, String::new())))));
    // The socket was closed after the clean closing handshake.
    assert_eq!(client.next().await, None);
    let late = ws.send_text("late").await;
    assert!(matches!(late, Err(Error::Usage(UsageError::AlreadyClosed))), "{late:?}");
    assert!(matches!(ws.recv().await, Err(Error::Closed)), "no receives after the end");
}

#[tokio::test]
async fn a_violation_fails_recv_and_the_connection_with_its_code() {
    let (mut ws, mut client) = pair().await;
    // An unmasked frame from a client (RFC 6455 §5.1): 1002.
    client.socket.write_all(&[0x81, 0x01, b'x']).await.unwrap();
    let err = ws.recv().await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "a protocol error, got {err}");
    assert_eq!(client.next().await, Some(Event::Close(Some((1002, String::new())))));
}

#[tokio::test]
async fn a_close_left_unanswered_times_out_with_a_warning_and_the_frame_still_went_out() {
    let (mut ws, mut client) = pair().await;
    ws.conn.set_close_timeout(Some(Duration::from_millis(200)));
    let (guard, log) = crate::test_log::capture();
    let result = ws.close(Some(CloseFrame::new(CloseCode::NORMAL, "done"))).await;
    drop(guard);
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert_eq!(client.next().await, Some(Event::Close(Some((1000, "done".into())))));
    let log = log.text();
    assert!(
        log.contains("WARN") && log.contains("did not answer our close frame"),
        "the log says why the connection ended: {log:?}"
    );
}

/// The framing seam through the async shell: a connection over the line format of
/// `wshd_testkit::line_framing` (a test double, nothing like RFC 6455 on the wire) is
/// driven by the same shell, unchanged.
#[tokio::test]
async fn the_shell_drives_a_connection_of_another_framing_unchanged() {
    use wshd_proto::Role;
    use wshd_testkit::line_framing::{CLOSE, LineFraming, PING};

    let limits = Limits::default();
    let conn = Connection::with_framing(Role::Server, limits, Box::new(LineFraming::new(limits)));
    let (mut ws, mut socket) = shell_with(conn).await;
    socket.write_all(b"hel").await.unwrap();
    socket.write_all(b"lo\n").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("hello".into())));
    ws.send_text("back").await.unwrap();
    let refused = ws.send_binary(b"\x00").await;
    assert!(matches!(refused, Err(Error::Usage(UsageError::NotInFraming(_)))), "{refused:?}");
    socket.write_all(&[PING, b'p', b'\n', CLOSE]).await.unwrap();
    // The close carries no status on this wire; the shell answers it and ends TCP.
    assert_eq!(ws.recv().await.unwrap(), None);
    let mut wire = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut wire)).await.unwrap().unwrap();
    assert_eq!(wire, b"back\n\x11p\n\x04");
}
