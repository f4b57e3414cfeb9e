//! RFC 6455 behaviour of the sans-I/O connection, driven with bytes in and bytes out.
//!
//! Each test is named after the section it guards. No sockets and no clock: instants are
//! built from one base `Instant` plus offsets.

use std::time::{Duration, Instant};

use wshd_proto::frame::FrameHeader;

use super::support::{FixedMask, KEY, client_frame, data, events, server, take_output};
use wshd_proto::{
    Connection, Ending, Event, Limits, MessageKind, ProtocolError, State, UsageError,
};

/// Feeds `input` to a server and returns the close code of the error it fails with.
fn failure_code(input: &[u8]) -> (ProtocolError, Vec<u8>) {
    let mut c = server();
    c.receive_data(input);
    let err = events(&mut c).into_iter().find_map(Result::err).expect("connection fails");
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Failed(err.clone())));
    (err, take_output(&mut c))
}

#[test]
fn rfc6455_5_1_unmasked_client_frame_fails_with_exactly_1002_and_no_reason() {
    let (err, out) = failure_code(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(err, ProtocolError::UnmaskedFrame);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xea]);
}

#[test]
fn rfc6455_5_1_masked_server_frame_fails_a_client() {
    let mut c = Connection::client(Limits::default(), Box::new(FixedMask));
    c.receive_data(&client_frame(true, 0, 1, b"hi"));
    assert_eq!(events(&mut c), vec![Err(ProtocolError::MaskedFrame)]);
    // The client's own close frame is masked.
    let out = take_output(&mut c);
    assert_eq!(&out[..2], &[0x88, 0x82]);
}

#[test]
fn rfc6455_5_2_reserved_bits_fail_with_1002() {
    for rsv in 1..8 {
        let (err, out) = failure_code(&client_frame(true, rsv, 1, b"x"));
        assert_eq!(err, ProtocolError::ReservedBits);
        assert_eq!(out, [0x88, 0x02, 0x03, 0xea]);
    }
}

#[test]
fn rfc6455_5_2_reserved_opcodes_fail_with_1002() {
    for op in [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        let (err, out) = failure_code(&client_frame(true, 0, op, b""));
        assert_eq!(err, ProtocolError::ReservedOpcode(op));
        assert_eq!(out, [0x88, 0x02, 0x03, 0xea]);
    }
}

#[test]
fn unsupported_frame_close_code_can_be_pywebsockets_1003_for_rsv_and_opcodes_only() {
    // pywebsocket's end-to-end test sends exactly 91 80 (RSV3 on a text frame).
    let inputs = [
        (client_frame(true, 1, 1, b""), true),
        (client_frame(true, 4, 2, b"x"), true),
        (client_frame(true, 0, 0xb, b""), true),
        (client_frame(true, 0, 0, b""), false),
        (vec![0x81, 0x00], false),
    ];
    for (input, unsupported) in inputs {
        let mut c = server();
        c.set_unsupported_frame_close_code(wshd_proto::CloseCode::UNSUPPORTED_DATA);
        c.receive_data(&input);
        let err = events(&mut c).into_iter().find_map(Result::err).expect("connection fails");
        assert_eq!(err.is_unsupported_frame(), unsupported, "{err}");
        let code: u16 = if unsupported { 1003 } else { 1002 };
        assert_eq!(c.close_code_for(&err).0, code);
        let mut expected = vec![0x88, 0x02];
        expected.extend(code.to_be_bytes());
        assert_eq!(take_output(&mut c), expected, "{err}");
    }
}

#[test]
fn rfc6455_5_4_continuation_without_a_message_fails_with_1002() {
    // pywebsocket's end-to-end test sends exactly 80 80 (+ mask key).
    let (err, out) = failure_code(&client_frame(true, 0, 0, b""));
    assert_eq!(err, ProtocolError::UnexpectedContinuation);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xea]);
}

#[test]
fn rfc6455_5_4_new_message_inside_a_fragmented_one_fails_with_1002() {
    let mut input = client_frame(false, 0, 1, b"a");
    input.extend(client_frame(true, 0, 2, b"b"));
    let (err, _) = failure_code(&input);
    assert_eq!(err, ProtocolError::ExpectedContinuation);
}

