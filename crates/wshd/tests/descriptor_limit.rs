//! `wshd` at its file-descriptor limit (started under `prlimit`): accepting fails while
//! clients hold every descriptor, and the log says so once per episode (a WARNING when
//! it starts, an INFO line when accepting works again), not once per 100 ms retry.

mod wshd_process;

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use wshd_process::Wshd;
use wshd_testkit::files::TempTree;
use wshd_testkit::process::wait_for;

const WARNING: &str = "accept failed";
const RECOVERED: &str = "accepting connections again";

/// Warnings and recoveries logged so far, and the failed attempts the recoveries count.
fn tally(log: &str) -> (usize, usize, u64) {
    let attempts = log
        .lines()
        .filter_map(|l| l.split(RECOVERED).nth(1))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    (log.matches(WARNING).count(), log.matches(RECOVERED).count(), attempts)
}

/// Opens more connections than the server has descriptors for, holds them while the
/// server retries for a while, then closes them and waits until every episode of
/// failing (draining the backlog can start a short one) has ended with accepting again.
fn episode(wshd: &Wshd, before: usize) {
    let clients: Vec<TcpStream> =
        (0..80).map(|_| TcpStream::connect(wshd.addr).expect("the backlog takes it")).collect();
    // About 15 retries at 100 ms each.
    std::thread::sleep(Duration::from_millis(1500));
    drop(clients);
    let settled = wait_for(|| {
        let _probe = TcpStream::connect(wshd.addr).ok()?;
        std::thread::sleep(Duration::from_millis(50));
        let (warnings, recoveries, _) = tally(&wshd.stderr());
        (warnings == recoveries && recoveries > before).then_some(recoveries)
    });
    assert!(settled.is_some(), "no recovery logged: {}", wshd.stderr());
}

#[test]
fn out_of_descriptors_is_logged_once_per_episode() {
    let tree = TempTree::new(
        "fd-limit",
        &[("echo_wsh.py", include_str!("../../../examples/handlers/echo_wsh.py"))],
    );
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=64")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_wshd"))
        .args(["-H", "127.0.0.1", "-p", "0", "--log-level", "info", "-w"])
        .arg(tree.path());
    let wshd = Wshd::spawn_capturing(&mut command);

    episode(&wshd, 0);
    let (_, first, _) = tally(&wshd.stderr());
    episode(&wshd, first);
    let log = wshd.stderr();
    let (warnings, recoveries, attempts) = tally(&log);
    // One WARNING and one INFO line per episode, however many retries it took (about 15
    // in each held period; the loop used to write a line for every one).
    assert_eq!(warnings, recoveries, "{log}");
    assert!(recoveries >= 2, "{log}");
    assert!(attempts as usize > 2 * warnings, "{attempts} attempts, {warnings} warnings: {log}");
    assert!(log.contains("Too many open files"), "the warning names the error: {log}");
}
