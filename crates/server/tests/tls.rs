//! `wss://` through the server: TLS 1.2/1.3 with the crate's own client, client
//! certificates (required and optional) checked against a CA, what handlers see of
//! the TLS session, and clients that stall or send garbage during the TLS handshake.
//!
//! Certificates are made by rcgen at run time (tests/pki). Every listener binds
//! 127.0.0.1:0. No assertion is about speed: the stall tests give the server a long
//! handshake timeout, so a blocked accept loop would show as a failed connection, not as
//! a slow one.

mod pki;

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use pki::{Ca, Leaf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wshd_server::client::{ClientConfig, ClientTls, connect};
use wshd_server::embed::{HandshakeRequestExt, WebSocketExt};
use wshd_server::tls::{ClientAuth, TlsConfig};
use wshd_server::{
    Config, Error, Handler, HandshakeRequest, Message, Rejection, Router, WebSocket,
};

/// Generous bound for anything that should happen "soon"; tests never assert speed.
const PATIENCE: Duration = Duration::from_secs(10);

/// Reports what the extra handshake and the open socket saw of TLS, then echoes.
struct WhoAmI;

struct Seen {
    tls: bool,
    cert: Option<Vec<u8>>,
    sni: Option<String>,
}

impl Handler for WhoAmI {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        let seen = Seen {
            tls: req.is_tls(),
            cert: req.peer_certificates().map(|c| c[0].to_vec()),
            sni: req.tls_server_name().map(str::to_owned),
        };
        req.set_state(Box::new(seen));
        Ok(())
    }

    async fn transfer_data(&self, ws: &mut WebSocket) {
        let seen = *ws.take_handler_state().unwrap().downcast::<Seen>().unwrap();
        let report = format!(
            "handshake tls={} cert={} sni={:?}; socket tls={} cert={} sni={:?}",
            seen.tls,
            seen.cert.is_some(),
            seen.sni,
            ws.is_tls(),
            ws.peer_certificates().is_some(),
            ws.tls_server_name(),
        );
        let socket_cert = ws.peer_certificates().map(|c| c[0].to_vec()).unwrap_or_default();
        if seen.cert.as_ref().is_some_and(|c| *c != socket_cert) {
            let _ = ws.send_text("handshake and socket saw different certificates").await;
            return;
        }
        if ws.send_text(&report).await.is_err() || ws.send_binary(&socket_cert).await.is_err() {
            return;
        }
        while let Ok(Some(m)) = ws.recv().await {
            if ws.send(&m).await.is_err() {
                return;
            }
        }
    }
}

/// A server's CA and certificate.
struct Pki {
    ca: Ca,
    server: Leaf,
}

impl Pki {
    fn new() -> Pki {
        let ca = Ca::new("wshd test CA");
        let server = ca.server();
        Pki { ca, server }
    }

    fn tls(&self, client_auth: ClientAuth) -> TlsConfig {
        TlsConfig::from_pem(
            self.server.cert_pem.as_bytes(),
            self.server.key_pem.as_bytes(),
            client_auth,
        )
        .unwrap()
    }
}

async fn start(tls: Option<TlsConfig>, handshake_timeout: Duration) -> SocketAddr {
    let config = Config { tls, handshake_timeout, ..Config::default() };
    support::serve(Router::new().route("/whoami", WhoAmI), config).await
}

fn client(ca: &Ca, identity: Option<&Leaf>) -> ClientConfig {
    let tls = ClientTls::new(&[ca.der()], identity.map(Leaf::identity)).unwrap();
    ClientConfig { tls: Some(tls), handshake_timeout: PATIENCE, ..ClientConfig::default() }
}

/// Opens `wss://localhost/whoami`, returns the server's report and the certificate it
/// saw, after checking an echo.
async fn whoami(addr: SocketAddr, config: &ClientConfig) -> Result<(String, Vec<u8>), Error> {
    let host = format!("localhost:{}", addr.port());
    let (mut ws, _) = connect(addr, Some(&host), "/whoami", config).await?;
    assert!(ws.is_tls());
    let Some(Message::Text(report)) = ws.recv().await? else { panic!("no report") };
    let Some(Message::Binary(cert)) = ws.recv().await? else { panic!("no certificate") };
    ws.send_text("over tls").await?;
    assert_eq!(ws.recv().await?, Some(Message::Text("over tls".into())));
    ws.close(Some(wshd_server::CloseFrame::new(wshd_server::CloseCode::NORMAL, ""))).await?;
    Ok((report, cert))
}

#[tokio::test]
async fn wss_echo_without_client_auth_and_handlers_see_tls() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Off)), PATIENCE).await;
    let (report, cert) = whoami(addr, &client(&pki.ca, None)).await.unwrap();
    assert_eq!(
        report,
        "handshake tls=true cert=false sni=Some(\"localhost\"); \
         socket tls=true cert=false sni=Some(\"localhost\")"
    );
    assert!(cert.is_empty());
}

#[tokio::test]
async fn plain_ws_reports_no_tls() {
    let addr = start(None, PATIENCE).await;
    let (mut ws, _) = connect(addr, None, "/whoami", &ClientConfig::default()).await.unwrap();
    assert!(!ws.is_tls());
    let Some(Message::Text(report)) = ws.recv().await.unwrap() else { panic!("no report") };
    assert_eq!(
        report,
        "handshake tls=false cert=false sni=None; socket tls=false cert=false sni=None"
    );
}