#[test]
fn rfc6455_5_4_control_frames_may_be_interleaved_with_fragments() {
    let mut c = server();
    let mut input = client_frame(false, 0, 1, b"Hel");
    input.extend(client_frame(true, 0, 9, b"ping!"));
    input.extend(client_frame(false, 0, 0, b"lo, "));
    input.extend(client_frame(true, 0, 0, b"world"));
    c.receive_data(&input);
    assert_eq!(
        events(&mut c),
        vec![
            data(MessageKind::Text, b"Hel", false),
            Ok(Event::Ping(b"ping!".to_vec())),
            // Consecutive fragments of one message that arrive together are merged.
            data(MessageKind::Text, b"lo, world", true),
        ]
    );
    assert_eq!(take_output(&mut c), [&[0x8a, 0x05][..], b"ping!"].concat());
}

#[test]
fn rfc6455_5_5_control_frame_over_125_bytes_fails_with_1002() {
    let (err, _) = failure_code(&client_frame(true, 0, 9, &[0; 126]));
    assert_eq!(err, ProtocolError::ControlFrameTooLong(126));
}

#[test]
fn rfc6455_5_5_fragmented_control_frame_fails_with_1002() {
    let (err, _) = failure_code(&client_frame(false, 0, 9, b""));
    assert_eq!(err, ProtocolError::FragmentedControlFrame);
}

#[test]
fn rfc6455_5_5_2_ping_is_answered_with_identical_pong() {
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 9, b"abc"));
    assert_eq!(events(&mut c), vec![Ok(Event::Ping(b"abc".to_vec()))]);
    assert_eq!(take_output(&mut c), [0x8a, 0x03, b'a', b'b', b'c']);
}

#[test]
fn rfc6455_5_5_2_automatic_pong_can_be_turned_off() {
    let mut c = server();
    c.set_auto_pong(false);
    c.receive_data(&client_frame(true, 0, 9, b"abc"));
    assert_eq!(events(&mut c), vec![Ok(Event::Ping(b"abc".to_vec()))]);
    assert!(c.data_to_send().is_empty());
}

#[test]
fn rfc6455_5_6_messages_of_every_length_arrive_whole_when_fed_byte_by_byte() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let input = client_frame(true, 0, 2, &payload);
        let mut c = server();
        let mut got = Vec::new();
        for b in &input {
            c.receive_data(std::slice::from_ref(b));
            got.extend(events(&mut c));
        }
        assert_eq!(got, vec![data(MessageKind::Binary, &payload, true)], "len {len}");
    }
}

