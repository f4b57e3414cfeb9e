//! The oracles of the cargo-fuzz targets that reach this crate's parsers: `map_file` (the
//! handler map file's lines, against pywebsocket's own reading of them in Python) and
//! `python_frames` (`request.ws_stream`'s frame-level API, `pywebsocket3._wshd_frames`,
//! on a real connection, against RFC 6455's framing written out here).
//!
//! Built for `cargo test` and with the `fuzzing` feature only; it is not an API. Each
//! check panics on any outcome the docs do not allow; `fuzz/fuzz_targets/` hands its bytes
//! here, and this crate's tests replay every saved input through the same code.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use wshd_proto::{Connection, Limits};
use wshd_server::blocking::{BlockingWebSocket, TcpByteStream};

use crate::driver::Driver;
use crate::map_file::{MapLine, parse_line};
use crate::stream::Stream;

/// Runs the oracle of `target` on `input`; `false` if no target has that name here.
pub fn replay(target: &str, input: &[u8]) -> bool {
    match target {
        "map_file" => check_map_file(input),
        "python_frames" => check_python_frames(input),
        _ => return false,
    }
    true
}

/// The targets [`replay`] knows.
pub const TARGETS: &[&str] = &["map_file", "python_frames"];

/// pywebsocket 3's `_alias_handlers` loop, reduced to what each line says: `None` for a
/// skipped line, `False` for a malformed one, `(alias, existing)` otherwise.
const PYWEBSOCKET_MAP_FILE: &str = r#"
import io, re
def lines(text):
    out = []
    for line in io.StringIO(text, newline=None):
        if line[0] == '#' or line.isspace():
            continue
        m = re.match(r'(\S+)\s+(\S+)$', line)
        out.append((m.group(1), m.group(2)) if m else False)
    return out
"#;

/// A map file's text (lossy UTF-8). Checks: the lines wshd does not skip say the same, in
/// the same order, as the lines pywebsocket does not skip (pywebsocket's code above, run
/// by the interpreter); an alias's two fields, joined by one space, parse back to
/// themselves.
pub fn check_map_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ours: Vec<Option<(String, String)>> = crate::map_file::lines(&text)
        .filter_map(|line| match parse_line(line) {
            MapLine::Skip => None,
            MapLine::Malformed => Some(None),
            MapLine::Alias { alias, existing } => {
                let joined = format!("{alias} {existing}");
                assert_eq!(parse_line(&joined), MapLine::Alias { alias, existing });
                Some(Some((alias.to_owned(), existing.to_owned())))
            }
        })
        .collect();
    crate::runtime::initialize();
    let theirs: Vec<Option<(String, String)>> = Python::attach(|py| {
        static LINES: OnceLock<Py<PyAny>> = OnceLock::new();
        let lines = LINES.get_or_init(|| {
            let code = std::ffi::CString::new(PYWEBSOCKET_MAP_FILE).expect("no NUL");
            let module =
                PyModule::from_code(py, &code, c"wshd_fuzz_map_file.py", c"wshd_fuzz_map_file")
                    .expect("the reference code compiles");
            module.getattr("lines").expect("lines()").unbind()
        });
        let result = lines.bind(py).call1((text.as_ref(),)).expect("the reference code runs");
        result
            .try_iter()
            .expect("a list")
            .map(|item| {
                let item = item.expect("an item");
                item.extract::<(String, String)>().ok()
            })
            .collect()
    });
    assert_eq!(ours, theirs, "map file {text:?}");
}

/// What reading one frame should give, by RFC 6455 §5.2 and `stream.parse_frame`'s doc.
#[derive(Debug, PartialEq)]
enum Expected {
    Frame {
        opcode: u8,
        fin: bool,
        rsv: [bool; 3],
        payload: Vec<u8>,
    },
    /// `InvalidFrameException`: the mask bit is clear, or a 64-bit length has its top bit set.
    Invalid,
    /// `BadOperationException`: longer than the connection's message limit.
    TooLong,
    /// `ConnectionTerminatedException`: the bytes end inside the frame.
    Terminated,
}

