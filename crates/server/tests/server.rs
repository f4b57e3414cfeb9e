//! The server over real loopback sockets: handshake answers, handler hooks, closing
//! handshake, timeouts and limits. Every listener binds 127.0.0.1:0.
//!
//! Raw sockets play the client where exact bytes matter; the crate's own client is used
//! where only behaviour does.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wshd_server::client::{ClientConfig, connect};
use wshd_server::embed::WebSocketExt;
use wshd_server::{
    CloseCode, CloseFrame, Config, Handler, HandshakeRequest, Message, MessageKind, Rejection,
    Router, WebSocket,
};
use wshd_testkit::wire::{self, masked};

/// Generous bound for anything that should happen "soon"; tests never assert speed.
const PATIENCE: Duration = Duration::from_secs(10);

struct Echo;
impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(m)) = ws.recv().await {
            if ws.feed(&m).await.is_err() {
                return;
            }
        }
    }
}

/// Picks "superchat" if offered, adds a header, refuses Origin "http://evil".
struct Chat;
impl Handler for Chat {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        if req.origin() == Some("http://evil") {
            return Err(Rejection::new(403, "origin not allowed").with_header("X-Why", "origin"));
        }
        if req.requested_protocols().iter().any(|p| p == "superchat") {
            req.select_protocol("superchat")?;
        }
        req.add_response_header("X-Root", "yes")
    }
    async fn transfer_data(&self, ws: &mut WebSocket) {
        let _ = ws.send_text(ws.protocol().unwrap_or("none").to_owned().as_str()).await;
        let _ = ws.recv().await;
    }
    fn passive_closing_handshake(&self, peer: &CloseFrame) -> Option<CloseFrame> {
        Some(CloseFrame::new(CloseCode(peer.code.0 + 1), format!("re:{}", peer.reason)))
    }
}

/// Echo that refuses compression, like pywebsocket's `echo_noext_wsh.py`.
struct EchoNoExt;
impl Handler for EchoNoExt {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        req.decline_compression();
        Ok(())
    }
    async fn transfer_data(&self, ws: &mut WebSocket) {
        Echo.transfer_data(ws).await;
    }
}

/// Echo that asks the client for a 10-bit window and no context takeover.
struct EchoSmallWindow;
impl Handler for EchoSmallWindow {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        req.force_client_max_window_bits(10);
        req.force_client_no_context_takeover();
        Ok(())
    }
    async fn transfer_data(&self, ws: &mut WebSocket) {
        Echo.transfer_data(ws).await;
    }
}

/// Panics in each hook, depending on the path.
struct Panics;
impl Handler for Panics {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        if req.path() == "/panic_handshake" {
            panic!("deliberate panic in the extra handshake");
        }
        Ok(())
    }
    async fn transfer_data(&self, _ws: &mut WebSocket) {
        panic!("deliberate panic in transfer_data");
    }
}

/// Returns at once: the server must close with 1000.
struct Quit;
impl Handler for Quit {
    async fn transfer_data(&self, _ws: &mut WebSocket) {}
}

/// Closes with 4000 and waits for the answer.
struct Closer;
impl Handler for Closer {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        let _ = ws.close(Some(CloseFrame::new(CloseCode(4000), "done"))).await;
    }
}

/// Sleeps while holding its connection.
struct Sleeper;
impl Handler for Sleeper {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let _ = ws.send_text("woke").await;
    }
}