#[tokio::test]
async fn required_client_certificate_from_the_right_ca_is_accepted_and_visible() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Required(vec![pki.ca.der()]))), PATIENCE).await;
    let alice = pki.ca.client("alice");
    let (report, cert) = whoami(addr, &client(&pki.ca, Some(&alice))).await.unwrap();
    assert!(report.starts_with("handshake tls=true cert=true"), "{report}");
    assert!(report.contains("socket tls=true cert=true"), "{report}");
    assert_eq!(cert, alice.der().to_vec());
}

#[tokio::test]
async fn required_client_certificate_from_another_ca_or_none_is_refused() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Required(vec![pki.ca.der()]))), PATIENCE).await;
    let mallory = Ca::new("another CA").client("mallory");
    let wrong_ca = whoami(addr, &client(&pki.ca, Some(&mallory))).await;
    assert!(wrong_ca.is_err(), "a certificate from another CA was accepted: {wrong_ca:?}");
    let none = whoami(addr, &client(&pki.ca, None)).await;
    assert!(none.is_err(), "a client without a certificate was accepted: {none:?}");
    // The server still serves a client it should accept.
    let alice = pki.ca.client("alice");
    whoami(addr, &client(&pki.ca, Some(&alice))).await.unwrap();
}

#[tokio::test]
async fn optional_client_certificate_accepts_none_and_checks_those_sent() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Optional(vec![pki.ca.der()]))), PATIENCE).await;
    let (report, cert) = whoami(addr, &client(&pki.ca, None)).await.unwrap();
    assert!(report.starts_with("handshake tls=true cert=false"), "{report}");
    assert!(cert.is_empty());
    let alice = pki.ca.client("alice");
    let (_, cert) = whoami(addr, &client(&pki.ca, Some(&alice))).await.unwrap();
    assert_eq!(cert, alice.der().to_vec());
    let mallory = Ca::new("another CA").client("mallory");
    assert!(whoami(addr, &client(&pki.ca, Some(&mallory))).await.is_err());
}

#[tokio::test]
async fn client_refuses_a_server_certificate_from_an_untrusted_ca() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Off)), PATIENCE).await;
    let other = Ca::new("another CA");
    assert!(whoami(addr, &client(&other, None)).await.is_err());
}

#[tokio::test]
async fn stalled_and_garbage_tls_clients_do_not_delay_a_normal_client() {
    let pki = Pki::new();
    // A handshake timeout far beyond the client's: if a stalled client held up the
    // accept loop, the normal client below would fail with a timeout.
    let addr = start(Some(pki.tls(ClientAuth::Off)), Duration::from_secs(600)).await;
    let silent: Vec<TcpStream> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(TcpStream::connect(addr).await.unwrap());
        }
        v
    };
    // The start of a TLS record header (handshake, TLS 1.0 record version), then nothing.
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap();
    // Bytes that are not TLS at all, with the socket kept open.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"\x00\x01\x02 not a client hello \xff\xfe").await.unwrap();
    let mut config = client(&pki.ca, None);
    config.handshake_timeout = PATIENCE;
    let (report, _) = whoami(addr, &config).await.unwrap();
    assert!(report.starts_with("handshake tls=true"), "{report}");
    // The garbage-sending client was dropped by the server, not left hanging.
    let mut buf = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, garbage.read_to_end(&mut buf)).await;
    assert!(ended.is_ok(), "the server kept a connection that sent garbage open");
    drop(silent);
}

#[tokio::test]
async fn plain_http_to_a_tls_port_is_closed_without_an_http_answer() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Off)), PATIENCE).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was not closed");
    assert!(!buf.starts_with(b"HTTP/"), "answered in plain HTTP: {buf:?}");
}

#[tokio::test]
async fn tls_handshake_is_bounded_by_the_handshake_timeout() {
    let pki = Pki::new();
    let addr = start(Some(pki.tls(ClientAuth::Off)), Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a client that sent no ClientHello was kept past the timeout");
    assert!(buf.is_empty());
}

#[test]
fn invalid_pem_is_refused_with_a_clear_error() {
    let pki = Pki::new();
    let e = TlsConfig::from_pem(b"not pem", pki.server.key_pem.as_bytes(), ClientAuth::Off)
        .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    let e = TlsConfig::from_pem(pki.server.cert_pem.as_bytes(), b"", ClientAuth::Off).unwrap_err();
    assert!(e.to_string().contains("private key"), "{e}");
    // Well-formed PEM around bytes that are no key.
    let junk = b"-----BEGIN PRIVATE KEY-----\nAAECAwQ=\n-----END PRIVATE KEY-----\n";
    let e = TlsConfig::from_pem(pki.server.cert_pem.as_bytes(), junk, ClientAuth::Off).unwrap_err();
    assert!(e.to_string().contains("unusable private key"), "{e}");
    let other = pki.ca.client("someone else");
    let e = TlsConfig::from_pem(
        pki.server.cert_pem.as_bytes(),
        other.key_pem.as_bytes(),
        ClientAuth::Off,
    )
    .unwrap_err();
    assert!(e.to_string().contains("pair"), "{e}");
    let dir = std::env::temp_dir().join(format!("wshd-tls-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.pem");
    let e = TlsConfig::from_pem_files(&missing, &missing, ClientAuth::Off).unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
