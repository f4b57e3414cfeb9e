//! wshd behind the reverse proxies people deploy it behind: nginx, Apache's
//! `mod_proxy_wstunnel`, and Apache's `mod_proxy_http` with `upgrade=websocket`, for ws
//! and for wss terminated at the proxy. Each proxy runs from a configuration generated
//! here, on a loopback port, as an unprivileged run would start it (no system service).
//!
//! The same wire checks go through every path: text and binary echo up to 16 MiB, 1009
//! one byte over that limit, a subprotocol, permessage-deflate, close codes and reasons
//! both ways, a handler's exception (1011), a missing handler (404), the client's address
//! reaching the handler (`--trusted-proxy`), and a connection idle past the proxy's
//! timeout, kept open by wshd's keepalive pings (and cut by the proxy without them).
//! Inside Apache, 80 connections at once under each MPM (event, worker, prefork) each
//! get their own echoes, in order; and mod_reqtimeout's body limit cuts an idle
//! WebSocket unless it is set to 0, as docs/deployment.md says.
//!
//! The tests need `nginx` and `apache2`: `conformance/proxies/run.sh` installs Debian's
//! packages and runs them (a step of scripts/test), so they are `#[ignore]`d for a plain
//! `cargo test` on a machine without those servers.

mod wshd_process;

#[path = "../../server/tests/pki/mod.rs"]
mod pki;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pki::Ca;
use tokio::sync::Barrier;
use wshd_process::Wshd;
use wshd_server::client::{ClientConfig, ClientTls, connect};
use wshd_server::{CloseCode, CloseFrame, Error, Message, WebSocket};
use wshd_testkit::deploy::{Front, Layout, Mpm, Options};
use wshd_testkit::files::TempTree;
use wshd_testkit::raw_client::Raw;

/// The proxies' idle timeout: short, so the idle check is quick.
const PROXY_IDLE: Duration = Duration::from_secs(3);

/// Picks the subprotocol the client offered first.
const PROTOCOL: &str = "\
def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[0]
def web_socket_transfer_data(request):
    request.ws_stream.send_message(request.ws_protocol or '')
";

/// Reports the client's address as the handler sees it.
const WHOAMI: &str = "\
def web_socket_do_extra_handshake(request):
    pass
def web_socket_transfer_data(request):
    request.ws_stream.send_message(str(request.connection.remote_addr[0]))
";

/// The example handlers and the two above.
fn handlers() -> TempTree {
    TempTree::new(
        "proxied",
        &[
            ("echo_wsh.py", include_str!("../../../examples/handlers/echo_wsh.py")),
            ("close_wsh.py", include_str!("../../../examples/handlers/close_wsh.py")),
            (
                "internal_error_wsh.py",
                include_str!("../../../examples/handlers/internal_error_wsh.py"),
            ),
            ("protocol_wsh.py", PROTOCOL),
            ("whoami_wsh.py", WHOAMI),
        ],
    )
}

/// wshd on the tree, trusting the proxy on 127.0.0.1, with keepalive pings or without.
fn wshd(tree: &TempTree, pings: bool) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    command.arg(tree.path()).args(["--trusted-proxy", "127.0.0.1"]);
    if pings {
        command.args(["--ping-interval", "1"]);
    }
    Wshd::spawn(&mut command)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Nginx,
    ApacheWstunnel,
    ApacheHttpUpgrade,
    /// Not a proxy: wshd inside Apache through mod_python, as pywebsocket ran.
    InApache,
}

/// The directory holding wshd's package for mod_python.
fn apache_python_path() -> PathBuf {
    std::env::var_os("WSHD_APACHE_PYTHONPATH").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "WSHD_APACHE_PYTHONPATH must name a directory holding wshd's package \
             (pip install --target); conformance/proxies/run.sh makes one"
        )
    })
}

