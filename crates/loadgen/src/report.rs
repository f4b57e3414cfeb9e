//! Results of a run: one human-readable line on stdout and, on request, a JSON file;
//! the idle report and the latency percentiles every mode shares.
//!
//! Plain data plus formatting. It measures nothing; the modes fill these in (the echo
//! and open-loop report is in `load_report`, the handshake report in `handshakes`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;
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

/// Latency percentiles, microseconds.
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

impl Latency {
    /// The percentiles of a histogram of nanoseconds.
    pub fn from_nanos(h: &Histogram<u64>) -> Latency {
        let us = |ns: u64| ns as f64 / 1000.0;
        Latency {
            samples: h.len(),
            mean: h.mean() / 1000.0,
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        }
    }

    /// `p50=… p90=… p99=… p99.9=… max=…` in microseconds.
    pub fn line(&self) -> String {
        format!(
            "p50={:.1} p90={:.1} p99={:.1} p99.9={:.1} max={:.1}",
            self.p50, self.p90, self.p99, self.p99_9, self.max
        )
    }

    /// The JSON object.
    pub fn json(&self) -> Value {
        json!({
            "samples": self.samples, "mean": self.mean, "p50": self.p50, "p90": self.p90,
            "p99": self.p99, "p99_9": self.p99_9, "max": self.max,
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
