//! Peers that stop taking part, against the `wshd` binary and a Python handler:
//! `--send-timeout` drops a peer that stops reading while the handler sends to it, and
//! `--idle-timeout` closes a connection no message uses (the keepalive pings of
//! `--ping-interval` do not count). The log names each reason.

mod wshd_process;

use std::process::Stdio;
use std::time::{Duration, Instant};

use wshd_process::Wshd;
use wshd_testkit::files::TempTree as Tree;
use wshd_testkit::raw_client::Raw;

const FLOOD: &str = r#"
import logging

def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    chunk = b'x' * 65536
    try:
        while True:
            request.ws_stream.send_message(chunk, binary=True)
    except Exception as e:
        logging.getLogger('flood').warning('send raised %s', type(e).__name__)
"#;

/// The same without catching: the exception ends the handler.
const FLOOD_RAISING: &str = r#"
def web_socket_do_extra_handshake(request):
    pass

def web_socket_transfer_data(request):
    chunk = b'x' * 65536
    while True:
        request.ws_stream.send_message(chunk, binary=True)
"#;

fn start(tree: &Tree, extra: &[&str]) -> Wshd {
    let mut command = wshd_process::command(["-H", "127.0.0.1", "-p", "0", "-w"]);
    command.arg(&tree.0).args(extra).stderr(Stdio::piped());
    Wshd::spawn_capturing(&mut command)
}

/// 0 of 50 such peers were closed within 30 s before the send timeout existed; each
/// held a handler thread.
#[test]
fn a_peer_that_stops_reading_is_dropped_at_the_send_timeout() {
    let tree = Tree::new(
        "stuck-send",
        &[("flood_wsh.py", FLOOD), ("flood_raising_wsh.py", FLOOD_RAISING)],
    );
    let wshd = start(&tree, &["--send-timeout", "0.5"]);
    let (mut caught, head) = Raw::open(wshd.addr, "/flood", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let (mut raised, head) = Raw::open(wshd.addr, "/flood_raising", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    // Read nothing: the socket buffers fill, and then the handlers' sends stop moving.
    wshd.wait_for_stderr("send raised ConnectionTerminatedException");
    let dropped = "dropping the connection: the peer took none of our bytes for 0.5 s";
    let said = wshd_testkit::process::wait_for(|| {
        let said = wshd.stderr();
        (said.matches(dropped).count() == 2).then_some(said)
    });
    assert!(
        said.is_some(),
        "two drops logged, whether or not the handler caught: {}",
        wshd.stderr()
    );
    // Behind what reached them, the peers find the end of the stream.
    for c in [&mut caught, &mut raised] {
        let received = c.rest();
        assert!(received.len() > 65536, "{} bytes arrived", received.len());
        assert_eq!(c.end_of_stream(), Ok(()));
    }
}

/// A slow reader that keeps reading is not dropped, however long the sending takes: each
/// byte it takes stops the send timeout's clock.
#[test]
fn a_slow_reader_that_keeps_reading_is_not_dropped() {
    let tree = Tree::new("slow-reader", &[("flood_wsh.py", FLOOD)]);
    let wshd = start(&tree, &["--send-timeout", "0.5"]);
    let (mut c, _) = Raw::open(wshd.addr, "/flood", "");
    let start = Instant::now();
    let mut got = 0;
    // About 640 KiB a second for 2.5 s: five send timeouts.
    while start.elapsed() < Duration::from_millis(2500) {
        let mut round = 0;
        while round < 64 << 10 {
            let n = c.fill();
            assert!(n > 0, "the stream ended after {got} bytes: {}", wshd.stderr());
            round += n;
        }
        got += round;
        c.take(round);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!wshd.stderr().contains("(send timeout)"), "{}", wshd.stderr());
    assert!(got > 1 << 20, "{got} bytes");
}

#[test]
fn a_connection_without_messages_is_closed_1001_at_the_idle_timeout_despite_pings() {
    let tree = Tree::new(
        "idle",
        &[("echo_wsh.py", include_str!("../../../examples/handlers/echo_wsh.py"))],
    );
    let wshd = start(
        &tree,
        &[
            "--idle-timeout",
            "0.6",
            "--ping-interval",
            "0.1",
            "--ping-timeout",
            "10",
            "--log-level",
            "info",
        ],
    );
    let (mut c, head) = Raw::open(wshd.addr, "/echo", "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut quiet = Instant::now();
    // A message every 0.25 s for 1.5 s keeps it open.
    for i in 0..6u8 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(250));
        }
        quiet = Instant::now();
        c.send(0x82, &[i]);
        loop {
            match c.frame() {
                (0x89, ping) => c.send(0x8a, &ping),
                echo => {
                    assert_eq!(echo, (0x82, vec![i]));
                    break;
                }
            }
        }
    }
    let mut pings = 0;
    let close = loop {
        match c.frame() {
            (0x89, ping) => {
                pings += 1;
                c.send(0x8a, &ping);
            }
            other => break other,
        }
    };
    assert_eq!(close, (0x88, vec![0x03, 0xe9]), "1001 going away");
    assert!(quiet.elapsed() >= Duration::from_millis(600), "closed after {:?}", quiet.elapsed());
    assert!(pings > 0, "pings went on meanwhile");
    let said = wshd.wait_for_stderr("(idle timeout)");
    assert!(said.contains("closing the connection with 1001: no message either way"), "{said}");
}
