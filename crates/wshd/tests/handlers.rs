//! `wshd` serving pywebsocket handler trees, as a separate process on 127.0.0.1:0: the
//! example tree under `examples/handlers`, and handlers the tests write for the
//! semantics docs/compatibility.md describes ("When a handler ends"). Raw sockets check
//! exact bytes.

mod wshd_process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wshd_process::Wshd;
use wshd_testkit::files::TempTree as Tree;
use wshd_testkit::raw_client::Raw;

/// `wshd` on the handler tree `handlers`, with `extra` options.
fn start_with(handlers: &Path, extra: &[&str]) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    Wshd::spawn(command.arg(handlers).args(extra))
}

fn start(handlers: &Path) -> Wshd {
    start_with(handlers, &[])
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/handlers")
}

#[test]
fn example_echo_echoes_and_goodbye_closes_with_1000() {
    let wshd = start(&examples());
    let (mut c, head) = Raw::open(wshd.addr, "/echo", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    c.send(0x81, b"Hello");
    assert_eq!(c.frame(), (0x81, b"Hello".to_vec()));
    c.send(0x82, &[1, 2, 3]);
    assert_eq!(c.frame(), (0x82, vec![1, 2, 3]));
    c.send(0x81, b"Goodbye");
    assert_eq!(c.frame(), (0x81, b"Goodbye".to_vec()));
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
}

#[test]
fn client_close_is_answered_with_1000_and_an_empty_reason() {
    let wshd = start(&examples());
    let (mut c, _) = Raw::open(wshd.addr, "/echo", "");
    c.send(0x88, &[0x03, 0xe8]);
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
    assert!(c.rest().is_empty());
}

#[test]
fn example_close_closes_with_the_requested_code_and_echoes_the_clients() {
    let wshd = start(&examples());
    let (mut c, _) = Raw::open(wshd.addr, "/close", "");
    c.send(0x81, b"3333 sunsunsunsun");
    assert_eq!(c.frame(), (0x88, b"\x0d\x05sunsunsunsun".to_vec()));

    let (mut c, _) = Raw::open(wshd.addr, "/close", "");
    c.send(0x88, b"\x0d\x05sunsunsunsun");
    assert_eq!(c.frame(), (0x88, b"\x0d\x05sunsunsunsun".to_vec()));

    let (mut c, _) = Raw::open(wshd.addr, "/close", "");
    c.send(0x88, b"");
    assert_eq!(c.frame(), (0x88, vec![]));
}

#[test]
fn example_internal_error_closes_with_1011() {
    let wshd = start(&examples());
    let (mut c, head) = Raw::open(wshd.addr, "/internal_error", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xf3]));
}

#[test]
fn example_origin_check_refuses_with_403_and_accepts_the_allowed_origin() {
    let wshd = start(&examples());
    let (_, head) = Raw::open(wshd.addr, "/origin_check", "Origin: http://evil.example\r\n");
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    let (mut c, head) = Raw::open(wshd.addr, "/origin_check", "Origin: http://example.com\r\n");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.frame(), (0x81, b"origin accepted: http://example.com".to_vec()));
}

#[test]
fn a_403_from_a_raising_extra_handshake_keeps_the_exception_in_the_log() {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    let wshd = Wshd::spawn_capturing(command.arg(examples()));
    let (mut c, head) = Raw::open(wshd.addr, "/origin_check", "Origin: http://evil.example\r\n");
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    let answer = format!("{head}{}", String::from_utf8_lossy(&c.rest()));
    assert!(!answer.contains("evil.example"), "the exception reached the client: {answer}");
    wshd.wait_for_stderr("origin 'http://evil.example' is not allowed");
}

#[test]
fn http_answers_for_unknown_resources_fragments_and_versions() {
    let wshd = start(&examples());
    assert!(Raw::open(wshd.addr, "/no_resource", "").1.starts_with("HTTP/1.1 404 "));
    assert!(Raw::open(wshd.addr, "/echo#fragment", "").1.starts_with("HTTP/1.1 400 "));
    assert!(Raw::open(wshd.addr, "/echo?query=1", "").1.starts_with("HTTP/1.1 101 "));
}