/// Reads until the peer's close, then keeps its connection for a minute.
struct StaysAfterClose;
impl Handler for StaysAfterClose {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(_)) = ws.recv().await {}
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Hands its connection to the blocking shell on a thread of its own, which echoes
/// messages with system calls around the core and answers the close.
struct Detacher;
impl Handler for Detacher {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        let detached = ws.detach().expect("a TCP connection detaches");
        assert!(matches!(ws.recv().await, Err(wshd_server::Error::Closed)));
        let thread = std::thread::spawn(move || {
            use wshd_server::blocking::Received;
            loop {
                match detached.receive(false, false) {
                    Ok(Received::Message(m)) => {
                        detached.send(m.kind(), m.as_bytes(), true).unwrap()
                    }
                    Ok(Received::Close(..)) => {
                        return detached
                            .answer_close(Some(&CloseFrame::new(CloseCode::NORMAL, "")))
                            .unwrap();
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the blocking shell failed: {e}"),
                }
            }
        });
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Echoes through the Stream and Sink halves of a split connection.
struct Forward;
impl Handler for Forward {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        use futures_util::StreamExt;
        let (sink, stream) = ws.split();
        let _ = stream.forward(sink).await;
    }
}

/// Sends 64 KiB messages until a send fails, and reports the error on `FLOODED`.
struct Flood;
static FLOODED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
impl Handler for Flood {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        let chunk = vec![7u8; 64 * 1024];
        loop {
            if let Err(e) = ws.send_binary(&chunk).await {
                FLOODED.lock().unwrap().push(e.to_string());
                return;
            }
        }
    }
}

fn router() -> Router {
    Router::new()
        .route("/forward", Forward)
        .route("/flood", Flood)
        .route("/echo", Echo)
        .route("/echo_noext", EchoNoExt)
        .route("/panic_handshake", Panics)
        .route("/panic_transfer", Panics)
        .route("/echo_small_window", EchoSmallWindow)
        .route("/chat", Chat)
        .route("/quit", Quit)
        .route("/closer", Closer)
        .route("/sleep", Sleeper)
        .route("/detach", Detacher)
        .route("/stays", StaysAfterClose)
}

async fn start(config: Config) -> SocketAddr {
    support::serve(router(), config).await
}

/// A client that writes exact bytes.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

const KEY_HEADER: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{KEY_HEADER}Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw { s: TcpStream::connect(addr).await.unwrap(), buf: Vec::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    /// Reads up to the end of the response head and returns it.
    async fn head(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, self.s.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap();
        assert!(n > 0, "connection closed; have {:?}", self.buf);
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Reads one server frame: (first byte, payload).
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some((first, payload, used)) = wire::split_frame(&self.buf) {
                self.buf.drain(..used);
                return (first, payload);
            }
            self.fill().await;
        }
    }

    /// Asserts the server closes TCP (after anything still buffered).
    async fn expect_eof(&mut self) {
        let mut chunk = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(PATIENCE, self.s.read(&mut chunk))
                .await
                .expect("server kept the connection open")
                .unwrap_or(0);
            if n == 0 {
                return;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[tokio::test]
async fn rfc6455_4_2_2_accepts_with_lowercase_upgrade_and_correct_accept_key() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", "").as_bytes()).await;
    let head = c.head().await;
    assert_eq!(
        head,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[tokio::test]
async fn rfc6455_4_2_2_unsupported_version_is_400_with_version_header() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", "").replace("Version: 13", "Version: 99").as_bytes()).await;
    let head = c.head().await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{head}");
    c.expect_eof().await;
}

#[tokio::test]
async fn http_answers_for_requests_that_are_not_served() {
    let addr = start(Config::default()).await;
    for (request, status) in [
        (upgrade("/no_resource", ""), "404"),
        ("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "400"),
        (upgrade("/echo#fragment", ""), "400"),
        (upgrade("/echo", "").replace("HTTP/1.1", "HTTP/1.0"), "400"),
        ("NOT HTTP AT ALL\r\n\r\n".to_owned(), "400"),
    ] {
        let mut c = Raw::connect(addr).await;
        c.send(request.as_bytes()).await;
        let head = c.head().await;
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{request:?} -> {head}");
        c.expect_eof().await;
    }
}

#[tokio::test]
async fn query_and_an_empty_fragment_are_ignored_in_routing() {
    let addr = start(Config::default()).await;
    // As pywebsocket: only a non-empty fragment refuses (see the 400 above).
    for target in ["/echo?x=1", "/echo#", "/echo?x=1#"] {
        let mut c = Raw::connect(addr).await;
        c.send(upgrade(target, "").as_bytes()).await;
        let head = c.head().await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{target} -> {head}");
    }
}

#[tokio::test]
async fn oversized_request_head_is_431() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
    // The server may answer before reading everything; ignore write errors.
    let _ = c.s.write_all(upgrade("/echo", &big).as_bytes()).await;
    let head = c.head().await;
    assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
}

#[tokio::test]
async fn extra_handshake_selects_protocol_adds_headers_and_rejects() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/chat", "Sec-WebSocket-Protocol: chat, superchat\r\n").as_bytes()).await;
    let head = c.head().await;
    assert!(head.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"), "{head}");
    assert!(head.ends_with("\r\nX-Root: yes\r\n\r\n"), "{head}");
    assert_eq!(c.frame().await, (0x81, b"superchat".to_vec()));

    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/chat", "Origin: http://evil\r\n").as_bytes()).await;
    let head = c.head().await;
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert!(head.contains("\r\nX-Why: origin\r\n"), "{head}");
}

#[tokio::test]
async fn rfc6455_5_7_echo_and_first_frame_pipelined_with_the_request() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    let mut bytes = upgrade("/echo", "").into_bytes();
    bytes.extend(masked(0x81, b"Hello"));
    bytes.extend(masked(0x82, &[1, 2, 3]));
    c.send(&bytes).await;
    c.head().await;
    assert_eq!(c.frame().await, (0x81, b"Hello".to_vec()));
    assert_eq!(c.frame().await, (0x82, vec![1, 2, 3]));
    c.send(&masked(0x88, &[0x03, 0xe8])).await;
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xe8]));
    c.expect_eof().await;
}