#[test]
fn rfc6455_5_6_many_frames_in_one_read_are_all_parsed() {
    let mut c = server();
    let input: Vec<u8> =
        (0..100).flat_map(|i| client_frame(true, 0, 1, format!("{i}").as_bytes())).collect();
    c.receive_data(&input);
    let got = events(&mut c);
    assert_eq!(got.len(), 100);
    assert_eq!(got[42], data(MessageKind::Text, b"42", true));
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_with_1007() {
    // pywebsocket's end-to-end test: a text frame carrying the single byte 0x80.
    let (err, out) = failure_code(&client_frame(true, 0, 1, &[0x80]));
    assert_eq!(err, ProtocolError::InvalidUtf8);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xef]);
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_before_the_frame_is_complete() {
    let frame = client_frame(true, 0, 1, &[b'a', 0xff, b'b', b'c', b'd']);
    let mut c = server();
    // Header (6 bytes) plus "a", 0xff: the rest of the frame never arrives.
    c.receive_data(&frame[..8]);
    assert_eq!(events(&mut c), vec![Err(ProtocolError::InvalidUtf8)]);
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn rfc6455_8_1_invalid_utf8_fails_in_the_fragment_that_carries_it() {
    let mut c = server();
    c.receive_data(&client_frame(false, 0, 1, "κόσμε".as_bytes()));
    assert_eq!(events(&mut c), vec![data(MessageKind::Text, "κόσμε".as_bytes(), false)]);
    c.receive_data(&client_frame(false, 0, 0, &[0xce, 0xba, 0xed, 0xa0, 0x80]));
    assert_eq!(events(&mut c), vec![Err(ProtocolError::InvalidUtf8)]);
}

#[test]
fn rfc6455_8_1_code_point_split_across_fragments_is_valid() {
    let mut c = server();
    let euro = "€".as_bytes();
    let mut input = client_frame(false, 0, 1, &euro[..1]);
    input.extend(client_frame(true, 0, 0, &euro[1..]));
    c.receive_data(&input);
    assert_eq!(events(&mut c), vec![data(MessageKind::Text, euro, true)]);
}

#[test]
fn rfc6455_8_1_truncated_code_point_at_message_end_fails_with_1007() {
    let (err, _) = failure_code(&client_frame(true, 0, 1, &[0xe2, 0x82]));
    assert_eq!(err, ProtocolError::InvalidUtf8);
}

#[test]
fn rfc6455_7_events_before_a_violation_are_delivered_first() {
    let mut c = server();
    let mut input = client_frame(true, 0, 1, b"first");
    input.extend(client_frame(true, 4, 1, b"bad"));
    input.extend(client_frame(true, 0, 1, b"never"));
    c.receive_data(&input);
    assert_eq!(c.next_event(), Some(data(MessageKind::Text, b"first", true)));
    assert_eq!(c.state(), State::Open);
    // The reply to the first message goes out before the failure's close frame.
    c.send_text("first").unwrap();
    assert_eq!(c.next_event(), Some(Err(ProtocolError::ReservedBits)));
    assert_eq!(c.next_event(), None);
    assert_eq!(
        take_output(&mut c),
        [&[0x81, 0x05][..], b"first", &[0x88, 0x02, 0x03, 0xea]].concat()
    );
}

#[test]
fn rfc6455_7_1_3_peer_initiated_close_is_answered_and_closes() {
    let now = Instant::now();
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 8, b"\x0d\x05sunsunsunsun"));
    assert_eq!(events(&mut c), vec![Ok(Event::Close(Some((3333, "sunsunsunsun".into()))))]);
    assert_eq!(c.state(), State::CloseReceived);
    assert_eq!(c.peer_close(), Some(&Some((3333, "sunsunsunsun".to_string()))));
    c.close(Some(3333), "sunsunsunsun", now).unwrap();
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Clean));
    assert_eq!(take_output(&mut c), [&[0x88, 0x0e, 0x0d, 0x05][..], b"sunsunsunsun"].concat());
}

#[test]
fn rfc6455_7_1_3_empty_close_is_reported_as_no_status() {
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 8, b""));
    assert_eq!(events(&mut c), vec![Ok(Event::Close(None))]);
    c.close(None, "", Instant::now()).unwrap();
    assert_eq!(take_output(&mut c), [0x88, 0x00]);
}

#[test]
fn rfc6455_7_1_2_locally_initiated_close_waits_for_the_peer() {
    let now = Instant::now();
    let mut c = server();
    c.close(Some(1000), "", now).unwrap();
    assert_eq!(c.state(), State::CloseSent);
    assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xe8]);
    // §5.5.1: nothing may follow our close frame.
    assert_eq!(c.send_text("late"), Err(UsageError::AlreadyClosed));
    assert_eq!(c.close(Some(1000), "", now), Err(UsageError::AlreadyClosed));
    // Data the peer sent before seeing our close still arrives.
    let mut input = client_frame(true, 0, 1, b"in flight");
    input.extend(client_frame(true, 0, 8, &[0x03, 0xe8]));
    c.receive_data(&input);
    assert_eq!(
        events(&mut c),
        vec![
            data(MessageKind::Text, b"in flight", true),
            Ok(Event::Close(Some((1000, String::new()))))
        ]
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Clean));
    assert!(c.data_to_send().is_empty());
}

#[test]
fn rfc6455_7_1_1_close_timeout_ends_a_handshake_the_peer_never_answers() {
    let now = Instant::now();
    let mut c = server();
    c.set_close_timeout(Some(Duration::from_secs(3)));
    c.close(Some(1001), "bye", now).unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(3)));
    c.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(c.state(), State::CloseSent);
    c.handle_timeout(now + Duration::from_secs(3));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::CloseTimedOut));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn rfc6455_7_4_invalid_close_codes_fail_with_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000] {
        let (err, out) = failure_code(&client_frame(true, 0, 8, &code.to_be_bytes()));
        assert_eq!(err, ProtocolError::InvalidCloseCode(code));
        assert_eq!(out, [0x88, 0x02, 0x03, 0xea]);
    }
}

