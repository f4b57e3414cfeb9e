//! Tests across negotiation, compressor and decompressor: pywebsocket's end-to-end bytes,
//! the window-8 rule, the decompression bomb, round trips, and memory per connection.
//!
//! Heap figures come from wshd-testkit's counting allocator, installed here for this
//! crate's unit-test binary; run with `--nocapture` to see them printed.

use std::sync::OnceLock;
use std::time::Instant;

use proptest::prelude::*;

use wshd_testkit::alloc::{Counting, measure};

use super::*;
use crate::handshake::{ExtensionOffer, format_extensions, parse_extensions};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn agree(header: &str) -> (Negotiated, String) {
    let offers = parse_extensions(header).unwrap();
    let (n, response) =
        negotiate(&offers, &DeflateConfig::default(), &ResponseOverrides::default()).unwrap();
    (n, format_extensions(&[response]))
}

fn inflate_message(d: &mut Decompressor, payload: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    d.decompress(payload, &mut out, limit).unwrap();
    d.finish_message(&mut out, limit).unwrap();
    out
}

/// pywebsocket3's test_echo_permessage_deflate* (its test/test_endtoend.py): the response header
/// and the server's exact payload bytes.
#[test]
fn rfc7692_7_2_3_2_pywebsocket_end_to_end_bytes() {
    let cfg = DeflateConfig::default();
    let (n, header) = agree("permessage-deflate");
    assert_eq!(header, "permessage-deflate");
    let mut c = n.compressor(&cfg);
    let mut out = Vec::new();
    c.compress(b"Hello", &mut out);
    assert_eq!(hex(&out), "f2 48 cd c9 c9 07 00");
    out.clear();
    c.compress(b"Hello", &mut out);
    assert_eq!(hex(&out), "f2 00 11 00 00");

    let (n, header) =
        agree("permessage-deflate; server_max_window_bits=10; server_no_context_takeover");
    assert_eq!(header, "permessage-deflate; server_max_window_bits=10; server_no_context_takeover");
    assert_eq!(n.server_max_window_bits, 10);
    let mut c = n.compressor(&cfg);
    for _ in 0..2 {
        out.clear();
        c.compress(b"Hello", &mut out);
        assert_eq!(hex(&out), "f2 48 cd c9 c9 07 00");
    }

    // Two-fragment compressed input is accepted.
    let mut d = n.decompressor();
    let mut plain = Vec::new();
    d.decompress(&[0xf2, 0x48, 0xcd], &mut plain, 100).unwrap();
    d.decompress(&[0xc9, 0xc9, 0x07, 0x00], &mut plain, 100).unwrap();
    d.finish_message(&mut plain, 100).unwrap();
    assert_eq!(plain, b"Hello");
}

/// RFC 7692 §7.1.2.1 with a window of 8: the response says 8, the compressor runs with 9,
/// and what it produces inflates with a 256-byte window, message after message.
#[test]
fn rfc7692_7_1_2_1_window_8_is_answered_8_and_decodes_with_8() {
    let (n, header) = agree("permessage-deflate; server_max_window_bits=8");
    assert_eq!(header, "permessage-deflate; server_max_window_bits=8");
    assert_eq!(n.server_max_window_bits, 8);
    assert_eq!(n.compressor_window_bits(), 9);
    let mut c = n.compressor(&DeflateConfig::default());

    // An inflater that really has only 256 bytes of window (zlib-rs accepts raw 8 when
    // inflating); a distance over 256 would be "invalid distance too far back".
    let mut inflater = zlib_rs::Inflate::new(false, 8);
    let mut seed = 7u32;
    let mut rand = move || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) as u8
    };
    let mut total_plain = 0;
    let mut total_compressed = 0;
    for round in 0..200 {
        // Repeats at distances from 16 to 600, so a 512-byte window would find matches
        // beyond 256 if deflate allowed them.
        let unit: Vec<u8> = (0..16 + round * 3 % 584).map(|_| rand() % 16).collect();
        let message: Vec<u8> = unit.iter().chain(&unit).chain(&unit).copied().collect();
        let mut payload = Vec::new();
        c.compress(&message, &mut payload);
        payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut plain = vec![0; message.len() + 1];
        let before = inflater.total_out();
        inflater.decompress(&payload, &mut plain, zlib_rs::InflateFlush::SyncFlush).unwrap();
        let got = (inflater.total_out() - before) as usize;
        assert_eq!(&plain[..got], &message[..], "round {round}");
        total_plain += message.len();
        total_compressed += payload.len() - 4;
    }
    // It did compress (matches within 250 bytes exist in every message).
    assert!(total_compressed < total_plain * 3 / 4, "{total_compressed} of {total_plain}");
}

/// The compressed bomb: 64 MiB of zeros, about 64 KiB after deflate (built once).
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compressor::new(15, false, &DeflateConfig::default());
        let mut out = Vec::new();
        for i in 0..64 {
            c.compress_fragment(&zeros, i == 63, &mut out);
        }
        out
    })
}

