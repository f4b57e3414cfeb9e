//! The sender of the open-loop mode: one OS thread that writes message `g` (to connection
//! `g % C`) at `start + g / rate`, whatever the server has answered so far.
//!
//! It sleeps with `std::thread::sleep` (tens of microseconds of slack, where tokio's
//! timer wheel has 1 ms), writes through non-blocking clones of the sockets, and keeps
//! what the kernel would not take in a per-connection backlog, retried on every wake-up.
//! How late it hands each message over is recorded as the send lag. It does not read:
//! the reader tasks in `rate` do.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// When each message is due.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Time of message 0.
    pub start: Instant,
    /// Messages per second, all connections together.
    pub rate: f64,
    /// Number of connections; message `g` goes to connection `g % conns`.
    pub conns: u64,
    /// No message is scheduled at or after this.
    pub end: Instant,
}

impl Schedule {
    /// The scheduled send time of message `g`.
    pub fn at(&self, g: u64) -> Instant {
        self.start + Duration::from_nanos((g as f64 * 1e9 / self.rate) as u64)
    }

    /// Messages connection `c` is sent when `total` messages are sent in all.
    pub fn sent_to(&self, c: u64, total: u64) -> u64 {
        if total > c { (total - c).div_ceil(self.conns) } else { 0 }
    }
}

/// Longest wait between retries of a backlog.
const RETRY: Duration = Duration::from_micros(200);
/// Time allowed to write out the backlogs after the last scheduled message.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(15);

/// Sends `frame` on the schedule until `schedule.end`, then writes out what is left.
/// Returns how many messages were sent and the send lag in nanoseconds. Fails when a
/// socket fails or a connection's backlog exceeds `max_backlog` bytes.
pub fn run(
    sockets: Vec<TcpStream>,
    frame: &[u8],
    schedule: Schedule,
    max_backlog: usize,
) -> Result<(u64, Histogram<u64>), String> {
    let mut lag =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
    let mut backlog: Vec<Vec<u8>> = vec![Vec::new(); sockets.len()];
    let mut behind: Vec<usize> = Vec::new();
    let mut g = 0u64;
    loop {
        let now = Instant::now();
        let due = schedule.at(g);
        if due >= schedule.end {
            break;
        }
        if due > now {
            let wait = due - now;
            std::thread::sleep(if behind.is_empty() { wait } else { wait.min(RETRY) });
        } else {
            while schedule.at(g) <= now && schedule.at(g) < schedule.end {
                let c = (g % schedule.conns) as usize;
                lag.saturating_record((now - schedule.at(g)).as_nanos().max(1) as u64);
                if backlog[c].is_empty() {
                    let n = write_some(&sockets[c], frame)?;
                    if n < frame.len() {
                        backlog[c].extend_from_slice(&frame[n..]);
                        behind.push(c);
                    }
                } else {
                    backlog[c].extend_from_slice(frame);
                    if backlog[c].len() > max_backlog {
                        return Err(format!(
                            "the server fell behind the offered rate: more than {} MiB waits \
                             to be sent on one connection (lower --rate)",
                            max_backlog >> 20
                        ));
                    }
                }
                g += 1;
            }
        }
        flush(&sockets, &mut backlog, &mut behind)?;
    }
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    while !behind.is_empty() {
        if Instant::now() > deadline {
            return Err("could not write out the backlog within 15 s".to_owned());
        }
        std::thread::sleep(RETRY);
        flush(&sockets, &mut backlog, &mut behind)?;
    }
    Ok((g, lag))
}

/// Retries every backlogged connection once.
fn flush(
    sockets: &[TcpStream],
    backlog: &mut [Vec<u8>],
    behind: &mut Vec<usize>,
) -> Result<(), String> {
    let mut i = 0;
    while i < behind.len() {
        let c = behind[i];
        let n = write_some(&sockets[c], &backlog[c])?;
        backlog[c].drain(..n);
        if backlog[c].is_empty() {
            behind.swap_remove(i);
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Writes what the socket takes without blocking.
fn write_some(mut socket: &TcpStream, data: &[u8]) -> Result<usize, String> {
    match socket.write(data) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(format!("send: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_round_robin() {
        let now = Instant::now();
        let s = Schedule { start: now, rate: 1000.0, conns: 3, end: now };
        assert_eq!(s.at(1000) - now, Duration::from_secs(1));
        // Messages 0..7 go to connections 0,1,2,0,1,2,0.
        assert_eq!([0, 1, 2].map(|c| s.sent_to(c, 7)), [3, 2, 2]);
        assert_eq!(s.sent_to(2, 2), 0);
    }
}
