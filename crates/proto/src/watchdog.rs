//! The send and idle timeouts of a connection: when a peer that stopped reading, or a
//! connection nobody uses any more, is failed.
//!
//! Pure state over the instants the caller passes in; the [`Connection`](crate::Connection)
//! owns one and consults it in `handle_timeout`. The send timeout runs while the caller
//! has bytes the transport does not take: it starts at the first `send_blocked`, stops at
//! any progress, and fails the connection once it has run its full length. The idle
//! timeout looks every half timeout for data messages moving either way (pings, pongs
//! and close frames do not count, so keepalive pings keep proxies open without keeping an
//! unused connection alive) and fails after two silent looks in a row: between one and
//! one and a half timeouts after the last message. It does not ping (keepalive, in
//! `connection.rs`) and does not bound the closing handshake (the close timeout).

use std::time::{Duration, Instant};

use crate::error::ProtocolError;

/// The send and idle timers of one connection; boxed in the connection, made only when a
/// timeout is set.
#[derive(Debug, Clone)]
pub(crate) struct Watchdog {
    send_timeout: Option<Duration>,
    /// Since when the transport has taken no bytes while some wait; `None` while it keeps up.
    blocked_since: Option<Instant>,
    idle: Option<Idle>,
}

#[derive(Debug, Clone, Copy)]
struct Idle {
    timeout: Duration,
    /// When to look for activity next.
    check: Instant,
    /// Looks in a row that saw none.
    silent: u8,
}

impl Watchdog {
    pub(crate) fn new() -> Self {
        Watchdog { send_timeout: None, blocked_since: None, idle: None }
    }

    pub(crate) fn set_send_timeout(&mut self, timeout: Option<Duration>) {
        self.send_timeout = timeout;
        if timeout.is_none() {
            self.blocked_since = None;
        }
    }

    pub(crate) fn send_timeout(&self) -> Option<Duration> {
        self.send_timeout
    }

    pub(crate) fn set_idle_timeout(&mut self, timeout: Option<Duration>, now: Instant) {
        self.idle = timeout.map(|timeout| Idle { timeout, check: now + timeout / 2, silent: 0 });
    }

    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle.map(|i| i.timeout)
    }

    /// The idle timeout no longer applies (the connection is closed).
    pub(crate) fn stop_idle(&mut self) {
        self.idle = None;
    }

    /// The transport took no bytes at `now` while some wait.
    pub(crate) fn blocked(&mut self, now: Instant) {
        if self.send_timeout.is_some() {
            self.blocked_since.get_or_insert(now);
        }
    }

    /// Bytes reached the transport.
    #[inline]
    pub(crate) fn progressed(&mut self) {
        self.blocked_since = None;
    }

    /// The next instant [`Watchdog::expire`] has something to decide.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let send = self.blocked_since.zip(self.send_timeout).map(|(since, t)| since + t);
        let idle = self.idle.map(|i| i.check);
        match (send, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the send timeout has run out at `now`.
    pub(crate) fn send_expired(&self, now: Instant) -> Option<ProtocolError> {
        let (since, timeout) = self.blocked_since.zip(self.send_timeout)?;
        (now >= since + timeout).then_some(ProtocolError::SendTimeout(timeout))
    }

    /// Advances the idle timer to `now`; `active` says whether data messages moved since
    /// the last look, and is reset when this looks. The error to fail with, if it ran out.
    pub(crate) fn idle_expired(
        &mut self,
        now: Instant,
        active: &mut bool,
    ) -> Option<ProtocolError> {
        let idle = self.idle.as_mut()?;
        if now < idle.check {
            return None;
        }
        if std::mem::take(active) {
            idle.silent = 0;
        } else {
            idle.silent += 1;
        }
        if idle.silent >= 2 {
            let timeout = idle.timeout;
            self.idle = None;
            return Some(ProtocolError::IdleTimeout(timeout));
        }
        idle.check = now + idle.timeout / 2;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn the_send_timeout_runs_from_the_first_block_and_stops_at_progress() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        w.blocked(t0);
        assert_eq!(w.deadline(), None, "no send timeout set");
        w.set_send_timeout(Some(T));
        w.blocked(t0);
        w.blocked(t0 + Duration::from_secs(4)); // still since t0
        assert_eq!(w.deadline(), Some(t0 + T));
        assert_eq!(w.send_expired(t0 + T - Duration::from_millis(1)), None);
        assert_eq!(w.send_expired(t0 + T), Some(ProtocolError::SendTimeout(T)));
        w.progressed();
        assert_eq!(w.deadline(), None);
        assert_eq!(w.send_expired(t0 + 3 * T), None);
        w.blocked(t0 + 2 * T);
        assert_eq!(w.deadline(), Some(t0 + 3 * T));
    }

    #[test]
    fn the_idle_timeout_fails_after_two_silent_looks_and_activity_resets_it() {
        let t0 = Instant::now();
        let mut w = Watchdog::new();
        w.set_idle_timeout(Some(T), t0);
        let half = T / 2;
        let mut active = false;
        assert_eq!(w.deadline(), Some(t0 + half));
        assert_eq!(w.idle_expired(t0 + half - Duration::from_millis(1), &mut active), None);
        // A message in the first half: the looks start over.
        active = true;
        assert_eq!(w.idle_expired(t0 + half, &mut active), None);
        assert!(!active, "the look takes the activity");
        assert_eq!(w.idle_expired(t0 + 2 * half, &mut active), None);
        assert_eq!(w.deadline(), Some(t0 + 3 * half));
        assert_eq!(w.idle_expired(t0 + 3 * half, &mut active), Some(ProtocolError::IdleTimeout(T)));
        assert_eq!(w.deadline(), None, "it fires once");
    }
}