const PROTOCOL: &str = r#"
def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols and 'chat' in request.ws_requested_protocols:
        request.ws_protocol = 'chat'
    request.extra_headers.append(('X-Handler', 'protocol'))

def web_socket_transfer_data(request):
    request.ws_stream.send_message(request.ws_protocol or 'none')
"#;

const ABORT: &str = r#"
from mod_pywebsocket import handshake

def web_socket_do_extra_handshake(request):
    raise handshake.AbortedByUserException('no answer at all')

def web_socket_transfer_data(request):
    pass
"#;

const RAISE: &str = r#"
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    raise ValueError('a bug in the handler')
"#;

const MSGUTIL: &str = r#"
import pywebsocket3
from mod_pywebsocket import msgutil, common

def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []

def web_socket_transfer_data(request):
    assert msgutil.MessageReceiver is not None
    message = msgutil.receive_message(request)
    msgutil.send_message(request, '%s/%d/%s' % (message, common.STATUS_NORMAL_CLOSURE, pywebsocket3.__name__))
"#;

const WINDOW: &str = r#"
def web_socket_do_extra_handshake(request):
    for processor in request.ws_extension_processors:
        processor.set_client_max_window_bits(10)

def web_socket_transfer_data(request):
    request.ws_stream.send_message('compressed')
"#;

const FORGE: &str = r#"
from mod_pywebsocket import handshake
from mod_pywebsocket.handshake import hybi

def web_socket_do_extra_handshake(request):
    # As WPT's handlers do: write our own handshake response, then abort so the server
    # sends nothing of its own.
    key = request.headers_in.get('Sec-WebSocket-Key').encode()
    request.connection.write(
        b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        b'Sec-WebSocket-Accept: ' + hybi.compute_accept(key) + b'\r\nX-Forged: yes\r\n\r\n')
    raise handshake.AbortedByUserException('forged')

def web_socket_transfer_data(request):
    pass
"#;

const PINGS: &str = r#"
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    def on_ping(request, payload):
        request.ws_stream._send_pong(b'custom:' + payload)
    def on_pong(request, payload):
        request.ws_stream.send_message('pong ' + payload.decode())
    request.on_ping_handler = on_ping
    request.on_pong_handler = on_pong
    request.ws_stream.send_ping(b'hello')
    while request.ws_stream.receive_message() is not None:
        pass
"#;

const SLEEP: &str = r#"
import time

def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    time.sleep(30)
"#;

const THREADS: &str = r#"
import threading

def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    # One thread receives while this one sends: one stream, two threads.
    got = []
    reader = threading.Thread(target=lambda: got.append(request.ws_stream.receive_message()))
    reader.start()
    request.ws_stream.send_message('ready')
    reader.join()
    request.ws_stream.send_message('got ' + got[0])
"#;

const HANDSHAKE_READ: &str = r#"
from mod_pywebsocket import handshake, stream
from mod_pywebsocket.handshake import hybi

def web_socket_do_extra_handshake(request):
    # As WPT's simple_handshake and Chromium's stall handlers: answer by hand, then read
    # what the client sends, all before the server would have answered.
    key = request.headers_in['Sec-WebSocket-Key']
    request.connection.write(
        b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        b'Sec-WebSocket-Accept: ' + hybi.compute_accept_from_unicode(key) + b'\r\n\r\n')
    host, port = request.connection.local_addr
    request.connection.write(stream.create_text_frame('local %s:%d' % (host, port)))
    frame = request.connection.read(6)
    request.connection.write(stream.create_text_frame('read %s' % frame.hex()))
    request.connection.write(stream.create_close_frame(b''))
    raise handshake.AbortedByUserException('answered by hand')

def web_socket_transfer_data(request):
    pass
"#;

const RAW_FRAMES: &str = r#"
from mod_pywebsocket import common, msgutil

def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []

