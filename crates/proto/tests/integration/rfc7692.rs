//! permessage-deflate (RFC 7692) and deflate-frame through the connection: which frames
//! carry RSV1, the exact compressed bytes, inflating under the message limit, and the
//! failures. Sections of RFC 7692 name the tests.

use wshd_proto::deflate::{
    Compression, Compressor, DeflateConfig, FrameNegotiated, Negotiated, ResponseOverrides,
    negotiate,
};
use wshd_proto::frame::FrameHeader;
use wshd_proto::handshake::parse_extensions;
use wshd_proto::{Connection, Ending, Event, Limits, MessageKind, ProtocolError};

use super::support::{client_frame, events, take_output};

fn negotiated(offer: &str) -> Compression {
    let offers = parse_extensions(offer).unwrap();
    let (n, _) =
        negotiate(&offers, &DeflateConfig::default(), &ResponseOverrides::default()).unwrap();
    Compression::PerMessage(n)
}

fn server_with(compression: &Compression, limits: Limits) -> Connection {
    let mut c = Connection::server(limits);
    c.set_compression(compression, &DeflateConfig::default());
    c
}

/// What a client with context takeover sends for `msg`.
fn compressed(compressor: &mut Compressor, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compressor.compress(msg, &mut out);
    out
}

fn symmetric() -> Negotiated {
    Negotiated {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

#[test]
fn rfc7692_7_2_3_2_hello_twice_with_context_takeover_matches_pywebsocket_bytes() {
    let mut c = server_with(&negotiated("permessage-deflate"), Limits::default());
    c.send_text("Hello").unwrap();
    c.send_text("Hello").unwrap();
    // RSV1 set (0xc1); the payloads pywebsocket's end-to-end tests expect.
    assert_eq!(
        take_output(&mut c),
        [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
            0x00, 0x00
        ]
    );
}

#[test]
fn rfc7692_7_1_1_1_server_no_context_takeover_compresses_each_message_alone() {
    let mut c = server_with(
        &negotiated("permessage-deflate; server_no_context_takeover"),
        Limits::default(),
    );
    c.send_text("Hello").unwrap();
    c.send_text("Hello").unwrap();
    let frame = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(take_output(&mut c), [frame, frame].concat());
}

#[test]
fn rfc7692_6_rsv1_only_on_the_first_frame_of_a_fragmented_message() {
    let mut c = server_with(&negotiated("permessage-deflate"), Limits::default());
    c.send_data(MessageKind::Binary, b"abc", false).unwrap();
    c.send_data(MessageKind::Binary, b"def", true).unwrap();
    let out = take_output(&mut c);
    let (first, n) = FrameHeader::parse(&out).unwrap().unwrap();
    assert_eq!((first.rsv, first.opcode, first.fin), (0b100, 2, false));
    let rest = &out[n + first.payload_len as usize..];
    let (second, _) = FrameHeader::parse(rest).unwrap().unwrap();
    assert_eq!((second.rsv, second.opcode, second.fin), (0, 0, true));
}

#[test]
fn rfc7692_outgoing_compression_can_be_switched_off_and_on() {
    let mut c = server_with(&negotiated("permessage-deflate"), Limits::default());
    c.set_outgoing_compression(false);
    c.send_text("plain").unwrap();
    assert_eq!(take_output(&mut c), [&[0x81, 0x05][..], b"plain"].concat());
    c.set_outgoing_compression(true);
    c.send_text("Hello").unwrap();
    assert_eq!(take_output(&mut c)[..2], [0xc1, 0x07]);
}

#[test]
fn rfc7692_7_2_2_compressed_messages_inflate_across_frames_and_messages() {
    let mut c = server_with(&Compression::PerMessage(symmetric()), Limits::default());
    let mut client = symmetric().compressor(&DeflateConfig::default());
    let first = compressed(&mut client, "κόσμε, hello".as_bytes());
    let second = compressed(&mut client, "κόσμε, hello again".as_bytes());
    let mut input = client_frame(false, 0b100, 1, &first[..3]);
    input.extend(client_frame(true, 0, 9, b"ping"));
    input.extend(client_frame(true, 0, 0, &first[3..]));
    input.extend(client_frame(true, 0b100, 1, &second));
    input.extend(client_frame(true, 0, 2, b"raw"));
    c.receive_data(&input);
    let got = events(&mut c);
    let data: Vec<u8> = got
        .iter()
        .flat_map(|e| match e {
            Ok(Event::Data { data, .. }) => data.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(String::from_utf8(data).unwrap(), "κόσμε, helloκόσμε, hello againraw");
    assert!(got.contains(&Ok(Event::Ping(b"ping".to_vec()))));
    assert_eq!(
        got.last(),
        Some(&Ok(Event::Data { kind: MessageKind::Binary, data: b"raw".to_vec(), fin: true }))
    );
}

#[test]
fn rfc7692_6_1_rsv1_on_a_continuation_or_control_frame_fails_with_1002() {
    for input in [
        [client_frame(false, 0b100, 1, b""), client_frame(true, 0b100, 0, b"")].concat(),
        client_frame(true, 0b100, 9, b""),
    ] {
        let mut c = server_with(&negotiated("permessage-deflate"), Limits::default());
        c.receive_data(&input);
        assert_eq!(events(&mut c).pop(), Some(Err(ProtocolError::ReservedBits)));
        assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xea]);
    }
}

#[test]
fn rfc7692_8_corrupt_compressed_data_fails_the_connection() {
    let mut c = server_with(&negotiated("permessage-deflate"), Limits::default());
    c.receive_data(&client_frame(true, 0b100, 2, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(events(&mut c), vec![Err(ProtocolError::InvalidCompressedData)]);
    assert_eq!(c.ending(), Some(&Ending::Failed(ProtocolError::InvalidCompressedData)));
}

#[test]
fn rfc7692_8_invalid_utf8_after_inflating_fails_with_1007() {
    let mut c = server_with(&Compression::PerMessage(symmetric()), Limits::default());
    let mut client = symmetric().compressor(&DeflateConfig::default());
    c.receive_data(&client_frame(true, 0b100, 1, &compressed(&mut client, &[b'a', 0xff])));
    assert_eq!(events(&mut c), vec![Err(ProtocolError::InvalidUtf8)]);
    assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xef]);
}

/// 64 MiB of zeros, compressed: about 64 KiB on the wire.
fn bomb() -> Vec<u8> {
    let mut client = symmetric().compressor(&DeflateConfig::default());
    compressed(&mut client, &vec![0u8; 64 << 20])
}

#[test]
fn rfc7692_decompression_bomb_in_one_message_closes_with_1009() {
    let limits = Limits { max_frame_size: 16 << 20, max_message_size: 16 << 20 };
    let payload = bomb();
    assert!(payload.len() < 100_000, "compressed bomb is {} bytes", payload.len());
    let mut c = server_with(&Compression::PerMessage(symmetric()), limits);
    c.receive_data(&client_frame(true, 0b100, 2, &payload));
    assert_eq!(events(&mut c), vec![Err(ProtocolError::MessageTooLarge { max: 16 << 20 })]);
    assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xf1]);
}