/// Reads one frame from `wire[*at..]` as `parse_frame` must (masked, client to server).
fn expected_frame(wire: &[u8], at: &mut usize, limit: u64) -> Expected {
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let bytes = wire.get(*at..*at + n)?;
        *at += n;
        Some(bytes)
    };
    let Some(&[first, second]) = take(at, 2) else { return Expected::Terminated };
    if second & 0x80 == 0 {
        return Expected::Invalid;
    }
    let length = match second & 0x7f {
        126 => match take(at, 2) {
            Some(b) => u64::from(u16::from_be_bytes([b[0], b[1]])),
            None => return Expected::Terminated,
        },
        127 => match take(at, 8) {
            Some(b) => u64::from_be_bytes(b.try_into().expect("8 bytes")),
            None => return Expected::Terminated,
        },
        n => u64::from(n),
    };
    if length >> 63 != 0 {
        return Expected::Invalid;
    }
    let Some(mask) = take(at, 4).map(<[u8]>::to_vec) else { return Expected::Terminated };
    if length > limit {
        return Expected::TooLong;
    }
    let Some(body) = take(at, length as usize) else { return Expected::Terminated };
    let payload = body.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
    Expected::Frame {
        opcode: first & 0x0f,
        fin: first & 0x80 != 0,
        rsv: [first & 0x40 != 0, first & 0x20 != 0, first & 0x10 != 0],
        payload,
    }
}

/// The loopback listener every connection of this oracle is accepted from.
fn listener() -> &'static TcpListener {
    static LISTENER: OnceLock<TcpListener> = OnceLock::new();
    LISTENER.get_or_init(|| TcpListener::bind("127.0.0.1:0").expect("a loopback port"))
}

/// Input: byte 0 = flags (`1`: a 100-byte message limit; `2`: the handler's passive
/// closing handshake answers `(3000, 'bye')`), then what the client sends.
///
/// The handler's loop of Chromium's web tests runs on a real connection:
/// `_receive_frame_as_frame_object`, `_get_message_from_frame`, and for a whole close
/// message `_process_close_message`, until something raises. Checks: each frame is the
/// one RFC 6455's framing reads there (opcode, FIN, RSV bits, unmasked payload), or the
/// documented exception (`InvalidFrameException`, `BadOperationException`,
/// `ConnectionTerminatedException`) where it cannot be read; messages are joined as
/// `get_message_from_frame`'s doc says (a continuation without a start, a new frame
/// inside a fragmented message and a fragmented control frame raise
/// `InvalidFrameException`); a close body of one byte raises `InvalidFrameException`, a
/// reason that is not UTF-8 `InvalidUTF8Exception`; otherwise the request gets the code
/// (1005 for none) and reason, both termination flags, and the client gets exactly one
/// close frame with the passive handshake's answer. No other exception, and nothing else
/// written.
pub fn check_python_frames(data: &[u8]) {
    let Some((&flags, wire)) = data.split_first() else { return };
    let limit: u64 = if flags & 1 != 0 { 100 } else { 1 << 20 };
    let passive = flags & 2 != 0;
    crate::runtime::initialize();

    let mut client =
        TcpStream::connect(listener().local_addr().expect("address")).expect("connect");
    let (server, peer) = listener().accept().expect("accept");
    client.write_all(wire).expect("the kernel takes a fuzz input whole");
    client.shutdown(Shutdown::Write).expect("shutdown");
    let limits = Limits { max_message_size: limit as usize, ..Limits::default() };
    let shell = BlockingWebSocket::new(
        Box::new(TcpByteStream::new(server)),
        Connection::server(limits),
        Duration::from_millis(100),
        peer,
    );

    let expected_answer = Python::attach(|py| {
        let flags = PyDict::new(py);
        for (k, v) in [("client_terminated", false), ("server_terminated", false)] {
            flags.set_item(k, v).expect("set");
        }
        flags.set_item("ws_close_code", py.None()).expect("set");
        flags.set_item("ws_close_reason", py.None()).expect("set");
        let request = py
            .import("types")
            .and_then(|t| t.getattr("SimpleNamespace"))
            .and_then(|ns| ns.call((), Some(&flags)))
            .expect("a request");
        let hook = passive.then(|| {
            py.eval(c"lambda request: (3000, 'bye')", None, None).expect("a lambda").unbind()
        });
        let stream = Stream::new(Arc::new(Driver::new(shell)), &request, hook);
        let stream = Bound::new(py, stream).expect("a stream");
        run_frames(py, &stream, &request, wire, limit, passive)
    });

    let mut answer = Vec::new();
    client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let _ = client.read_to_end(&mut answer);
    match expected_answer {
        Some((code, reason)) => {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(reason.as_bytes());
            let mut frame = vec![0x88, body.len() as u8];
            frame.extend_from_slice(&body);
            assert_eq!(answer, frame, "the answer to the close");
        }
        None => assert!(answer.is_empty(), "written without a close: {answer:?}"),
    }
}

