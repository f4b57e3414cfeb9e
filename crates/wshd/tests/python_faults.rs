//! The Python path under faults and load, sized for CI: descriptors released when
//! connections end (not when Python's collector runs), one descriptor per connection,
//! shutdown that never waits on a handler thread, and extra handshakes that cannot starve
//! other clients. Each runs `wshd` as a separate process on 127.0.0.1:0.

mod wshd_process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use wshd_process::Wshd;
use wshd_testkit::files::TempTree as Tree;
use wshd_testkit::raw_client::Raw;

fn start(tree: &Tree, extra: &[&str]) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    Wshd::spawn(command.arg(&tree.0).args(extra))
}

/// The descriptors `pid` has open.
fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Waits at most `limit` for `done`; whether it came.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A handler that keeps its request in a reference cycle, with the cycle collector off:
/// only the server, not Python, can release the connection's socket.
const CYCLE: &str = "\
import gc
gc.disable()
def web_socket_do_extra_handshake(request):
    pass
def web_socket_transfer_data(request):
    request.cycle = request
    request.ws_stream.send_message('hi')
";

/// Opens, reads the greeting, completes the handler's close and waits for TCP to end.
fn one_connection(addr: std::net::SocketAddr) {
    let (mut c, head) = Raw::open(addr, "/cycle", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(c.frame(), (0x81, b"hi".to_vec()));
    assert_eq!(c.frame(), (0x88, vec![0x03, 0xe8]));
    c.send(0x88, &[0x03, 0xe8]);
    assert!(c.rest().is_empty());
}

#[test]
fn descriptors_are_released_when_connections_end_not_when_python_collects() {
    let tree = Tree::new("cycle", &[("cycle_wsh.py", CYCLE)]);
    let wshd = start(&tree, &[]);
    let pid = wshd.child.id();
    one_connection(wshd.addr);
    let idle = descriptors(pid);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let addr = wshd.addr;
            std::thread::spawn(move || {
                for _ in 0..500 {
                    one_connection(addr);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Every client saw its connection end; the server's descriptors went with them.
    let ended = Instant::now();
    let settled = within(Duration::from_secs(1), || descriptors(pid) <= idle);
    eprintln!("2,000 connections closed: descriptors back to {idle} after {:?}", ended.elapsed());
    assert!(
        settled,
        "{} descriptors open after 2,000 connections, {idle} before",
        descriptors(pid)
    );
}

/// The example tree's echo handler.
const ECHO: &str = include_str!("../../../examples/handlers/echo_wsh.py");

#[test]
fn a_python_connection_costs_one_descriptor() {
    let tree = Tree::new("echo", &[("echo_wsh.py", ECHO)]);
    let wshd = start(&tree, &[]);
    let pid = wshd.child.id();
    let before = descriptors(pid);
    let open: Vec<Raw> = (0..500)
        .map(|_| {
            let (c, head) = Raw::open(wshd.addr, "/echo", "");
            assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
            c
        })
        .collect();
    let held = descriptors(pid) - before;
    assert!(held <= 510, "{held} descriptors for 500 open Python connections");
    drop(open);
}

/// Sends 64 KiB messages until the send blocks on a client that does not read.
const FLOOD: &str = "\
def web_socket_do_extra_handshake(request):
    pass
def web_socket_transfer_data(request):
    while True:
        request.ws_stream.send_message(b'x' * 65536, binary=True)
";

/// Never returns from its extra handshake.
const SPIN: &str = "\
def web_socket_do_extra_handshake(request):
    while True:
        pass
def web_socket_transfer_data(request):
    pass
";

/// SIGTERM, then the time until the process is gone.
fn terminate(wshd: &mut Wshd, limit: Duration) -> Option<Duration> {
    let sent = Instant::now();
    let pid = wshd.child.id().to_string();
    assert!(Command::new("kill").args(["-s", "TERM", &pid]).status().unwrap().success());
    let exited = within(limit, || matches!(wshd.child.try_wait(), Ok(Some(_))));
    exited.then(|| sent.elapsed())
}

/// The shutdown timeout given to the server, and the close timeout it uses.
const SHUTDOWN: Duration = Duration::from_secs(1);
const CLOSE: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(5);

#[test]
fn sigterm_with_handlers_blocked_on_clients_that_do_not_read_exits_in_time() {
    let tree = Tree::new("flood", &[("flood_wsh.py", FLOOD)]);
    let mut wshd = start(&tree, &["--shutdown-timeout", "1"]);
    let clients: Vec<Raw> = (0..50).map(|_| Raw::open(wshd.addr, "/flood", "").0).collect();
    // Let every handler fill its socket's buffers and block.
    std::thread::sleep(Duration::from_millis(500));
    let took = terminate(&mut wshd, SHUTDOWN + CLOSE + SLACK);
    eprintln!("SIGTERM with 50 handlers blocked on non-readers: exited after {took:?}");
    assert!(took.is_some(), "wshd still running {:?} after SIGTERM", SHUTDOWN + CLOSE + SLACK);
    drop(clients);
}

#[test]
fn sigterm_with_an_extra_handshake_that_never_returns_exits_in_time() {
    let tree = Tree::new("spin", &[("spin_wsh.py", SPIN), ("echo_wsh.py", ECHO)]);
    let mut wshd = start(&tree, &["--shutdown-timeout", "1"]);
    let mut spinner = TcpStream::connect(wshd.addr).unwrap();
    spinner.write_all(&handshake("/spin")).unwrap();
    // The server still serves others while the hook spins.
    let (_c, head) = Raw::open(wshd.addr, "/echo", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let took = terminate(&mut wshd, SHUTDOWN + CLOSE + SLACK);
    eprintln!("SIGTERM with an extra handshake looping: exited after {took:?}");
    assert!(took.is_some(), "wshd still running {:?} after SIGTERM", SHUTDOWN + CLOSE + SLACK);
}

/// Waits in its extra handshake for a byte its client never sends.
const WAIT_READ: &str = "\
def web_socket_do_extra_handshake(request):
    request.connection.read(1)
def web_socket_transfer_data(request):
    pass
";

fn handshake(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn extra_handshakes_waiting_on_their_clients_starve_neither_handshakes_nor_files() {
    let tree = Tree::new("wait_read", &[("wait_read_wsh.py", WAIT_READ), ("echo_wsh.py", ECHO)]);
    std::fs::write(tree.0.join("page.txt"), "a static file\n").unwrap();
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    let wshd = Wshd::spawn(command.arg(&tree.0).arg("-d").arg(&tree.0));
    // More waiting hooks than tokio's blocking pool has threads (512).
    let waiting: Vec<TcpStream> = (0..520)
        .map(|_| {
            let mut s = TcpStream::connect(wshd.addr).unwrap();
            s.write_all(&handshake("/wait_read")).unwrap();
            s
        })
        .collect();
    // Until every hook has its thread (a thread each: one per connection).
    let pid = wshd.child.id();
    let all_waiting = within(Duration::from_secs(20), || threads(pid) >= 520);
    assert!(all_waiting, "only {} threads for 520 waiting hooks", threads(pid));
    let asked = Instant::now();
    let (_c, head) = Raw::open(wshd.addr, "/echo", "");
    let handshake_took = asked.elapsed();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let asked = Instant::now();
    let mut file = TcpStream::connect(wshd.addr).unwrap();
    file.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    file.write_all(b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    file.read_to_string(&mut answer).expect("the static file is answered");
    eprintln!(
        "520 extra handshakes waiting: a handshake answered in {handshake_took:?}, a static \
         file in {:?}",
        asked.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("a static file\n"), "{answer}");
    drop(waiting);
}

/// The threads `pid` runs.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}