#[test]
fn rfc6455_7_4_close_with_one_byte_payload_fails_with_1002() {
    let (err, _) = failure_code(&client_frame(true, 0, 8, &[0x03]));
    assert_eq!(err, ProtocolError::InvalidClosePayload);
}

#[test]
fn rfc6455_8_1_close_reason_with_invalid_utf8_fails_with_1007() {
    let (err, out) = failure_code(&client_frame(true, 0, 8, &[0x03, 0xe8, 0xce, 0xba, 0xed, 0xa0]));
    assert_eq!(err, ProtocolError::InvalidUtf8);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xef]);
}

#[test]
fn rfc6455_5_5_1_bytes_after_the_peers_close_are_ignored() {
    let mut c = server();
    let mut input = client_frame(true, 0, 8, &[0x03, 0xe8]);
    input.extend(client_frame(true, 0, 1, b"after"));
    input.extend([0xff; 20]);
    c.receive_data(&input);
    assert_eq!(events(&mut c), vec![Ok(Event::Close(Some((1000, String::new()))))]);
}

#[test]
fn rfc6455_10_4_frame_over_the_limit_fails_with_1009_before_its_payload_arrives() {
    let mut c = Connection::server(Limits { max_frame_size: 1000, max_message_size: 5000 });
    let mut header = Vec::new();
    FrameHeader { fin: true, rsv: 0, opcode: 2, mask: Some(KEY), payload_len: 1 << 40 }
        .encode(&mut header);
    c.receive_data(&header);
    let got = events(&mut c);
    assert_eq!(got, vec![Err(ProtocolError::FrameTooLarge { len: 1 << 40, max: 1000 })]);
    assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xf1]);
}

#[test]
fn rfc6455_10_4_message_over_the_limit_across_fragments_fails_with_1009() {
    let mut c = Connection::server(Limits { max_frame_size: 1000, max_message_size: 2500 });
    let mut input = Vec::new();
    for _ in 0..2 {
        input.extend(client_frame(false, 0, if input.is_empty() { 2 } else { 0 }, &[0; 1000]));
    }
    input.extend(client_frame(true, 0, 0, &[0; 1000]));
    c.receive_data(&input);
    let got = events(&mut c);
    assert_eq!(got.last(), Some(&Err(ProtocolError::MessageTooLarge { max: 2500 })));
}

#[test]
fn rfc6455_5_3_client_frames_are_masked_and_the_server_reads_them() {
    let mut client = Connection::client(Limits::default(), Box::new(FixedMask));
    client.send_text("Hello").unwrap();
    let wire = take_output(&mut client);
    // §5.7's example: a masked "Hello" with key 37 fa 21 3d.
    assert_eq!(wire, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let mut s = server();
    s.receive_data(&wire);
    assert_eq!(events(&mut s), vec![data(MessageKind::Text, b"Hello", true)]);
}

#[test]
fn rfc6455_5_4_outgoing_fragments_use_continuation_opcodes() {
    let mut c = server();
    c.send_data(MessageKind::Binary, b"ab", false).unwrap();
    assert_eq!(c.send_data(MessageKind::Text, b"x", true), Err(UsageError::FragmentKindMismatch));
    c.send_ping(b"").unwrap();
    c.send_data(MessageKind::Binary, b"cd", true).unwrap();
    c.send_text("next").unwrap();
    assert_eq!(
        take_output(&mut c),
        [&[0x02, 0x02][..], b"ab", &[0x89, 0x00], &[0x80, 0x02], b"cd", &[0x81, 0x04], b"next"]
            .concat()
    );
}

#[test]
fn rfc6455_5_5_control_payload_and_close_arguments_are_checked_before_sending() {
    let mut c = server();
    assert_eq!(c.send_ping(&[0; 126]), Err(UsageError::ControlPayloadTooLong(126)));
    assert_eq!(c.close(Some(1006), "", Instant::now()), Err(UsageError::InvalidCloseCode(1006)));
    assert_eq!(c.close(None, "why", Instant::now()), Err(UsageError::ReasonWithoutCode));
    assert!(c.data_to_send().is_empty());
    assert_eq!(c.state(), State::Open);
}

#[test]
fn rfc6455_7_1_5_eof_before_the_closing_handshake_is_abnormal() {
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 1, b"hi"));
    c.receive_eof();
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Abnormal));
    assert_eq!(c.next_event(), None);
}

