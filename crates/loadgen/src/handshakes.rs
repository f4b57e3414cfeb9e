//! `wshd-load handshakes`: connection set-up rate. K workers each loop: TCP connect (from
//! source addresses spread over 127.0.0.0/8), opening handshake, close with 1000, wait for
//! the server's close frame, drop the socket.
//!
//! Reports completed cycles per second in the window, the opening handshake's latency
//! (connect to 101) percentiles, and cycles per server CPU-second. It measures set-up and
//! tear-down only, no data messages, and no TLS.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::HandshakeArgs;
use crate::connect::{self, Target};
use crate::frames::{self, EchoReader};
use crate::rawconn;
use crate::report::{self, Latency};
use crate::usage::{self, Usage};
use crate::window::{self, MEASURE, STOP, WARMUP};

/// Time allowed for the workers to finish their last cycle after the window.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// What the workers share.
struct Shared {
    phase: AtomicU8,
    next: AtomicUsize,
    /// Opening handshakes (connect to 101) of cycles completed in the window, ns.
    histogram: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, usize>>,
}

/// Runs the handshake-rate benchmark and prints its report.
pub async fn run(args: &HandshakeArgs) -> Result<(), Box<dyn Error>> {
    let target = Arc::new(Target::resolve(&args.url).await?);
    let sources = Arc::new(connect::sources(args.sources, &target)?);
    let base = usage::sample(args.window.server())?;
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        next: AtomicUsize::new(0),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000_000, 3)?),
        errors: Mutex::new(BTreeMap::new()),
    });
    let mut workers = JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        workers.spawn(worker(target.clone(), sources.clone(), shared.clone()));
    }
    let measured = window::run(&args.window, &shared.phase).await?;
    let window_secs = measured.elapsed.as_secs_f64();
    let mut completed = 0u64;
    let wait = async {
        while let Some(joined) = workers.join_next().await {
            completed += joined.unwrap_or(0);
        }
    };
    let timed_out = tokio::time::timeout(DRAIN_TIMEOUT, wait).await.is_err();
    let mut errors = shared.errors.lock().expect("errors lock poisoned").clone();
    if timed_out {
        *errors.entry("workers did not finish within 15 s".to_owned()).or_default() +=
            workers.len();
        workers.shutdown().await;
    }
    let latency = Latency::from_nanos(&shared.histogram.lock().expect("histogram lock poisoned"));
    let usage = Usage::between(args.window.server(), &base, &measured.start, &measured.end);
    let rate = completed as f64 / window_secs.max(1e-9);
    let per_cpu = usage.per_server_cpu(completed);
    let line = format!(
        "handshakes concurrency={} window={window_secs:.2}s | {completed} cycles, {rate:.0}/s{} | \
         open µs {}{}{}",
        args.concurrency,
        per_cpu.map_or(String::new(), |x| format!(" | {x:.0} per server-CPU-s")),
        latency.line(),
        usage.line(window_secs),
        if errors.is_empty() {
            String::new()
        } else {
            format!(" | {} errors", errors.values().sum::<usize>())
        },
    );
    let mut doc = json!({
        "mode": "handshakes",
        "url": args.url,
        "concurrency": args.concurrency,
        "sources": args.sources,
        "warmup_secs": args.window.warmup_secs,
        "window_secs": window_secs,
        "handshakes": completed,
        "handshakes_per_sec": rate,
        "handshakes_per_server_cpu_sec": per_cpu,
        "open_latency_us": latency.json(),
        "errors": errors,
    });
    if let (Value::Object(doc), Value::Object(u)) = (&mut doc, usage.json()) {
        doc.extend(u);
    }
    report::emit(&line, &doc, args.json.as_deref())?;
    report::print_errors(&errors);
    if !errors.is_empty() {
        return Err("some handshakes failed".into());
    }
    Ok(())
}

/// Runs cycles until the window ends; returns how many completed inside it.
async fn worker(
    target: Arc<Target>,
    sources: Arc<Vec<Option<IpAddr>>>,
    shared: Arc<Shared>,
) -> u64 {
    let mut completed = 0;
    let mut samples = Vec::new();
    while shared.phase.load(Ordering::Relaxed) != STOP {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        match cycle(&target, sources[i % sources.len()]).await {
            Ok(open) => {
                if shared.phase.load(Ordering::Relaxed) == MEASURE {
                    completed += 1;
                    samples.push(open.as_nanos().max(1) as u64);
                }
            }
            Err(e) => {
                *shared.errors.lock().expect("errors lock poisoned").entry(e).or_default() += 1;
            }
        }
    }
    let mut h = shared.histogram.lock().expect("histogram lock poisoned");
    for ns in samples {
        h.saturating_record(ns);
    }
    completed
}

/// One connect, handshake, close; returns the time from connect to the 101 response.
async fn cycle(target: &Target, source: Option<IpAddr>) -> Result<Duration, String> {
    let started = Instant::now();
    let mut opened = rawconn::open(target, source).await.map_err(|e| format!("open: {e}"))?;
    let open = started.elapsed();
    let mut reader = EchoReader::new(Vec::new(), frames::BINARY);
    if !opened.leftover.is_empty() {
        return Err("the server sent data before any message".to_owned());
    }
    match rawconn::close(&mut opened.stream, &mut reader).await {
        Ok(Some(1000)) => Ok(open),
        Ok(code) => Err(format!("close answered with {code:?}")),
        Err(e) => Err(format!("close: {e}")),
    }
}