#[tokio::test]
async fn rfc6455_7_1_7_protocol_errors_close_with_their_code_then_tcp() {
    let addr = start(Config::default()).await;
    for (input, code) in [
        (vec![0x81, 0x02, b'h', b'i'], 1002u16), // unmasked
        (masked(0x80, b""), 1002),               // continuation without start
        (masked(0x91, b""), 1002),               // RSV3 (pywebsocket says 1003; RFC practice 1002)
        (masked(0x81, &[0x80]), 1007),           // invalid UTF-8
    ] {
        let mut c = Raw::connect(addr).await;
        c.send(upgrade("/echo", "").as_bytes()).await;
        c.head().await;
        c.send(&input).await;
        assert_eq!(c.frame().await, (0x88, code.to_be_bytes().to_vec()), "{input:x?}");
        c.expect_eof().await;
    }
}

#[tokio::test]
async fn rfc6455_10_4_declared_length_over_the_limit_closes_with_1009() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", "").as_bytes()).await;
    c.head().await;
    // 2^40 bytes declared, none sent.
    c.send(&[0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]).await;
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xf1]));
    c.expect_eof().await;
}

#[tokio::test]
async fn passive_closing_handshake_hook_chooses_the_reply() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/chat", "").as_bytes()).await;
    c.head().await;
    c.frame().await;
    c.send(&masked(0x88, b"\x0d\x05sun")).await;
    assert_eq!(c.frame().await, (0x88, b"\x0d\x06re:sun".to_vec()));
    c.expect_eof().await;
}

#[tokio::test]
async fn rfc6455_7_1_1_server_closes_tcp_after_the_handshake_while_the_handler_runs() {
    let addr = start(Config::default()).await;
    for close in [&[0x03, 0xe8][..], &[]] {
        let mut c = Raw::connect(addr).await;
        c.send(upgrade("/stays", "").as_bytes()).await;
        c.head().await;
        c.send(&masked(0x88, close)).await;
        assert_eq!(c.frame().await, (0x88, vec![0x03, 0xe8]));
        c.expect_eof().await;
    }
}

#[tokio::test]
async fn handler_return_closes_with_1000() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/quit", "").as_bytes()).await;
    c.head().await;
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xe8]));
    c.send(&masked(0x88, &[0x03, 0xe8])).await;
    c.expect_eof().await;
}

