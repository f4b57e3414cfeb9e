//! `wshd-load soak`: connections that each keep a ledger of the messages they sent and the
//! echoes that came back, for as long as asked, with the disorder real clients bring:
//! mixed sizes (1 B to `--max-size`), permessage-deflate on some connections, slow
//! readers, random aborts and clean closes followed by reconnects, and servers that go
//! away and come back (connect attempts are retried).
//!
//! Every message carries its connection slot, its sequence number and its length, and a
//! pattern derived from them, so an echo is checked byte for byte against the front of
//! the ledger: an earlier sequence number is a duplicate, a later one means messages were
//! skipped (reordered, or lost in the middle), other bytes are corruption. Echoes still
//! owed when a session ends are counted by how it ended: our abort or a server's close
//! frame (a server shutting down may drop what it had not answered), or lost (the server
//! ended the connection without a closing handshake, or stopped answering for
//! `--stall-secs`). It prints one JSON summary and fails if anything was lost, duplicated,
//! reordered or corrupted. It does not start or watch servers: `bench/soak.py` does.

use std::collections::{BTreeMap, VecDeque};
use std::error::Error;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::task::JoinSet;
use wshd_server::client::{ClientConfig, connect_url};
use wshd_server::{CloseCode, CloseFrame, Message, WebSocket};

