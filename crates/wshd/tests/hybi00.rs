//! `wshd --allow-hybi00` serving Python handlers to a HyBi 00 client written by hand: the
//! request object pywebsocket gave a HyBi 00 handler (`ws_version` 0, `ws_location`,
//! `ws_protocol` preset to the client's, the challenge and its answer), text echo, a
//! binary send refused with `BadOperationException`, the closing handshake; and the
//! refusal without the option.

mod wshd_process;

use wshd_process::Wshd;
use wshd_testkit::files::TempTree;
use wshd_testkit::hybi00_client::{self, ANSWER};
use wshd_testkit::raw_client::status;

/// Reports what the handshake set on the request, then echoes until the client closes.
const REPORT: &str = "\
from pywebsocket3 import msgutil
from pywebsocket3._stream_exceptions import BadOperationException

def web_socket_do_extra_handshake(request):
    request.seen = '%r %r %s %s %r %d %s' % (
        request.ws_version, request.ws_deflate, request.ws_location, request.ws_protocol,
        request.ws_requested_protocols, len(request.ws_challenge),
        request.ws_challenge_md5.decode('latin-1'))

def web_socket_transfer_data(request):
    request.ws_stream.send_message(request.seen)
    try:
        request.ws_stream.send_message(b'\\x01', binary=True)
    except BadOperationException:
        request.ws_stream.send_message('binary refused')
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        msgutil.send_message(request, message)
";

fn wshd(tree: &TempTree, allow: bool) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    command.arg(tree.path());
    if allow {
        command.arg("--allow-hybi00");
    }
    Wshd::spawn(&mut command)
}

#[test]
fn a_python_handler_gets_pywebsocket_hybi00_request() {
    let tree = TempTree::new("hybi00", &[("report_wsh.py", REPORT)]);
    let wshd = wshd(&tree, true);
    let (mut c, head) = hybi00_client::open(wshd.addr, "/report");
    assert_eq!(status(&head), 101, "{head}");
    assert!(head.starts_with("HTTP/1.1 101 WebSocket Protocol Handshake\r\n"), "{head}");
    assert!(head.contains("Sec-WebSocket-Location: ws://example.com/report\r\n"), "{head}");
    assert!(head.contains("Sec-WebSocket-Origin: http://example.com\r\n"), "{head}");
    assert!(head.contains("Sec-WebSocket-Protocol: sample\r\n"), "{head}");
    assert_eq!(c.take(16), ANSWER);
    // The answer is ASCII, so the report is too.
    let seen = format!(
        "0 False ws://example.com/report sample None 16 {}",
        String::from_utf8_lossy(ANSWER)
    );
    let mut expected = vec![0x00];
    expected.extend_from_slice(seen.as_bytes());
    expected.push(0xff);
    assert_eq!(c.take(expected.len()), expected);
    assert_eq!(c.take(16), b"\x00binary refused\xff");
    c.write(b"\x00hello\xff");
    assert_eq!(c.take(7), b"\x00hello\xff");
    c.write(b"\xff\x00");
    assert_eq!(c.take(2), b"\xff\x00");
    c.end_of_stream().expect("wshd ends TCP after the closing handshake");
}

#[test]
fn without_allow_hybi00_wshd_answers_400_and_says_why() {
    let tree = TempTree::new("hybi00-off", &[("report_wsh.py", REPORT)]);
    let wshd = wshd(&tree, false);
    let (mut c, head) = hybi00_client::open(wshd.addr, "/report");
    assert_eq!(status(&head), 400, "{head}");
    let body = String::from_utf8_lossy(&c.rest()).into_owned();
    assert!(body.contains("--allow-hybi00"), "{body}");
}
