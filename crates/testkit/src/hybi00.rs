//! The oracles of HyBi 00's two parsers: its frames through a server `Connection`
//! (`hybi00_frames`) and its opening handshake (`hybi00_handshake`).
//!
//! `hybi00_frames` input: byte 0 = flags (`1` small limits: 200 B messages), byte 1 =
//! chunk size (0 = the rest at once), then the peer's bytes. Checks: no panic; feeding in
//! chunks gives exactly the events of feeding byte by byte; every message is text, whole,
//! valid UTF-8 and within the limit; after the close or an error nothing more is
//! reported; the output is only `0xFF 0x00` (our close, at most once, after the peer's
//! close or an error).
//!
//! `hybi00_handshake` input: a request head (and anything after it). Checks: no panic;
//! `validate_hybi00` refuses with 400 only; an accepted request's parts are the key
//! numbers divided by their spaces; the 101 built from it either is refused as an invalid
//! header or starts with HyBi 00's status line and ends with the 16-byte answer.

use wshd_proto::connection::Event;
use wshd_proto::framing::Hybi00Framing;
use wshd_proto::framing::hybi00::CLOSE;
use wshd_proto::handshake::hybi00::{
    Hybi00Accept, accept_response, challenge_response, is_hybi00_request, location, validate_hybi00,
};
use wshd_proto::handshake::parse_request;
use wshd_proto::{Connection, HandshakeLimits, Limits, MessageKind, Role, State};

/// What a connection reported, and the bytes it wrote.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Result<Event, wshd_proto::ProtocolError>>,
    output: Vec<u8>,
    state: State,
}

fn run(limits: Limits, data: &[u8], chunk: usize) -> Outcome {
    let mut c =
        Connection::with_framing(Role::Server, limits, Box::new(Hybi00Framing::new(limits)));
    let mut events = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        c.receive_data(piece);
        while let Some(event) = c.next_event() {
            let close = matches!(event, Ok(Event::Close(_)));
            events.push(event);
            if close {
                // Answer the peer's close, as the shells do.
                let _ = c.close(None, "", std::time::Instant::now());
            }
        }
    }
    let output = c.data_to_send().to_vec();
    Outcome { events, output, state: c.state() }
}

/// The frames oracle. See the module docs.
pub fn check_frames(input: &[u8]) {
    let [flags, chunk, data @ ..] = input else { return };
    let limits = if flags & 1 == 1 {
        Limits { max_frame_size: 200, max_message_size: 200 }
    } else {
        Limits::default()
    };
    let size = if *chunk == 0 { data.len() } else { usize::from(*chunk) };
    let chunked = run(limits, data, size);
    let bytewise = run(limits, data, 1);
    assert_eq!(chunked, bytewise, "chunks of {chunk} and single bytes disagree");
    let mut ended = false;
    for event in &chunked.events {
        assert!(!ended, "an event after the close or an error: {event:?}");
        match event {
            Ok(Event::Data { kind, data, fin }) => {
                assert_eq!(*kind, MessageKind::Text);
                assert!(*fin, "HyBi 00 messages are whole");
                assert!(std::str::from_utf8(data).is_ok(), "not UTF-8: {data:?}");
                assert!(data.len() <= limits.max_message_size);
            }
            Ok(Event::Close(None)) | Err(_) => ended = true,
            other => panic!("HyBi 00 has no such event: {other:?}"),
        }
    }
    if ended {
        assert_eq!(chunked.output, CLOSE, "our close answers the peer's close or an error");
        assert_eq!(chunked.state, State::Closed);
    } else {
        assert!(chunked.output.is_empty(), "output without a close: {:?}", chunked.output);
    }
}

/// The handshake oracle. See the module docs.
pub fn check_handshake(input: &[u8]) {
    let Ok(Some((request, _))) = parse_request(input, &HandshakeLimits::default()) else {
        return;
    };
    let hybi00 = is_hybi00_request(&request);
    let keys =
        [request.headers.get("sec-websocket-key1"), request.headers.get("sec-websocket-key2")]
            .map(|k| k.map(<[u8]>::to_vec));
    match validate_hybi00(request) {
        Err(e) => {
            assert_eq!(e.status(), 400, "{}", e.reason());
            assert!(!e.reason().is_empty());
        }
        Ok(up) => {
            assert!(hybi00 || up.request.headers.get("sec-websocket-version").is_some());
            for (part, key) in up.parts.iter().zip(&keys) {
                let key = key.as_deref().expect("an accepted request has both keys");
                let digits: String =
                    key.iter().filter(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
                let spaces = key.iter().filter(|&&b| b == b' ').count() as u64;
                let number: u64 = digits.parse().expect("at most 4294967295");
                assert_eq!(u64::from(*part) * spaces, number, "{digits} / {spaces}");
            }
            let answer = challenge_response(up.parts, b"\0\x01\x02\x03\x04\x05\x06\x07");
            let accept = Hybi00Accept {
                location: location(false, &up.host, &up.request.target),
                origin: up.origin.clone(),
                protocol: up.protocol.clone(),
                headers: Vec::new(),
            };
            if let Ok(wire) = accept_response(&accept, &answer) {
                assert!(wire.starts_with(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"));
                assert!(wire.ends_with(&answer));
                let head = &wire[..wire.len() - 16];
                assert!(head.ends_with(b"\r\n\r\n"));
                assert_eq!(head.windows(4).filter(|w| w == b"\r\n\r\n").count(), 1);
            }
        }
    }
}
