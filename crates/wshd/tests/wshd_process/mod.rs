//! A `wshd` process for the binary's tests: started from a prepared command, ready once it
//! printed `listening on ADDR`, killed when dropped. Shared by the test files of this
//! crate (`cli.rs` keeps its own, which also collects stderr and sends signals); not
//! every file uses every function.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running `wshd` and the address it listens on.
pub struct Wshd {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Wshd {
    /// `wshd` with `args` (stderr shown with the test's output).
    pub fn command<I, S>(args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wshd"));
        command.args(args).stderr(Stdio::inherit());
        command
    }

    /// Starts `command` and waits for its address line.
    pub fn spawn(command: &mut Command) -> Wshd {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("wshd starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no address line: {line:?}"))
            .parse()
            .unwrap();
        Wshd { child, addr }
    }
}

impl Drop for Wshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
