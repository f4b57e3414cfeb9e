//! Unit tests of `request.ws_stream` ([`super::Stream`]) over a TCP socket pair: the
//! stream is driven from Python as a handler would, the client is a core driven by hand.
//! They pin pywebsocket's bookkeeping on the request, its passive closing handshake and
//! its exceptions, which the end-to-end suites only reach through whole handlers.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use wshd_proto::{Connection, Event, Limits, MessageKind};
use wshd_server::blocking::{BlockingWebSocket, TcpByteStream};
use wshd_testkit::core_client::CoreClient;

use super::Stream;
use crate::driver::Driver;

/// A stream on a fresh connection, its request (an object of a plain class, as wshd's
/// own requests are, with pywebsocket's flags), and the client. `passive` is the
/// handler's `web_socket_passive_closing_handshake`.
fn stream(py: Python<'_>, passive: Option<&str>) -> (Py<Stream>, Py<PyAny>, CoreClient) {
    stream_with_request(py, passive, "type('Request', (), {})")
}

/// [`stream`] with a request made by calling `class` (Python source) with no arguments.
fn stream_with_request(
    py: Python<'_>,
    passive: Option<&str>,
    class: &str,
) -> (Py<Stream>, Py<PyAny>, CoreClient) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, peer) = listener.accept().unwrap();
    let shell = BlockingWebSocket::new(
        Box::new(TcpByteStream::new(server)),
        Connection::server(Limits::default()),
        Duration::from_millis(100),
        peer,
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    py.import("sys").unwrap().getattr("path").unwrap().call_method1("insert", (0, path)).unwrap();
    let class = py.eval(&std::ffi::CString::new(class).unwrap(), None, None).unwrap();
    let request = class.call0().unwrap();
    request.setattr("client_terminated", false).unwrap();
    request.setattr("server_terminated", false).unwrap();
    request.setattr("ws_close_code", py.None()).unwrap();
    request.setattr("ws_close_reason", py.None()).unwrap();
    let passive = passive.map(|source| {
        py.eval(&std::ffi::CString::new(source).unwrap(), None, None).unwrap().unbind()
    });
    let stream = Stream::new(Arc::new(Driver::new(shell)), &request, passive);
    let stream = Py::new(py, stream).unwrap();
    let client = CoreClient::new(socket);
    (stream, request.unbind(), client)
}

/// The class name of the exception `result` raised.
fn raised<T: std::fmt::Debug>(py: Python<'_>, result: PyResult<T>) -> String {
    let err = result.expect_err("the call raises");
    err.get_type(py).name().unwrap().to_string()
}

fn attr<'py>(py: Python<'py>, object: &Py<PyAny>, name: &str) -> Bound<'py, PyAny> {
    object.bind(py).getattr(name).unwrap()
}

#[test]
fn messages_arrive_as_str_and_bytes_with_their_opcodes() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let (stream, _request, mut client) = stream(py, None);
        let stream = stream.bind(py);
        client.send(|c| {
            c.send_data(MessageKind::Text, "h\u{e9}".as_bytes(), false).unwrap();
            c.send_data(MessageKind::Text, b"llo", true).unwrap();
            c.send_binary(&[0, 255]).unwrap();
        });
        let text = stream.call_method0("receive_message").unwrap();
        assert_eq!(text.extract::<String>().unwrap(), "h\u{e9}llo");
        assert_eq!(
            stream.call_method0("get_last_received_opcode").unwrap().extract::<i32>().unwrap(),
            1
        );
        let binary = stream.call_method0("receive_message").unwrap();
        assert_eq!(binary.extract::<Vec<u8>>().unwrap(), [0, 255]);
        assert_eq!(
            stream.call_method0("get_last_received_opcode").unwrap().extract::<i32>().unwrap(),
            2
        );
        stream.call_method1("send_message", ("back",)).unwrap();
        assert_eq!(
            client.next_event(),
            Some(Event::Data { kind: MessageKind::Text, data: b"back".to_vec(), fin: true })
        );
    });
}

#[test]
fn the_peers_close_is_recorded_and_answered_by_the_passive_hook() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let hook = "lambda request: (4001, 'seen ' + request.ws_close_reason)";
        let (stream, request, mut client) = stream(py, Some(hook));
        let stream = stream.bind(py);
        client.send(|c| c.close(Some(4000), "bye", Instant::now()).unwrap());
        assert!(stream.call_method0("receive_message").unwrap().is_none());
        assert_eq!(attr(py, &request, "ws_close_code").extract::<u16>().unwrap(), 4000);
        assert_eq!(attr(py, &request, "ws_close_reason").extract::<String>().unwrap(), "bye");
        assert!(attr(py, &request, "client_terminated").extract::<bool>().unwrap());
        assert!(attr(py, &request, "server_terminated").extract::<bool>().unwrap());
        assert_eq!(client.next_event(), Some(Event::Close(Some((4001, "seen bye".into())))));
        // pywebsocket refuses to receive after the peer's close, and to send after ours.
        assert_eq!(raised(py, stream.call_method0("receive_message")), "BadOperationException");
        assert_eq!(
            raised(py, stream.call_method1("send_message", ("late",))),
            "BadOperationException"
        );
    });
}

