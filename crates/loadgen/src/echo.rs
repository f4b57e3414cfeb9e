//! `wshd-load echo`: closed-loop echo throughput, round-trip latency, server CPU per message.
//!
//! Each connection writes D binary messages of B bytes together, then for every echo it
//! receives queues one more, so D stay in flight. Echoes received inside the window
//! (after the warm-up) are counted and their round trips recorded in an HDR histogram.
//! Latency is closed-loop, so it rises with load; this is not an open-loop (fixed-rate)
//! test and does not correct for coordinated omission.

use std::collections::VecDeque;
use std::error::Error;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use wshd_server::{Message, WebSocket};

use crate::EchoArgs;
use crate::connect::{self, Target};
use crate::procstat;
use crate::report::{self, EchoReport, Latency};

/// Phases, published by the timer to every connection through [`Shared::phase`].
const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Latency samples a connection collects before merging them into the shared histogram.
const BATCH: usize = 1024;
/// Time allowed, after the window, to drain in-flight messages and close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// State shared by the timer and every connection.
struct Shared {
    phase: AtomicU8,
    /// Round trips in nanoseconds.
    histogram: Mutex<Histogram<u64>>,
}

/// What one connection did.
#[derive(Default)]
struct Outcome {
    /// Echoes received inside the window.
    measured: u64,
    error: Option<String>,
    clean_close: bool,
}

/// Runs the echo benchmark and prints its report.
pub async fn run(args: &EchoArgs) -> Result<(), Box<dyn Error>> {
    let c = &args.common;
    connect::check_fd_budget(c.connections)?;
    let target = Target::resolve_with_tls(&c.url, c.tls_ca.as_deref()).await?;
    let sources = connect::sources(c.sources, &target)?;
    let server_pid = args.server_pid.map(|p| p.to_string());
    let server_ticks = || -> Result<Option<u64>, Box<dyn Error>> {
        match &server_pid {
            Some(pid) => Ok(Some(
                procstat::cpu_ticks(pid)
                    .map_err(|e| format!("cannot read the server's CPU time (pid {pid}): {e}"))?,
            )),
            None => Ok(None),
        }
    };
    server_ticks()?;

    let opened =
        connect::open_all(&target, c.connections, &sources, c.concurrency, c.extensions.as_deref())
            .await;
    let mut errors = opened.errors;
    if opened.sockets.is_empty() {
        report::print_errors(&errors);
        return Err("no connection could be opened".into());
    }
    let opened_count = opened.sockets.len();

    let shared = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000_000, 3)?),
    });
    let message = Arc::new(Message::Binary(vec![0x5a; args.size]));
    let mut tasks = JoinSet::new();
    for (_, ws) in opened.sockets {
        tasks.spawn(drive(ws, shared.clone(), message.clone(), args.depth as usize));
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup_secs.max(0.0))).await;
    let (server0, client0) = (server_ticks()?, procstat::cpu_ticks("self")?);
    let start = Instant::now();
    shared.phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.duration_secs.max(0.0))).await;
    shared.phase.store(STOP, Ordering::Relaxed);
    let window = start.elapsed();
    let (server1, client1) = (server_ticks()?, procstat::cpu_ticks("self")?);

    let mut messages = 0;
    let mut clean_closes = 0;
    let collect = async {
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
    if tokio::time::timeout(DRAIN_TIMEOUT, collect).await.is_err() {
        let stuck = tasks.len();
        tasks.shutdown().await;
        *errors.entry("did not drain and close within 15 s".to_owned()).or_default() += stuck;
    }

    let clk_tck = procstat::clock_ticks_per_sec();
    let secs = |ticks: u64| ticks as f64 / clk_tck as f64;
    let histogram = shared.histogram.lock().expect("histogram lock poisoned");
    let us = |ns: u64| ns as f64 / 1000.0;
    let report = EchoReport {
        url: c.url.clone(),
        requested: c.connections,
        opened: opened_count,
        size: args.size,
        depth: args.depth as usize,
        threads: c.threads,
        warmup_secs: args.warmup_secs,
        window_secs: window.as_secs_f64(),
        messages,
        latency: Latency {
            samples: histogram.len(),
            mean: histogram.mean() / 1000.0,
            p50: us(histogram.value_at_quantile(0.50)),
            p90: us(histogram.value_at_quantile(0.90)),
            p99: us(histogram.value_at_quantile(0.99)),
            p99_9: us(histogram.value_at_quantile(0.999)),
            max: us(histogram.max()),
        },
        server: args
            .server_pid
            .zip(server0.zip(server1))
            .map(|(pid, (t0, t1))| (pid, secs(t1 - t0))),
        client_cpu_secs: secs(client1 - client0),
        clk_tck,
        errors,
        clean_closes,
    };
    report::emit(&report.line(), &report.json(), c.json.as_deref())?;
    report::print_errors(&report.errors);
    if report.opened < report.requested || !report.errors.is_empty() {
        return Err("some connections failed".into());
    }
    Ok(())
}

/// Runs one connection's closed loop until the window ends, drains what is in flight and
/// closes with 1000.
async fn drive(
    mut ws: WebSocket,
    shared: Arc<Shared>,
    message: Arc<Message>,
    depth: usize,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let mut samples: Vec<u64> = Vec::with_capacity(BATCH);
    let text = |e: wshd_server::Error| e.to_string();
    let result: Result<(), String> = async {
        // The first D messages leave in one write.
        for _ in 0..depth {
            ws.feed(&message).await.map_err(text)?;
            sent.push_back(Instant::now());
        }
        ws.flush().await.map_err(text)?;
        loop {
            let reply = ws.recv().await.map_err(text)?;
            let now = Instant::now();
            match reply {
                Some(ref r) if r == &*message => {}
                Some(_) => return Err("echo differs from the message sent".to_owned()),
                None => return Err("server closed the connection".to_owned()),
            }
            // Echoes come back in order, so this one answers the oldest send.
            let sent_at =
                sent.pop_front().ok_or_else(|| "more echoes than messages sent".to_owned())?;
            match shared.phase.load(Ordering::Relaxed) {
                WARMUP => {}
                MEASURE => {
                    outcome.measured += 1;
                    samples.push(now.duration_since(sent_at).as_nanos() as u64);
                    if samples.len() == BATCH {
                        merge(&shared, &mut samples);
                    }
                }
                _ => {
                    if sent.is_empty() {
                        return Ok(());
                    }
                    continue;
                }
            }
            // Queued, not written: `recv` writes the queue out before it waits, so the
            // replacements for a burst of echoes leave in one write.
            ws.feed(&message).await.map_err(text)?;
            sent.push_back(Instant::now());
        }
    }
    .await;
    merge(&shared, &mut samples);
    match result {
        Ok(()) => match ws.close(Some(1000), "").await {
            Ok(()) if matches!(ws.peer_close(), Some((Some(1000), _))) => {
                outcome.clean_close = true
            }
            Ok(()) => outcome.error = Some(format!("close answered with {:?}", ws.peer_close())),
            Err(e) => outcome.error = Some(format!("close: {e}")),
        },
        Err(e) => outcome.error = Some(e),
    }
    outcome
}

/// Moves a connection's samples into the shared histogram.
fn merge(shared: &Shared, samples: &mut Vec<u64>) {
    let mut histogram = shared.histogram.lock().expect("histogram lock poisoned");
    for &ns in samples.iter() {
        histogram.saturating_record(ns.max(1));
    }
    samples.clear();
}
