//! `wshd -t` as a separate process: wss through a Python handler (`request.is_https()`),
//! client certificates, paths relative to the document root, and the command-line
//! checks of the TLS options (exit 1 with a message, as pywebsocket).
//!
//! Certificates are made at run time by the server crate's test PKI (rcgen).

#[path = "../../server/tests/pki/mod.rs"]
mod pki;
mod wshd_process;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pki::{Ca, Leaf};
use wshd_process::Wshd;
use wshd_server::Message;
use wshd_server::client::{ClientConfig, ClientTls, connect};
use wshd_testkit::files::TempTree;

const PATIENCE: Duration = Duration::from_secs(10);

const HTTPS_WSH: &str = "\
def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    request.ws_stream.send_message('is_https=%r' % request.is_https(), binary=False)
    request.ws_stream.send_message(request.ws_stream.receive_message(), binary=False)
";

/// A document root holding the handlers, the server's certificate and key, and the CA.
struct Root {
    dir: TempTree,
    ca: Ca,
}

impl Root {
    fn new(name: &str) -> Root {
        let echo =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/handlers/echo_wsh.py");
        let echo = std::fs::read_to_string(echo).unwrap();
        let ca = Ca::new("wshd e2e CA");
        let server = ca.server();
        let dir = TempTree::new(
            name,
            &[
                ("https_wsh.py", HTTPS_WSH),
                ("echo_wsh.py", &echo),
                ("certs/cert.pem", &server.cert_pem),
                ("certs/key.pem", &server.key_pem),
                ("certs/ca.pem", &ca.pem()),
                ("certs/garbage.pem", "this is not PEM\n"),
            ],
        );
        Root { dir, ca }
    }
}

/// A running `wshd`, killed when dropped.
fn start(root: &Path, extra: &[&str]) -> Wshd {
    Wshd::spawn(&mut wshd(root, extra))
}

fn wshd(root: &Path, extra: &[&str]) -> Command {
    let mut cmd = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-d"]);
    cmd.arg(root).args(["-w", "."]).args(extra);
    cmd
}

/// Runs `wshd` with `extra` options expecting it to refuse them; returns its stderr.
fn refused(root: &Path, extra: &[&str]) -> String {
    let out = wshd(root, extra).stdin(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{extra:?} was not refused with 1: {stderr}");
    assert!(out.stdout.is_empty(), "{extra:?} started listening");
    stderr
}

fn client(ca: &Ca, identity: Option<&Leaf>) -> ClientConfig {
    let tls = ClientTls::new(&[ca.der()], identity.map(Leaf::identity)).unwrap();
    ClientConfig { tls: Some(tls), handshake_timeout: PATIENCE, ..ClientConfig::default() }
}

/// Opens /https, returns what the handler reported, after an echo.
async fn https(addr: SocketAddr, config: &ClientConfig) -> Result<String, wshd_server::Error> {
    let host = format!("localhost:{}", addr.port());
    let (mut ws, _) = connect(addr, Some(&host), "/https", config).await?;
    let Some(Message::Text(report)) = ws.recv().await? else { panic!("no report") };
    ws.send_text("echo me").await?;
    assert_eq!(ws.recv().await?, Some(Message::Text("echo me".into())));
    Ok(report)
}

#[tokio::test]
async fn python_handler_sees_is_https_over_tls_with_a_required_client_certificate() {
    let root = Root::new("client-auth");
    let server = start(
        root.dir.path(),
        &[
            "-t",
            "-k",
            "certs/key.pem",
            "-c",
            "certs/cert.pem",
            "--tls-client-auth",
            "--tls-client-ca",
            "certs/ca.pem",
        ],
    );
    let alice = root.ca.client("alice");
    let report = https(server.addr, &client(&root.ca, Some(&alice))).await.unwrap();
    assert_eq!(report, "is_https=True");
    let other = Ca::new("another CA").client("mallory");
    assert!(https(server.addr, &client(&root.ca, Some(&other))).await.is_err());
    assert!(https(server.addr, &client(&root.ca, None)).await.is_err());
}

/// Messages larger than rustls's 64 KiB send buffer go out whole from a Python handler
/// (they once failed with "failed to write whole buffer" and a dropped connection).
#[tokio::test]
async fn python_handler_sends_messages_larger_than_the_tls_buffer() {
    let root = Root::new("large");
    let server = start(root.dir.path(), &["-t", "-k", "certs/key.pem", "-c", "certs/cert.pem"]);
    let host = format!("localhost:{}", server.addr.port());
    let config = client(&root.ca, None);
    let (mut ws, _) = connect(server.addr, Some(&host), "/echo", &config).await.unwrap();
    for size in [65_000, 65_536, 70_000, 300_000] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        ws.send_binary(&data).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::Binary(data)), "{size} B");
    }
    let text = "é".repeat(100_000);
    ws.send_text(&text).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::Text(text)));
}