#[tokio::test]
async fn close_timeout_drops_a_peer_that_never_answers() {
    let config = Config { close_timeout: Duration::from_millis(200), ..Config::default() };
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/closer", "").as_bytes()).await;
    c.head().await;
    assert_eq!(c.frame().await, (0x88, b"\x0f\xa0done".to_vec()));
    // We never answer; the server gives up and closes TCP.
    c.expect_eof().await;
}

#[tokio::test]
async fn handshake_timeout_drops_a_client_that_stalls() {
    let config = Config { handshake_timeout: Duration::from_millis(200), ..Config::default() };
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n").await;
    c.expect_eof().await;
    assert!(c.buf.is_empty(), "no response expected: {:?}", c.buf);
}

#[tokio::test]
async fn keepalive_pings_and_closes_1011_when_unanswered() {
    let config = Config {
        ping_interval: Some(Duration::from_millis(100)),
        ping_timeout: Duration::from_millis(100),
        ..Config::default()
    };
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", "").as_bytes()).await;
    c.head().await;
    assert_eq!(c.frame().await, (0x89, vec![]));
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xf3]));
    c.expect_eof().await;
}

/// A peer that stops reading while the handler sends: once the transport has taken none
/// of the waiting bytes for the send timeout, the handler's send fails with the reason and
/// the connection is dropped; the peer finds the end of the stream behind what reached it.
#[tokio::test]
async fn send_timeout_drops_a_peer_that_stops_reading() {
    let config = Config { send_timeout: Some(Duration::from_millis(300)), ..Config::default() };
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/flood", "").as_bytes()).await;
    c.head().await;
    // Read nothing until the handler gave up.
    let error = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(e) = FLOODED.lock().unwrap().first().cloned() {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the handler's send never failed: no send timeout");
    assert!(error.contains("(send timeout)"), "{error}");
    c.expect_eof().await;
}

/// `idle_timeout`: messages keep a connection open, keepalive pings do not; after the
/// last message it is closed with 1001, not before the timeout.
#[tokio::test]
async fn idle_timeout_closes_1001_after_the_last_message_whatever_the_pings() {
    let idle = Duration::from_millis(400);
    let config = Config {
        idle_timeout: Some(idle),
        ping_interval: Some(Duration::from_millis(50)),
        ping_timeout: PATIENCE,
        ..Config::default()
    };
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", "").as_bytes()).await;
    c.head().await;
    // A message every 150 ms for 1.2 s: three times the timeout, and still open.
    let mut quiet = std::time::Instant::now();
    for i in 0..8u8 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        // The server's last activity is after this instant.
        quiet = std::time::Instant::now();
        c.send(&masked(0x82, &[i])).await;
        loop {
            match c.frame().await {
                (0x89, ping) => c.send(&masked(0x8a, &ping)).await,
                echo => {
                    assert_eq!(echo, (0x82, vec![i]));
                    break;
                }
            }
        }
    }
    let mut pings = 0;
    loop {
        match c.frame().await {
            (0x89, ping) => {
                pings += 1;
                c.send(&masked(0x8a, &ping)).await;
            }
            close => {
                assert_eq!(close, (0x88, vec![0x03, 0xe9]), "1001 going away");
                break;
            }
        }
    }
    assert!(quiet.elapsed() >= idle, "closed {:?} after the last message", quiet.elapsed());
    assert!(pings > 0, "the pings went on meanwhile");
}

/// An idle connection's task holds its `WebSocket` and its handler's future, which waits
/// in `recv` (or `feed`): their sizes are memory on every idle connection. `recv` was 144
/// bytes before the receive calls became poll functions over the socket. The bounds are
/// what rustc 1.95 gives, with a little room; raise one only for a reason.
#[tokio::test]
async fn idle_connection_state_stays_small() {
    let addr = start(Config::default()).await;
    let (mut ws, _) = connect(addr, None, "/echo", &ClientConfig::default()).await.unwrap();
    let recv = std::mem::size_of_val(&ws.recv());
    assert!(recv <= 48, "a waiting recv takes {recv} bytes");
    let frame = std::mem::size_of_val(&ws.recv_frame());
    assert!(frame <= 48, "a waiting recv_frame takes {frame} bytes");
    let message = Message::Binary(vec![1]);
    let feed = std::mem::size_of_val(&ws.feed(&message));
    assert!(feed <= 64, "a feed takes {feed} bytes");
    let socket = std::mem::size_of::<WebSocket>();
    assert!(socket <= 416, "a WebSocket takes {socket} bytes");
}