def web_socket_transfer_data(request):
    # As Chromium's frame-level handlers: read frames past the server's parser.
    stream = request.ws_stream
    while True:
        frame = stream._receive_frame_as_frame_object()
        for frame_filter in stream._options.incoming_frame_filters:
            frame_filter.filter(frame)
        message = stream._get_message_from_frame(frame)
        if frame.opcode == common.OPCODE_CLOSE:
            stream._process_close_message(message)
            msgutil.send_message(request, 'not sent: our close went out')
            return
        if message is not None:
            opcode = stream.get_last_received_opcode()
            msgutil.send_message(request, 'got %d %r rsv1=%d' % (opcode, message, frame.rsv1))
"#;

const OPCODE_ECHO: &str = r#"
from mod_pywebsocket import common

def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    # As Firefox's handlers: echo text as text and binary as binary.
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        opcode = request.ws_stream.get_last_received_opcode()
        request.ws_stream.send_message(message, binary=(opcode == common.OPCODE_BINARY))
"#;

const LIVE_COMPRESSION: &str = r#"
from mod_pywebsocket.extensions import PerMessageDeflateExtensionProcessor

def _processor(request):
    for p in request.ws_extension_processors:
        if isinstance(p, PerMessageDeflateExtensionProcessor):
            return p

def web_socket_do_extra_handshake(request):
    if 'bfinal' in request.ws_resource:
        _processor(request).set_bfinal(True)

def web_socket_transfer_data(request):
    # As Chromium's permessage-deflate handlers: toggle compression mid-connection.
    processor = _processor(request)
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        if message == 'off':
            processor.disable_outgoing_compression()
        elif message == 'on':
            processor.enable_outgoing_compression()
        request.ws_stream.send_message('Hello')
"#;

const STS: &str = r#"
def web_socket_do_extra_handshake(request):
    request.sts = 'max-age=100'
    request.extra_headers.append(('X-After', 'yes'))

def web_socket_transfer_data(request):
    pass
"#;

const LIVE_REQUESTS: &str = r#"
import gc

# A collection at every allocation: the server's objects must be consistent for the
# collector at every point, construction included.
gc.set_threshold(1)

def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    gc.collect()
    live = sum(1 for o in gc.get_objects() if type(o).__name__ == 'Request')
    request.ws_stream.send_message(str(live))
"#;

fn tree(name: &str) -> Tree {
    Tree::new(
        name,
        &[
            ("protocol_wsh.py", PROTOCOL),
            ("abort_wsh.py", ABORT),
            ("raise_wsh.py", RAISE),
            ("msgutil_wsh.py", MSGUTIL),
            ("sleep_wsh.py", SLEEP),
            ("threads_wsh.py", THREADS),
            ("window_wsh.py", WINDOW),
            ("forge_wsh.py", FORGE),
            ("pings_wsh.py", PINGS),
            ("handshake_read_wsh.py", HANDSHAKE_READ),
            ("raw_frames_wsh.py", RAW_FRAMES),
            ("opcode_echo_wsh.py", OPCODE_ECHO),
            ("live_wsh.py", LIVE_COMPRESSION),
            ("sts_wsh.py", STS),
            ("live_requests_wsh.py", LIVE_REQUESTS),
            ("echo_wsh.py", include_str!("../../../examples/handlers/echo_wsh.py")),
        ],
    )
}

#[test]
fn subprotocol_rules_and_extra_headers_follow_pywebsocket() {
    let tree = tree("protocol");
    let wshd = start(&tree.0);
    let (mut c, head) =
        Raw::open(wshd.addr, "/protocol", "Sec-WebSocket-Protocol: superchat, chat\r\n");
    assert!(head.contains("\r\nSec-WebSocket-Protocol: chat\r\n"), "{head}");
    assert!(head.ends_with("\r\nX-Handler: protocol\r\n\r\n"), "{head}");
    assert_eq!(c.frame(), (0x81, b"chat".to_vec()));
    // Requested, but the handler chose none: 400.
    let (_, head) = Raw::open(wshd.addr, "/protocol", "Sec-WebSocket-Protocol: superchat\r\n");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    // None requested, none chosen: accepted.
    let (mut c, head) = Raw::open(wshd.addr, "/protocol", "");
    assert!(
        head.starts_with("HTTP/1.1 101 ") && !head.contains("Sec-WebSocket-Protocol"),
        "{head}"
    );
    assert_eq!(c.frame(), (0x81, b"none".to_vec()));
}

