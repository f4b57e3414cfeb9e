//! The report of `echo` (closed loop) and `rate` (open loop): messages per second,
//! payload MB/s, latency percentiles, and the server's CPU, RSS and slab over the window.
//!
//! Plain data plus formatting; the modes measure.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::report::{self, Latency};
use crate::usage::Usage;

/// What only an open-loop run has.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoop {
    /// Offered rate, messages per second (all connections together).
    pub rate: f64,
    /// Messages scheduled inside the window.
    pub scheduled: u64,
    /// How late the sender handed scheduled messages to the kernel (its own lag: timer
    /// granularity, or the server not reading); already included in the latency.
    pub send_lag: Latency,
}

/// The outcome of `wshd-load echo` or `wshd-load rate`.
#[derive(Debug)]
pub struct LoadReport {
    /// `"echo"` or `"rate"`.
    pub mode: &'static str,
    /// The URL connected to.
    pub url: String,
    /// Connections asked for.
    pub requested: usize,
    /// Connections opened.
    pub opened: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Closed loop: messages in flight per connection, and how they are refilled.
    pub depth: Option<(usize, &'static str)>,
    /// Open loop: the schedule.
    pub open_loop: Option<OpenLoop>,
    /// Runtime worker threads of the generator.
    pub threads: usize,
    /// Warm-up before the window, seconds.
    pub warmup_secs: f64,
    /// The measured window, seconds.
    pub window_secs: f64,
    /// Echoes counted in the window.
    pub messages: u64,
    /// Latency of those echoes: closed loop from the write, open loop from the
    /// scheduled send time (so queueing behind a slow server is counted).
    pub latency: Latency,
    /// Server and client resource use over the window.
    pub usage: Usage,
    /// Failure messages (connect, send/receive, close) with counts.
    pub errors: BTreeMap<String, usize>,
    /// Connections that completed the closing handshake with the server's close 1000.
    pub clean_closes: usize,
}

impl LoadReport {
    /// Prints the result line (and writes the JSON to `json_path`), lists the errors, and
    /// fails when a connection did not open or ended in an error.
    pub fn finish(&self, json_path: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
        report::emit(&self.line(), &self.json(), json_path)?;
        report::print_errors(&self.errors);
        if self.opened < self.requested || !self.errors.is_empty() {
            return Err("some connections failed".into());
        }
        Ok(())
    }

    fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.window_secs.max(1e-9)
    }

    /// Whether the generator, not the server, probably set the pace: it used more than
    /// 90 % of its threads' CPU.
    fn client_bound(&self) -> bool {
        self.usage.client_cpu_secs > 0.9 * self.window_secs * self.threads as f64
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        let shape = match (self.depth, self.open_loop) {
            (Some((d, refill)), _) => format!("depth={d} refill={refill}"),
            (_, Some(o)) => format!("rate={:.0}/s", o.rate),
            _ => String::new(),
        };
        let lag = match self.open_loop {
            Some(o) => {
                format!(" | send lag µs p50={:.1} p99={:.1}", o.send_lag.p50, o.send_lag.p99)
            }
            None => String::new(),
        };
        let per_cpu = match self.usage.per_server_cpu(self.messages) {
            Some(x) => format!(" | {x:.0} msgs/server-CPU-s"),
            None => String::new(),
        };
        format!(
            "{} conns={}/{} size={} {shape} window={:.2}s | {:.0} msgs/s, {:.2} MB/s one-way{per_cpu} | \
             latency µs {}{lag}{}{}{}",
            self.mode,
            self.opened,
            self.requested,
            self.size,
            self.window_secs,
            self.msgs_per_sec(),
            self.msgs_per_sec() * self.size as f64 / 1e6,
            self.latency.line(),
            self.usage.line(self.window_secs),
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
        let mut doc = json!({
            "mode": self.mode,
            "url": self.url,
            "connections_requested": self.requested,
            "connections_opened": self.opened,
            "size": self.size,
            "depth": self.depth.map(|d| d.0),
            "refill": self.depth.map(|d| d.1),
            "rate": self.open_loop.map(|o| o.rate),
            "scheduled": self.open_loop.map(|o| o.scheduled),
            "send_lag_us": self.open_loop.map(|o| o.send_lag.json()),
            "threads": self.threads,
            "warmup_secs": self.warmup_secs,
            "window_secs": self.window_secs,
            "messages": self.messages,
            "msgs_per_sec": self.msgs_per_sec(),
            "payload_mb_per_sec_one_way": self.msgs_per_sec() * self.size as f64 / 1e6,
            "latency_us": self.latency.json(),
            "msgs_per_server_cpu_sec": self.usage.per_server_cpu(self.messages),
            "client_bound": self.client_bound(),
            "errors": self.errors,
            "clean_closes": self.clean_closes,
        });
        if let (Value::Object(doc), Value::Object(usage)) = (&mut doc, self.usage.json()) {
            doc.extend(usage);
        }
        doc
    }
}