#[tokio::test]
async fn client_echo_of_text_binary_fragments_and_a_large_message() {
    let addr = start(Config::default()).await;
    let (mut ws, accepted) = connect(addr, None, "/echo", &ClientConfig::default()).await.unwrap();
    assert_eq!(accepted.protocol, None);
    ws.send_text("héllo").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("héllo".into())));
    ws.send_fragment(MessageKind::Binary, &[1, 2], false).await.unwrap();
    ws.ping(b"between").await.unwrap();
    ws.send_fragment(MessageKind::Binary, &[3], true).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Binary(vec![1, 2, 3])));
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    ws.send_binary(&big).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Binary(big)));
    ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await.unwrap();
    assert_eq!(ws.peer_close(), Some(CloseFrame::new(CloseCode::NORMAL, "")));
}

#[tokio::test]
async fn a_sleeping_handler_does_not_stall_other_connections() {
    let addr = start(Config::default()).await;
    let (mut sleeper, _) = connect(addr, None, "/sleep", &ClientConfig::default()).await.unwrap();
    for i in 0..20 {
        let (mut ws, _) = connect(addr, None, "/echo", &ClientConfig::default()).await.unwrap();
        ws.send_text(&format!("{i}")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Text(format!("{i}"))));
        ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await.unwrap();
    }
    // The echoes were served while the sleeper's handler is still asleep: it has sent
    // nothing yet, and answers a close only through the server's close timeout path.
    let pending = tokio::time::timeout(Duration::from_millis(100), sleeper.recv()).await;
    assert!(pending.is_err(), "the sleeping handler should not have sent anything yet");
}

#[tokio::test]
async fn rfc7692_compressed_echo_with_autobahns_offer() {
    let addr = start(Config::default()).await;
    let config = ClientConfig {
        extensions: Some(
            "permessage-deflate; client_no_context_takeover; client_max_window_bits".into(),
        ),
        ..ClientConfig::default()
    };
    let (mut ws, accepted) = connect(addr, None, "/echo", &config).await.unwrap();
    assert_eq!(ws.extensions(), Some("permessage-deflate"));
    assert_eq!(
        accepted.extensions.as_ref().map(|e| e[0].name.as_str()),
        Some("permessage-deflate")
    );
    let text = "compress me ".repeat(10_000);
    for _ in 0..3 {
        ws.send_text(&text).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Text(text.clone())));
    }
    ws.send_fragment(MessageKind::Binary, &[7; 5000], false).await.unwrap();
    ws.send_fragment(MessageKind::Binary, &[8; 5000], true).await.unwrap();
    let expected: Vec<u8> = [[7u8; 5000], [8u8; 5000]].concat();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Binary(expected)));
    ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await.unwrap();
}

#[tokio::test]
async fn rfc7692_exact_101_header_and_first_compressed_frame() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; server_no_context_takeover\r\n";
    let mut bytes = upgrade("/echo", offer).into_bytes();
    bytes.extend(masked(0x81, b"Hello"));
    c.send(&bytes).await;
    let head = c.head().await;
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; server_no_context_takeover\r\n"),
        "{head}"
    );
    assert_eq!(c.frame().await, (0xc1, vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
}

#[tokio::test]
async fn rfc7692_declined_by_the_handler_or_the_server_config() {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo_noext", offer).as_bytes()).await;
    assert!(!c.head().await.contains("Sec-WebSocket-Extensions"));

    let mut config = Config::default();
    config.deflate.enabled = false;
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", offer).as_bytes()).await;
    assert!(!c.head().await.contains("Sec-WebSocket-Extensions"));
}

#[tokio::test]
async fn rfc7692_7_1_2_2_handler_forces_client_window_and_no_context_takeover() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    c.send(upgrade("/echo_small_window", offer).as_bytes()).await;
    let head = c.head().await;
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; client_no_context_takeover\r\n"),
        "{head}"
    );
    // The crate's client follows what the server asked for, and the echo still works.
    let config = ClientConfig {
        extensions: Some("permessage-deflate; client_max_window_bits".into()),
        ..ClientConfig::default()
    };
    let (mut ws, _) = connect(addr, None, "/echo_small_window", &config).await.unwrap();
    for _ in 0..3 {
        ws.send_text(&"abc".repeat(3000)).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("abc".repeat(3000))));
    }
}

