//! Hot-path workloads of the wshd protocol core for instruction counting: each runs one
//! workload N times inside [`measured`], which `bench/callgrind/run.py` makes the only
//! code valgrind's callgrind counts (`--toggle-collect`), so setup is left out and the
//! count is the same on every run of the same binary.
//!
//! Usage: `wshd-bench-callgrind WORKLOAD N` (no arguments lists the workloads). It prints
//! nothing useful on its own: wall time here means nothing, the instruction count does.
//! It is not a test and checks only that each workload did what it claims.

use std::hint::black_box;

use wshd_proto::deflate::{Compression, DeflateConfig, ResponseOverrides, negotiate};
use wshd_proto::handshake::parse_extensions;
use wshd_proto::{Connection, Event, Limits, MaskSource};

/// A fixed masking key, so that client bytes are the same on every run.
struct FixedMask;

impl MaskSource for FixedMask {
    fn next_mask(&mut self) -> [u8; 4] {
        [0x37, 0xfa, 0x21, 0x3d]
    }
}

/// The workloads: name, what one iteration is.
const WORKLOADS: &[(&str, &str)] = &[
    ("parse-text-20", "server reads, unmasks and UTF-8-checks one 20 B text message"),
    ("parse-text-1k-utf8", "the same for 1 KiB of mixed non-ASCII text"),
    ("parse-binary-64k", "server reads and unmasks one 64 KiB binary message"),
    ("write-binary-20", "server frames one 20 B binary message and hands it to the socket"),
    ("write-binary-64k", "the same for 64 KiB"),
    ("deflate-300", "server compresses and frames one 300 B JSON message (permessage-deflate)"),
    ("inflate-300", "server reads and inflates one compressed 300 B JSON message"),
];

/// The code callgrind counts: `work` run `n` times.
#[inline(never)]
fn measured(n: usize, work: &mut dyn FnMut()) {
    for _ in 0..n {
        work();
    }
}

fn json_message(i: usize) -> String {
    let mut s = format!("{{\"id\":{i},\"type\":\"update\",\"items\":[");
    while s.len() < 290 {
        s += &format!("{{\"k\":\"key{}\",\"v\":{}}},", s.len() % 7, s.len() * 31 % 1000);
    }
    s.pop();
    s + "]}"
}

fn mixed_text(len: usize) -> String {
    "aé中🙂"
        .chars()
        .cycle()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= len).then_some(c)
        })
        .collect()
}

fn deflate_pair() -> (Connection, Connection) {
    let cfg = DeflateConfig::default();
    let offers = parse_extensions("permessage-deflate; client_max_window_bits").expect("offer");
    let (agreed, _) = negotiate(&offers, &cfg, &ResponseOverrides::default()).expect("agreed");
    let mut server = Connection::server(Limits::default());
    server.set_compression(&Compression::PerMessage(agreed.clone()), &cfg);
    let mut client = Connection::client(Limits::default(), Box::new(FixedMask));
    client.set_compression(&Compression::PerMessage(agreed.for_client()), &cfg);
    (server, client)
}

/// `n` client messages made by `send`, as the bytes a server receives.
fn client_bytes(
    mut client: Connection,
    n: usize,
    send: impl Fn(&mut Connection, usize),
) -> Vec<u8> {
    for i in 0..n {
        send(&mut client, i);
    }
    client.data_to_send().to_vec()
}

/// Feeds `bytes` to `server` in 16 KiB reads and drains every event; returns messages seen.
fn read_all(server: &mut Connection, bytes: &[u8]) -> usize {
    let mut messages = 0;
    for chunk in bytes.chunks(16 * 1024) {
        server.receive_data(chunk);
        while let Some(event) = server.next_event() {
            match event {
                Ok(Event::Data { data, fin: true, .. }) => {
                    black_box(data);
                    messages += 1;
                }
                Ok(_) => {}
                Err(e) => panic!("workload input rejected: {e}"),
            }
        }
    }
    messages
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(name), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok()))
    else {
        eprintln!("usage: wshd-bench-callgrind WORKLOAD N\nworkloads:");
        for (name, what) in WORKLOADS {
            eprintln!("  {name:20} {what}");
        }
        std::process::exit(2);
    };
    let client = || Connection::client(Limits::default(), Box::new(FixedMask));
    let server = || {
        let mut s = Connection::server(Limits::default());
        s.set_whole_messages(true);
        s
    };
    let done = match name.as_str() {
        "parse-text-20" | "parse-text-1k-utf8" | "parse-binary-64k" => {
            let text = if name == "parse-text-20" { "x".repeat(20) } else { mixed_text(1024) };
            let binary = vec![0x5au8; 64 * 1024];
            let bytes = client_bytes(client(), n, |c, _| match name.as_str() {
                "parse-binary-64k" => c.send_binary(&binary).expect("send"),
                _ => c.send_text(&text).expect("send"),
            });
            let mut s = server();
            // One iteration = one message's bytes, read in 16 KiB chunks.
            let per = bytes.len() / n;
            let mut at = 0;
            let mut seen = 0;
            measured(n, &mut || {
                seen += read_all(&mut s, &bytes[at..at + per]);
                at += per;
            });
            seen
        }
        "write-binary-20" | "write-binary-64k" => {
            let payload = vec![0x5au8; if name == "write-binary-20" { 20 } else { 64 * 1024 }];
            let mut s = server();
            let mut sent = 0;
            measured(n, &mut || {
                s.send_binary(&payload).expect("send");
                let len = s.data_to_send().len();
                black_box(s.data_to_send());
                s.advance_sent(len);
                sent += 1;
            });
            sent
        }
        "deflate-300" => {
            let (mut s, _) = deflate_pair();
            let messages: Vec<String> = (0..n).map(json_message).collect();
            let mut i = 0;
            measured(n, &mut || {
                s.send_text(&messages[i]).expect("send");
                let len = s.data_to_send().len();
                black_box(s.data_to_send());
                s.advance_sent(len);
                i += 1;
            });
            i
        }
        "inflate-300" => {
            let (mut s, c) = deflate_pair();
            s.set_whole_messages(true);
            // Each message separately, so one iteration reads exactly one.
            let mut c = c;
            let frames: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    c.send_text(&json_message(i)).expect("send");
                    let bytes = c.data_to_send().to_vec();
                    c.advance_sent(bytes.len());
                    bytes
                })
                .collect();
            let mut i = 0;
            let mut seen = 0;
            measured(n, &mut || {
                seen += read_all(&mut s, &frames[i]);
                i += 1;
            });
            seen
        }
        other => {
            eprintln!("unknown workload {other:?}; run without arguments for the list");
            std::process::exit(2);
        }
    };
    assert_eq!(done, n, "{name}: {done} of {n} iterations completed");
    println!("{name}: {n} iterations");
}