/// Options of `wshd-load soak`.
#[derive(Args, Debug, Clone)]
pub struct SoakArgs {
    /// Server URLs (`ws://host:port/path`, comma-separated); connections are spread over
    /// them round-robin.
    #[arg(long, value_delimiter = ',', required = true)]
    urls: Vec<String>,
    /// Connections held at once (each reconnects after it ends).
    #[arg(short = 'c', long, default_value_t = 1000)]
    connections: usize,
    /// Seconds to run; then every connection finishes its round and closes with 1000.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seconds over which the first connections are opened.
    #[arg(long, default_value_t = 20.0)]
    ramp: f64,
    /// Mean seconds a connection waits between rounds.
    #[arg(long, default_value_t = 2.0)]
    think: f64,
    /// Largest message, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_size: usize,
    /// Fraction of connections that offer permessage-deflate.
    #[arg(long, default_value_t = 0.3)]
    compressed: f64,
    /// Fraction of connections that read slowly: a burst of messages, then a pause, then
    /// the echoes.
    #[arg(long, default_value_t = 0.1)]
    slow: f64,
    /// Per round, the chance a connection aborts (drops TCP without a close), and the
    /// chance it closes cleanly; either way it reconnects.
    #[arg(long, default_value_t = 0.01)]
    abort: f64,
    #[arg(long, default_value_t = 0.02)]
    close: f64,
    /// An echo that takes longer than this counts the session's owed echoes as lost.
    #[arg(long, default_value_t = 60.0)]
    stall_secs: f64,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The ledger's totals over every connection.
#[derive(Debug, Default, Clone)]
struct Totals {
    sessions: u64,
    /// Connection attempts refused (no server listening: a restart under way).
    connect_refused: u64,
    /// Connection attempts that failed otherwise (timeouts, refused handshakes).
    connect_failures: u64,
    sent: u64,
    echoed: u64,
    bytes_sent: u64,
    bytes_echoed: u64,
    compressed_sessions: u64,
    slow_rounds: u64,
    aborts: u64,
    clean_closes: u64,
    /// Owed when we aborted.
    cut_by_abort: u64,
    /// Owed when the server's close frame came.
    cut_by_server_close: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    corrupted: u64,
    server_close_codes: BTreeMap<u16, u64>,
    session_errors: BTreeMap<String, u64>,
}

/// xorshift64*: enough randomness for choosing sizes and actions, reproducible by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Exponentially distributed with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// A message of `size` bytes for `slot`'s message `seq`: the header, then the pattern.
fn message(slot: u32, seq: u64, size: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(&slot.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&(size as u32).to_le_bytes());
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(slot);
    while m.len() < size {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        // Runs of one byte, so compressed connections have something to compress.
        let run = 1 + (x >> 60) as usize;
        let byte = (x >> 32) as u8;
        for _ in 0..run.min(size - m.len()) {
            m.push(byte);
        }
    }
    m.truncate(size);
    m
}

/// A size from 1 B to `max`: mostly small, some large, a few near `max`.
fn size(rng: &mut Rng, max: usize) -> usize {
    let bound = match rng.below(1000) {
        0..=699 => 128,
        700..=949 => 16 << 10,
        950..=994 => 256 << 10,
        _ => max,
    }
    .min(max);
    // At least the 16-byte header; 1-byte messages are sent as they are (see `round`).
    1 + rng.below(bound as u64) as usize
}

/// What one session owes and how its echoes compare.
struct Ledger {
    slot: u32,
    next_seq: u64,
    owed: VecDeque<(u64, usize)>,
    totals: Totals,
}

impl Ledger {
    fn check_echo(&mut self, echo: &[u8]) {
        self.totals.bytes_echoed += echo.len() as u64;
        let Some(&(seq, size)) = self.owed.front() else {
            self.totals.duplicated += 1;
            return;
        };
        if echo.len() < 16 {
            // Too short to carry a header: it must be the owed message exactly.
            if echo == message(self.slot, seq, size).as_slice() {
                self.owed.pop_front();
                self.totals.echoed += 1;
            } else {
                self.totals.corrupted += 1;
            }
            return;
        }
        let got = u64::from_le_bytes(echo[4..12].try_into().expect("8 bytes"));
        if got < seq {
            self.totals.duplicated += 1;
        } else if got > seq {
            // Skipped messages: drop them from the ledger, counted as reordered, then
            // compare with the one the echo says it is.
            while self.owed.front().is_some_and(|&(s, _)| s < got) {
                self.owed.pop_front();
                self.totals.reordered += 1;
            }
            match self.owed.front() {
                Some(&(s, n)) if s == got && echo == message(self.slot, s, n).as_slice() => {
                    self.owed.pop_front();
                    self.totals.echoed += 1;
                }
                Some(&(s, _)) if s == got => {
                    self.owed.pop_front();
                    self.totals.corrupted += 1;
                }
                _ => self.totals.corrupted += 1,
            }
        } else if echo == message(self.slot, seq, size).as_slice() {
            self.owed.pop_front();
            self.totals.echoed += 1;
        } else {
            self.owed.pop_front();
            self.totals.corrupted += 1;
        }
    }
}

/// How a session ended.
enum End {
    /// We closed cleanly, or the run is over.
    Closed,
    Aborted,
    /// The server's close frame, with its code.
    ServerClosed(u16),
    /// The server ended without a closing handshake, or stalled.
    Failed(String),
}

/// Runs `args`; returns an error if the ledger does not balance.
pub async fn run(args: &SoakArgs) -> Result<(), Box<dyn Error>> {
    let totals = Arc::new(Mutex::new(Totals::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration);
    let mut tasks = JoinSet::new();
    let args = Arc::new(args.clone());
    for slot in 0..args.connections {
        let args = args.clone();
        let totals = totals.clone();
        let delay = args.ramp * slot as f64 / args.connections.max(1) as f64;
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            let t = run_slot(&args, slot as u32, deadline).await;
            merge(&mut totals.lock().expect("totals"), t);
        });
    }
    while tasks.join_next().await.is_some() {}
    let t = totals.lock().expect("totals").clone();
    let summary = summary_json(&t, args.connections, started.elapsed().as_secs_f64());
    println!("{summary}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{summary}\n"))?;
    }
    let bad = t.lost + t.duplicated + t.reordered + t.corrupted;
    if bad > 0 {
        return Err(format!(
            "the ledger does not balance: {} lost, {} duplicated, {} reordered, {} corrupted",
            t.lost, t.duplicated, t.reordered, t.corrupted
        )
        .into());
    }
    Ok(())
}

fn merge(into: &mut Totals, t: Totals) {
    into.sessions += t.sessions;
    into.connect_refused += t.connect_refused;
    into.connect_failures += t.connect_failures;
    into.sent += t.sent;
    into.echoed += t.echoed;
    into.bytes_sent += t.bytes_sent;
    into.bytes_echoed += t.bytes_echoed;
    into.compressed_sessions += t.compressed_sessions;
    into.slow_rounds += t.slow_rounds;
    into.aborts += t.aborts;
    into.clean_closes += t.clean_closes;
    into.cut_by_abort += t.cut_by_abort;
    into.cut_by_server_close += t.cut_by_server_close;
    into.lost += t.lost;
    into.duplicated += t.duplicated;
    into.reordered += t.reordered;
    into.corrupted += t.corrupted;
    for (k, v) in t.server_close_codes {
        *into.server_close_codes.entry(k).or_default() += v;
    }
    for (k, v) in t.session_errors {
        *into.session_errors.entry(k).or_default() += v;
    }
}

