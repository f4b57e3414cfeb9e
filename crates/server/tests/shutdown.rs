//! Graceful shutdown over loopback: a triggered [`Shutdown`] closes open WebSockets with
//! 1001, stops the listener, and `Server::run` returns once they are gone or the
//! shutdown timeout has passed. Every listener binds 127.0.0.1:0.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use wshd_server::client::{ClientConfig, connect};
use wshd_server::{
    CloseCode, CloseFrame, Config, Handler, Message, Router, Server, Shutdown, WebSocket,
};

/// Generous bound for anything that should happen "soon"; tests never assert speed.
const PATIENCE: Duration = Duration::from_secs(10);

struct Echo;
impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(m)) = ws.recv().await {
            if ws.send(&m).await.is_err() {
                return;
            }
        }
    }
}

/// Sends a message every 20 ms and never receives: it only notices a shutdown by sending.
struct Ticker;
impl Handler for Ticker {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while ws.send_text("tick").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = ws.wait_closed().await;
    }
}

/// Neither sends nor receives for a minute.
struct Stuck;
impl Handler for Stuck {
    async fn transfer_data(&self, _ws: &mut WebSocket) {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

async fn start(config: Config) -> (SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
    let router = Router::new().route("/echo", Echo).route("/tick", Ticker).route("/stuck", Stuck);
    support::serve_with_shutdown(router, config).await
}

async fn open(addr: SocketAddr, path: &str) -> WebSocket {
    connect(addr, None, path, &ClientConfig::default()).await.unwrap().0
}

#[tokio::test]
async fn idle_connections_get_1001_and_run_returns() {
    let (addr, shutdown, server) = start(Config::default()).await;
    let mut a = open(addr, "/echo").await;
    let mut b = open(addr, "/echo").await;
    a.send_text("hi").await.unwrap();
    assert_eq!(a.recv().await.unwrap(), Some(Message::Text("hi".into())));
    assert_eq!(shutdown.active_connections(), 2);

    shutdown.trigger();
    for ws in [&mut a, &mut b] {
        let end = tokio::time::timeout(PATIENCE, ws.recv()).await.expect("close arrives");
        assert!(matches!(end, Ok(None)), "{end:?}");
        assert_eq!(
            ws.peer_close(),
            Some(CloseFrame::new(CloseCode::GOING_AWAY, "server shutting down"))
        );
    }
    tokio::time::timeout(PATIENCE, server).await.expect("run returns").unwrap();
    assert_eq!(shutdown.active_connections(), 0);
    // The listener is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_handler_that_only_sends_is_closed_at_its_next_send() {
    let (addr, shutdown, server) = start(Config::default()).await;
    let mut ws = open(addr, "/tick").await;
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text("tick".into())));
    shutdown.trigger();
    let end = tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.recv().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("close arrives");
    assert!(matches!(end, Ok(None)), "{end:?}");
    assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode::GOING_AWAY));
    tokio::time::timeout(PATIENCE, server).await.expect("run returns").unwrap();
}

#[tokio::test]
async fn run_returns_after_the_shutdown_timeout_when_a_handler_is_stuck() {
    let config = Config { shutdown_timeout: Duration::from_millis(200), ..Config::default() };
    let (addr, shutdown, server) = start(config).await;
    let _ws = open(addr, "/stuck").await;
    assert_eq!(shutdown.active_connections(), 1);
    shutdown.trigger();
    tokio::time::timeout(PATIENCE, server).await.expect("run returns").unwrap();
    assert_eq!(shutdown.active_connections(), 1, "the stuck connection is left to its task");
}

#[tokio::test]
async fn one_handle_stops_several_servers() {
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let router = Router::new().route("/echo", Echo);
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), router, Config::default())
            .await
            .unwrap()
            .with_shutdown(shutdown.clone());
        let addr = server.local_addr().unwrap();
        tasks.push(tokio::spawn(server.run()));
        sockets.push(open(addr, "/echo").await);
    }
    assert_eq!(shutdown.active_connections(), 2);
    shutdown.trigger();
    for ws in &mut sockets {
        assert!(matches!(tokio::time::timeout(PATIENCE, ws.recv()).await.unwrap(), Ok(None)));
        assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode::GOING_AWAY));
    }
    for task in tasks {
        tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap().unwrap();
    }
}

/// The echo example (`examples/echo.rs`), built by `cargo test`'s build of every target;
/// built here if a narrower `cargo test` left it out.
fn echo_example() -> std::path::PathBuf {
    let deps = std::env::current_exe().expect("the test binary's path");
    let exe =
        deps.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples/echo");
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "wshd-server", "--example", "echo"])
            .status()
            .expect("running cargo to build the echo example");
        assert!(status.success(), "cargo build --example echo failed");
    }
    exe
}

#[test]
fn the_echo_example_shuts_down_on_sigterm_like_the_binary() {
    use wshd_testkit::process::ServerProcess;
    use wshd_testkit::raw_client::Raw;
    let mut echo = ServerProcess::spawn(std::process::Command::new(echo_example()).args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]));
    let (mut client, head) = Raw::open(echo.addr, "/", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    echo.signal("TERM");
    let (first, close) = client.frame();
    assert_eq!((first, &close[..2]), (0x88, &[0x03, 0xe9][..]), "every WebSocket gets 1001");
    assert_eq!(&close[2..], b"server shutting down");
    client.send(0x88, &[0x03, 0xe9]);
    let status = echo.wait_exit();
    assert!(status.success(), "exit status after a graceful shutdown: {status}");
}
