//! `wshd-load echo`: closed-loop echo throughput, round-trip latency, server CPU per
//! message.
//!
//! Each connection keeps D messages of B bytes in flight. With `--refill burst` (the
//! default) it writes D frames in one write, waits for all D echoes, and writes the next
//! D (pipelining as in HttpArena's echo-ws profile); with `--refill each` it writes one
//! replacement per echo, those answered by one read leaving in one write. Echoes received
//! inside the window (after the warm-up) are counted and their round trips recorded in
//! an HDR histogram. Frames are pre-built and checked in place (`frames`), so the client
//! stays cheap; with `--extensions` the wshd client runs instead (`echo_ws`).
//! Latency is closed-loop: it rises with load and hides queueing; `rate` is the
//! open-loop test.

use std::collections::VecDeque;
use std::error::Error;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::connect::{self, Target};
use crate::frames::{self, EchoReader};
use crate::load_report::LoadReport;
use crate::rawconn::{self, Opened};
use crate::report::{self, Latency};
use crate::usage::{self, Usage};
use crate::window::{self, MEASURE, STOP, WARMUP};
use crate::{EchoArgs, Refill};

/// Latency samples a connection collects before merging them into the shared histogram.
pub const BATCH: usize = 1024;
/// Time allowed, after the window, to drain in-flight messages and close.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// State shared by the timer and every connection.
pub struct Shared {
    /// The phase, see [`window::WARMUP`].
    pub phase: AtomicU8,
    /// Round trips in nanoseconds.
    pub histogram: Mutex<Histogram<u64>>,
}

impl Shared {
    /// Moves a connection's samples into the shared histogram.
    pub fn merge(&self, samples: &mut Vec<u64>) {
        let mut histogram = self.histogram.lock().expect("histogram lock poisoned");
        for &ns in samples.iter() {
            histogram.saturating_record(ns.max(1));
        }
        samples.clear();
    }
}

/// What one connection did.
#[derive(Default)]
pub struct Outcome {
    /// Echoes received inside the window.
    pub measured: u64,
    /// Why the connection failed, if it did.
    pub error: Option<String>,
    /// Whether the closing handshake ended with the server's 1000.
    pub clean_close: bool,
}

/// Runs the echo benchmark and prints its report.
pub async fn run(args: &EchoArgs) -> Result<(), Box<dyn Error>> {
    let c = &args.common;
    connect::check_fd_budget(c.connections)?;
    let target = Target::resolve_with_tls(&c.url, c.tls_ca.as_deref()).await?;
    let sources = connect::sources(c.sources, &target)?;
    let start_sample = usage::sample(args.window.server())?;

    let shared = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000_000, 3)?),
    });
    let opcode = if args.payload.text { frames::TEXT } else { frames::BINARY };
    let mut tasks = JoinSet::new();
    let (opened, mut errors) = if c.extensions.is_some() {
        crate::echo_ws::spawn(args, &target, &sources, &shared, &mut tasks).await
    } else {
        let (opened, errors) =
            rawconn::open_all(&target, c.connections, &sources, c.concurrency).await;
        let payload = frames::payload(args.payload.size);
        let frame = frames::masked(opcode, &payload);
        let batch: Arc<Vec<u8>> = Arc::new(frame.repeat(args.depth as usize));
        let count = opened.len();
        for conn in opened {
            let reader = EchoReader::new(payload.clone(), opcode);
            let (shared, batch) = (shared.clone(), batch.clone());
            let depth = args.depth as usize;
            tasks.spawn(drive(conn, reader, shared, batch, frame.len(), depth, args.refill));
        }
        (count, errors)
    };
    if opened == 0 {
        report::print_errors(&errors);
        return Err("no connection could be opened".into());
    }

    let measured = window::run(&args.window, &shared.phase).await?;
    let usage = Usage::between(args.window.server(), &start_sample, &measured.start, &measured.end);

    let (messages, clean_closes) = collect(&mut tasks, &mut errors).await;
    let histogram = shared.histogram.lock().expect("histogram lock poisoned");
    let report = LoadReport {
        mode: "echo",
        url: c.url.clone(),
        requested: c.connections,
        opened,
        size: args.payload.size,
        depth: Some((
            args.depth as usize,
            if c.extensions.is_some() { Refill::Each.name() } else { args.refill.name() },
        )),
        open_loop: None,
        threads: c.threads,
        warmup_secs: args.window.warmup_secs,
        window_secs: measured.elapsed.as_secs_f64(),
        messages,
        latency: Latency::from_nanos(&histogram),
        usage,
        errors,
        clean_closes,
    };
    report.finish(c.json.as_deref())
}