/// Starts `kind` in front of `upstream` (inside Apache: serving `handlers`); with `tls`,
/// it terminates TLS with `ca`'s server certificate.
fn proxy(kind: Kind, upstream: SocketAddr, handlers: &Path, tls: Option<&Ca>) -> Front {
    let leaf = tls.map(Ca::server);
    let python_path;
    let layout = match kind {
        Kind::Nginx => Layout::Nginx(upstream),
        Kind::ApacheWstunnel => Layout::ApacheWstunnel(upstream),
        Kind::ApacheHttpUpgrade => Layout::ApacheHttpUpgrade(upstream),
        Kind::InApache => {
            python_path = apache_python_path();
            Layout::InApache { handlers, python_path: &python_path }
        }
    };
    let options = Options {
        tls: leaf.as_ref().map(|l| (l.cert_pem.as_str(), l.key_pem.as_str())),
        // No wshd of its own inside Apache: Apache's `Timeout` (60 s) stays.
        idle: (kind != Kind::InApache).then_some(PROXY_IDLE),
        ..Options::default()
    };
    Front::start(layout, &options)
}

/// A client configuration for the proxy (`ca` for wss).
fn client(ca: Option<&Ca>) -> ClientConfig {
    ClientConfig {
        tls: ca.map(|ca| ClientTls::new(&[ca.der()], None).unwrap()),
        handshake_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

async fn open(proxy: &Front, path: &str, config: &ClientConfig) -> Result<WebSocket, Error> {
    let host = format!("localhost:{}", proxy.addr().port());
    Ok(connect(proxy.addr(), Some(&host), path, config).await?.0)
}

async fn next_text(ws: &mut WebSocket) -> String {
    match ws.recv().await {
        Ok(Some(Message::Text(t))) => t,
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Every wire check through `proxy`; returns their names, for the log line.
async fn wire_checks(proxy: &Front, ca: Option<&Ca>, proxied: bool) -> Vec<&'static str> {
    let mut done = Vec::new();
    let plain = client(ca);

    let mut ws = open(proxy, "/echo", &plain).await.expect("echo through the proxy");
    ws.send_text("hello, proxy").await.unwrap();
    assert_eq!(next_text(&mut ws).await, "hello, proxy");
    let big: Vec<u8> = (0..16 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send_binary(&big).await.unwrap();
    match ws.recv().await.unwrap() {
        Some(Message::Binary(back)) => assert!(back == big, "the 16 MiB echo differs"),
        other => panic!("expected the 16 MiB echo, got {:?}", other.map(|m| m.kind())),
    }
    done.push("echo text and 16 MiB binary");

    // One byte over the message limit (16 MiB, as in the standalone server): 1009.
    let mut ws = open(proxy, "/echo", &plain).await.unwrap();
    let over: Vec<u8> = vec![7; 16 * 1024 * 1024 + 1];
    // The server may close before it has read the whole message.
    let _ = ws.send_binary(&over).await;
    assert!(matches!(ws.recv().await, Ok(None) | Err(_)), "a message over the limit was taken");
    assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode(1009)), "over the limit");
    done.push("1009 over the 16 MiB limit");

    // The client closes: the handler answers with the client's code and reason.
    let mut ws = open(proxy, "/close", &plain).await.unwrap();
    ws.close(Some(CloseFrame::new(CloseCode(3000), "client says bye"))).await.unwrap();
    assert_eq!(ws.peer_close(), Some(CloseFrame::new(CloseCode(3000), "client says bye")));
    // The server closes with the code and reason it was asked for.
    let mut ws = open(proxy, "/close", &plain).await.unwrap();
    ws.send_text("4001 server says bye").await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), None);
    assert_eq!(ws.peer_close(), Some(CloseFrame::new(CloseCode(4001), "server says bye")));
    done.push("close code and reason both ways");

    // On plain TCP, the bytes themselves: the server ends the stream right after the
    // closing handshake, with nothing after its close frame.
    if ca.is_none() {
        let (mut raw, head) = Raw::open(proxy.addr(), "/echo", "");
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        raw.send(0x88, &[0x03, 0xe8]);
        assert_eq!(raw.frame(), (0x88, vec![0x03, 0xe8]));
        raw.end_of_stream().expect("the server ends TCP after the closing handshake");
        done.push("TCP ended after the closing handshake");
    }

    let protocols =
        ClientConfig { protocols: vec!["chat.v2".into(), "chat.v1".into()], ..client(ca) };
    let mut ws = open(proxy, "/protocol", &protocols).await.unwrap();
    assert_eq!(ws.protocol(), Some("chat.v2"));
    assert_eq!(next_text(&mut ws).await, "chat.v2");
    done.push("subprotocol");

    let deflate = ClientConfig { extensions: Some("permessage-deflate".into()), ..client(ca) };
    let mut ws = open(proxy, "/echo", &deflate).await.unwrap();
    let negotiated = ws.extensions().unwrap_or_default().to_owned();
    assert!(negotiated.starts_with("permessage-deflate"), "negotiated {negotiated:?}");
    let text = "compressible ".repeat(10_000);
    ws.send_text(&text).await.unwrap();
    assert_eq!(next_text(&mut ws).await, text);
    done.push("permessage-deflate");

    let mut ws = open(proxy, "/internal_error", &plain).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), None);
    assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode(1011)));
    done.push("handler exception 1011");

    match open(proxy, "/no-such-handler", &plain).await {
        Err(Error::Handshake(e)) => assert_eq!(e.status(), 404, "{e}"),
        other => panic!("expected 404 through the proxy, got {:?}", other.map(|_| ())),
    }
    done.push("missing handler 404");

    // Everything here is on loopback, so the "client" claims an address of its own: the
    // proxy appends 127.0.0.1 to it, and wshd, trusting 127.0.0.1, reads past that hop.
    // Without the proxy's header the handler would see 127.0.0.1. Inside Apache the
    // handler sees the connection's own peer, and the header counts for nothing.
    let claiming = ClientConfig {
        headers: vec![("X-Forwarded-For".into(), "198.51.100.7".into())],
        ..client(ca)
    };
    let mut ws = open(proxy, "/whoami", &claiming).await.unwrap();
    if proxied {
        assert_eq!(next_text(&mut ws).await, "198.51.100.7", "the proxy's X-Forwarded-For");
        done.push("client address via X-Forwarded-For");
    } else {
        assert_eq!(next_text(&mut ws).await, "127.0.0.1", "the connection's own peer");
        done.push("client address from Apache's connection");
    }
    done
}