#[tokio::test]
async fn optional_client_certificate_and_the_legacy_ca_option() {
    let root = Root::new("optional");
    let server = start(
        root.dir.path(),
        &[
            "--tls",
            "--private_key",
            "certs/key.pem",
            "--certificate",
            "certs/cert.pem",
            "--tls-client-auth",
            "--tls-client-cert-optional",
            "--ca-certificate",
            "certs/ca.pem",
        ],
    );
    assert_eq!(https(server.addr, &client(&root.ca, None)).await.unwrap(), "is_https=True");
    let alice = root.ca.client("alice");
    assert_eq!(https(server.addr, &client(&root.ca, Some(&alice))).await.unwrap(), "is_https=True");
}

#[tokio::test]
async fn plain_server_reports_is_https_false() {
    let root = Root::new("plain");
    let server = start(root.dir.path(), &[]);
    let config = ClientConfig { handshake_timeout: PATIENCE, ..ClientConfig::default() };
    assert_eq!(https(server.addr, &config).await.unwrap(), "is_https=False");
}

#[test]
fn invalid_tls_option_combinations_exit_1_with_a_message() {
    let root = Root::new("options");
    let d = root.dir.path();
    let e = refused(d, &["-t"]);
    assert!(e.contains("--private-key") && e.contains("--certificate"), "{e}");
    let e = refused(d, &["-t", "-k", "certs/key.pem"]);
    assert!(e.contains("--certificate"), "{e}");
    let e = refused(d, &["--tls-client-auth", "--tls-client-ca", "certs/ca.pem"]);
    assert!(e.contains("--tls-client-auth needs --tls"), "{e}");
    let tls = ["-t", "-k", "certs/key.pem", "-c", "certs/cert.pem"];
    let e = refused(d, &[&tls[..], &["--tls-client-cert-optional"]].concat());
    assert!(e.contains("--tls-client-cert-optional needs --tls-client-auth"), "{e}");
    let e = refused(d, &[&tls[..], &["--tls-client-auth"]].concat());
    assert!(e.contains("--tls-client-ca"), "{e}");
}

#[test]
fn unreadable_or_invalid_pem_files_are_named() {
    let root = Root::new("pem");
    let d = root.dir.path();
    let e = refused(d, &["-t", "-k", "certs/key.pem", "-c", "certs/missing.pem"]);
    assert!(e.contains("certs/missing.pem"), "{e}");
    let e = refused(d, &["-t", "-k", "certs/garbage.pem", "-c", "certs/cert.pem"]);
    assert!(e.contains("certs/garbage.pem") && e.contains("private key"), "{e}");
    let e = refused(d, &["-t", "-k", "certs/key.pem", "-c", "certs/garbage.pem"]);
    assert!(e.contains("certs/garbage.pem"), "{e}");
    let e = refused(
        d,
        &[
            "-t",
            "-k",
            "certs/key.pem",
            "-c",
            "certs/cert.pem",
            "--tls-client-auth",
            "--tls-client-ca",
            "certs/garbage.pem",
        ],
    );
    assert!(e.contains("--tls-client-ca") && e.contains("certs/garbage.pem"), "{e}");
}
