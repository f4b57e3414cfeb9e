//! HyBi 00's frames through the connection ([`wshd_proto::framing::Hybi00Framing`]):
//! text messages, the closing handshake both ways, discarded frames, U+FFFD for bytes
//! that are not UTF-8, the message limit on every kind of frame, and what the format
//! cannot carry (binary, pings).

use std::time::{Duration, Instant};

use wshd_proto::framing::Hybi00Framing;
use wshd_proto::framing::hybi00::CLOSE;
use wshd_proto::{
    Connection, Ending, Event, Limits, MessageKind, ProtocolError, Role, State, UsageError,
};

use super::support::{data, events, take_output};

fn hybi00(limits: Limits) -> Connection {
    Connection::with_framing(Role::Server, limits, Box::new(Hybi00Framing::new(limits)))
}

#[test]
fn text_messages_both_ways_whole_or_byte_by_byte() {
    let wire = b"\x00hello\xff\x00\xff\x00caf\xc3\xa9\xff";
    let expected = [
        data(MessageKind::Text, b"hello", true),
        data(MessageKind::Text, b"", true),
        data(MessageKind::Text, "café".as_bytes(), true),
    ];
    let mut whole = hybi00(Limits::default());
    whole.receive_data(wire);
    assert_eq!(events(&mut whole), expected);
    let mut bytewise = hybi00(Limits::default());
    for byte in wire {
        bytewise.receive_data(&[*byte]);
    }
    assert_eq!(events(&mut bytewise), expected);

    let mut c = hybi00(Limits::default());
    c.send_text("reply").unwrap();
    c.send_data(MessageKind::Text, b"in ", false).unwrap();
    c.send_data(MessageKind::Text, b"pieces", true).unwrap();
    assert_eq!(take_output(&mut c), b"\x00reply\xff\x00in pieces\xff");
}

#[test]
fn bytes_that_are_not_utf8_become_replacement_characters() {
    let mut c = hybi00(Limits::default());
    c.receive_data(b"\x00a\xc3(b\x80\xff");
    assert_eq!(events(&mut c), [data(MessageKind::Text, "a\u{fffd}(b\u{fffd}".as_bytes(), true)]);
    assert_eq!(c.state(), State::Open);
}

#[test]
fn other_frames_are_read_past_and_dropped() {
    let mut c = hybi00(Limits::default());
    // A length frame (0x80, length 2), a long-length one (0x81, length 130: 0x81 0x02),
    // and a delimited frame of type 0x01, each followed by a text message.
    let mut wire = b"\x80\x02ab\x00one\xff\x81\x81\x02".to_vec();
    wire.extend_from_slice(&[b'z'; 130]);
    wire.extend_from_slice(b"\x00two\xff\x01dropped\xff\x00three\xff\x80\x00");
    c.receive_data(&wire);
    assert_eq!(
        events(&mut c),
        [
            data(MessageKind::Text, b"one", true),
            data(MessageKind::Text, b"two", true),
            data(MessageKind::Text, b"three", true),
        ]
    );
    assert_eq!(c.state(), State::Open);
}

#[test]
fn the_peers_close_is_answered_and_ends_the_connection_cleanly() {
    let now = Instant::now();
    let mut c = hybi00(Limits::default());
    c.receive_data(b"\x00last\xff\xff\x00\x00ignored\xff");
    assert_eq!(events(&mut c), [data(MessageKind::Text, b"last", true), Ok(Event::Close(None))]);
    assert_eq!(c.state(), State::CloseReceived);
    c.close(Some(1000), "ignored: HyBi 00 has no close status", now).unwrap();
    assert_eq!(take_output(&mut c), CLOSE);
    assert_eq!(c.ending(), Some(&Ending::Clean));
}

#[test]
fn our_close_waits_for_the_peers_and_times_out_without_it() {
    let now = Instant::now();
    let mut c = hybi00(Limits::default());
    c.set_close_timeout(Some(Duration::from_secs(1)));
    c.close(Some(1000), "", now).unwrap();
    assert_eq!(take_output(&mut c), CLOSE);
    assert_eq!(c.send_text("late"), Err(UsageError::AlreadyClosed));
    c.receive_data(&CLOSE);
    assert_eq!(events(&mut c), [Ok(Event::Close(None))]);
    assert_eq!(c.ending(), Some(&Ending::Clean));

    let mut silent = hybi00(Limits::default());
    silent.set_close_timeout(Some(Duration::from_secs(1)));
    silent.close(None, "", now).unwrap();
    silent.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(silent.ending(), Some(&Ending::CloseTimedOut));
}

#[test]
fn a_close_in_the_middle_of_our_message_ends_the_message_first() {
    let mut c = hybi00(Limits::default());
    c.send_data(MessageKind::Text, b"unfinished", false).unwrap();
    c.close(None, "", Instant::now()).unwrap();
    assert_eq!(take_output(&mut c), b"\x00unfinished\xff\xff\x00");
}

#[test]
fn every_kind_of_frame_is_held_to_the_message_limit() {
    let limits = Limits { max_frame_size: 8, max_message_size: 8 };
    let too_large = Err(ProtocolError::MessageTooLarge { max: 8 });
    for wire in [
        &b"\x0012345678\xff\x00123456789"[..],
        b"\x01123456789",
        b"\x80\x09",
        // A length that would overflow any integer, were it not cut at the limit.
        b"\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    ] {
        let mut c = hybi00(limits);
        c.receive_data(wire);
        let got = events(&mut c);
        assert_eq!(got.last(), Some(&too_large), "{wire:?}");
        assert_eq!(take_output(&mut c), CLOSE, "{wire:?}");
        assert_eq!(c.state(), State::Closed);
    }
}

#[test]
fn binary_messages_and_pings_do_not_exist_here() {
    let now = Instant::now();
    let mut c = hybi00(Limits::default());
    assert_eq!(c.send_binary(b"x"), Err(UsageError::NotInFraming("binary messages")));
    assert_eq!(c.send_ping(b""), Err(UsageError::NotInFraming("pings and pongs")));
    // Keepalive has nothing to send, and does not fail the connection for it.
    c.set_keepalive(Duration::from_secs(1), Duration::from_secs(1), now);
    c.handle_timeout(now + Duration::from_secs(5));
    assert!(take_output(&mut c).is_empty());
    assert_eq!(c.state(), State::Open);
}

/// The HyBi 00 fuzz targets' oracles (`wshd_testkit::hybi00`) hold on their seeds, so a
/// change that breaks an oracle or a seed shows here before anyone fuzzes.
#[test]
fn the_fuzz_oracles_accept_their_seeds() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for target in ["hybi00_frames", "hybi00_handshake"] {
        let dir = seeds.join(target);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let input = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(wshd_testkit::replay(target, &input));
            count += 1;
        }
        assert!(count > 0, "no seeds in {}", dir.display());
    }
}

/// Found by the `hybi00_frames` fuzz target: 130 bytes that are not UTF-8 become 390
/// bytes of U+FFFD, past a 200-byte limit the raw message was within.
#[test]
fn replacement_characters_count_against_the_limit() {
    let limits = Limits { max_frame_size: 200, max_message_size: 200 };
    let mut c = hybi00(limits);
    let mut wire = vec![0x00];
    wire.extend_from_slice(&[0x89; 130]);
    wire.push(0xff);
    c.receive_data(&wire);
    assert_eq!(events(&mut c), [Err(ProtocolError::MessageTooLarge { max: 200 })]);
    assert_eq!(take_output(&mut c), CLOSE);
}
