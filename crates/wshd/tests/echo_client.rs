//! `wshd client`, pywebsocket's echo client, against `wshd` (`--allow-hybi00`) as
//! separate processes: its output line for line, over RFC 6455 and HyBi 00, over TLS with
//! a CA file, with subprotocols, compression, binary messages and a close code and
//! reason; and its exit status when the exchange or the closing handshake fails.

#[path = "../../server/tests/pki/mod.rs"]
mod pki;
mod wshd_process;

use std::process::Output;

use pki::Ca;
use wshd_process::Wshd;
use wshd_testkit::files::TempTree;

/// Echoes, chooses the first subprotocol offered, and answers a client's close with the
/// client's own code and reason.
const ECHO: &str = "\
def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[0]

def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        if message == 'Goodbye':
            request.ws_stream.send_message(message)
            request.ws_stream.close_connection()
            return
        request.ws_stream.send_message(message, binary=isinstance(message, bytes))

def web_socket_passive_closing_handshake(request):
    return request.ws_close_code, request.ws_close_reason
";

/// The handler tree, and the server's certificate and key and the CA for `-t`.
fn tree(ca: &Ca) -> TempTree {
    let leaf = ca.server();
    TempTree::new(
        "echo-client",
        &[
            ("echo_wsh.py", ECHO),
            ("cert.pem", &leaf.cert_pem),
            ("key.pem", &leaf.key_pem),
            ("ca.pem", &ca.pem()),
        ],
    )
}

fn serve(tree: &TempTree, tls: bool) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-d"]);
    command.arg(tree.path()).args(["-w", ".", "--allow-hybi00"]);
    if tls {
        command.args(["-t", "-k", "key.pem", "-c", "cert.pem"]);
    }
    Wshd::spawn(&mut command)
}

/// Runs `wshd client -s 127.0.0.1 -p PORT` with `args` in `dir`.
fn client(wshd: &Wshd, dir: &TempTree, args: &[&str]) -> Output {
    let port = wshd.addr.port().to_string();
    std::process::Command::new(env!("CARGO_BIN_EXE_wshd"))
        .current_dir(dir.path())
        .args(["client", "-s", "127.0.0.1", "-p", &port])
        .args(args)
        .output()
        .expect("wshd client runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_default_exchange_prints_what_echo_client_py_prints() {
    let ca = Ca::new("wshd echo client CA");
    let tree = tree(&ca);
    let wshd = serve(&tree, false);
    let out = client(&wshd, &tree, &[]);
    assert_eq!(
        stdout(&out),
        "Send: Hello\nRecv: Hello\nSend: 日本\nRecv: 日本\nSend close\nRecv ack\n"
    );
    let quiet = client(&wshd, &tree, &["-q"]);
    assert_eq!(stdout(&quiet), "");
}

#[test]
fn a_last_goodbye_lets_the_server_close() {
    let ca = Ca::new("wshd echo client CA");
    let tree = tree(&ca);
    let wshd = serve(&tree, false);
    let out = client(&wshd, &tree, &["-m", "Hi,Goodbye", "-v"]);
    assert_eq!(
        stdout(&out),
        "Protocol: (none)\nExtensions: (none)\nSend: Hi\nRecv: Hi\nSend: Goodbye\n\
         Recv: Goodbye\nRecv close\nSend ack\nClose: 1000\n"
    );
}

#[test]
fn hybi00_and_rfc6455_give_the_same_exchange() {
    let ca = Ca::new("wshd echo client CA");
    let tree = tree(&ca);
    let wshd = serve(&tree, false);
    let expected = "Send: a\nRecv: a\nSend: b\nRecv: b\nSend close\nRecv ack\n";
    for version in ["hybi13", "hybi00"] {
        let out = client(&wshd, &tree, &["--protocol-version", version, "-m", "a,b"]);
        assert_eq!(stdout(&out), expected, "{version}");
    }
    let refused = client(&wshd, &tree, &["--protocol-version", "hybi00", "--binary"]);
    assert_eq!(refused.status.code(), Some(1));
}

#[test]
fn tls_subprotocols_compression_binary_and_the_close_code_go_through() {
    let ca = Ca::new("wshd echo client CA");
    let tree = tree(&ca);
    let wshd = serve(&tree, true);
    let out = client(
        &wshd,
        &tree,
        &[
            "-t",
            "--ca-file",
            "ca.pem",
            "--protocols",
            "chat,superchat",
            "--use-permessage-deflate",
            "--binary",
            "-m",
            "bytes",
            "--close-code",
            "3000",
            "--close-reason",
            "see you",
            "-v",
        ],
    );
    let text = stdout(&out);
    assert!(text.starts_with("Protocol: chat\nExtensions: permessage-deflate"), "{text}");
    assert!(
        text.ends_with("Send: bytes\nRecv: bytes\nSend close\nRecv ack\nClose: 3000 see you\n"),
        "the server answers with the client's code and reason: {text}"
    );
}

#[test]
fn the_exit_status_says_whether_the_exchange_worked() {
    let ca = Ca::new("wshd echo client CA");
    let tree = tree(&ca);
    let wshd = serve(&tree, false);
    let missing = client(&wshd, &tree, &["-r", "/no-such-handler"]);
    assert_eq!(missing.status.code(), Some(1));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("(404)"), "{said}");
    // TLS to a plain server: the handshake fails.
    let tls = client(&wshd, &tree, &["-t", "--ca-file", "ca.pem", "-k", "2"]);
    assert_eq!(tls.status.code(), Some(1));
    let no_ca = client(&wshd, &tree, &["-t"]);
    assert_eq!(no_ca.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_ca.stderr).contains("--ca-file"));
    drop(wshd);
    let nobody = client_to_closed_port(&tree);
    assert_eq!(nobody.status.code(), Some(1));
}

/// `wshd client` to a port nothing listens on.
fn client_to_closed_port(dir: &TempTree) -> Output {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::process::Command::new(env!("CARGO_BIN_EXE_wshd"))
        .current_dir(dir.path())
        .args(["client", "-s", "127.0.0.1", "-p", &port.to_string(), "-k", "2"])
        .output()
        .unwrap()
}
