//! Results of a run: one human-readable line on stdout and, on request, a JSON file.
//!
//! Plain data plus formatting. It measures nothing; `idle` and `echo` fill these in.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde_json::{Value, json};

use crate::procstat::Memory;

/// Server (and client) memory and kernel slab at the points of an idle run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// The server process.
    pub server: Memory,
    /// This process.
    pub client: Memory,
    /// Kernel `Slab:` (machine-wide), in bytes.
    pub slab: u64,
}

/// The outcome of `wshd-load idle`.
#[derive(Debug)]
pub struct IdleReport {
    /// The URL connected to.
    pub url: String,
    /// The server's pid.
    pub server_pid: u32,
    /// Connections asked for.
    pub requested: usize,
    /// Connections whose opening handshake succeeded.
    pub opened: usize,
    /// Failed connection attempts.
    pub failed: usize,
    /// Failure messages (connect, echo, close) with counts.
    pub errors: BTreeMap<String, usize>,
    /// Source addresses used (0: chosen by the OS).
    pub sources: u8,
    /// Wall time to open all connections, seconds.
    pub open_secs: f64,
    /// Time waited between the last open and the "after open" reading, seconds.
    pub settle_secs: f64,
    /// Readings before connecting, after opening (and settling), after the echo and after
    /// closing.
    pub before: Snapshot,
    /// See `before`.
    pub after_open: Snapshot,
    /// See `before`.
    pub after_echo: Snapshot,
    /// See `before`.
    pub after_close: Snapshot,
    /// Connections whose echo came back identical.
    pub echo_ok: usize,
    /// Connections that completed the closing handshake with the server's close 1000.
    pub clean_closes: usize,
    /// Wall time of the closing phase, seconds.
    pub close_secs: f64,
}

/// Growth from `before` to `after` divided by `n`, in bytes (may be negative).
fn per_conn(before: u64, after: u64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { (after as f64 - before as f64) / n as f64 }
}

impl IdleReport {
    fn growth(&self, field: impl Fn(&Snapshot) -> u64, at: &Snapshot) -> f64 {
        per_conn(field(&self.before), field(at), self.opened)
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let rss = |s: &Snapshot| s.server.rss;
        let anon = |s: &Snapshot| s.server.rss_anon;
        let slab = |s: &Snapshot| s.slab;
        format!(
            "idle conns={}/{} failed={} open={:.2}s ({:.0}/s) | server RSS/conn: {:+.0} B after open, \
             {:+.0} B after echo (anon {:+.0} / {:+.0} B) | slab/conn (both ends): {:+.0} B open, \
             {:+.0} B echo | echo ok {}/{} | clean closes {}/{} in {:.2}s",
            self.opened,
            self.requested,
            self.failed,
            self.open_secs,
            self.opened as f64 / self.open_secs.max(1e-9),
            self.growth(rss, &self.after_open),
            self.growth(rss, &self.after_echo),
            self.growth(anon, &self.after_open),
            self.growth(anon, &self.after_echo),
            self.growth(slab, &self.after_open),
            self.growth(slab, &self.after_echo),
            self.echo_ok,
            self.opened,
            self.clean_closes,
            self.opened,
            self.close_secs,
        )
    }

    /// The JSON document (sizes in bytes, times in seconds).
    pub fn json(&self) -> Value {
        let points = [
            ("before", &self.before),
            ("after_open", &self.after_open),
            ("after_echo", &self.after_echo),
            ("after_close", &self.after_close),
        ];
        let series = |f: &dyn Fn(&Snapshot) -> u64| -> Value {
            points.iter().map(|(k, s)| (k.to_string(), json!(f(s)))).collect()
        };
        let growth = |f: &dyn Fn(&Snapshot) -> u64| -> Value {
            json!({
                "after_open": self.growth(f, &self.after_open),
                "after_echo": self.growth(f, &self.after_echo),
            })
        };
        let rss = |s: &Snapshot| s.server.rss;
        let anon = |s: &Snapshot| s.server.rss_anon;
        let slab = |s: &Snapshot| s.slab;
        let client = |s: &Snapshot| s.client.rss;
        json!({
            "mode": "idle",
            "url": self.url,
            "server_pid": self.server_pid,
            "connections_requested": self.requested,
            "connections_opened": self.opened,
            "connections_failed": self.failed,
            "errors": self.errors,
            "sources": self.sources,
            "open_secs": self.open_secs,
            "opens_per_sec": self.opened as f64 / self.open_secs.max(1e-9),
            "settle_secs": self.settle_secs,
            "server_rss": series(&rss),
            "server_rss_anon": series(&anon),
            "slab": series(&slab),
            "client_rss": series(&client),
            "server_rss_per_conn": growth(&rss),
            "server_rss_anon_per_conn": growth(&anon),
            "slab_per_conn": growth(&slab),
            "client_rss_per_conn": growth(&client),
            "echo_ok": self.echo_ok,
            "echo_failed": self.opened - self.echo_ok,
            "clean_closes": self.clean_closes,
            "unclean_closes": self.opened - self.clean_closes,
            "close_secs": self.close_secs,
        })
    }
}