const BOMB_LIMIT: usize = 16 << 20;

#[global_allocator]
static COUNTING: Counting = Counting;

/// Inflates the bomb in `pieces` and checks that it stops at the limit without the heap
/// going past limit + 1 byte + the inflate state + bookkeeping.
fn check_bomb(pieces: usize) {
    let bomb = bomb();
    assert!(bomb.len() < 80 * 1024, "bomb is {} bytes", bomb.len());
    let cuts: Vec<usize> = (0..=pieces).map(|i| i * bomb.len() / pieces).collect();
    let start = Instant::now();
    let ((result, capacity, len), usage) = measure(|| {
        let mut d = Decompressor::new(false);
        let mut out = Vec::new();
        let mut result = Ok(());
        for w in cuts.windows(2) {
            result = d.decompress(&bomb[w[0]..w[1]], &mut out, BOMB_LIMIT);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = d.finish_message(&mut out, BOMB_LIMIT);
        }
        assert!(!d.is_allocated(), "the error frees the inflate state");
        (result, out.capacity(), out.len())
    });
    let elapsed = start.elapsed();
    println!(
        "bomb: {} compressed bytes in {} pieces -> {result:?} after {len} bytes; \
         out capacity {capacity}, peak heap {} bytes, {elapsed:?}",
        bomb.len(),
        pieces,
        usage.peak
    );
    assert_eq!(result, Err(InflateError::TooLarge { limit: BOMB_LIMIT }));
    assert!(capacity <= BOMB_LIMIT + 1, "capacity {capacity}");
    assert!(len <= BOMB_LIMIT + 1);
    // limit + 1 for the output, ~47.5 KB of inflate state, and slack for the boxes.
    let bound = BOMB_LIMIT + 1 + 64 * 1024;
    assert!(usage.peak <= bound, "peak {} > {bound}", usage.peak);
    assert!(usage.peak >= len, "the allocator counts: the output alone is {len} bytes");
}

#[test]
fn rfc7692_8_bomb_in_one_piece_stops_at_the_limit() {
    check_bomb(1);
}

#[test]
fn rfc7692_8_bomb_in_1000_pieces_stops_at_the_limit() {
    check_bomb(1000);
}

/// A message exactly at the limit passes; one byte more does not.
#[test]
fn rfc7692_8_limit_boundary() {
    let message = vec![b'a'; 100_000];
    let mut c = Compressor::new(15, false, &DeflateConfig::default());
    let mut payload = Vec::new();
    c.compress(&message, &mut payload);
    let mut d = Decompressor::new(false);
    assert_eq!(inflate_message(&mut d, &payload, message.len()), message);
    let mut d = Decompressor::new(false);
    let mut out = Vec::new();
    let r = d.decompress(&payload, &mut out, message.len() - 1);
    assert_eq!(r, Err(InflateError::TooLarge { limit: message.len() - 1 }));
    assert!(out.capacity() <= message.len());
}

/// deflate-frame: each frame compressed and inflated on its own; with no_context_takeover
/// every frame repeats the same bytes.
#[test]
fn deflate_frame_round_trip_per_frame() {
    let cfg = DeflateConfig { deflate_frame: true, ..DeflateConfig::default() };
    for (header, nct) in
        [("deflate-frame", false), ("x-webkit-deflate-frame; no_context_takeover", true)]
    {
        let offers = parse_extensions(header).unwrap();
        let (agreed, response) = negotiate_compression(
            &offers,
            &cfg,
            &ResponseOverrides::default(),
            &FrameResponseOverrides::default(),
        )
        .unwrap();
        assert_eq!(response.name, offers[0].name);
        let Compression::PerFrame(ref frame) = agreed else { panic!("{agreed:?}") };
        assert_eq!(frame.no_context_takeover, nct);
        let mut c = agreed.compressor(&cfg);
        let mut d = Decompressor::new(false);
        let mut frames = Vec::new();
        for _ in 0..3 {
            let mut payload = Vec::new();
            c.compress_frame(b"Hello", &mut payload);
            assert_eq!(inflate_message(&mut d, &payload, 10), b"Hello");
            frames.push(hex(&payload));
        }
        assert_eq!(frames[0], "f2 48 cd c9 c9 07 00");
        assert_eq!(frames[1] == frames[0], nct, "{frames:?}");
    }
}

fn kib(bytes: isize) -> String {
    format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
}

/// Heap held by one connection's compressor and decompressor after one message each way.
fn connection_memory(window_bits: u8, mem_level: u8) -> (isize, isize) {
    let cfg =
        DeflateConfig { server_max_window_bits: window_bits, mem_level, ..Default::default() };
    let n = Negotiated {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: window_bits,
        client_max_window_bits: 15,
    };
    let message = br#"{"type":"update","id":42,"payload":{"x":1,"y":2,"label":"hello"}}"#;
    let (c, compressor) = measure(|| {
        let mut c = n.compressor(&cfg);
        let mut out = Vec::new();
        c.compress(message, &mut out);
        c
    });
    let (d, decompressor) = measure(|| {
        let mut d = n.decompressor();
        inflate_message(&mut d, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100);
        d
    });
    assert!(c.is_allocated() && d.is_allocated());
    (compressor.retained, decompressor.retained)
}