fn summary_json(t: &Totals, connections: usize, secs: f64) -> String {
    let codes: serde_json::Map<String, serde_json::Value> =
        t.server_close_codes.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
    let errors: serde_json::Map<String, serde_json::Value> =
        t.session_errors.iter().map(|(k, v)| (k.clone(), (*v).into())).collect();
    serde_json::json!({
        "connections": connections,
        "seconds": secs,
        "sessions": t.sessions,
        "connect_refused": t.connect_refused,
        "connect_failures": t.connect_failures,
        "messages_sent": t.sent,
        "messages_echoed": t.echoed,
        "bytes_sent": t.bytes_sent,
        "bytes_echoed": t.bytes_echoed,
        "compressed_sessions": t.compressed_sessions,
        "slow_rounds": t.slow_rounds,
        "aborts": t.aborts,
        "clean_closes": t.clean_closes,
        "cut_by_abort": t.cut_by_abort,
        "cut_by_server_close": t.cut_by_server_close,
        "lost": t.lost,
        "duplicated": t.duplicated,
        "reordered": t.reordered,
        "corrupted": t.corrupted,
        "server_close_codes": codes,
        "session_errors": errors,
    })
    .to_string()
}

/// One connection slot until `deadline`: sessions one after another.
async fn run_slot(args: &SoakArgs, slot: u32, deadline: Instant) -> Totals {
    let mut rng = Rng(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::from(slot) + 1) << 17);
    for _ in 0..4 {
        rng.next();
    }
    let url = &args.urls[slot as usize % args.urls.len()];
    let mut ledger = Ledger { slot, next_seq: 0, owed: VecDeque::new(), totals: Totals::default() };
    let mut backoff = 0.2;
    while Instant::now() < deadline {
        let compressed = rng.unit() < args.compressed;
        let config = ClientConfig {
            extensions: compressed.then(|| "permessage-deflate; client_max_window_bits".into()),
            ..ClientConfig::default()
        };
        let mut ws = match connect_url(url, &config).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                match e {
                    wshd_server::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        ledger.totals.connect_refused += 1;
                    }
                    _ => ledger.totals.connect_failures += 1,
                }
                tokio::time::sleep(Duration::from_secs_f64(backoff * (0.5 + rng.unit()))).await;
                backoff = (backoff * 2.0).min(2.0);
                continue;
            }
        };
        backoff = 0.2;
        ledger.totals.sessions += 1;
        ledger.totals.compressed_sessions += u64::from(ws.extensions().is_some());
        let slow = rng.unit() < args.slow;
        let end = session(args, &mut ws, &mut ledger, &mut rng, slow, deadline).await;
        let owed = ledger.owed.len() as u64;
        ledger.owed.clear();
        match end {
            End::Closed => ledger.totals.lost += owed,
            End::Aborted => ledger.totals.cut_by_abort += owed,
            End::ServerClosed(code) => {
                ledger.totals.cut_by_server_close += owed;
                *ledger.totals.server_close_codes.entry(code).or_default() += 1;
            }
            End::Failed(why) => {
                ledger.totals.lost += owed;
                *ledger.totals.session_errors.entry(why).or_default() += 1;
            }
        }
        // A fresh connection a moment later.
        tokio::time::sleep(Duration::from_secs_f64(rng.exp(args.think.min(1.0)))).await;
    }
    ledger.totals
}