#[test]
fn aborted_by_user_in_the_handshake_sends_nothing() {
    let tree = tree("abort");
    let wshd = start(&tree.0);
    let (_, head) = Raw::open(wshd.addr, "/abort", "");
    assert_eq!(head, "");
}

#[test]
fn other_exceptions_in_transfer_close_tcp_without_a_close_frame() {
    let tree = tree("raise");
    let wshd = start(&tree.0);
    let (mut c, head) = Raw::open(wshd.addr, "/raise", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.rest(), Vec::<u8>::new());
}

#[test]
fn handlers_import_mod_pywebsocket_and_pywebsocket3_and_may_refuse_extensions() {
    let tree = tree("msgutil");
    let wshd = start(&tree.0);
    let (mut c, head) =
        Raw::open(wshd.addr, "/msgutil", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert!(
        head.starts_with("HTTP/1.1 101 ") && !head.contains("Sec-WebSocket-Extensions"),
        "{head}"
    );
    c.send(0x81, b"hi");
    assert_eq!(c.frame(), (0x81, b"hi/1000/pywebsocket3".to_vec()));
}

#[test]
fn one_stream_used_from_a_reader_and_a_writer_thread() {
    let tree = tree("threads");
    let wshd = start(&tree.0);
    let (mut c, _) = Raw::open(wshd.addr, "/threads", "");
    assert_eq!(c.frame(), (0x81, b"ready".to_vec()));
    c.send(0x81, b"ping");
    assert_eq!(c.frame(), (0x81, b"got ping".to_vec()));
}

#[test]
fn a_sleeping_handler_does_not_stall_other_connections() {
    let tree = tree("sleep");
    let wshd = start(&tree.0);
    let sleepers: Vec<_> = (0..4).map(|_| Raw::open(wshd.addr, "/sleep", "").0).collect();
    for i in 0..20u8 {
        let (mut c, _) = Raw::open(wshd.addr, "/echo", "");
        c.send(0x82, &[i]);
        assert_eq!(c.frame(), (0x82, vec![i]));
    }
    drop(sleepers);
}

#[test]
fn extension_processor_choices_reach_the_response() {
    let tree = tree("window");
    let wshd = start(&tree.0);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (mut c, head) = Raw::open(wshd.addr, "/window", offer);
    assert!(
        head.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n"
        ),
        "{head}"
    );
    // The message is compressed (RSV1).
    assert_eq!(c.frame().0, 0xc1);
}

#[test]
fn absolute_request_uris_are_served_when_they_name_the_validation_host_and_port() {
    // -P is compared with the port named in the URI, not the one connected to.
    let wshd = start_with(&examples(), &["-V", "localhost", "-P", "1"]);
    let port = wshd.addr.port();
    let status = |target: String| {
        let (_, head) = Raw::open(wshd.addr, &target, "");
        head.split(' ').nth(1).unwrap_or("").to_owned()
    };
    assert_eq!(status("ws://localhost:1/echo".into()), "101");
    assert_eq!(status("ws://LOCALHOST:1/echo?q".into()), "101");
    assert_eq!(status(format!("ws://localhost:{port}/echo")), "404");
    assert_eq!(status("ws://invalidlocalhost:1/echo".into()), "404");
}

#[test]
fn bytes_written_in_the_extra_handshake_go_out_instead_of_the_servers_answer() {
    let tree = tree("forge");
    let wshd = start(&tree.0);
    let (mut c, head) = Raw::open(wshd.addr, "/forge", "");
    assert_eq!(
        head,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Forged: yes\r\n\r\n"
    );
    // Aborted: nothing else follows, and the server closes the connection.
    assert_eq!(c.rest(), Vec::<u8>::new());
}

#[test]
fn on_ping_and_on_pong_handlers_replace_the_automatic_pong() {
    let tree = tree("pings");
    let wshd = start(&tree.0);
    let (mut c, _) = Raw::open(wshd.addr, "/pings", "");
    assert_eq!(c.frame(), (0x89, b"hello".to_vec()));
    c.send(0x8a, b"hello");
    assert_eq!(c.frame(), (0x81, b"pong hello".to_vec()));
    c.send(0x89, b"x");
    // Only the handler's own pong: no automatic one with the plain payload.
    assert_eq!(c.frame(), (0x8a, b"custom:x".to_vec()));
    c.send(0x88, &[0x03, 0xe8]);
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
    assert!(c.rest().is_empty());
}

