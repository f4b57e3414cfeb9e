//! Tests of the blocking shell: over TCP socket pairs with a hand-driven client core, and
//! over a test double of a host's byte stream whose reads must never pass a frame.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wshd_proto::{CloseCode, CloseFrame, Connection, Event, Limits, MessageKind, State};
use wshd_testkit::core_client::CoreClient;
use wshd_testkit::wire::FixedMask;

use super::{BlockingWebSocket, ByteStream, Received, TcpByteStream, WhenDone};
use crate::Message;

/// A close frame with `code` and `reason`.
fn close(code: u16, reason: &str) -> CloseFrame {
    CloseFrame::new(CloseCode(code), reason)
}

/// Longest a test waits for something that should happen at once: a hang, not a slow
/// machine, makes it fail.
const PATIENCE: Duration = Duration::from_secs(10);

/// A connected pair of blocking sockets: (server side, client side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (server, client)
}

fn shell_over(server: TcpStream) -> BlockingWebSocket {
    let peer = server.peer_addr().unwrap();
    let mut conn = Connection::server(Limits::default());
    conn.set_close_timeout(Some(Duration::from_secs(2)));
    BlockingWebSocket::new(
        Box::new(TcpByteStream::new(server)),
        conn,
        Duration::from_millis(200),
        peer,
    )
}

/// The client's side: a core driven over a blocking socket by hand.
type Client = CoreClient;

#[test]
fn echoes_and_completes_the_closing_handshake_over_tcp() {
    let (server, client) = tcp_pair();
    let ws = shell_over(server);
    let mut client = Client::new(client);
    client.conn.send_data(MessageKind::Text, b"hel", false).unwrap();
    client.conn.send_data(MessageKind::Text, b"lo", true).unwrap();
    client.flush();
    // Fragments arrive as one message.
    assert_eq!(ws.receive(false, false).unwrap(), Received::Message(Message::Text("hello".into())));
    ws.send(MessageKind::Binary, &[7; 70_000], true).unwrap();
    match client.next_event() {
        Some(Event::Data { kind: MessageKind::Binary, data, fin: true }) => {
            assert!(data.len() == 70_000 && data.iter().all(|&b| b == 7), "a wrong echo");
        }
        other => panic!("expected the binary echo, got {:?}", other.map(|e| format!("{e:.60?}"))),
    }
    // A ping is answered on the way to the close, before the answer to it.
    client.conn.send_ping(b"p").unwrap();
    client.conn.close(Some(4000), "bye", Instant::now()).unwrap();
    client.flush();
    assert_eq!(ws.receive(false, false).unwrap(), Received::Close(close(4000, "bye")));
    ws.answer_close(Some(&close(4001, "ok"))).unwrap();
    assert_eq!(client.next_event(), Some(Event::Pong(b"p".to_vec())));
    assert_eq!(client.next_event(), Some(Event::Close(Some((4001, "ok".into())))));
    assert_eq!(client.conn.state(), State::Closed);
    // The server closed TCP after the clean handshake.
    assert_eq!(client.next_event(), None);
    assert!(matches!(ws.receive(false, false), Err(crate::Error::Closed)));
}

#[test]
fn an_invalid_passive_answer_is_replaced_by_an_empty_close() {
    let (server, client) = tcp_pair();
    let ws = shell_over(server);
    let mut client = Client::new(client);
    client.conn.close(Some(1000), "", Instant::now()).unwrap();
    client.flush();
    assert_eq!(ws.receive(false, false).unwrap(), Received::Close(close(1000, "")));
    // 1005 may not be sent: the core answers with an empty body instead.
    ws.answer_close(Some(&close(1005, ""))).unwrap();
    assert_eq!(client.next_event(), Some(Event::Close(None)));
}

#[test]
fn a_protocol_violation_fails_with_its_code() {
    let (server, mut client) = tcp_pair();
    let ws = shell_over(server);
    // An unmasked frame from a client: 1002.
    client.write_all(&[0x81, 0x01, b'x']).unwrap();
    let err = ws.receive(false, false).unwrap_err();
    let crate::Error::Protocol(e) = &err else { panic!("expected a protocol error, got {err}") };
    assert_eq!(ws.close_code_for(e), CloseCode::PROTOCOL_ERROR);
    let mut client = Client::new(client);
    assert_eq!(client.next_event(), Some(Event::Close(Some((1002, String::new())))));
}

