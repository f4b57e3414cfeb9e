//! `--processes N`: N server processes sharing one port through `SO_REUSEPORT`, so Python
//! handlers (one interpreter per process) use every core, and one machine holds more
//! connections than one process's file-descriptor limit allows.
//!
//! The first process binds (learning the port when `-p 0`), then starts N-1 copies of
//! itself with the same command line plus `--processes 1 --reuse-port -p PORT`, from the
//! directory it was started in, and prints its own `listening on` once every worker has
//! printed theirs. The kernel spreads new connections over the processes.
//! On SIGTERM/SIGINT the first process shuts down and passes SIGTERM on to the others,
//! which close their connections with 1001 themselves; a worker whose parent dies gets
//! SIGTERM from the kernel. A worker that ends while the server runs (killed by a signal,
//! a crash in a handler's native extension, the OOM killer) is logged and replaced; one
//! that keeps ending right after its start is replaced after a growing delay. This module
//! only starts, replaces and stops processes.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// Set in the environment of worker processes.
const WORKER_ENV: &str = "WSHD_WORKER";

/// A replacement that ends sooner than this after its start counts as a failed start.
const SHORT_LIFE: Duration = Duration::from_secs(5);
/// The longest wait before replacing a worker that keeps failing at its start.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The worker processes of a `--processes N` server.
pub(crate) struct Workers {
    children: Vec<tokio::process::Child>,
    port: u16,
    start_dir: std::path::PathBuf,
}

/// In a worker: ask the kernel for SIGTERM when the parent dies, so no worker outlives
/// it (and none is left if it died before this ran).
pub(crate) fn watch_parent() -> std::io::Result<()> {
    if std::env::var_os(WORKER_ENV).is_none() {
        return Ok(());
    }
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
    let parent = std::env::var(WORKER_ENV).ok().and_then(|p| p.parse::<i32>().ok());
    if rustix::process::getppid().map(Pid::as_raw_nonzero).map(|p| p.get()) != parent {
        return Err(std::io::Error::other("the parent process is gone"));
    }
    Ok(())
}

impl Workers {
    /// Starts `count` workers listening on `port`, from `start_dir` (where the command
    /// line's relative paths were meant).
    pub(crate) fn start(count: usize, port: u16, start_dir: &Path) -> std::io::Result<Workers> {
        let mut workers =
            Workers { children: Vec::with_capacity(count), port, start_dir: start_dir.into() };
        for _ in 0..count {
            let child = workers.spawn_one()?;
            workers.children.push(child);
        }
        tracing::info!("started {count} worker processes on port {port}");
        Ok(workers)
    }

    /// One worker: this program with the same command line, on the same port.
    fn spawn_one(&self) -> std::io::Result<tokio::process::Child> {
        tokio::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .args(["--processes", "1", "--reuse-port", "--port", &self.port.to_string()])
            .current_dir(&self.start_dir)
            .env(WORKER_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    }

    /// Until `shutdown` triggers: replaces every worker that ends, logging how it ended;
    /// then stops them all (see [`Workers::stop`]).
    pub(crate) async fn supervise(
        mut self,
        shutdown: wshd_server::Shutdown,
        start_patience: Duration,
        stop_patience: Duration,
    ) {
        let mut started = vec![std::time::Instant::now(); self.children.len()];
        let mut backoff = Duration::ZERO;
        let mut check = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                () = shutdown.triggered() => break,
                _ = check.tick() => {}
            }
            for (i, started_at) in started.iter_mut().enumerate() {
                // Its pid, read while it is still there to read (waiting reaps it).
                let pid = self.children[i].id().map_or_else(|| "?".to_owned(), |p| p.to_string());
                let Ok(Some(status)) = self.children[i].try_wait() else { continue };
                let lived = started_at.elapsed();
                tracing::warn!(
                    "worker process {pid} ended ({status}) after {:.1} s; starting a replacement",
                    lived.as_secs_f64()
                );
                // One that dies at once again and again gets a growing pause, not a loop.
                backoff = if lived < SHORT_LIFE {
                    (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF)
                } else {
                    Duration::ZERO
                };
                if !backoff.is_zero() {
                    tracing::warn!(
                        "worker processes keep ending soon after their start; waiting {backoff:?} before the next"
                    );
                    tokio::select! {
                        () = shutdown.triggered() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                }
                match self.spawn_one() {
                    Ok(child) => {
                        self.children[i] = child;
                        *started_at = std::time::Instant::now();
                        let new = &mut self.children[i..=i];
                        match wait_listening(new, start_patience).await {
                            Ok(()) => tracing::info!(
                                "worker process {} replaces worker process {pid}",
                                self.children[i].id().unwrap_or_default()
                            ),
                            Err(e) => tracing::error!("the replacement worker did not start: {e}"),
                        }
                    }
                    Err(e) => tracing::error!("cannot start a replacement worker process: {e}"),
                }
            }
        }
        self.stop(stop_patience).await;
    }

    /// Waits until every worker has printed its `listening on` line (so that a script
    /// that waits for ours finds every process accepting), at most `patience` for each,
    /// one after another; then keeps their standard output drained. Fails naming the
    /// worker that ended or stayed silent.
    pub(crate) async fn wait_listening(&mut self, patience: Duration) -> std::io::Result<()> {
        wait_listening(&mut self.children, patience).await
    }
    /// Passes SIGTERM on and waits for every worker; one still running after `patience`
    /// is killed.
    pub(crate) async fn stop(mut self, patience: Duration) {
        for child in &self.children {
            if let Some(pid) = child.id().and_then(|id| Pid::from_raw(id as i32)) {
                let _ = rustix::process::kill_process(pid, Signal::TERM);
            }
        }
        for child in &mut self.children {
            match tokio::time::timeout(patience, child.wait()).await {
                Ok(Ok(status)) if !status.success() => {
                    tracing::warn!("worker process {:?} ended with {status}", child.id());
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!("worker process {:?} did not stop; killing it", child.id());
                    let _ = child.kill().await;
                }
            }
        }
    }
}

/// Waits until each of `children` has printed its `listening on` line, at most `patience`
/// for each, one after another; then keeps their standard output drained. Fails naming
/// the worker that ended or stayed silent.
async fn wait_listening(
    children: &mut [tokio::process::Child],
    patience: Duration,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    for child in children {
        let id = child.id();
        let Some(stdout) = child.stdout.take() else { continue };
        let mut lines = BufReader::new(stdout).lines();
        let ready = async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("listening on ") {
                    return Ok(true);
                }
            }
            Ok::<_, std::io::Error>(false)
        };
        match tokio::time::timeout(patience, ready).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) | Ok(Err(_)) => {
                return Err(std::io::Error::other(format!(
                    "worker process {id:?} ended before it listened (see its log lines above)"
                )));
            }
            Err(_) => {
                return Err(std::io::Error::other(format!(
                    "worker process {id:?} was not listening after {patience:?}"
                )));
            }
        }
        // Its later lines (another address) go nowhere, and never fill the pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    }
    Ok(())
}
