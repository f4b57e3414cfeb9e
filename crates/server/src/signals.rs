//! SIGTERM and SIGINT (Ctrl-C off Unix) for a program serving with this crate: the first
//! shuts the server down gracefully ([`Shutdown::trigger`]: every open WebSocket gets
//! 1001), a second exits at once with status 1. Not a general signal library: only these
//! two signals, and only this policy, which the `wshd` binary and the echo example share.

use crate::Shutdown;

/// The two signals, listened for from the moment of [`Signals::install`].
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening (inside a tokio runtime). Install before binding, so that a signal
    /// right after the server says it listens is not lost.
    pub fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }

    /// Waits for the first signal and shuts `shutdown`'s server down; on a second, exits
    /// the process with status 1. Spawn it as a task.
    pub async fn shut_down_on_signal(mut self, shutdown: Shutdown) {
        let first = self.next().await;
        tracing::info!(
            "{first} received: closing {} open WebSocket connection(s) with 1001; a second signal exits at once",
            shutdown.active_connections()
        );
        shutdown.trigger();
        let second = self.next().await;
        tracing::warn!("{second} received again: exiting without waiting for open connections");
        std::process::exit(1);
    }
}
