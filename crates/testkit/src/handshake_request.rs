//! The server side of the opening handshake on arbitrary bytes in arbitrary chunks.
//!
//! Input: byte 0 is the chunk size (low 7 bits; 0 = everything in one call; bit 7 = small
//! limits), the rest is what the client sent. Checks:
//! - feeding chunk by chunk with `already_scanned` gives exactly the outcome of one
//!   `parse_request` over the whole input (the CVE-2023-43669 fast path changes nothing);
//! - a refused head is 400 or 431, and its `to_response()` reads back with that status;
//! - `validate_upgrade` refuses with 400 only, and only the version error carries
//!   `Sec-WebSocket-Version: 13`;
//! - an accepted request gives an `accept_response`, selecting its first subprotocol and
//!   echoing its extensions, that `parse_response_from` and `validate_response` accept
//!   with the same key, reading back the same subprotocol and extensions.

use wshd_proto::HandshakeLimits;
use wshd_proto::handshake::{
    Accept, HandshakeError, Request, accept_response, format_extensions, parse_request,
    parse_request_from, parse_response, parse_response_from, validate_response, validate_upgrade,
};

type Parsed = Result<Option<(Request, usize)>, HandshakeError>;

fn feed(input: &[u8], chunk: usize, limits: &HandshakeLimits) -> Parsed {
    let mut buf = Vec::new();
    let mut scanned = 0;
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        match parse_request_from(&buf, scanned, limits) {
            Ok(None) => scanned = buf.len(),
            done => return done,
        }
    }
    parse_request_from(&buf, scanned, limits)
}

/// The oracle: panics on any outcome the docs above do not allow.
pub fn check(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else { return };
    let limits = if first & 0x80 != 0 {
        HandshakeLimits { max_head_bytes: 256, max_headers: 8 }
    } else {
        HandshakeLimits::default()
    };
    let chunk = match usize::from(first & 0x7f) {
        0 => input.len(),
        n => n,
    };
    let incremental = feed(input, chunk, &limits);
    assert_eq!(incremental, parse_request(input, &limits), "incremental vs one-shot parse");

    let request = match incremental {
        Ok(None) => return,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 431), "head refused with {}", e.status());
            let (resp, n) = parse_response(&e.to_response(), &HandshakeLimits::default())
                .expect("our error response parses")
                .expect("our error response is complete");
            assert_eq!(resp.status, e.status());
            assert!(n <= e.to_response().len());
            return;
        }
        Ok(Some((request, n))) => {
            assert!(n <= input.len() && n <= limits.max_head_bytes);
            request
        }
    };

    let up = match validate_upgrade(request) {
        Ok(up) => up,
        Err(e) => {
            assert_eq!(e.status(), 400, "upgrade refused with {}", e.status());
            for (name, value) in e.headers() {
                assert_eq!((name.as_str(), value.as_str()), ("Sec-WebSocket-Version", "13"));
            }
            return;
        }
    };
    assert_eq!(up.version, 13);

    let protocol = up.protocols.as_ref().and_then(|p| p.first().cloned());
    let accept = Accept {
        protocol: protocol.clone(),
        extensions: up.extensions.as_deref().map(format_extensions),
        headers: Vec::new(),
        verbatim_headers: Vec::new(),
    };
    let wire = accept_response(&up.key, &accept).expect("accepted request yields a 101");
    let mut chunked = Vec::new();
    let mut scanned = 0;
    let mut parsed = None;
    for piece in wire.chunks(chunk.max(1)) {
        chunked.extend_from_slice(piece);
        match parse_response_from(&chunked, scanned, &HandshakeLimits::default()) {
            Ok(None) => scanned = chunked.len(),
            Ok(Some(done)) => {
                parsed = Some(done);
                break;
            }
            Err(e) => panic!("our 101 does not parse: {e:?}"),
        }
    }
    let (response, n) = parsed.expect("our 101 is complete");
    assert_eq!(n, wire.len());
    assert_eq!(response.status, 101);
    let requested = up.protocols.clone().unwrap_or_default();
    let accepted =
        validate_response(&response, &up.key, &requested).expect("client accepts our 101");
    assert_eq!(accepted.protocol, protocol);
    assert_eq!(accepted.extensions, up.extensions);
}