#[test]
fn reserved_bits_close_with_1002_or_with_pywebsockets_1003_when_asked() {
    let tree = tree("unsupported");
    for (extra, code) in
        [(&[][..], [0x03, 0xea]), (&["--unsupported-frame-close-code", "1003"][..], [0x03, 0xeb])]
    {
        let wshd = start_with(&tree.0, extra);
        let (mut c, head) = Raw::open(wshd.addr, "/echo", "");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // pywebsocket's own end-to-end test: a text frame with RSV3 set.
        c.send(0x91, b"");
        assert_eq!(c.frame(), (0x88, code.to_vec()), "{extra:?}");
        // A reserved opcode is the same kind of error.
        let (mut c, _) = Raw::open(wshd.addr, "/echo", "");
        c.send(0x83, b"");
        assert_eq!(c.frame(), (0x88, code.to_vec()), "{extra:?}");
        // Other protocol errors keep 1002.
        let (mut c, _) = Raw::open(wshd.addr, "/echo", "");
        c.send(0x80, b"x");
        assert_eq!(c.frame(), (0x88, vec![0x03, 0xea]), "{extra:?}");
    }
}

#[test]
fn the_extra_handshake_reads_from_the_client_after_writing_its_own_answer() {
    let tree = tree("handshake_read");
    let wshd = start(&tree.0);
    let (mut c, head) = Raw::open(wshd.addr, "/handshake_read", "");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");
    // The queued writes went out before the handler's read.
    let local = format!("local {}", wshd.addr);
    assert_eq!(c.frame(), (0x81, local.into_bytes()));
    c.send(0x88, b"");
    // The handler read the raw bytes of that close: the header, then the masking key.
    let key: String = wshd_testkit::wire::KEY.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(c.frame(), (0x81, format!("read 8880{key}").into_bytes()));
    assert_eq!(c.frame(), (0x88, vec![]));
    assert!(c.rest().is_empty());

    // A frame sent right behind the request head is read too.
    let mut s = TcpStream::connect(wshd.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /handshake_read HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n\x88\x80\x01\x02\x03\x04",
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("read 888001020304"), "{text}");
}

#[test]
fn chromium_frame_level_reads_reassemble_and_answer_the_close() {
    let tree = tree("raw_frames");
    let wshd = start(&tree.0);
    let (mut c, _) = Raw::open(wshd.addr, "/raw_frames", "");
    c.send(0x01, b"He");
    c.send(0x80, b"llo");
    assert_eq!(c.frame(), (0x81, b"got 1 b'Hello' rsv1=0".to_vec()));
    // RSV bits reach the handler untouched: nothing parsed these frames but it.
    c.send(0xc2, b"x");
    assert_eq!(c.frame(), (0x81, b"got 2 b'x' rsv1=1".to_vec()));
    c.send(0x88, &[0x03, 0xe8, b'b', b'y', b'e']);
    // The passive closing handshake's default answer, then nothing: the message sent
    // after the close is refused and the server adds no close of its own.
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
    assert!(c.rest().is_empty());
}

#[test]
fn get_last_received_opcode_tells_text_from_binary() {
    let tree = tree("opcode_echo");
    let wshd = start(&tree.0);
    let (mut c, _) = Raw::open(wshd.addr, "/opcode_echo", "");
    c.send(0x82, b"\x00\x01");
    assert_eq!(c.frame(), (0x82, vec![0, 1]));
    c.send(0x81, b"text");
    assert_eq!(c.frame(), (0x81, b"text".to_vec()));
    c.send(0x88, &[0x03, 0xe8]);
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
}