#[tokio::test]
async fn deflate_frame_is_negotiated_only_when_enabled_and_only_one_extension_wins() {
    let offer = "Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate\r\n";
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/echo", offer).as_bytes()).await;
    assert!(c.head().await.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"));

    let mut config = Config::default();
    config.deflate.deflate_frame = true;
    let addr = start(config).await;
    let mut c = Raw::connect(addr).await;
    let mut bytes = upgrade("/echo", offer).into_bytes();
    bytes.extend(masked(0x81, b"Hello"));
    c.send(&bytes).await;
    let head = c.head().await;
    assert!(head.contains("\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"), "{head}");
    // deflate-frame: the echo is one compressed frame with RSV1.
    assert_eq!(c.frame().await, (0xc1, vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
}

#[tokio::test]
async fn a_panicking_handler_gets_500_or_1011_and_the_server_keeps_serving() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/panic_handshake", "").as_bytes()).await;
    assert!(c.head().await.starts_with("HTTP/1.1 500 "));

    let mut c = Raw::connect(addr).await;
    c.send(upgrade("/panic_transfer", "").as_bytes()).await;
    assert!(c.head().await.starts_with("HTTP/1.1 101 "));
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xf3]));
    c.send(&masked(0x88, &[0x03, 0xf3])).await;
    c.expect_eof().await;

    let (mut ws, _) = connect(addr, None, "/echo", &ClientConfig::default()).await.unwrap();
    ws.send_text("still here").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("still here".into())));
}

#[tokio::test]
async fn a_detached_connection_keeps_what_was_already_read() {
    let addr = start(Config::default()).await;
    let mut c = Raw::connect(addr).await;
    // The first frame arrives with the request head: the core holds it at detach time.
    let mut bytes = upgrade("/detach", "").into_bytes();
    bytes.extend(masked(0x81, b"early"));
    c.send(&bytes).await;
    c.head().await;
    assert_eq!(c.frame().await, (0x81, b"early".to_vec()));
    c.send(&masked(0x82, &[7])).await;
    assert_eq!(c.frame().await, (0x82, vec![7]));
    c.send(&masked(0x88, &[0x03, 0xe8])).await;
    assert_eq!(c.frame().await, (0x88, vec![0x03, 0xe8]));
}

#[tokio::test]
async fn a_split_connection_echoes_through_stream_and_sink_and_ends_with_the_close() {
    use futures_util::{SinkExt, StreamExt};
    let addr = start(Config::default()).await;
    let (mut ws, _) = connect(addr, None, "/forward", &ClientConfig::default()).await.unwrap();
    // The client side is a Stream and a Sink too.
    SinkExt::send(&mut ws, Message::Text("one".into())).await.unwrap();
    SinkExt::feed(&mut ws, Message::Binary(vec![2; 70_000])).await.unwrap();
    SinkExt::flush(&mut ws).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Text("one".into()));
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(vec![2; 70_000]));
    ws.start_close(Some(CloseFrame::new(CloseCode(4000), "bye"))).unwrap();
    SinkExt::flush(&mut ws).await.unwrap();
    // The server answers (the default passive handshake: 1000) and the stream ends.
    let end = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
    assert!(end.expect("the stream ends after the closing handshake").is_none());
    assert_eq!(ws.peer_close(), Some(CloseFrame::new(CloseCode::NORMAL, "")));
    assert!(ws.next().await.is_none(), "a finished stream stays finished");
}