#[test]
fn keepalive_pings_an_idle_peer_and_fails_with_1011_without_an_answer() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_keepalive(s(20), s(5), t0);
    assert_eq!(c.poll_timeout(), Some(t0 + s(20)));
    // Activity during the interval postpones the ping.
    c.receive_data(&client_frame(true, 0, 10, b""));
    events(&mut c);
    c.handle_timeout(t0 + s(20));
    assert!(c.data_to_send().is_empty());
    assert_eq!(c.poll_timeout(), Some(t0 + s(40)));
    // No activity: a ping goes out, and silence after it fails the connection.
    c.handle_timeout(t0 + s(40));
    assert_eq!(take_output(&mut c), [0x89, 0x00]);
    assert_eq!(c.poll_timeout(), Some(t0 + s(45)));
    c.handle_timeout(t0 + s(45));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::KeepaliveTimeout)));
    assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xf3]);
}

#[test]
fn keepalive_pong_keeps_the_connection_open() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_keepalive(s(20), s(5), t0);
    c.handle_timeout(t0 + s(20));
    take_output(&mut c);
    c.receive_data(&client_frame(true, 0, 10, b""));
    c.handle_timeout(t0 + s(25));
    assert_eq!(c.state(), State::Open);
    assert_eq!(c.poll_timeout(), Some(t0 + s(45)));
}

#[test]
fn keepalive_pings_keep_their_cadence_when_the_timeout_is_longer_than_the_interval() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_keepalive(s(1), s(20), t0);
    c.handle_timeout(t0 + s(1));
    assert_eq!(take_output(&mut c), [0x89, 0x00]);
    // The answer is looked for one interval later, not at the timeout.
    assert_eq!(c.poll_timeout(), Some(t0 + s(2)));
    c.receive_data(&client_frame(true, 0, 10, b""));
    c.handle_timeout(t0 + s(2));
    assert!(c.data_to_send().is_empty());
    c.handle_timeout(t0 + s(3));
    assert_eq!(take_output(&mut c), [0x89, 0x00], "the next ping, two intervals on");
    // Unanswered, it is looked for every interval until the timeout fails it.
    for t in 4..=23 {
        c.handle_timeout(t0 + s(t));
    }
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::KeepaliveTimeout)));
}

#[test]
fn send_timeout_fails_a_peer_that_takes_nothing_and_drops_what_waits() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_send_timeout(Some(s(10)));
    assert_eq!(c.send_timeout(), Some(s(10)));
    c.send_binary(&[1; 100]).unwrap();
    // Nothing runs until the caller reports a transport that takes nothing.
    assert_eq!(c.poll_timeout(), None);
    c.send_blocked(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + s(10)));
    // Progress stops the clock; the next block starts it again.
    c.advance_sent(50);
    assert_eq!(c.poll_timeout(), None);
    c.send_blocked(t0 + s(5));
    c.send_blocked(t0 + s(9)); // the clock runs from the first block
    c.handle_timeout(t0 + s(14));
    assert_eq!(c.state(), State::Open);
    c.handle_timeout(t0 + s(15));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::SendTimeout(s(10)))));
    assert!(c.data_to_send().is_empty(), "no close frame can reach a peer that does not read");
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn send_timeout_counts_progress_on_payloads_written_around_the_core() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_send_timeout(Some(s(10)));
    let head = c.send_data_unbuffered(MessageKind::Binary, 1 << 20, true).unwrap();
    assert!(head.is_some());
    c.send_blocked(t0);
    c.send_progressed();
    c.send_blocked(t0 + s(8));
    c.send_blocked(t0 + s(17)); // only 9 s since the last progress
    assert_eq!(c.state(), State::Open);
    c.send_blocked(t0 + s(18));
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::SendTimeout(s(10)))));
}

