//! The framing seam ([`wshd_proto::framing`]) with a test double: a connection built
//! with [`Connection::with_framing`] over the line format of `wshd_testkit::line_framing`
//! keeps the connection's states, timers, assembly and errors, while every byte in and
//! out is the other format's. Also the connection's own message assembly, which both
//! formats share.

use std::time::{Duration, Instant};

use wshd_proto::{
    Connection, Ending, Event, Limits, MessageKind, ProtocolError, Role, State, UsageError,
};
use wshd_testkit::line_framing::{CLOSE, LineFraming};

use super::support::{client_frame, data, events, server, take_output};

fn lines(limits: Limits) -> Connection {
    Connection::with_framing(Role::Server, limits, Box::new(LineFraming::new(limits)))
}

#[test]
fn another_framing_carries_messages_in_its_own_bytes() {
    let mut c = lines(Limits::default());
    c.receive_data(b"hel");
    c.receive_data(b"lo\nsecond\n");
    assert_eq!(
        events(&mut c),
        [
            data(MessageKind::Text, b"hel", false),
            data(MessageKind::Text, b"lo", true),
            data(MessageKind::Text, b"second", true),
        ]
    );
    c.send_text("reply").unwrap();
    c.send_data(MessageKind::Text, b"two ", false).unwrap();
    c.send_data(MessageKind::Text, b"parts", true).unwrap();
    assert_eq!(take_output(&mut c), b"reply\ntwo parts\n");
}

#[test]
fn the_connection_assembles_the_pieces_another_framing_reports() {
    let mut c = lines(Limits::default());
    c.set_whole_messages(true);
    for byte in b"whole\n" {
        c.receive_data(&[*byte]);
    }
    assert_eq!(events(&mut c), [data(MessageKind::Text, b"whole", true)]);
    assert!(!c.receiving_message());
    c.receive_data(b"\x10p\npart");
    // A ping between pieces comes first; the message waits for its end.
    assert_eq!(events(&mut c), [Ok(Event::Ping(b"p".to_vec()))]);
    assert!(c.receiving_message());
    c.receive_data(b"ial\n");
    assert_eq!(events(&mut c), [data(MessageKind::Text, b"partial", true)]);
}

#[test]
fn pings_are_answered_in_the_other_framing_and_binary_is_refused() {
    let mut c = lines(Limits::default());
    c.receive_data(b"\x10are you there\n");
    assert_eq!(events(&mut c), [Ok(Event::Ping(b"are you there".to_vec()))]);
    assert_eq!(take_output(&mut c), b"\x11are you there\n");
    assert_eq!(c.send_binary(b"\x00"), Err(UsageError::NotInFraming("binary messages")));
    assert!(matches!(c.send_data_unbuffered(MessageKind::Text, 5, true), Ok(None)));
    assert!(take_output(&mut c).is_empty(), "a refused send writes nothing");
    assert_eq!(c.state(), State::Open);
}

#[test]
fn the_closing_handshake_runs_unchanged_over_another_framing() {
    let now = Instant::now();
    let mut c = lines(Limits::default());
    c.receive_data(&[CLOSE, b'x', b'\n']);
    assert_eq!(events(&mut c), [Ok(Event::Close(None))], "bytes after the close are ignored");
    assert_eq!(c.state(), State::CloseReceived);
    c.close(Some(1000), "bye", now).unwrap();
    assert_eq!(take_output(&mut c), [CLOSE], "the format's close carries no status");
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Clean));

    let mut ours = lines(Limits::default());
    ours.set_close_timeout(Some(Duration::from_secs(2)));
    assert!(ours.go_away(now));
    assert_eq!(take_output(&mut ours), [CLOSE]);
    assert_eq!(ours.send_text("late"), Err(UsageError::AlreadyClosed));
    ours.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(ours.ending(), Some(&Ending::CloseTimedOut));
}

#[test]
fn a_violation_of_another_framing_fails_the_connection_with_its_close() {
    let mut c = lines(Limits::default());
    c.receive_data(b"ok\n\x01");
    let err = ProtocolError::MalformedFrame("control byte between lines");
    assert_eq!(events(&mut c), [data(MessageKind::Text, b"ok", true), Err(err.clone())]);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Failed(err.clone())));
    assert_eq!(c.close_code_for(&err).0, 1002);
    assert_eq!(take_output(&mut c), [CLOSE]);
}

#[test]
fn another_framing_enforces_the_connections_limits() {
    let limits = Limits { max_frame_size: 8, max_message_size: 8 };
    let mut c = lines(limits);
    assert_eq!(c.limits(), &limits);
    c.receive_data(b"12345678\n123456789");
    let got = events(&mut c);
    assert_eq!(got[0], data(MessageKind::Text, b"12345678", true));
    assert_eq!(got[1], Err(ProtocolError::MessageTooLarge { max: 8 }));
    assert_eq!(take_output(&mut c), [CLOSE]);
}

#[test]
fn keepalive_pings_go_out_in_the_connections_framing() {
    let now = Instant::now();
    let mut c = lines(Limits::default());
    c.set_keepalive(Duration::from_secs(1), Duration::from_secs(1), now);
    c.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(take_output(&mut c), b"\x10\n");
    c.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::KeepaliveTimeout)));
}

// ---- whole-message assembly, shared by every framing --------------------------------------

#[test]
fn pieces_queued_before_whole_messages_were_turned_on_are_joined_with_the_rest() {
    let mut c = server();
    c.receive_data(&client_frame(false, 0, 0x1, b"first "));
    c.set_whole_messages(true);
    c.receive_data(&client_frame(false, 0, 0x0, b"second "));
    c.receive_data(&client_frame(true, 0, 0x0, b"third"));
    assert_eq!(events(&mut c), [data(MessageKind::Text, b"first second third", true)]);
}

#[test]
fn turning_whole_messages_off_delivers_the_part_already_held_first() {
    let mut c = server();
    c.receive_data(&client_frame(false, 0, 0x2, b"a"));
    c.set_whole_messages(true);
    // The queued piece is taken into the assembly; no whole message yet.
    assert_eq!(c.next_event(), None);
    c.receive_data(&client_frame(false, 0, 0x0, b"b"));
    c.set_whole_messages(false);
    c.receive_data(&client_frame(true, 0, 0x0, b"c"));
    // Pieces queued back to back are merged, as frame-by-frame delivery does anyway.
    assert_eq!(
        events(&mut c),
        [data(MessageKind::Binary, b"a", false), data(MessageKind::Binary, b"bc", true)]
    );
}

#[test]
fn a_client_connection_can_use_another_framing_too() {
    let limits = Limits::default();
    let mut c = Connection::with_framing(Role::Client, limits, Box::new(LineFraming::new(limits)));
    assert_eq!(c.role(), Role::Client);
    c.send_text("unmasked on this wire").unwrap();
    assert_eq!(take_output(&mut c), LineFraming::message("unmasked on this wire"));
}