/// A connection idle for twice `PROXY_IDLE`, expected to be `kept` (by wshd's pings, or
/// with nothing to cut it) or cut (by a timeout of `PROXY_IDLE`).
async fn idle_check(server: &Front, ca: Option<&Ca>, kept: bool) {
    let mut ws = open(server, "/echo", &client(ca)).await.unwrap();
    let idle = PROXY_IDLE * 2;
    let started = Instant::now();
    // Receiving answers the pings (with pongs) while nothing else happens.
    let waited = tokio::time::timeout(idle, ws.recv()).await;
    if kept {
        assert!(waited.is_err(), "the connection ended while idle: {waited:?}");
        ws.send_text("still here").await.unwrap();
        assert_eq!(next_text(&mut ws).await, "still here");
    } else {
        assert!(
            matches!(waited, Ok(Ok(None) | Err(_))),
            "the connection should be cut within {idle:?} (the timeout is {PROXY_IDLE:?}), \
             so the idle check can fail: {waited:?} after {:?}",
            started.elapsed()
        );
    }
}

fn check_path(kind: Kind, tls: bool) {
    let tree = handlers();
    let ca = tls.then(|| Ca::new("wshd proxy test CA"));
    let scheme = if tls { "wss" } else { "ws" };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if kind == Kind::InApache {
        // No wshd process and no keepalive pings: Apache owns the connection, and its
        // `Timeout` (60 s by default) ends one that stays idle longer.
        let apache = proxy(kind, ([127, 0, 0, 1], 0).into(), tree.path(), ca.as_ref());
        let done = runtime.block_on(wire_checks(&apache, ca.as_ref(), false));
        eprintln!("inside Apache (mod_python) {scheme}: ok: {}", done.join(", "));
        return;
    }
    let with_pings = wshd(&tree, true);
    let proxy = proxy(kind, with_pings.addr, tree.path(), ca.as_ref());
    let done = runtime.block_on(async {
        let mut done = wire_checks(&proxy, ca.as_ref(), true).await;
        idle_check(&proxy, ca.as_ref(), true).await;
        done.push("idle past the proxy timeout with pings");
        done
    });
    drop(proxy);
    // Debian's mod_proxy_wstunnel (with the fallback to mod_proxy_http off) sets no idle
    // timeout on its tunnel, so there is nothing to cut an idle connection there.
    if kind == Kind::ApacheWstunnel {
        eprintln!(
            "proxy {kind:?} {scheme}: ok: {} (this tunnel has no idle timeout)",
            done.join(", ")
        );
        return;
    }
    // The control: the same proxy before a wshd without pings cuts an idle connection.
    let without = wshd(&tree, false);
    let proxy = self::proxy(kind, without.addr, tree.path(), ca.as_ref());
    runtime.block_on(idle_check(&proxy, ca.as_ref(), false));
    eprintln!("proxy {kind:?} {scheme}: ok: {}; cut when idle without pings", done.join(", "));
}

