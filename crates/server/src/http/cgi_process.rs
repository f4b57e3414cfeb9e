//! A running CGI script as a process group: started in a group of its own and ended as a
//! whole, so that nothing it started outlives its request, and holds the response open.
//! The group is killed when the script exits (children still holding its stdout would
//! keep the response open), at the CGI timeout, when the request is abandoned (the client
//! left), and on server shutdown. Also here: the cap on scripts running at once, and the
//! script's stderr, logged one escaped record per line. Not here: the CGI request and
//! response themselves (`cgi.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

/// Longest stderr line logged whole; the rest of a longer one is counted, not logged.
const MAX_LOGGED_LINE: usize = 4096;

/// The scripts of one server: how many may run at once, and the groups running now.
#[derive(Debug, Clone)]
pub(crate) struct CgiProcesses {
    slots: Arc<Semaphore>,
    running: Arc<Mutex<HashSet<i32>>>,
}

impl CgiProcesses {
    pub(crate) fn new(max: usize) -> CgiProcesses {
        CgiProcesses {
            slots: Arc::new(Semaphore::new(max.max(1))),
            running: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// A slot for one more script, or `None` when the cap is reached.
    pub(crate) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Kills every running group (shutdown); returns how many there were.
    pub(crate) fn end_all(&self) -> usize {
        let running = self.running.lock().expect("CGI registry lock");
        for &pgid in running.iter() {
            kill_group(pgid);
        }
        running.len()
    }

    /// Watches `child` (started with `process_group(0)`) until it exits or `deadline`,
    /// holding `slot` meanwhile; returns the handle that decides what happens to its group.
    pub(crate) fn watch(
        &self,
        mut child: Child,
        slot: OwnedSemaphorePermit,
        deadline: Instant,
        name: String,
    ) -> Group {
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        if let Some(pgid) = pgid {
            self.running.lock().expect("CGI registry lock").insert(pgid);
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(log_stderr(stderr, name.clone()));
        }
        let (tx, mut rx) = oneshot::channel::<Fate>();
        let running = self.running.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let end = |why: &str| {
                if let Some(pgid) = pgid {
                    tracing::debug!("CGI {name}: ending its process group ({why})");
                    kill_group(pgid);
                }
            };
            let mut decided = false;
            loop {
                tokio::select! {
                    status = child.wait() => {
                        // Whatever it started must not outlive it, or hold its stdout open.
                        end("the script exited");
                        match status {
                            Ok(s) if s.success() => {}
                            Ok(s) => tracing::info!("CGI {name} exited with {s}"),
                            Err(e) => tracing::warn!("CGI {name}: waiting for it failed: {e}"),
                        }
                        break;
                    }
                    fate = &mut rx, if !decided => match fate {
                        Ok(Fate::Finish) => decided = true,
                        // Killed on purpose, or the request was dropped mid-way.
                        Ok(Fate::Kill) | Err(_) => {
                            end("the request ended");
                            let _ = child.wait().await;
                            break;
                        }
                    },
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::warn!("CGI {name} still running after its timeout; killed with its process group");
                        end("timeout");
                        let _ = child.wait().await;
                        break;
                    }
                }
            }
            if let Some(pgid) = pgid {
                running.lock().expect("CGI registry lock").remove(&pgid);
            }
        });
        Group { fate: Some(tx) }
    }
}

/// What becomes of a script's group once its request is done with it.
#[derive(Debug)]
enum Fate {
    /// The response is complete: let the script finish (until the CGI timeout).
    Finish,
    /// Kill the script and everything in its group now.
    Kill,
}

/// The decision over a running script's group. Dropped undecided (its request was
/// abandoned), it kills the group.
#[derive(Debug)]
pub(crate) struct Group {
    fate: Option<oneshot::Sender<Fate>>,
}

impl Group {
    /// The response is complete; the script may run on until it exits or times out.
    pub(crate) fn finish(mut self) {
        if let Some(tx) = self.fate.take() {
            let _ = tx.send(Fate::Finish);
        }
    }

    /// Kills the script and its group now.
    pub(crate) fn kill(mut self) {
        if let Some(tx) = self.fate.take() {
            let _ = tx.send(Fate::Kill);
        }
    }
}

/// SIGKILL to the process group `pgid` (gone already is fine).
fn kill_group(pgid: i32) {
    if let Some(pid) = Pid::from_raw(pgid) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// Logs each line the script writes to stderr as one WARNING record, control characters
/// escaped (a line cannot forge another record), at most `MAX_LOGGED_LINE` bytes of it.
async fn log_stderr(stderr: ChildStderr, name: String) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        // The reader's buffer bounds each read; a line is gathered up to the cap and the
        // rest of it counted.
        let mut dropped = 0usize;
        let mut ended = false;
        loop {
            let available = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(buf) => buf,
            };
            // The line's bytes in this read, without its newline.
            let end = available.iter().position(|&b| b == b'\n');
            let piece = &available[..end.unwrap_or(available.len())];
            let room = MAX_LOGGED_LINE.saturating_sub(line.len());
            line.extend_from_slice(&piece[..piece.len().min(room)]);
            dropped += piece.len().saturating_sub(room);
            let used = piece.len() + usize::from(end.is_some());
            reader.consume(used);
            if end.is_some() {
                ended = true;
                break;
            }
        }
        if line.is_empty() && dropped == 0 && !ended {
            return;
        }
        let text = String::from_utf8_lossy(&line).escape_debug().to_string();
        if dropped > 0 {
            tracing::warn!("CGI {name} stderr: {text} … ({dropped} more bytes of this line)");
        } else {
            tracing::warn!("CGI {name} stderr: {text}");
        }
    }
}