/// Rounds on one connection until it ends.
async fn session(
    args: &SoakArgs,
    ws: &mut WebSocket,
    ledger: &mut Ledger,
    rng: &mut Rng,
    slow: bool,
    deadline: Instant,
) -> End {
    let stall = Duration::from_secs_f64(args.stall_secs);
    loop {
        // Send a round: one message, or a burst of 2 to 4 for a slow reader.
        let burst = if slow { 2 + rng.below(3) } else { 1 };
        for _ in 0..burst {
            let n = size(rng, args.max_size);
            let seq = ledger.next_seq;
            ledger.next_seq += 1;
            let m = message(ledger.slot, seq, n);
            if let Err(e) = ws.send_binary(&m).await {
                return ended_by(ws, format!("send: {e}"));
            }
            ledger.owed.push_back((seq, n));
            ledger.totals.sent += 1;
            ledger.totals.bytes_sent += n as u64;
        }
        let r = rng.unit();
        if r < args.abort {
            ledger.totals.aborts += 1;
            return End::Aborted; // the caller drops the socket with the echoes in flight
        }
        if slow {
            ledger.totals.slow_rounds += 1;
            tokio::time::sleep(Duration::from_millis(200 + rng.below(1800))).await;
        }
        while !ledger.owed.is_empty() {
            match tokio::time::timeout(stall, ws.recv()).await {
                Err(_) => return End::Failed(format!("no echo within {} s", args.stall_secs)),
                Ok(Ok(Some(Message::Binary(echo)))) => ledger.check_echo(&echo),
                Ok(Ok(Some(Message::Text(echo)))) => ledger.check_echo(echo.as_bytes()),
                Ok(Ok(None)) => return ended_by(ws, "closed".into()),
                Ok(Err(e)) => return ended_by(ws, format!("recv: {e}")),
            }
        }
        if Instant::now() >= deadline || r < args.abort + args.close {
            ledger.totals.clean_closes += 1;
            let closed = ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await;
            return match closed {
                Ok(()) => End::Closed,
                Err(_) => ended_by(ws, "close".into()),
            };
        }
        // Think, still reading as a browser does: a server's close is answered at once.
        let think = Duration::from_secs_f64(rng.exp(args.think));
        match tokio::time::timeout(think, ws.recv()).await {
            Err(_) => {}
            Ok(Ok(Some(m))) => ledger.check_echo(m.as_bytes()),
            Ok(Ok(None)) => return ended_by(ws, "closed".into()),
            Ok(Err(e)) => return ended_by(ws, format!("recv: {e}")),
        }
    }
}

/// A session the server ended: by its close frame, or without one.
fn ended_by(ws: &WebSocket, what: String) -> End {
    match ws.peer_close() {
        Some(frame) => End::ServerClosed(frame.code.0),
        None => End::Failed(what.split(':').next().unwrap_or("").to_owned() + " failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(owed: &[(u64, usize)]) -> Ledger {
        Ledger {
            slot: 7,
            next_seq: 0,
            owed: owed.iter().copied().collect(),
            totals: Totals::default(),
        }
    }

    #[test]
    fn echoes_in_order_balance_the_ledger() {
        let mut l = ledger(&[(0, 1), (1, 100), (2, 70_000)]);
        for (seq, size) in [(0, 1), (1, 100), (2, 70_000)] {
            l.check_echo(&message(7, seq, size));
        }
        assert_eq!((l.totals.echoed, l.owed.len()), (3, 0));
        assert_eq!(l.totals.bytes_echoed, 70_101);
        assert_eq!(l.totals.duplicated + l.totals.reordered + l.totals.corrupted, 0);
    }

    #[test]
    fn a_duplicate_a_skipped_message_and_changed_bytes_are_each_counted() {
        let mut l = ledger(&[(0, 50), (1, 50), (2, 50), (3, 50)]);
        l.check_echo(&message(7, 0, 50));
        l.check_echo(&message(7, 0, 50)); // again
        l.check_echo(&message(7, 2, 50)); // 1 skipped
        let mut changed = message(7, 3, 50);
        changed[40] ^= 1;
        l.check_echo(&changed);
        l.check_echo(&message(7, 9, 50)); // nothing owed any more
        let t = &l.totals;
        assert_eq!((t.echoed, t.duplicated, t.reordered, t.corrupted), (2, 2, 1, 1));
        assert!(l.owed.is_empty());
    }

    #[test]
    fn one_byte_messages_are_compared_whole() {
        let mut l = ledger(&[(5, 1), (6, 1)]);
        l.check_echo(&message(7, 5, 1));
        l.check_echo(&[0xff]);
        assert_eq!((l.totals.echoed, l.totals.corrupted), (1, 1));
    }
}