#[test]
fn misuse_and_violations_raise_pywebsockets_exceptions() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let (stream, _request, mut client) = stream(py, None);
        let stream = stream.bind(py);
        let kwargs = PyDict::new(py);
        kwargs.set_item("binary", true).unwrap();
        assert_eq!(
            raised(py, stream.call_method("send_message", ("text",), Some(&kwargs))),
            "BadOperationException"
        );
        assert_eq!(
            raised(py, stream.call_method1("_send_pong", (vec![0u8; 126],))),
            "BadOperationException"
        );
        // Invalid UTF-8 in a text message: pywebsocket's InvalidUTF8Exception, and 1007.
        // A masked text frame whose two bytes, 0xc3 0x28, are not UTF-8.
        let mut frame = vec![0x81, 0x82, 9, 8, 7, 6];
        frame.extend([0xc3 ^ 9, 0x28 ^ 8]);
        client.socket.write_all(&frame).unwrap();
        assert_eq!(raised(py, stream.call_method0("receive_message")), "InvalidUTF8Exception");
        assert_eq!(client.next_event(), Some(Event::Close(Some((1007, String::new())))));
    });
}

#[test]
fn an_on_ping_handler_sees_pings_and_no_pong_is_sent_for_it() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let (stream, request, mut client) = stream(py, None);
        let stream = stream.bind(py);
        let seen = pyo3::types::PyList::empty(py);
        let handler = py
            .eval(c"lambda seen: (lambda request, payload: seen.append(payload))", None, None)
            .unwrap();
        request.bind(py).setattr("on_ping_handler", handler.call1((&seen,)).unwrap()).unwrap();
        client.send(|c| {
            c.send_ping(b"one").unwrap();
            c.send_text("after").unwrap();
        });
        let message = stream.call_method0("receive_message").unwrap();
        assert_eq!(message.extract::<String>().unwrap(), "after");
        assert_eq!(seen.extract::<Vec<Vec<u8>>>().unwrap(), [b"one".to_vec()]);
        // The next thing on the wire is the handler's own message: no pong went out.
        stream.call_method1("send_message", ("mine",)).unwrap();
        assert_eq!(
            client.next_event(),
            Some(Event::Data { kind: MessageKind::Text, data: b"mine".to_vec(), fin: true })
        );
    });
}

/// `request.ws_stream` and the stream form no reference cycle: once nobody else holds the
/// request, it and its stream are freed at once, with Python's cycle collector off (an
/// idle server's collector may not run for hours, and each pair held a connection's
/// headers, extension processors and connection object).
#[test]
fn the_request_and_its_stream_are_freed_without_the_cycle_collector() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let gc = py.import("gc").unwrap();
        gc.call_method0("disable").unwrap();
        let (stream, request, _client) = stream(py, None);
        request.bind(py).setattr("ws_stream", &stream).unwrap();
        let weakref = py.import("weakref").unwrap();
        let request_alive = weakref.call_method1("ref", (request.bind(py),)).unwrap();
        assert!(!request_alive.call0().unwrap().is_none());
        // The stream still reaches the request while someone holds it.
        assert!(stream.bind(py).getattr("_request").unwrap().is(request.bind(py)));
        drop((stream, request));
        // (The request held the stream's last reference.)
        let freed = request_alive.call0().unwrap().is_none();
        gc.call_method0("enable").unwrap();
        assert!(freed, "the request and its stream outlived their last outside reference");
    });
}

/// A stream kept alone after its request is gone raises as a stream whose connection
/// ended does.
#[test]
fn a_stream_whose_request_is_gone_raises_connection_terminated() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let (stream, request, _client) = stream(py, None);
        drop(request);
        let stream = stream.bind(py);
        assert_eq!(
            raised(py, stream.call_method1("send_message", ("late",))),
            "ConnectionTerminatedException"
        );
        assert!(stream.getattr("_request").unwrap().is_none());
    });
}

/// A host's request object that takes no weak references (mod_python's is a C type) is
/// held by its stream, as before.
#[test]
fn a_request_without_weak_references_is_held_by_its_stream() {
    crate::runtime::initialize();
    Python::attach(|py| {
        let (stream, request, mut client) =
            stream_with_request(py, None, "__import__('types').SimpleNamespace");
        drop(request);
        let stream = stream.bind(py);
        stream.call_method1("send_message", ("still here",)).unwrap();
        assert_eq!(
            client.next_event(),
            Some(Event::Data { kind: MessageKind::Text, data: b"still here".to_vec(), fin: true })
        );
        assert!(!stream.getattr("_request").unwrap().is_none());
    });
}
