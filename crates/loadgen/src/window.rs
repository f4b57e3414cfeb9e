//! The warm-up and the measured window of the timed closed-loop modes (`echo`,
//! `handshakes`): the phase every connection reads, and the server's usage sampled at
//! both ends of the window. It does not count anything itself; the modes do.

use std::error::Error;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::Window;
use crate::usage::{self, Sample};

/// Phases, published by the timer to every connection through a shared `AtomicU8`.
pub const WARMUP: u8 = 0;
/// See [`WARMUP`].
pub const MEASURE: u8 = 1;
/// See [`WARMUP`].
pub const STOP: u8 = 2;

/// What [`run`] measured.
pub struct Measured {
    /// The window's actual length.
    pub elapsed: Duration,
    /// The server's usage at the window's start.
    pub start: Sample,
    /// The server's usage at the window's end.
    pub end: Sample,
}

/// Waits out the warm-up, then turns `phase` to [`MEASURE`] for the window's length
/// and to [`STOP`] at its end.
pub async fn run(window: &Window, phase: &AtomicU8) -> Result<Measured, Box<dyn Error>> {
    tokio::time::sleep(Duration::from_secs_f64(window.warmup_secs.max(0.0))).await;
    let start = usage::sample(window.server())?;
    let started = Instant::now();
    phase.store(MEASURE, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(window.duration_secs.max(0.0))).await;
    phase.store(STOP, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let end = usage::sample(window.server())?;
    Ok(Measured { elapsed, start, end })
}
