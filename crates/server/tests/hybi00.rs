//! HyBi 00 (hixie-76) through the server with `Config::allow_hybi00`, driven by a client
//! written by hand: the draft's worked example answered byte for byte, text echo, the
//! closing handshake both ways, the message limit, what a handler sees, and the refusal
//! when HyBi 00 is off.

mod support;

use std::net::SocketAddr;

use support::serve;
use wshd_proto::Limits;
use wshd_server::{
    CloseCode, CloseFrame, Config, Handler, HandshakeRequest, Message, Rejection, Router, WebSocket,
};
use wshd_testkit::hybi00_client::{self, ANSWER, KEY2, KEY3, request as example_request};
use wshd_testkit::raw_client::{Raw, status};

/// Echoes text; `bye` makes the server close.
struct Echo;
impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(m)) = ws.recv().await {
            if m == Message::Text("bye".into()) {
                let _ = ws.close(Some(CloseFrame::new(CloseCode(1000), "ignored"))).await;
                return;
            }
            if ws.feed(&m).await.is_err() {
                return;
            }
        }
    }
}

/// Shows in a response header what the handshake told the handler.
struct Report;
impl Handler for Report {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        let (challenge, response) = req.hybi00_challenge().expect("a HyBi 00 handshake");
        let seen = format!(
            "version={} location={} protocol={} challenge={} response={}",
            req.version(),
            req.hybi00_location().unwrap_or("-"),
            req.selected_protocol().unwrap_or("-"),
            challenge.len(),
            response.len(),
        );
        req.add_response_header("X-Seen", &seen)
    }
    async fn transfer_data(&self, _ws: &mut WebSocket) {}
}

fn router() -> Router {
    Router::new().route("/demo", Echo).route("/report", Report)
}

async fn server(allow: bool, limits: Limits) -> SocketAddr {
    serve(router(), Config { allow_hybi00: allow, limits, ..Config::default() }).await
}

/// Opens `/demo` with the draft's example; returns the client, after the 101.
fn open(addr: SocketAddr) -> Raw {
    let (mut raw, head) = hybi00_client::open(addr, "/demo");
    assert_eq!(status(&head), 101, "{head}");
    assert_eq!(raw.take(16), ANSWER);
    raw
}

#[tokio::test]
async fn the_drafts_example_is_answered_byte_for_byte() {
    let addr = server(true, Limits::default()).await;
    let bytes = tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(addr);
        raw.write(&example_request("/demo", "example.com", ""));
        // The challenge's last bytes may come in pieces, after the head.
        std::thread::sleep(std::time::Duration::from_millis(50));
        raw.write(&KEY3[..3]);
        raw.write(&KEY3[3..]);
        let head = raw.head();
        let mut all = head.into_bytes();
        all.extend(raw.take(16));
        all
    })
    .await
    .unwrap();
    let expected: &[u8] = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Location: ws://example.com/demo\r\n\
        Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Protocol: sample\r\n\r\n\
        8jKS'y:G*Co,Wxa-";
    assert_eq!(String::from_utf8_lossy(&bytes), String::from_utf8_lossy(expected));
}

