//! The `wshd` binary's HTTP options, as a separate process on 127.0.0.1:0: `-d` serves the
//! document root's files, `-x` runs CGI scripts in it, `--basic-auth` with
//! `--basic_auth_credential` (underscore spelling on purpose) guards everything, the
//! WebSocket handlers included.

mod wshd_process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use wshd_process::Wshd;
use wshd_testkit::files::TempTree;

/// A document root with a handler, a file and a CGI script; removed when dropped.
type Root = TempTree;

fn root(name: &str) -> Root {
    let root = TempTree::new(
        name,
        &[
            (
                "echo_wsh.py",
                "def web_socket_do_extra_handshake(request):\n    pass\n\n\
                 def web_socket_transfer_data(request):\n    request.ws_stream.receive_message()\n",
            ),
            ("page.html", "<p>page</p>"),
        ],
    );
    root.write_executable(
        "cgi-bin/hi.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhi %s' \"$REMOTE_USER\"\n",
    );
    root
}

fn start(root: &Root, extra: &[&str]) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-d"]);
    Wshd::spawn(command.arg(&root.0).args(extra))
}

/// Sends one request with `Connection: close` and returns the whole response (only its
/// head for a 101: the WebSocket stays open).
fn fetch(addr: SocketAddr, request_line_and_headers: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("{request_line_and_headers}Host: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while !(out.starts_with(b"HTTP/1.1 101 ") && out.windows(4).any(|w| w == b"\r\n\r\n")) {
        match s.read(&mut chunk) {
            Ok(n) if n > 0 => out.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const UPGRADE: &str = "GET /echo HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn document_root_files_and_cgi_are_served() {
    let root = root("files");
    let wshd = start(&root, &["-x", "/cgi-bin,/htbin"]);
    let page = fetch(wshd.addr, "GET /page.html HTTP/1.1\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.ends_with("\r\n\r\n<p>page</p>"), "{page}");
    let cgi = fetch(wshd.addr, "GET /cgi-bin/hi.sh HTTP/1.1\r\n");
    assert!(cgi.starts_with("HTTP/1.1 200 OK\r\n"), "{cgi}");
    assert!(cgi.contains("\r\nContent-Type: text/plain\r\n"), "{cgi}");
    assert!(cgi.contains("\r\n\r\n3\r\nhi \r\n0\r\n\r\n"), "{cgi}");
    let missing = fetch(wshd.addr, "GET /nope HTTP/1.1\r\n");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
}

#[test]
fn basic_auth_guards_every_request() {
    let root = root("auth");
    let wshd = start(
        &root,
        &["--cgi_paths", "/cgi-bin", "--basic-auth", "--basic_auth_credential", "me:pw"],
    );
    let good = "Authorization: Basic bWU6cHc=\r\n";
    for request in [
        "GET /page.html HTTP/1.1\r\n".to_owned(),
        "GET /cgi-bin/hi.sh HTTP/1.1\r\n".to_owned(),
        UPGRADE.to_owned(),
        format!("GET /page.html HTTP/1.1\r\n{}", good.replace("bWU6cHc=", "dGVzdDp0ZXN0")),
    ] {
        let r = fetch(wshd.addr, &request);
        assert!(r.starts_with("HTTP/1.1 401 "), "{request:?} -> {r}");
        assert!(r.contains("\r\nWWW-Authenticate: Basic realm=\"Pywebsocket\"\r\n"), "{r}");
    }
    let page = fetch(wshd.addr, &format!("GET /page.html HTTP/1.1\r\n{good}"));
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    let cgi = fetch(wshd.addr, &format!("GET /cgi-bin/hi.sh HTTP/1.1\r\n{good}"));
    assert!(cgi.contains("\r\n\r\n5\r\nhi me\r\n0\r\n\r\n"), "{cgi}");
    let ws = fetch(wshd.addr, &format!("{UPGRADE}{good}"));
    assert!(ws.starts_with("HTTP/1.1 101 "), "{ws}");
}

#[test]
fn a_cgi_scripts_stderr_reaches_the_log_escaped_one_record_per_line() {
    let root = root("cgi-stderr");
    // A line that tries to forge a log record of its own with a carriage return and an
    // escape sequence, and one over the 4 KiB logged of a line.
    root.write_executable(
        "cgi-bin/noisy.sh",
        "#!/bin/sh\nprintf 'first\\n\\033[31mred\\r[2026-01-01 00:00:00,000] [ERROR] forged\\n' >&2\n\
         head -c 5000 /dev/zero | tr '\\0' x >&2\necho >&2\n\
         printf 'Content-Type: text/plain\\n\\nok'\n",
    );
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-d"]);
    let wshd = Wshd::spawn_capturing(command.arg(&root.0).args(["-x", "/cgi-bin"]));
    let answer = fetch(wshd.addr, "GET /cgi-bin/noisy.sh HTTP/1.1\r\n");
    assert!(answer.contains("\r\n\r\n2\r\nok\r\n0\r\n\r\n"), "{answer}");
    let log = wshd.wait_for_stderr("more bytes of this line");
    assert!(log.contains("CGI /cgi-bin/noisy.sh stderr: first\n"), "{log}");
    assert!(
        log.contains(
            "CGI /cgi-bin/noisy.sh stderr: \\u{1b}[31mred\\r[2026-01-01 00:00:00,000] [ERROR] forged\n"
        ),
        "the line is one record with its control characters escaped: {log}"
    );
    assert!(!log.lines().any(|l| l.starts_with("[2026-01-01")), "a forged record: {log}");
    assert!(
        log.contains(&format!("stderr: {} … (904 more bytes of this line)", "x".repeat(4096))),
        "{log}"
    );
}
