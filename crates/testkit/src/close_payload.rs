//! Close frame bodies: `wshd_proto::close::parse_payload` against RFC 6455 §5.5.1, §7.4
//! and §8.1 written out independently, and the close a server sends back through a
//! `Connection`.
//!
//! Input: the payload of a close frame. Checks: empty is "no code"; one byte is
//! `InvalidClosePayload`; a code outside 1000-1003, 1007-1014 and 3000-4999 is
//! `InvalidCloseCode` with that code; a reason that is not UTF-8 is `InvalidUtf8`; anything
//! else is the code and the reason as sent. A server `Connection` given the payload in a
//! masked close frame reports the same body and leaves the answer to its caller (echoing
//! the code sends one close frame with it), or fails with the same error and sends one
//! close frame with that error's code.

use wshd_proto::close::parse_payload;
use wshd_proto::{Connection, Event, ProtocolError, State};

fn allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The oracle: panics on any outcome the docs above do not allow.
pub fn check(payload: &[u8]) {
    let parsed = parse_payload(payload);
    match payload {
        [] => assert_eq!(parsed, Ok(None)),
        [_] => assert_eq!(parsed, Err(ProtocolError::InvalidClosePayload)),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !allowed(code) {
                assert_eq!(parsed, Err(ProtocolError::InvalidCloseCode(code)));
            } else if let Ok(text) = std::str::from_utf8(reason) {
                assert_eq!(parsed, Ok(Some((code, text.to_owned()))));
            } else {
                assert_eq!(parsed, Err(ProtocolError::InvalidUtf8));
            }
        }
    }
    if payload.len() > 125 {
        return; // not a valid control frame; the frame reader refuses it before this.
    }

    let mut frame = vec![0x88, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    let mut conn = Connection::server(Default::default());
    conn.receive_data(&frame);
    let event = conn.next_event();
    match (&parsed, &event) {
        (Ok(body), Some(Ok(Event::Close(got)))) => {
            assert_eq!(got, body);
            assert_eq!(conn.state(), State::CloseReceived);
            assert!(conn.data_to_send().is_empty(), "the answer is the caller's to send");
            // Echoing the code (RFC 6455 §5.5.1) sends one close frame with it.
            let code = body.as_ref().map(|b| b.0);
            conn.close(code, "", std::time::Instant::now())
                .expect("echoing a received code is allowed");
            assert_eq!(answer_code(conn.data_to_send()), code);
            assert_eq!(conn.state(), State::Closed);
        }
        (Err(e), Some(Err(got))) => {
            assert_eq!(got, e);
            assert_eq!(answer_code(conn.data_to_send()), Some(e.close_code().0));
        }
        other => panic!("parse {:?} but the connection gave {:?}", other.0, other.1),
    }
    assert!(conn.next_event().is_none());
}

/// The code of the one unmasked close frame `out` must be.
fn answer_code(out: &[u8]) -> Option<u16> {
    assert!(out.len() >= 2 && out[0] == 0x88, "not a close frame: {out:?}");
    assert_eq!(out[1] & 0x80, 0, "a server's frames are not masked");
    let len = usize::from(out[1] & 0x7f);
    assert_eq!(out.len(), 2 + len, "one close frame, nothing else: {out:?}");
    (len >= 2).then(|| u16::from_be_bytes([out[2], out[3]]))
}
