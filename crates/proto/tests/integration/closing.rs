//! The closing decisions the core makes for both shells: the answer to the peer's close
//! (with its fallback), going away, closing when the application is done, whether to
//! linger, and how much a reader with exact reads may ask for.

use std::time::Instant;

use wshd_proto::{CloseCode, Ending, Event, State, UsageError};

use crate::support::{client_frame, events, server, take_output};

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

#[test]
fn answer_close_sends_the_choice_or_an_empty_close_in_its_place() {
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 0x8, &close_payload(1000, "")));
    assert_eq!(events(&mut c), vec![Ok(Event::Close(Some((1000, String::new()))))]);
    assert_eq!(c.answer_close(Some(4000), "ok", Instant::now()), Ok(None));
    assert_eq!(take_output(&mut c), [&[0x88, 4, 0x0f, 0xa0][..], b"ok"].concat());
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Clean));
    assert!(!c.needs_linger());
    // Answering twice is refused.
    assert_eq!(c.answer_close(Some(1000), "", Instant::now()), Err(UsageError::AlreadyClosed));

    let mut c = server();
    c.receive_data(&client_frame(true, 0, 0x8, &[]));
    events(&mut c);
    // 1006 may never be sent: an empty close goes out instead, and the refusal is told.
    let refused = c.answer_close(Some(1006), "", Instant::now()).unwrap();
    assert!(refused.is_some());
    assert_eq!(take_output(&mut c), [0x88, 0]);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn go_away_closes_with_1001_once() {
    let mut c = server();
    assert!(c.go_away(Instant::now()));
    let out = take_output(&mut c);
    assert_eq!(out[..4], [0x88, 22, 0x03, 0xe9]);
    assert_eq!(&out[4..], b"server shutting down");
    assert_eq!(c.state(), State::CloseSent);
    assert!(!c.go_away(Instant::now()), "our close is out: nothing more to send");
    assert!(take_output(&mut c).is_empty());
    // A peer close not answered yet is answered with 1001.
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 0x8, &close_payload(1000, "")));
    events(&mut c);
    assert!(c.go_away(Instant::now()));
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn close_when_done_closes_only_an_open_connection() {
    let mut c = server();
    assert!(c.close_when_done(CloseCode::INTERNAL_ERROR, Instant::now()));
    assert_eq!(take_output(&mut c), [0x88, 2, 0x03, 0xf3]);
    assert!(!c.close_when_done(CloseCode::NORMAL, Instant::now()));
    assert!(take_output(&mut c).is_empty());
}

#[test]
fn a_connection_that_did_not_close_cleanly_lingers() {
    let mut c = server();
    c.receive_eof();
    assert_eq!(c.ending(), Some(&Ending::Abnormal));
    assert!(c.needs_linger());
    let mut c = server();
    c.receive_data(&[0x81, 0x00]); // unmasked: the connection fails
    events(&mut c);
    assert!(c.needs_linger());
}

#[test]
fn read_hint_never_reaches_past_the_frame_in_hand() {
    let mut c = server();
    assert_eq!(c.read_hint(), 2);
    let frame = client_frame(true, 0, 0x2, &[9; 300]);
    // 2 header bytes, then the 16-bit length and the mask, then the payload.
    c.receive_data(&frame[..1]);
    assert_eq!(c.read_hint(), 1);
    c.receive_data(&frame[1..2]);
    assert_eq!(c.read_hint(), 6);
    c.receive_data(&frame[2..8]);
    assert_eq!(c.read_hint(), 300);
    c.receive_data(&frame[8..108]);
    assert_eq!(c.read_hint(), 200);
    c.receive_data(&frame[108..]);
    assert_eq!(c.read_hint(), 2);
    assert_eq!(events(&mut c).len(), 1);
    // A 64-bit length: 8 length bytes and the mask after the first two.
    let mut c = server();
    c.receive_data(&[0x82, 0xff]);
    assert_eq!(c.read_hint(), 12);
}