#[test]
fn extension_processors_toggle_compression_and_bfinal_on_a_live_connection() {
    let tree = tree("live");
    let wshd = start(&tree.0);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (mut c, head) = Raw::open(wshd.addr, "/live", offer);
    assert!(head.contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"), "{head}");
    let hello = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    c.send(0x81, b"x");
    assert_eq!(c.frame(), (0xc1, hello));
    c.send(0x81, b"off");
    assert_eq!(c.frame(), (0x81, b"Hello".to_vec()));
    c.send(0x81, b"on");
    // Compressed again, with the first Hello still in the shared window.
    assert_eq!(c.frame(), (0xc1, vec![0xf2, 0x00, 0x11, 0x00, 0x00]));

    // set_bfinal in the extra handshake: each message is a finished deflate stream.
    let (mut c, _) = Raw::open(wshd.addr, "/live?bfinal", offer);
    let final_hello = vec![0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    c.send(0x81, b"x");
    assert_eq!(c.frame(), (0xc1, final_hello.clone()));
    c.send(0x81, b"x");
    assert_eq!(c.frame(), (0xc1, final_hello));
}

#[test]
fn request_sts_adds_firefoxs_hsts_header() {
    let tree = tree("sts");
    let wshd = start(&tree.0);
    let (_c, head) = Raw::open(wshd.addr, "/sts", "");
    assert!(
        head.contains("\r\nStrict-Transport-Security: max-age=100\r\nX-After: yes\r\n"),
        "{head}"
    );
}

#[test]
fn finished_connections_leave_no_python_objects_behind() {
    let tree = tree("live_requests");
    let wshd = start(&tree.0);
    let mut counts = Vec::new();
    for _ in 0..8 {
        let (mut c, _) = Raw::open(wshd.addr, "/live_requests", "");
        let (_, live) = c.frame();
        counts.push(String::from_utf8(live).unwrap().parse::<usize>().unwrap());
        // The handler returned: its close (1000); answer it and wait for TCP to end.
        assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
        c.send(0x88, &[0x03, 0xe8]);
        assert!(c.rest().is_empty());
    }
    // The request of this connection, and at most one whose thread is still ending:
    // never one per connection served.
    assert!(counts.iter().all(|&n| n <= 2), "live Request objects per connection: {counts:?}");
}

#[test]
fn many_concurrent_python_connections_under_constant_garbage_collection() {
    let tree = tree("gc_pressure");
    let wshd = start(&tree.0);
    // 400 handler threads at once, each building its objects while other threads'
    // collections run: every object must be consistent for the collector at all times.
    // Each client answers the server's close as soon as it arrives, so however long the
    // 400 collections take on a given machine, no close timeout can fire.
    let clients: Vec<_> = (0..400)
        .map(|_| {
            let addr = wshd.addr;
            std::thread::spawn(move || {
                let (mut c, head) = Raw::open(addr, "/live_requests", "");
                assert!(head.starts_with("HTTP/1.1 101"), "{head}");
                let (op, _) = c.frame();
                assert_eq!(op, 0x81);
                assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
                c.send(0x88, &[0x03, 0xe8]);
                assert!(c.rest().is_empty(), "nothing follows the closing handshake");
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let (mut c, _) = Raw::open(wshd.addr, "/live_requests", "");
    assert_eq!(c.frame().0, 0x81, "the server still serves");
}

/// `request.extra_headers` values go out as written, CRLF included (WPT's
/// `set-cookie_http_wsh.py` forges a header line so); `--strict-extra-headers` refuses
/// them with 500 instead.
#[test]
fn extra_headers_go_out_verbatim_unless_strict() {
    let tree = Tree::new(
        "verbatim",
        &[(
            "inject_wsh.py",
            "def web_socket_do_extra_handshake(request):\n\
             \x20   request.extra_headers.append(('Set-Cookie', \
             'ws=1; HttpOnly\\r\\nSec-WebSocket-Origin: http://forged'))\n\
             def web_socket_transfer_data(request):\n    request.ws_stream.receive_message()\n",
        )],
    );
    let wshd = start(&tree.0);
    let (_c, head) = Raw::open(wshd.addr, "/inject", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.ends_with(
            "\r\nSet-Cookie: ws=1; HttpOnly\r\nSec-WebSocket-Origin: http://forged\r\n\r\n"
        ),
        "{head}"
    );
    let strict = start_with(&tree.0, &["--strict-extra-headers"]);
    let (_c, head) = Raw::open(strict.addr, "/inject", "");
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
}

/// `request.connection.write` in the extra handshake reaches the client when it is
/// called, not when the hook returns (Chromium's handshake-fail-by-prepended-null
/// writes and then keeps writing until the client leaves).
#[test]
fn handshake_writes_reach_the_client_before_the_hook_returns() {
    let tree = Tree::new(
        "early-write",
        &[(
            "early_wsh.py",
            "import time\n\
             def web_socket_do_extra_handshake(request):\n\
             \x20   request.connection.write(b'HTTP/1.1 101 Early\\r\\n\\r\\n')\n\
             \x20   for _ in range(100):\n\
             \x20       time.sleep(0.1)\n\
             \x20       request.connection.write(b'.')\n\
             def web_socket_transfer_data(request):\n    pass\n",
        )],
    );
    let wshd = start(&tree.0);
    let started = std::time::Instant::now();
    let (mut c, head) = Raw::open(wshd.addr, "/early", "");
    assert_eq!(head, "HTTP/1.1 101 Early\r\n\r\n");
    while c.read_some().len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(5), "the later writes did not arrive");
    }
    // The hook runs for 10 s; all of this happened while it was still running.
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Parameters a handler adds to the client's offer through the processor's private
/// `_request` are answered as pywebsocket answers them (Chromium's
/// permessage-deflate-unsolicited-negotiation-response: the browser must then fail).
#[test]
fn parameters_added_to_the_offer_are_answered() {
    let tree = Tree::new(
        "unsolicited",
        &[(
            "unsolicited_wsh.py",
            "from mod_pywebsocket import extensions\n\
             def web_socket_do_extra_handshake(request):\n\
             \x20   for p in request.ws_extension_processors:\n\
             \x20       if isinstance(p, extensions.PerMessageDeflateExtensionProcessor):\n\
             \x20           p._request.add_parameter('server_max_window_bits', 10)\n\
             \x20           p._request.add_parameter('server_no_context_takeover', None)\n\
             def web_socket_transfer_data(request):\n    pass\n",
        )],
    );
    let wshd = start(&tree.0);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (_c, head) = Raw::open(wshd.addr, "/unsolicited", offer);
    assert!(
        head.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; \
             server_no_context_takeover\r\n"
        ),
        "{head}"
    );
}

/// The client's address as a handler sees it (`request.connection.remote_addr`).
const REMOTE: &str = "\
def web_socket_do_extra_handshake(request):
    pass
def web_socket_transfer_data(request):
    request.ws_stream.send_message(str(request.connection.remote_addr[0]))
";

/// `--trusted-proxy`: behind it, handlers see the client its X-Forwarded-For names; the
/// header of anyone else is ignored.
#[test]
fn handlers_see_the_client_a_trusted_proxy_forwarded_for() {
    let tree = Tree::new("remote", &[("remote_wsh.py", REMOTE)]);
    let forwarded = "X-Forwarded-For: 198.51.100.4, 203.0.113.9\r\n";
    let trusting = start_with(&tree.0, &["--trusted-proxy", "127.0.0.0/8"]);
    let (mut c, head) = Raw::open(trusting.addr, "/remote", forwarded);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.frame(), (0x81, b"203.0.113.9".to_vec()));
    for extra in [&[][..], &["--trusted-proxy", "10.0.0.0/8"][..]] {
        let wshd = start_with(&tree.0, extra);
        let (mut c, _) = Raw::open(wshd.addr, "/remote", forwarded);
        assert_eq!(c.frame(), (0x81, b"127.0.0.1".to_vec()), "with {extra:?}");
    }
}

/// `--ping-interval`: an idle connection gets a ping; with no answer within
/// `--ping-timeout` it is closed with 1011.
#[test]
fn idle_connections_are_pinged_and_closed_when_the_peer_stays_silent() {
    let tree = tree("keepalive");
    let wshd = start_with(&tree.0, &["--ping-interval", "0.2", "--ping-timeout", "0.3"]);
    let (mut c, head) = Raw::open(wshd.addr, "/echo", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.frame(), (0x89, vec![]), "a keepalive ping");
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xf3]), "1011 after the ping went unanswered");
}