#[test]
fn memory_per_connection() {
    // Idle connections and those without context takeover hold nothing.
    let (_, idle) = measure(|| {
        let cfg = DeflateConfig::default();
        let mut c = Compressor::new(12, true, &cfg);
        let mut d = Decompressor::new(true);
        let mut out = Vec::new();
        c.compress(b"Hello", &mut out);
        let plain = inflate_message(&mut d, &out, 10);
        assert_eq!(plain, b"Hello");
        drop((out, plain));
        (c, d)
    });
    assert_eq!(idle.retained, 0, "without context takeover nothing is held between messages");

    let mut rows = Vec::new();
    for (bits, level) in [(12, 5), (15, 5), (15, 8), (9, 5)] {
        let (c, d) = connection_memory(bits, level);
        println!(
            "memory: window {bits} memLevel {level}: compressor {}, decompressor {}, total {}",
            kib(c),
            kib(d),
            kib(c + d)
        );
        rows.push((bits, level, c, d));
    }
    // Documented in mod.rs; bounds leave a few KiB for zlib-rs's own struct growing.
    let total = |i: usize| rows[i].2 + rows[i].3;
    assert!(total(0) <= 220_000, "default: {}", total(0));
    assert!(total(1) <= 335_000, "window 15: {}", total(1));
    assert!(total(2) <= 435_000, "window 15, memLevel 8: {}", total(2));
    assert!(rows[0].3 <= 50_000, "decompressor: {}", rows[0].3);
}

/// A text-like alphabet so messages compress and refer back to earlier ones.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'{'), Just(b'"'), Just(b' ')], 0..1500),
        1 => proptest::collection::vec(any::<u8>(), 0..1500),
        1 => (any::<u8>(), 0usize..20_000).prop_map(|(b, n)| vec![b; n]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// RFC 7692 §7.2: messages survive compress → split anywhere → decompress, with and
    /// without context takeover on each side, at any window and memLevel.
    #[test]
    fn rfc7692_7_2_round_trip_with_random_pieces(
        messages in proptest::collection::vec(message(), 1..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        bits in 8u8..=15,
        mem_level in 1u8..=9,
        server_nct: bool,
        client_nct: bool,
        fragment_sends: bool,
    ) {
        let cfg = DeflateConfig { mem_level, ..DeflateConfig::default() };
        let mut c = Compressor::new(bits, server_nct, &cfg);
        // The client resets only if told to; our decompressor's setting follows the
        // response, and a reset on our side is harmless when the sender never resets.
        let mut d = Decompressor::new(client_nct && server_nct);
        for message in &messages {
            let mut payload = Vec::new();
            if fragment_sends && message.len() > 2 {
                let (a, b) = message.split_at(message.len() / 2);
                c.compress_fragment(a, false, &mut payload);
                c.compress_fragment(b, true, &mut payload);
            } else {
                c.compress(message, &mut payload);
            }
            let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(payload.len() + 1)).collect();
            bounds.push(0);
            bounds.push(payload.len());
            bounds.sort_unstable();
            let mut out = Vec::new();
            for w in bounds.windows(2) {
                d.decompress(&payload[w[0]..w[1]], &mut out, message.len()).unwrap();
            }
            d.finish_message(&mut out, message.len()).unwrap();
            prop_assert!(out == *message, "{} bytes back for {}", out.len(), message.len());
            prop_assert!(out.capacity() <= message.len() + 1);
        }
    }

    /// Arbitrary bytes never panic the decompressor or make it exceed the limit.
    #[test]
    fn rfc7692_7_2_2_garbage_never_panics(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
        limit in 0usize..4096,
    ) {
        let mut d = Decompressor::new(false);
        for p in &payloads {
            let mut out = Vec::new();
            let r = d.decompress(p, &mut out, limit).and_then(|()| d.finish_message(&mut out, limit));
            prop_assert!(out.capacity() <= limit + 1 + 256);
            if r.is_err() {
                prop_assert!(!d.is_allocated());
            }
        }
    }
}

/// The negotiated response round-trips through the header formatter for every Autobahn
/// 13.x offer and every pair of them.
#[test]
fn rfc7692_7_autobahn_offers_all_negotiate() {
    let offers = [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=15",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        "permessage-deflate; client_max_window_bits=9",
    ];
    for a in offers {
        for b in offers {
            let header = format!("{a}, {b}");
            let parsed: Vec<ExtensionOffer> = parse_extensions(&header).unwrap();
            let (_, response) =
                negotiate(&parsed, &DeflateConfig::default(), &ResponseOverrides::default())
                    .unwrap();
            let formatted = format_extensions(std::slice::from_ref(&response));
            assert_eq!(parse_extensions(&formatted).unwrap(), [response]);
        }
    }
}