/// Waits for every connection to drain and close; returns the echoes measured and the
/// clean closes, and adds failures to `errors`.
pub async fn collect(
    tasks: &mut JoinSet<Outcome>,
    errors: &mut std::collections::BTreeMap<String, usize>,
) -> (u64, usize) {
    let (mut messages, mut clean_closes) = (0, 0);
    let wait = async {
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.unwrap_or_else(|e| Outcome {
                error: Some(format!("connection task failed: {e}")),
                ..Outcome::default()
            });
            messages += outcome.measured;
            clean_closes += usize::from(outcome.clean_close);
            if let Some(e) = outcome.error {
                *errors.entry(e).or_default() += 1;
            }
        }
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, wait).await.is_err() {
        let stuck = tasks.len();
        tasks.shutdown().await;
        *errors.entry("did not drain and close within 15 s".to_owned()).or_default() += stuck;
    }
    (messages, clean_closes)
}

/// One connection's closed loop: what is in flight and what it owes the server.
struct Loop {
    reader: EchoReader,
    shared: Arc<Shared>,
    /// Send times of the messages in flight, oldest first.
    sent: VecDeque<Instant>,
    samples: Vec<u64>,
    measured: u64,
    depth: usize,
    refill: Refill,
    /// Messages to write next.
    owed: usize,
    /// The window is over and nothing is in flight.
    done: bool,
}

impl Loop {
    /// Takes bytes read from the server: counts echoes, records their round trips, and
    /// works out what to send next.
    fn on_bytes(&mut self, bytes: &[u8], now: Instant) -> Result<(), String> {
        let fed = self.reader.feed(bytes)?;
        if let Some(code) = fed.close {
            return Err(format!("server closed the connection with {code:?}"));
        }
        let phase = self.shared.phase.load(Ordering::Relaxed);
        for _ in 0..fed.messages {
            // Echoes come back in order, so each answers the oldest send.
            let at = self.sent.pop_front().ok_or("more echoes than messages sent")?;
            if phase == MEASURE {
                self.measured += 1;
                self.samples.push(now.duration_since(at).as_nanos() as u64);
            }
        }
        if self.samples.len() >= BATCH {
            self.shared.merge(&mut self.samples);
        }
        match (phase, self.refill) {
            (STOP, _) => self.done = self.sent.is_empty() && self.owed == 0,
            (_, Refill::Burst) if self.sent.is_empty() && self.owed == 0 => self.owed = self.depth,
            (_, Refill::Burst) => {}
            (_, Refill::Each) => self.owed += fed.messages as usize,
        }
        Ok(())
    }
}

/// Runs one connection's closed loop until the window ends, drains what is in flight and
/// closes with 1000. `batch` holds `depth` copies of one frame of `frame_len` bytes.
async fn drive(
    conn: Opened,
    reader: EchoReader,
    shared: Arc<Shared>,
    batch: Arc<Vec<u8>>,
    frame_len: usize,
    depth: usize,
    refill: Refill,
) -> Outcome {
    let Opened { mut stream, leftover } = conn;
    let mut state = Loop {
        reader,
        shared,
        sent: VecDeque::with_capacity(depth),
        samples: Vec::with_capacity(BATCH),
        measured: 0,
        depth,
        refill,
        owed: depth,
        done: false,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let result: Result<(), String> = async {
        if !leftover.is_empty() {
            return Err("the server sent data before any message".to_owned());
        }
        while !state.done {
            if state.owed > 0 {
                let n = std::mem::take(&mut state.owed);
                state.sent.extend(std::iter::repeat_n(Instant::now(), n));
                write_reading(&stream, &batch[..n * frame_len], &mut buf, &mut state).await?;
            } else {
                let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("server closed the TCP connection".to_owned());
                }
                state.on_bytes(&buf[..n], Instant::now())?;
            }
        }
        Ok(())
    }
    .await;
    state.shared.merge(&mut state.samples);
    let mut outcome = Outcome { measured: state.measured, ..Outcome::default() };
    match result {
        Ok(()) => match rawconn::close(&mut stream, &mut state.reader).await {
            Ok(Some(1000)) => outcome.clean_close = true,
            Ok(code) => outcome.error = Some(format!("close answered with {code:?}")),
            Err(e) => outcome.error = Some(format!("close: {e}")),
        },
        Err(e) => outcome.error = Some(e),
    }
    outcome
}

/// Writes `data` and keeps reading meanwhile, so that a burst larger than the socket
/// buffers cannot leave both ends blocked writing to each other.
async fn write_reading(
    stream: &TcpStream,
    mut data: &[u8],
    buf: &mut [u8],
    state: &mut Loop,
) -> Result<(), String> {
    let would_block = |e: &std::io::Error| e.kind() == std::io::ErrorKind::WouldBlock;
    while !data.is_empty() {
        tokio::select! {
            biased;
            ready = stream.writable() => {
                ready.map_err(|e| e.to_string())?;
                match stream.try_write(data) {
                    Ok(n) => data = &data[n..],
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            ready = stream.readable() => {
                ready.map_err(|e| e.to_string())?;
                match stream.try_read(buf) {
                    Ok(0) => return Err("server closed the TCP connection".to_owned()),
                    Ok(n) => state.on_bytes(&buf[..n], Instant::now())?,
                    Err(e) if would_block(&e) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
    Ok(())
}