#[test]
fn finishing_after_the_handler_closes_with_its_code_and_waits_for_the_peer() {
    let (server, client) = tcp_pair();
    let ws = Arc::new(shell_over(server));
    let finisher = {
        let ws = ws.clone();
        std::thread::spawn(move || ws.finish(WhenDone::Close(CloseCode::INTERNAL_ERROR)))
    };
    let mut client = Client::new(client);
    assert_eq!(client.next_event(), Some(Event::Close(Some((1011, String::new())))));
    client.conn.close(Some(1011), "", Instant::now()).unwrap();
    client.flush();
    finisher.join().unwrap();
    assert_eq!(client.next_event(), None);
    assert_eq!(ws.state(), State::Closed);
}

/// The inode of the socket behind descriptor `fd`, read from `/proc/self/fd`.
fn socket_inode(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.starts_with("socket:"))
}

#[test]
fn the_socket_is_closed_when_the_connection_ends_though_the_shell_lives_on() {
    use std::os::fd::AsRawFd;
    let (server, client) = tcp_pair();
    let fd = server.as_raw_fd();
    let inode = socket_inode(fd).expect("the server socket is open");
    let ws = Arc::new(shell_over(server));
    let kept = ws.clone();
    let mut client = Client::new(client);
    client.conn.close(Some(1000), "", Instant::now()).unwrap();
    client.flush();
    assert!(matches!(ws.receive(false, false).unwrap(), Received::Close(..)));
    ws.answer_close(Some(&close(1000, ""))).unwrap();
    drop(ws);
    // `kept` still refers to the connection; its descriptor is gone all the same (the
    // number may have been reused, but not for this socket).
    assert_ne!(socket_inode(fd), Some(inode));
    assert!(matches!(kept.send(MessageKind::Text, b"late", true), Err(crate::Error::Usage(_))));
}

#[test]
fn an_aborted_connection_is_closed_in_the_core_as_well_as_on_the_wire() {
    let (server, client) = tcp_pair();
    let ws = shell_over(server);
    let mut client = Client::new(client);
    client.conn.send_text("hello").unwrap();
    client.flush();
    assert!(matches!(ws.receive(false, false).unwrap(), Received::Message(_)));
    assert_eq!(ws.state(), State::Open);
    ws.abort();
    // Closed (so the core has freed what it held), and with no closing handshake: 1006.
    assert_eq!(ws.state(), State::Closed);
    assert!(matches!(ws.send(MessageKind::Text, b"late", true), Err(crate::Error::Usage(_))));
}