#[test]
fn send_timeout_bounds_writing_the_last_bytes_of_a_closed_connection() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_send_timeout(Some(s(10)));
    c.receive_data(&client_frame(true, 0, 8, &[0x03, 0xe8]));
    events(&mut c);
    c.close(Some(1000), "", t0).unwrap();
    assert_eq!(c.state(), State::Closed);
    assert!(!c.data_to_send().is_empty());
    c.send_blocked(t0);
    c.handle_timeout(t0 + s(10));
    assert!(c.data_to_send().is_empty(), "dropped after the send timeout");
    assert_eq!(c.ending(), Some(&Ending::Clean), "the ending stays what it was");
}

#[test]
fn idle_timeout_closes_1001_after_no_message_either_way_whatever_the_pings() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = server();
    c.set_idle_timeout(Some(s(10)), t0);
    c.set_keepalive(s(2), s(60), t0);
    assert_eq!(c.idle_timeout(), Some(s(10)));
    // A message received, then one sent: each keeps it open.
    c.receive_data(&client_frame(true, 0, 1, b"hi"));
    events(&mut c);
    c.handle_timeout(t0 + s(5));
    c.send_text("hello").unwrap();
    take_output(&mut c);
    c.handle_timeout(t0 + s(10));
    // From here only pings and pongs move: they do not count. The look at 15 s is the
    // first silent one; the second, at 20 s, closes: 10 s after the last message.
    for t in [11, 13, 15, 17, 19] {
        c.receive_data(&client_frame(true, 0, 10, b""));
        events(&mut c);
        c.handle_timeout(t0 + s(t));
    }
    assert_eq!(c.state(), State::Open, "one silent look is not enough");
    c.handle_timeout(t0 + s(20));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::IdleTimeout(s(10)))));
    let out = take_output(&mut c);
    assert!(out.ends_with(&[0x88, 0x02, 0x03, 0xe9]), "a 1001 close: {out:?}");
}

#[test]
fn idle_timeout_set_on_a_closed_connection_arms_nothing() {
    let mut c = server();
    c.receive_eof();
    assert_eq!(c.state(), State::Closed);
    c.set_idle_timeout(Some(Duration::from_secs(1)), Instant::now());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn idle_connection_releases_its_buffers() {
    let mut c = server();
    c.receive_data(&client_frame(true, 0, 9, b"x"));
    events(&mut c);
    take_output(&mut c);
    c.release_idle_buffers();
    // Partial output is kept.
    c.send_binary(&[1; 100]).unwrap();
    c.advance_sent(10);
    c.release_idle_buffers();
    assert_eq!(c.data_to_send().len(), 92);
}

#[test]
fn unbuffered_sends_give_the_header_the_queued_frame_would_have() {
    let payload = vec![7u8; 70_000];
    let mut queued = server();
    queued.send_data(MessageKind::Binary, &payload, false).unwrap();
    queued.send_data(MessageKind::Binary, b"tail", true).unwrap();
    let expected = take_output(&mut queued);

    let mut direct = server();
    let head = direct.send_data_unbuffered(MessageKind::Binary, payload.len(), false).unwrap();
    let mut wire = head.expect("a server frame with nothing queued").as_bytes().to_vec();
    wire.extend_from_slice(&payload);
    // The fragment continues: the next frame is a continuation, as with send_data.
    direct.send_data(MessageKind::Binary, b"tail", true).unwrap();
    wire.extend(take_output(&mut direct));
    assert_eq!(wire, expected);

    // Not while bytes are queued (they go first), nor on the client side (it masks).
    let mut busy = server();
    busy.send_ping(b"p").unwrap();
    assert!(busy.send_data_unbuffered(MessageKind::Text, 1, true).unwrap().is_none());
    let mut client = Connection::client(Limits::default(), Box::new(super::support::FixedMask));
    assert!(client.send_data_unbuffered(MessageKind::Text, 1, true).unwrap().is_none());
    // A kind that does not continue the open message is refused, as with send_data.
    let mut open = server();
    open.send_data(MessageKind::Text, b"a", false).unwrap();
    let _ = take_output(&mut open);
    assert_eq!(
        open.send_data_unbuffered(MessageKind::Binary, 1, true).unwrap_err(),
        UsageError::FragmentKindMismatch
    );
}
