//! The `wshd` binary for this crate's tests, run as a `wshd_testkit::process::ServerProcess`.
#![allow(dead_code)]

use std::process::{Command, Stdio};

pub use wshd_testkit::process::ServerProcess as Wshd;

/// `wshd` with `args`, its stderr shown with the test's output.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_wshd"));
    command.args(args).stderr(Stdio::inherit());
    command
}