/// The handler's loop; returns the close answer the client must get, if any.
fn run_frames(
    py: Python<'_>,
    stream: &Bound<'_, Stream>,
    request: &Bound<'_, PyAny>,
    wire: &[u8],
    limit: u64,
    passive: bool,
) -> Option<(u16, &'static str)> {
    let mut at = 0;
    let mut fragments: Option<Vec<u8>> = None;
    let raised = |result: PyResult<Bound<'_, PyAny>>, what: &str| -> String {
        match result {
            Err(e) => e.get_type(py).name().map(|n| n.to_string()).unwrap_or_default(),
            Ok(v) => panic!("{what} returned {v:?} where it must raise"),
        }
    };
    loop {
        let expected = expected_frame(wire, &mut at, limit);
        let got = stream.call_method0("_receive_frame_as_frame_object");
        let (opcode, payload) = match expected {
            Expected::Frame { opcode, fin, rsv, payload } => {
                let frame = got.unwrap_or_else(|e| panic!("frame {opcode} at {at}: raised {e}"));
                let get = |name: &str| frame.getattr(name).expect("a frame attribute");
                assert_eq!(get("opcode").extract::<u8>().ok(), Some(opcode));
                assert_eq!(get("fin").is_truthy().ok(), Some(fin));
                for (i, name) in ["rsv1", "rsv2", "rsv3"].iter().enumerate() {
                    assert_eq!(get(name).is_truthy().ok(), Some(rsv[i]), "{name}");
                }
                assert_eq!(get("payload").extract::<Vec<u8>>().ok().as_ref(), Some(&payload));
                let message = stream.call_method1("_get_message_from_frame", (&frame,));
                let continuation = opcode == 0;
                let control = opcode & 8 != 0;
                if (continuation && fragments.is_none())
                    || (!continuation && fragments.is_some())
                    || (control && !fin)
                {
                    assert_eq!(raised(message, "_get_message_from_frame"), "InvalidFrameException");
                    return None;
                }
                let message = message.unwrap_or_else(|e| panic!("_get_message_from_frame: {e}"));
                if !fin {
                    assert!(message.is_none());
                    fragments.get_or_insert_with(Vec::new).extend_from_slice(&payload);
                    continue;
                }
                let whole = match fragments.take() {
                    Some(mut head) => {
                        head.extend_from_slice(&payload);
                        head
                    }
                    None => payload,
                };
                assert_eq!(message.extract::<Vec<u8>>().ok().as_ref(), Some(&whole));
                (opcode, whole)
            }
            Expected::Invalid => {
                assert_eq!(raised(got, "_receive_frame"), "InvalidFrameException");
                return None;
            }
            Expected::TooLong => {
                assert_eq!(raised(got, "_receive_frame"), "BadOperationException");
                return None;
            }
            Expected::Terminated => {
                assert_eq!(raised(got, "_receive_frame"), "ConnectionTerminatedException");
                return None;
            }
        };
        if opcode != 8 {
            continue;
        }
        let result = stream.call_method1("_process_close_message", (PyBytes::new(py, &payload),));
        let (code, reason) = match payload.as_slice() {
            [_] => {
                assert_eq!(raised(result, "_process_close_message"), "InvalidFrameException");
                return None;
            }
            [] => (1005, String::new()),
            [hi, lo, rest @ ..] => match std::str::from_utf8(rest) {
                Ok(r) => (u16::from_be_bytes([*hi, *lo]), r.to_owned()),
                Err(_) => {
                    assert_eq!(raised(result, "_process_close_message"), "InvalidUTF8Exception");
                    return None;
                }
            },
        };
        result.unwrap_or_else(|e| panic!("_process_close_message: {e}"));
        let attr = |name: &str| request.getattr(name).expect("a request attribute");
        assert_eq!(attr("ws_close_code").extract::<u16>().ok(), Some(code));
        assert_eq!(attr("ws_close_reason").extract::<String>().ok(), Some(reason));
        assert!(attr("client_terminated").is_truthy().expect("bool"));
        assert!(attr("server_terminated").is_truthy().expect("bool"));
        return Some(if passive { (3000, "bye") } else { (1000, "") });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn saved_fuzz_inputs_replay_through_their_oracles() {
        wshd_testkit::saved::replay_saved(super::TARGETS, super::replay);
    }
}