#[test]
fn rfc7692_decompression_bomb_in_1000_fragments_closes_with_1009() {
    let limits = Limits { max_frame_size: 16 << 20, max_message_size: 16 << 20 };
    let payload = bomb();
    let mut c = server_with(&Compression::PerMessage(symmetric()), limits);
    let pieces: Vec<&[u8]> = payload.chunks(payload.len().div_ceil(1000)).collect();
    let mut got = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let (rsv, opcode) = if i == 0 { (0b100, 2) } else { (0, 0) };
        c.receive_data(&client_frame(i == pieces.len() - 1, rsv, opcode, piece));
        got.extend(events(&mut c));
    }
    assert_eq!(got.last(), Some(&Err(ProtocolError::MessageTooLarge { max: 16 << 20 })));
    let delivered: usize = got
        .iter()
        .map(|e| match e {
            Ok(Event::Data { data, .. }) => data.len(),
            _ => 0,
        })
        .sum();
    assert!(delivered <= 16 << 20, "delivered {delivered} bytes past the limit");
}

#[test]
fn deflate_frame_compresses_and_marks_every_data_frame() {
    let negotiated = FrameNegotiated {
        name: "x-webkit-deflate-frame".into(),
        no_context_takeover: true,
        max_window_bits: 15,
        client_no_context_takeover: true,
        client_max_window_bits: 15,
    };
    let compression = Compression::PerFrame(negotiated.clone());
    let mut c = server_with(&compression, Limits::default());
    c.send_data(MessageKind::Text, b"Hello", false).unwrap();
    c.send_data(MessageKind::Text, b"Hello", true).unwrap();
    let frame = |first: u8| vec![first, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(take_output(&mut c), [frame(0x41), frame(0xc0)].concat());
    // And the server inflates frames the same way, RSV1 on a continuation included.
    let mut client = negotiated.compressor(&DeflateConfig::default());
    let mut piece = Vec::new();
    client.compress_frame(b"Hello", &mut piece);
    let mut input = client_frame(false, 0b100, 1, &piece);
    input.extend(client_frame(true, 0b100, 0, &piece));
    c.receive_data(&input);
    assert_eq!(
        events(&mut c),
        vec![Ok(Event::Data { kind: MessageKind::Text, data: b"HelloHello".to_vec(), fin: true })]
    );
}

/// A closed connection keeps no compression state: whoever holds it after its end (a
/// Python request object waiting for the garbage collector, a handler that stored it)
/// holds a few hundred bytes, not the two contexts' windows and tables.
#[test]
fn compression_contexts_are_freed_once_the_connection_is_closed() {
    // Measured twice: open and used (both contexts hold their windows), then closed.
    let (mut c, open) = wshd_testkit::alloc::measure(|| {
        let mut c = server_with(&Compression::PerMessage(symmetric()), Limits::default());
        let mut client = symmetric().compressor(&DeflateConfig::default());
        let text = "a message long enough to fill some of the window ".repeat(200);
        c.receive_data(&client_frame(true, 0b100, 1, &compressed(&mut client, text.as_bytes())));
        assert_eq!(
            events(&mut c),
            vec![Ok(Event::Data { kind: MessageKind::Text, data: text.clone().into(), fin: true })]
        );
        c.send_text(&text).unwrap();
        let out = take_output(&mut c);
        assert_eq!(out[0], 0xc1, "the echo is compressed");
        c
    });
    let (mut c, closed) = wshd_testkit::alloc::measure(move || {
        c.receive_data(&client_frame(true, 0, 0x8, &1000u16.to_be_bytes()));
        assert_eq!(events(&mut c), vec![Ok(Event::Close(Some((1000, String::new()))))]);
        c.answer_close(Some(1000), "", std::time::Instant::now()).unwrap();
        assert_eq!(c.state(), wshd_proto::State::Closed);
        assert_eq!(take_output(&mut c), [0x88, 0x02, 0x03, 0xe8]);
        c
    });
    assert!(open.retained > 100_000, "an open connection with context takeover: {open:?}");
    assert!(
        closed.retained < -(open.retained - 4096),
        "closing freed {} of the {} bytes the open connection held",
        -closed.retained,
        open.retained
    );
    // Bytes after the end are ignored, as before.
    c.receive_data(&client_frame(true, 0b100, 1, b"\x00"));
    assert!(events(&mut c).is_empty());
    assert!(take_output(&mut c).is_empty());
}
