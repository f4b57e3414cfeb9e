//! The server's resource use over a measured window: CPU seconds (utime + stime of all
//! its threads, or of every process in its session), RSS and kernel slab at both ends,
//! and this process's CPU seconds.
//!
//! [`Sample`]s taken before connecting and at the start and end of the window make a
//! [`Usage`]. It does
//! not sample in between, so a peak inside the window is not seen (use `VmHWM` for that).

use std::error::Error;

use serde_json::{Value, json};

use crate::procstat;

/// One reading.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    server_ticks: Option<u64>,
    server_rss: Option<u64>,
    slab: u64,
    client_ticks: u64,
}

/// The server whose usage is sampled.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    /// Its process id.
    pub pid: u32,
    /// Count every process in the session `pid` leads (CPU and RSS summed), so that
    /// worker processes started and reaped in between are counted while they live.
    pub whole_session: bool,
}

/// Takes a reading of `server` (if given), the slab, and this process.
pub fn sample(server: Option<Server>) -> Result<Sample, Box<dyn Error>> {
    let (server_ticks, server_rss) = match server {
        Some(Server { pid, whole_session }) => {
            let p = pid.to_string();
            let fail = |e: std::io::Error| format!("cannot read /proc/{p} (server pid): {e}");
            let pids = if whole_session {
                procstat::session_members(pid).map_err(fail)?
            } else {
                vec![p.clone()]
            };
            let (mut ticks, mut rss) = (0, 0);
            for member in &pids {
                // A worker that exits between listing and reading is skipped; the
                // server's own pid must be readable.
                match (procstat::cpu_ticks(member), procstat::memory(member)) {
                    (Ok(t), Ok(m)) => (ticks, rss) = (ticks + t, rss + m.rss),
                    (Err(e), _) | (_, Err(e)) if *member == p => return Err(fail(e).into()),
                    _ => {}
                }
            }
            (Some(ticks), Some(rss))
        }
        None => (None, None),
    };
    Ok(Sample {
        server_ticks,
        server_rss,
        slab: procstat::slab()?,
        client_ticks: procstat::cpu_ticks("self")?,
    })
}

/// What happened between two samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The server's pid, if one was given.
    pub server_pid: Option<u32>,
    /// Server CPU seconds in the window.
    pub server_cpu_secs: Option<f64>,
    /// Server RSS at the start and end, bytes.
    pub server_rss: Option<(u64, u64)>,
    /// Kernel slab at the start and end, bytes (machine-wide).
    pub slab: (u64, u64),
    /// This process's CPU seconds in the window.
    pub client_cpu_secs: f64,
}

impl Usage {
    /// CPU used between `a` and `b`; memory growth from `base` (taken before any
    /// connection was opened) to `b`.
    pub fn between(server: Option<Server>, base: &Sample, a: &Sample, b: &Sample) -> Usage {
        let secs = |t: u64| t as f64 / procstat::clock_ticks_per_sec() as f64;
        Usage {
            server_pid: server.map(|s| s.pid),
            // A session's worker that exited takes its ticks with it: never below zero.
            server_cpu_secs: a
                .server_ticks
                .zip(b.server_ticks)
                .map(|(x, y)| secs(y.saturating_sub(x))),
            server_rss: base.server_rss.zip(b.server_rss),
            slab: (base.slab, b.slab),
            client_cpu_secs: secs(b.client_ticks - a.client_ticks),
        }
    }

    /// `count` per server CPU-second.
    pub fn per_server_cpu(&self, count: u64) -> Option<f64> {
        self.server_cpu_secs.map(|cpu| count as f64 / cpu.max(1e-9))
    }

    /// A fragment of the one-line summary.
    pub fn line(&self, window_secs: f64) -> String {
        let mib = |b: u64| b as f64 / 1048576.0;
        let mut out = String::new();
        if let Some(cpu) = self.server_cpu_secs {
            out +=
                &format!(" | server {cpu:.2} CPU-s ({:.0} %)", 100.0 * cpu / window_secs.max(1e-9));
        }
        if let Some((a, b)) = self.server_rss {
            out += &format!(", RSS {:.1} MiB ({:+.1})", mib(b), mib(b) - mib(a));
        }
        out += &format!(
            " | slab {:+.1} MiB | client {:.2} CPU-s",
            mib(self.slab.1) - mib(self.slab.0),
            self.client_cpu_secs
        );
        out
    }

    /// The JSON fields (merged into a report's document).
    pub fn json(&self) -> Value {
        json!({
            "server_pid": self.server_pid,
            "server_cpu_secs": self.server_cpu_secs,
            "server_rss_start": self.server_rss.map(|r| r.0),
            "server_rss_end": self.server_rss.map(|r| r.1),
            "slab_start": self.slab.0,
            "slab_end": self.slab.1,
            "slab_growth": self.slab.1 as i64 - self.slab.0 as i64,
            "client_cpu_secs": self.client_cpu_secs,
            "clk_tck": procstat::clock_ticks_per_sec(),
        })
    }
}