#[test]
#[ignore = "needs nginx: conformance/proxies/run.sh installs it and runs these"]
fn nginx_ws() {
    check_path(Kind::Nginx, false);
}

#[test]
#[ignore = "needs nginx: conformance/proxies/run.sh installs it and runs these"]
fn nginx_wss() {
    check_path(Kind::Nginx, true);
}

#[test]
#[ignore = "needs apache2: conformance/proxies/run.sh installs it and runs these"]
fn apache_proxy_wstunnel_ws() {
    check_path(Kind::ApacheWstunnel, false);
}

#[test]
#[ignore = "needs apache2: conformance/proxies/run.sh installs it and runs these"]
fn apache_proxy_wstunnel_wss() {
    check_path(Kind::ApacheWstunnel, true);
}

#[test]
#[ignore = "needs apache2: conformance/proxies/run.sh installs it and runs these"]
fn apache_proxy_http_upgrade_ws() {
    check_path(Kind::ApacheHttpUpgrade, false);
}

#[test]
#[ignore = "needs apache2: conformance/proxies/run.sh installs it and runs these"]
fn apache_proxy_http_upgrade_wss() {
    check_path(Kind::ApacheHttpUpgrade, true);
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_ws() {
    check_path(Kind::InApache, false);
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_wss() {
    check_path(Kind::InApache, true);
}

/// wshd inside Apache with mod_reqtimeout, which Debian's Apache loads by default: its
/// `body` limit (`RequestReadTimeout body=10,minrate=500` there; 3 s here) also bounds
/// a WebSocket's reads, so an idle one is cut, unless `body=0` turns it off, as
/// docs/deployment.md says to.
fn inside_apache_with_request_read_timeout(body: &str, survives: bool) {
    let tree = handlers();
    let python_path = apache_python_path();
    let layout = Layout::InApache { handlers: tree.path(), python_path: &python_path };
    let options = Options {
        apache_directives: vec![
            "LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so".into(),
            "RequestReadTimeout header=20-40,minrate=500".into(),
            format!("RequestReadTimeout {body}"),
        ],
        ..Options::default()
    };
    let apache = Front::start(layout, &options);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // `idle_check` holds the connection idle for twice PROXY_IDLE (6 s) and expects it
    // kept ("with pings") or cut.
    runtime.block_on(idle_check(&apache, None, survives));
    let fate = if survives { "kept" } else { "cut" };
    eprintln!(
        "inside Apache (mod_python) RequestReadTimeout {body}: ok: a WebSocket idle for \
         {:?} was {fate}",
        PROXY_IDLE * 2
    );
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_reqtimeout_body_limit_cuts_idle_websockets() {
    inside_apache_with_request_read_timeout("body=3,minrate=500", false);
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_reqtimeout_body_0_keeps_idle_websockets() {
    inside_apache_with_request_read_timeout("body=0", true);
}

/// Clients at once in the concurrency check: more than one Apache process's threads
/// (25 by default), so that connections share processes and run on several (under
/// prefork, one process each).
const CLIENTS: usize = 80;
/// Messages per client in the concurrency check.
const MESSAGES: usize = 40;

/// One client of the concurrency check: `MESSAGES` echoes of sizes from 1 byte to
/// 70 KB (all three length encodings), text and binary, each tagged with the client
/// and its sequence number, so an echo that belongs to another connection or comes out
/// of order fails; every other client negotiates permessage-deflate.
async fn concurrent_client(apache: SocketAddr, id: usize, all_open: Arc<Barrier>) {
    let config = ClientConfig {
        extensions: (id % 2 == 1).then(|| "permessage-deflate".into()),
        ..client(None)
    };
    let host = format!("localhost:{}", apache.port());
    let (mut ws, _) =
        connect(apache, Some(&host), "/echo", &config).await.expect("a concurrent connection");
    // Every handler is running before any echo: CLIENTS of them at once.
    all_open.wait().await;
    for seq in 0..MESSAGES {
        let size = [1, 125, 126, 1000, 65_535, 65_536, 70_000][(id + seq) % 7];
        let tag = format!("{id}:{seq}:");
        let body: String =
            tag.chars().chain(std::iter::repeat('x')).take(size.max(tag.len())).collect();
        if seq % 2 == 0 {
            ws.send_text(&body).await.unwrap();
            assert_eq!(next_text(&mut ws).await, body, "client {id} message {seq}");
        } else {
            ws.send_binary(body.as_bytes()).await.unwrap();
            match ws.recv().await.unwrap() {
                Some(Message::Binary(back)) => {
                    assert!(back == body.as_bytes(), "client {id} message {seq} differs")
                }
                other => panic!("client {id} message {seq}: {:?}", other.map(|m| m.kind())),
            }
        }
    }
    ws.close(Some(CloseFrame::new(CloseCode(1000), "done"))).await.unwrap();
    assert_eq!(ws.peer_close().map(|c| c.code), Some(CloseCode(1000)), "client {id}");
}

/// wshd inside Apache under `mpm`, with `CLIENTS` connections at once: each gets its
/// own echoes, in order, and closes cleanly; Apache logs no crash or Python error.
fn concurrent_inside_apache(mpm: Mpm) {
    let tree = handlers();
    let python_path = apache_python_path();
    let layout = Layout::InApache { handlers: tree.path(), python_path: &python_path };
    let apache = Front::start(layout, &Options { mpm, ..Options::default() });
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let all = async {
        let mut clients = tokio::task::JoinSet::new();
        let all_open = Arc::new(Barrier::new(CLIENTS));
        for id in 0..CLIENTS {
            clients.spawn(concurrent_client(apache.addr(), id, all_open.clone()));
        }
        while let Some(done) = clients.join_next().await {
            done.expect("a client of the concurrency check failed");
        }
    };
    let checked =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(120), all).await });
    assert!(
        checked.is_ok(),
        "{CLIENTS} connections did not finish within 120 s under the {mpm:?} MPM; Apache's \
         error log:\n{}",
        apache.error_log()
    );
    let log = apache.error_log();
    for bad in ["Traceback", "Segmentation fault", "exit signal", "mod_pywebsocket"] {
        assert!(!log.contains(bad), "Apache's error log shows {bad:?}:\n{log}");
    }
    eprintln!(
        "inside Apache (mod_python) {mpm:?} MPM: ok: {CLIENTS} connections at once, \
         {MESSAGES} echoes each (1 B to 70 KB, text and binary, half compressed), in order, \
         closed with 1000"
    );
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_event_mpm_concurrent() {
    concurrent_inside_apache(Mpm::Event);
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_worker_mpm_concurrent() {
    concurrent_inside_apache(Mpm::Worker);
}

#[test]
#[ignore = "needs apache2 and mod_python: conformance/proxies/run.sh installs them and runs these"]
fn inside_apache_prefork_mpm_concurrent() {
    concurrent_inside_apache(Mpm::Prefork);
}
