//! `wshd-load rate`: open-loop echo at a fixed offered rate, with latency taken from each
//! message's scheduled send time, so a server that stalls is charged for every message
//! that should have left meanwhile (no coordinated omission, as in wrk2).
//!
//! Message `g` goes to connection `g % C` at `start + g / rate` (`pacer`, one OS thread).
//! Each connection's reader task matches its k-th echo to its k-th scheduled message and
//! records `arrival - scheduled` for messages scheduled inside the window. Send lag (how
//! late the pacer was) is reported too: it is part of the latency, and a large one means
//! the generator, not the server, fell behind. It is not a throughput test: pick a rate
//! below the closed-loop maximum (e.g. half of it).

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::RateArgs;
use crate::connect::{self, Target};
use crate::echo::{BATCH, Outcome, collect};
use crate::frames::{self, EchoReader};
use crate::load_report::{LoadReport, OpenLoop};
use crate::pacer::{self, Schedule};
use crate::rawconn::{self, Opened};
use crate::report::{self, Latency};
use crate::usage::{self, Usage};

/// Time between opening the connections and the first scheduled message.
const LEAD: Duration = Duration::from_millis(50);

/// Runs the open-loop benchmark and prints its report.
pub async fn run(args: &RateArgs) -> Result<(), Box<dyn Error>> {
    let c = &args.common;
    if args.rate.is_nan() || args.rate <= 0.0 {
        return Err("--rate must be above 0 messages per second".into());
    }
    connect::check_fd_budget(c.connections)?;
    let target = Target::resolve(&c.url).await?;
    let sources = connect::sources(c.sources, &target)?;
    let base = usage::sample(args.window.server())?;
    let (opened, mut errors) =
        rawconn::open_all(&target, c.connections, &sources, c.concurrency).await;
    if opened.is_empty() {
        report::print_errors(&errors);
        return Err("no connection could be opened".into());
    }
    let count = opened.len();
    let opcode = if args.payload.text { frames::TEXT } else { frames::BINARY };
    let payload = frames::payload(args.payload.size);
    let frame = frames::masked(opcode, &payload);

    let start = Instant::now() + LEAD;
    let measure_from = start + Duration::from_secs_f64(args.window.warmup_secs.max(0.0));
    let end = measure_from + Duration::from_secs_f64(args.window.duration_secs.max(0.0));
    let schedule = Schedule { start, rate: args.rate, conns: count as u64, end };
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?));
    let (done_tx, done_rx) = watch::channel(None::<u64>);
    let mut writers = Vec::with_capacity(count);
    let mut tasks = JoinSet::new();
    for (i, Opened { stream, leftover }) in opened.into_iter().enumerate() {
        if !leftover.is_empty() {
            *errors.entry("the server sent data before any message".to_owned()).or_default() += 1;
            continue;
        }
        let std = stream.into_std()?;
        writers.push(std.try_clone()?);
        let stream = TcpStream::from_std(std)?;
        let reader = EchoReader::new(payload.clone(), opcode);
        let job = Reader { conn: i as u64, schedule, measure_from, histogram: histogram.clone() };
        tasks.spawn(job.run(stream, reader, done_rx.clone()));
    }
    if writers.len() < count {
        return Err("some connections could not be set up".into());
    }
    let max_backlog = args.max_backlog_mib << 20;
    let pacer = std::thread::spawn(move || {
        let result = pacer::run(writers, &frame, schedule, max_backlog);
        let _ = done_tx.send(Some(result.as_ref().map_or(u64::MAX, |r| r.0)));
        result
    });

    tokio::time::sleep_until(measure_from.into()).await;
    let a = usage::sample(args.window.server())?;
    tokio::time::sleep_until(end.into()).await;
    let b = usage::sample(args.window.server())?;
    let window = end - measure_from;

    let sent = tokio::task::spawn_blocking(move || pacer.join()).await?;
    let send_lag = match sent {
        Ok(Ok((_, lag))) => Latency::from_nanos(&lag),
        Ok(Err(e)) => {
            tasks.shutdown().await;
            return Err(e.into());
        }
        Err(_) => return Err("the sending thread panicked".into()),
    };
    let (messages, clean_closes) = collect(&mut tasks, &mut errors).await;
    let scheduled = (0..)
        .take_while(|&g| schedule.at(g) < end)
        .filter(|&g| schedule.at(g) >= measure_from)
        .count() as u64;
    let histogram = histogram.lock().expect("histogram lock poisoned");
    let report = LoadReport {
        mode: "rate",
        url: c.url.clone(),
        requested: c.connections,
        opened: count,
        size: args.payload.size,
        depth: None,
        open_loop: Some(OpenLoop { rate: args.rate, scheduled, send_lag }),
        threads: c.threads,
        warmup_secs: args.window.warmup_secs,
        window_secs: window.as_secs_f64(),
        messages,
        latency: Latency::from_nanos(&histogram),
        usage: Usage::between(args.window.server(), &base, &a, &b),
        errors,
        clean_closes,
    };
    report.finish(c.json.as_deref())
}

/// One connection's reading side.
struct Reader {
    conn: u64,
    schedule: Schedule,
    measure_from: Instant,
    histogram: Arc<Mutex<Histogram<u64>>>,
}

impl Reader {
    /// Reads echoes until all messages the pacer sent here are back, then closes.
    async fn run(
        self,
        mut stream: TcpStream,
        mut reader: EchoReader,
        mut done: watch::Receiver<Option<u64>>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let mut samples: Vec<u64> = Vec::with_capacity(BATCH);
        let mut buf = vec![0u8; 64 * 1024];
        let mut received = 0u64;
        let mut total: Option<u64> = None;
        let result: Result<(), String> = async {
            loop {
                if let Some(total) = total {
                    if received >= self.schedule.sent_to(self.conn, total) {
                        return Ok(());
                    }
                }
                tokio::select! {
                    read = stream.read(&mut buf) => {
                        let n = read.map_err(|e| e.to_string())?;
                        if n == 0 {
                            return Err("server closed the TCP connection".to_owned());
                        }
                        let now = Instant::now();
                        let fed = reader.feed(&buf[..n])?;
                        if let Some(code) = fed.close {
                            return Err(format!("server closed the connection with {code:?}"));
                        }
                        for _ in 0..fed.messages {
                            let due = self.schedule.at(received * self.schedule.conns + self.conn);
                            received += 1;
                            if due >= self.measure_from && due < self.schedule.end {
                                outcome.measured += 1;
                                samples.push(now.saturating_duration_since(due).as_nanos() as u64);
                            }
                        }
                        if samples.len() >= BATCH {
                            self.merge(&mut samples);
                        }
                    }
                    changed = done.changed(), if total.is_none() => {
                        total = *done.borrow();
                        if changed.is_err() && total.is_none() {
                            return Err("the sending thread stopped".to_owned());
                        }
                    }
                }
            }
        }
        .await;
        self.merge(&mut samples);
        match result {
            Ok(()) => match rawconn::close(&mut stream, &mut reader).await {
                Ok(Some(1000)) => outcome.clean_close = true,
                Ok(code) => outcome.error = Some(format!("close answered with {code:?}")),
                Err(e) => outcome.error = Some(format!("close: {e}")),
            },
            Err(e) => outcome.error = Some(e),
        }
        outcome
    }

    fn merge(&self, samples: &mut Vec<u64>) {
        let mut h = self.histogram.lock().expect("histogram lock poisoned");
        for &ns in samples.iter() {
            h.saturating_record(ns.max(1));
        }
        samples.clear();
    }
}
