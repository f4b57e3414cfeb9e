//! The client's address behind a reverse proxy: `Forwarded` and `X-Forwarded-For` are
//! believed from the proxies in `Config::trusted_proxies`, and from nobody else. The
//! test client connects from 127.0.0.1 and plays the proxy.

mod support;

use std::net::SocketAddr;

use wshd_server::client::{ClientConfig, connect};
use wshd_server::embed::{HandshakeRequestExt, WebSocketExt};
use wshd_server::{Config, Handler, HandshakeRequest, Message, Rejection, Router, WebSocket};

/// Reports the address the extra handshake saw, then the one the connection saw.
struct WhoIsThere;

impl Handler for WhoIsThere {
    async fn do_extra_handshake(&self, req: &mut HandshakeRequest) -> Result<(), Rejection> {
        req.set_state(Box::new(req.peer_addr()));
        Ok(())
    }

    async fn transfer_data(&self, ws: &mut WebSocket) {
        let seen = *ws.take_handler_state().unwrap().downcast::<SocketAddr>().unwrap();
        let report = format!("{seen} {}", ws.peer_addr());
        let _ = ws.send_text(&report).await;
    }
}

/// What the server reports for a connection from 127.0.0.1 carrying `headers`.
async fn seen_as(trusted: &[&str], headers: &[(&str, &str)]) -> String {
    let config = Config {
        trusted_proxies: trusted.iter().map(|p| p.parse().unwrap()).collect(),
        ..Config::default()
    };
    let addr = support::serve(Router::new().route("/who", WhoIsThere), config).await;
    let client = ClientConfig {
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        ..ClientConfig::default()
    };
    let (mut ws, _) = connect(addr, None, "/who", &client).await.unwrap();
    let Some(Message::Text(report)) = ws.recv().await.unwrap() else { panic!("no report") };
    report
}

#[tokio::test]
async fn a_trusted_proxys_client_is_what_handlers_see() {
    let report = seen_as(&["127.0.0.1"], &[("X-Forwarded-For", "203.0.113.9")]).await;
    assert_eq!(report, "203.0.113.9:0 203.0.113.9:0");
    let forwarded = [("Forwarded", "for=\"[2001:db8::17]:4711\";proto=http")];
    let report = seen_as(&["127.0.0.0/8"], &forwarded).await;
    assert_eq!(report, "[2001:db8::17]:4711 [2001:db8::17]:4711");
}

#[tokio::test]
async fn the_headers_of_anyone_else_are_ignored() {
    for trusted in [&[][..], &["10.0.0.0/8"][..]] {
        let report = seen_as(trusted, &[("X-Forwarded-For", "203.0.113.9")]).await;
        let (hook, conn) = report.split_once(' ').unwrap();
        assert_eq!(hook, conn);
        assert!(hook.starts_with("127.0.0.1:"), "trusting {trusted:?}: seen as {hook}");
    }
}