#[test]
fn going_away_never_waits_for_a_blocked_sender_and_cut_off_frees_it() {
    let (server, client) = tcp_pair();
    // The client never reads: a large send fills both socket buffers and blocks.
    let ws = Arc::new(shell_over(server));
    let (sent_tx, sent) = mpsc::channel();
    let sender = {
        let ws = ws.clone();
        std::thread::spawn(move || {
            let result = ws.send(MessageKind::Binary, &vec![0u8; 64 << 20], true);
            sent_tx.send(result.is_err()).unwrap();
        })
    };
    // Wait until the sender holds the connection, blocked in its write.
    let start = Instant::now();
    while ws.state.try_lock().is_ok() {
        assert!(start.elapsed() < PATIENCE, "the sender never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (gone_tx, gone) = mpsc::channel();
    {
        let ws = ws.clone();
        std::thread::spawn(move || {
            ws.go_away();
            gone_tx.send(()).unwrap();
        });
    }
    gone.recv_timeout(PATIENCE).expect("go_away returned while a send was blocked");
    assert!(sent.try_recv().is_err(), "the send is still blocked on the peer");
    ws.cut_off();
    assert!(sent.recv_timeout(PATIENCE).expect("cut_off ended the blocked send"));
    sender.join().unwrap();
    drop(client);
}

#[test]
fn going_away_sends_1001_at_once_when_the_connection_is_free() {
    let (server, client) = tcp_pair();
    let ws = shell_over(server);
    ws.go_away();
    let mut client = Client::new(client);
    assert_eq!(
        client.next_event(),
        Some(Event::Close(Some((1001, "server shutting down".into()))))
    );
    assert_eq!(ws.state(), State::CloseSent);
}

/// A host's byte stream, as a test double: `read(buf)` waits for exactly `buf.len()`
/// bytes, so the shell must never ask for more than the frame in hand. It holds the
/// client's frames one by one and fails a read that would reach into a frame not sent
/// yet (on a real host, that read would wait forever).
struct ExactHost {
    frames: Mutex<VecDeque<Vec<u8>>>,
    written: Arc<Mutex<Vec<u8>>>,
    reads: Arc<Mutex<Vec<usize>>>,
}

impl ByteStream for ExactHost {
    fn read(&self, buf: &mut [u8], _timeout: Option<Duration>) -> io::Result<usize> {
        self.reads.lock().unwrap().push(buf.len());
        let mut frames = self.frames.lock().unwrap();
        let Some(frame) = frames.front_mut() else { return Ok(0) };
        if buf.len() > frame.len() {
            return Err(io::Error::other(format!(
                "asked for {} bytes with {} left in the frame: a host would wait forever",
                buf.len(),
                frame.len()
            )));
        }
        buf.copy_from_slice(&frame[..buf.len()]);
        frame.drain(..buf.len());
        if frame.is_empty() {
            frames.pop_front();
        }
        Ok(buf.len())
    }

    fn write_all(&self, head: &[u8], body: &[u8]) -> io::Result<()> {
        let mut written = self.written.lock().unwrap();
        written.extend_from_slice(head);
        written.extend_from_slice(body);
        Ok(())
    }

    fn exact_reads(&self) -> bool {
        true
    }

    fn shutdown_write(&self) -> io::Result<()> {
        Ok(())
    }

    fn cut_off(&self) {}
}

/// Client frames, masked, one per entry.
fn client_frames(build: impl FnOnce(&mut Connection)) -> VecDeque<Vec<u8>> {
    let mut conn = Connection::client(Limits::default(), Box::new(FixedMask));
    build(&mut conn);
    // Split the queued bytes back into frames by parsing their headers.
    let bytes = conn.data_to_send().to_vec();
    let mut frames = VecDeque::new();
    let mut at = 0;
    while at < bytes.len() {
        let (header, used) =
            wshd_proto::frame::FrameHeader::parse(&bytes[at..]).unwrap().expect("a whole header");
        let end = at + used + header.payload_len as usize;
        frames.push_back(bytes[at..end].to_vec());
        at = end;
    }
    frames
}

#[test]
fn a_host_stream_with_exact_reads_is_never_asked_past_a_frame() {
    let frames = client_frames(|c| {
        c.send_data(MessageKind::Text, b"", true).unwrap();
        c.send_data(MessageKind::Binary, &[5; 300], true).unwrap();
        c.send_data(MessageKind::Binary, &[6; 70_000], false).unwrap();
        c.send_data(MessageKind::Binary, b"!", true).unwrap();
        c.close(Some(1000), "done", Instant::now()).unwrap();
    });
    assert_eq!(frames.len(), 5);
    let (written, reads) = (Arc::default(), Arc::default());
    let host = ExactHost {
        frames: Mutex::new(frames),
        written: Arc::clone(&written),
        reads: Arc::clone(&reads),
    };
    let peer = "127.0.0.1:9".parse().unwrap();
    let ws = BlockingWebSocket::new(
        Box::new(host),
        Connection::server(Limits::default()),
        Duration::ZERO,
        peer,
    );
    assert_eq!(ws.receive(false, false).unwrap(), Received::Message(Message::Text(String::new())));
    assert_eq!(ws.receive(false, false).unwrap(), Received::Message(Message::Binary(vec![5; 300])));
    let mut whole = vec![6; 70_000];
    whole.push(b'!');
    assert_eq!(ws.receive(false, false).unwrap(), Received::Message(Message::Binary(whole)));
    assert_eq!(ws.receive(false, false).unwrap(), Received::Close(close(1000, "done")));
    ws.answer_close(Some(&close(1000, "done"))).unwrap();
    // Our close frame went to the host: 0x88, length 6, code 1000, "done".
    assert_eq!(*written.lock().unwrap(), [0x88, 6, 0x03, 0xe8, b'd', b'o', b'n', b'e']);
    // Headers were read in two steps (2 bytes, then the rest), payloads in one or more.
    let reads: std::sync::MutexGuard<'_, Vec<usize>> = reads.lock().unwrap();
    assert_eq!(&reads[..2], &[2, 4], "an empty masked frame: 2 header bytes, then the mask");
}

/// The framing seam through the blocking shell: a connection over the line format of
/// `wshd_testkit::line_framing` (a test double, nothing like RFC 6455 on the wire) is
/// driven by the same shell, unchanged, with every byte on the socket in that format.
#[test]
fn the_shell_drives_a_connection_of_another_framing_unchanged() {
    use wshd_proto::framing::Framing as _;
    use wshd_proto::{Role, UsageError};
    use wshd_testkit::line_framing::{CLOSE, LineFraming, PING};

    let (server, mut client) = tcp_pair();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let peer = server.peer_addr().unwrap();
    let limits = Limits::default();
    let framing = LineFraming::new(limits);
    assert_eq!(framing.read_hint(), 1);
    let conn = Connection::with_framing(Role::Server, limits, Box::new(framing));
    let ws = BlockingWebSocket::new(
        Box::new(TcpByteStream::new(server)),
        conn,
        Duration::from_millis(200),
        peer,
    );
    client.write_all(b"hel").unwrap();
    client.write_all(b"lo\n").unwrap();
    assert_eq!(ws.receive(false, false).unwrap(), Received::Message(Message::Text("hello".into())));
    ws.send(MessageKind::Text, b"back", true).unwrap();
    let refused = ws.send(MessageKind::Binary, b"\x00", true);
    assert!(
        matches!(refused, Err(crate::Error::Usage(UsageError::NotInFraming(_)))),
        "binary has no place on this wire: {refused:?}"
    );
    client.write_all(&[PING, b'p', b'\n', CLOSE]).unwrap();
    // The close has no status on this wire: it reads as 1005, no status.
    let Received::Close(frame) = ws.receive(false, false).unwrap() else { panic!("a close") };
    assert_eq!(frame, CloseFrame::received(None));
    ws.answer_close(None).unwrap();
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    // The echo, the ping's pong and our close, in the line format, then the end of TCP.
    assert_eq!(wire, b"back\n\x11p\n\x04");
    assert_eq!(ws.state(), State::Closed);
}

/// Runs `f` with this thread's log records captured; returns them as text.
fn logged(f: impl FnOnce()) -> String {
    let (guard, logged) = crate::test_log::capture();
    f();
    drop(guard);
    logged.text()
}

#[test]
fn a_close_left_unanswered_goes_out_and_ends_with_a_warning() {
    let (server, client) = tcp_pair();
    let peer = server.peer_addr().unwrap();
    let mut conn = Connection::server(Limits::default());
    conn.set_close_timeout(Some(Duration::from_millis(200)));
    let ws = BlockingWebSocket::new(
        Box::new(TcpByteStream::new(server)),
        conn,
        Duration::from_millis(100),
        peer,
    );
    let mut client = Client::new(client);
    let log = logged(|| {
        let result = ws.close_and_wait(Some(&close(1000, "done")));
        assert!(matches!(result, Err(crate::Error::Timeout)), "{result:?}");
    });
    // The close frame went out though it was never answered.
    assert_eq!(client.next_event(), Some(Event::Close(Some((1000, "done".into())))));
    assert!(
        log.contains("WARN") && log.contains("did not answer our close frame"),
        "the log says why the connection ended: {log:?}"
    );
}

#[test]
fn a_peer_that_leaves_without_a_closing_handshake_is_logged_as_1006() {
    let (server, client) = tcp_pair();
    let ws = shell_over(server);
    drop(client);
    let log = logged(|| {
        let result = ws.receive(false, false);
        assert!(matches!(result, Err(crate::Error::Io(_))), "{result:?}");
    });
    assert!(
        log.contains("INFO") && log.contains("without a closing handshake (1006)"),
        "the log says why the connection ended: {log:?}"
    );
}