#[tokio::test]
async fn text_echoes_and_the_clients_close_is_answered() {
    let addr = server(true, Limits::default()).await;
    tokio::task::spawn_blocking(move || {
        let mut raw = open(addr);
        // Two messages in one write, and a discarded length frame between them.
        raw.write(b"\x00hello\xff\x80\x01z\x00caf\xc3\xa9\xff");
        assert_eq!(raw.take(7), b"\x00hello\xff");
        assert_eq!(raw.take(7), b"\x00caf\xc3\xa9\xff");
        raw.write(b"\xff\x00");
        assert_eq!(raw.take(2), b"\xff\x00");
        raw.end_of_stream().expect("the server ends TCP after the closing handshake");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_servers_close_waits_for_the_clients() {
    let addr = server(true, Limits::default()).await;
    tokio::task::spawn_blocking(move || {
        let mut raw = open(addr);
        raw.write(b"\x00bye\xff");
        assert_eq!(raw.take(2), b"\xff\x00", "HyBi 00's close carries no code or reason");
        raw.write(b"\xff\x00");
        raw.end_of_stream().expect("the server ends TCP after the closing handshake");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_message_over_the_limit_closes_the_connection() {
    let limits = Limits { max_frame_size: 1000, max_message_size: 1000 };
    let addr = server(true, limits).await;
    tokio::task::spawn_blocking(move || {
        let mut raw = open(addr);
        let mut message = vec![0x00];
        message.extend_from_slice(&[b'a'; 1000]);
        message.push(0xff);
        raw.write(&message);
        assert_eq!(raw.take(1002), message, "a message at the limit is echoed");
        message.insert(1, b'a');
        raw.write(&message);
        assert_eq!(raw.rest(), b"\xff\x00", "over the limit: our close, then the end of TCP");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_handler_sees_version_0_the_location_and_the_clients_subprotocol() {
    let addr = server(true, Limits::default()).await;
    let head = tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(addr);
        let host = format!("localhost:{}", addr.port());
        let request = String::from_utf8(example_request("/report?x=1", &host, ""))
            .unwrap()
            .replace("sample", "chat room");
        raw.write(request.as_bytes());
        raw.write(KEY3);
        raw.head()
    })
    .await
    .unwrap();
    assert_eq!(status(&head), 101, "{head}");
    let location = format!("ws://localhost:{}/report?x=1", addr.port());
    assert!(head.contains(&format!("Sec-WebSocket-Location: {location}\r\n")), "{head}");
    assert!(head.contains("Sec-WebSocket-Protocol: chat room\r\n"), "{head}");
    assert!(
        head.contains(&format!(
            "X-Seen: version=0 location={location} protocol=chat room challenge=16 response=16\r\n"
        )),
        "{head}"
    );
}

#[tokio::test]
async fn without_allow_hybi00_the_handshake_is_refused_with_400() {
    let addr = server(false, Limits::default()).await;
    let (head, body) = tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(addr);
        raw.write(&example_request("/demo", "example.com", ""));
        raw.write(KEY3);
        let head = raw.head();
        (head, String::from_utf8_lossy(&raw.rest()).into_owned())
    })
    .await
    .unwrap();
    assert_eq!(status(&head), 400, "{head}");
    assert!(body.contains("--allow-hybi00"), "the answer says what to do: {body}");
}

#[tokio::test]
async fn a_bad_challenge_is_refused_with_400() {
    let addr = server(true, Limits::default()).await;
    let head = tokio::task::spawn_blocking(move || {
        let mut raw = Raw::connect(addr);
        let request = String::from_utf8(example_request("/demo", "example.com", "")).unwrap();
        raw.write(request.replace(KEY2, "129985Y31.P00").as_bytes());
        raw.write(KEY3);
        raw.head()
    })
    .await
    .unwrap();
    assert_eq!(status(&head), 400, "{head}");
}

#[tokio::test]
async fn wshds_own_client_speaks_hybi00_to_the_server() {
    let addr = server(true, Limits::default()).await;
    let config = wshd_server::client::ClientConfig {
        hybi00: true,
        protocols: vec!["chat".into()],
        origin: Some("http://example.com".into()),
        ..Default::default()
    };
    let (mut ws, accepted) =
        wshd_server::client::connect(addr, None, "/demo", &config).await.expect("a 101");
    assert_eq!(accepted.protocol.as_deref(), Some("chat"), "the client's, kept by the server");
    ws.send_text("héllo").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("héllo".into())));
    assert!(ws.send_binary(b"x").await.is_err(), "HyBi 00 has no binary messages");
    // Returns once the server's 0xFF 0x00 came back.
    ws.close(None).await.expect("a clean closing handshake");
}