/// Round-trip latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Number of samples.
    pub samples: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Maximum.
    pub max: f64,
}

/// The outcome of `wshd-load echo`.
#[derive(Debug)]
pub struct EchoReport {
    /// The URL connected to.
    pub url: String,
    /// Connections asked for.
    pub requested: usize,
    /// Connections opened.
    pub opened: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Messages kept in flight per connection.
    pub depth: usize,
    /// Runtime worker threads of the generator.
    pub threads: usize,
    /// Warm-up before the window, seconds.
    pub warmup_secs: f64,
    /// The measured window, seconds.
    pub window_secs: f64,
    /// Echoes received in the window.
    pub messages: u64,
    /// Round-trip latency of those echoes.
    pub latency: Latency,
    /// The server's pid and CPU seconds (utime + stime) in the window, if given.
    pub server: Option<(u32, f64)>,
    /// This process's CPU seconds in the window.
    pub client_cpu_secs: f64,
    /// Clock ticks per second used to convert /proc CPU times.
    pub clk_tck: u64,
    /// Failure messages (connect, send/receive, close) with counts.
    pub errors: BTreeMap<String, usize>,
    /// Connections that completed the closing handshake with the server's close 1000.
    pub clean_closes: usize,
}

impl EchoReport {
    fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.window_secs.max(1e-9)
    }

    fn msgs_per_server_cpu(&self) -> Option<f64> {
        self.server.map(|(_, cpu)| self.messages as f64 / cpu.max(1e-9))
    }

    /// Whether the generator, not the server, probably set the pace: it used more than
    /// 90 % of its threads' CPU.
    fn client_bound(&self) -> bool {
        self.client_cpu_secs > 0.9 * self.window_secs * self.threads as f64
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let l = &self.latency;
        let server = match (self.server, self.msgs_per_server_cpu()) {
            (Some((_, cpu)), Some(per_cpu)) => format!(
                " | server {cpu:.2} CPU-s ({:.0} %), {per_cpu:.0} msgs/server-CPU-s",
                100.0 * cpu / self.window_secs.max(1e-9)
            ),
            _ => String::new(),
        };
        format!(
            "echo conns={}/{} size={} depth={} window={:.2}s | {:.0} msgs/s, {:.2} MB/s one-way | \
             rtt µs p50={:.1} p90={:.1} p99={:.1} p99.9={:.1} max={:.1}{server} | client {:.2} CPU-s{}{}",
            self.opened,
            self.requested,
            self.size,
            self.depth,
            self.window_secs,
            self.msgs_per_sec(),
            self.msgs_per_sec() * self.size as f64 / 1e6,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max,
            self.client_cpu_secs,
            if self.client_bound() { " (CLIENT-BOUND)" } else { "" },
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(" | {} errors", self.errors.values().sum::<usize>())
            },
        )
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let l = &self.latency;
        json!({
            "mode": "echo",
            "url": self.url,
            "connections_requested": self.requested,
            "connections_opened": self.opened,
            "size": self.size,
            "depth": self.depth,
            "threads": self.threads,
            "warmup_secs": self.warmup_secs,
            "window_secs": self.window_secs,
            "messages": self.messages,
            "msgs_per_sec": self.msgs_per_sec(),
            "payload_mb_per_sec_one_way": self.msgs_per_sec() * self.size as f64 / 1e6,
            "latency_us": {
                "samples": l.samples, "mean": l.mean, "p50": l.p50, "p90": l.p90,
                "p99": l.p99, "p99_9": l.p99_9, "max": l.max,
            },
            "server_pid": self.server.map(|(pid, _)| pid),
            "server_cpu_secs": self.server.map(|(_, cpu)| cpu),
            "msgs_per_server_cpu_sec": self.msgs_per_server_cpu(),
            "client_cpu_secs": self.client_cpu_secs,
            "client_bound": self.client_bound(),
            "clk_tck": self.clk_tck,
            "errors": self.errors,
            "clean_closes": self.clean_closes,
        })
    }
}

/// Prints `line` and, if `path` is given, writes `json` there (pretty, newline-terminated).
pub fn emit(line: &str, json: &Value, path: Option<&Path>) -> io::Result<()> {
    println!("{line}");
    if let Some(path) = path {
        let mut text = serde_json::to_string_pretty(json).map_err(io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Lists failure messages on stderr, most frequent first.
pub fn print_errors(errors: &BTreeMap<String, usize>) {
    let mut list: Vec<_> = errors.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1));
    for (message, count) in list.iter().take(10) {
        eprintln!("  {count} × {message}");
    }
}
