//! A server process for tests of a binary: started from a prepared command, ready once
//! it printed `listening on ADDR` on stdout, its stderr shown or collected, killed when
//! dropped. Not a supervisor: one process, no restarts.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen soon: a hang fails a test, a slow
/// machine does not. Tests never assert speed.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running server and the address it listens on.
#[derive(Debug)]
pub struct ServerProcess {
    /// The process.
    pub child: Child,
    /// The address from its `listening on ADDR` line.
    pub addr: SocketAddr,
    /// Its stderr so far, when collected.
    stderr: Option<Arc<Mutex<String>>>,
}

impl ServerProcess {
    /// Starts `command` with stderr as the command has it (by default shown with the
    /// test's output) and waits for its address line.
    pub fn spawn(command: &mut Command) -> ServerProcess {
        let child = command.stdout(Stdio::piped()).spawn().expect("the server starts");
        Self::ready(child, None)
    }

    /// [`ServerProcess::spawn`], collecting stderr for [`ServerProcess::stderr`].
    pub fn spawn_capturing(command: &mut Command) -> ServerProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let collected = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Self::ready(child, Some(collected))
    }

    fn ready(mut child: Child, stderr: Option<Arc<Mutex<String>>>) -> ServerProcess {
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        BufReader::new(stdout).read_line(&mut line).expect("reading the server's stdout");
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            // Let the collector take the last of stderr before it is shown.
            std::thread::sleep(Duration::from_millis(200));
            let said = stderr.map(|s| s.lock().unwrap().clone()).unwrap_or_default();
            panic!("no address line (got {line:?}); stderr: {said}");
        };
        let addr = addr.parse().expect("an address after `listening on`");
        ServerProcess { child, addr, stderr }
    }

    /// Everything the server wrote to stderr so far (for [`ServerProcess::spawn_capturing`]).
    pub fn stderr(&self) -> String {
        let collected = self.stderr.as_ref().expect("stderr is collected (spawn_capturing)");
        collected.lock().unwrap().clone()
    }

    /// Waits (at most [`PATIENCE`]) until stderr contains `needle`; returns it.
    pub fn wait_for_stderr(&self, needle: &str) -> String {
        wait_for(|| {
            let said = self.stderr();
            said.contains(needle).then_some(said)
        })
        .unwrap_or_else(|| panic!("stderr never contained {needle:?}: {}", self.stderr()))
    }

    /// Sends the signal `name` (`TERM`, `INT`, ...) with `kill -s`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status();
        assert!(status.expect("running kill").success(), "kill -s {name} failed");
    }

    /// Waits (at most [`PATIENCE`]) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_for(|| self.child.try_wait().unwrap()).expect("the server exits")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 20 ms until it gives a value, for at most [`PATIENCE`].
pub fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
