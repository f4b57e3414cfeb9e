//! The `wshd` command line as a process: `--config` files, both option spellings and
//! prefixes, usage errors, obsolete options, logging (levels, Python records, rotation,
//! the connection monitor, memory trims) and SIGTERM's graceful shutdown. Every server listens on
//! 127.0.0.1:0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use wshd_testkit::files::TempTree;
use wshd_testkit::process::{ServerProcess as Wshd, wait_for};
use wshd_testkit::raw_client::{self, Raw};

fn wshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wshd"))
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/handlers").canonicalize().unwrap()
}

/// Opens `path` with a WebSocket handshake; returns the status code and the client.
fn open_ws(addr: SocketAddr, path: &str) -> (u16, Raw) {
    let (c, head) = Raw::open(addr, path, "");
    (raw_client::status(&head), c)
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

#[test]
fn config_file_values_apply_and_the_command_line_wins() {
    let cwd = TempTree::empty("config-cwd");
    let root = TempTree::empty("config-root");
    // Port 1 cannot be bound by a test: wshd starting at all shows -p 0 won over it.
    cwd.write(
        "wshd.ini",
        format!(
            "; pywebsocket-style configuration\n[pywebsocket]\nserver_host = 127.0.0.1\n\
             port = 1\nWebsock_Handlers = {}\nlog-level = info\nlog_file = wshd.log\n\
             allow_handlers_outside_root_dir = True\n",
            examples().display()
        ),
    );
    // The config file is relative to where wshd starts; the log file to the document root.
    let w = Wshd::spawn_capturing(
        wshd().current_dir(&cwd.0).args(["--config", "wshd.ini", "-p", "0", "-d"]).arg(&root.0),
    );
    let (status, _) = open_ws(w.addr, "/no_such_handler");
    assert_eq!(status, 404);
    let (status, mut c) = open_ws(w.addr, "/echo");
    assert_eq!(status, 101);
    c.send(0x81, b"hi");
    assert_eq!(c.frame(), (0x81, b"hi".to_vec()));
    let log = root.0.join("wshd.log");
    let text = wait_for(|| {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("HTTP 404").then_some(text)
    })
    .expect("the INFO record of the 404 reaches the log file");
    assert!(text.contains("] [INFO] wshd_server::http: HTTP 404"), "{text}");
    assert!(!cwd.0.join("wshd.log").exists());
}

#[test]
fn config_file_errors_exit_2_with_a_message() {
    let dir = TempTree::empty("config-bad");
    let no_section = dir.write("a.ini", "[server]\nport = 0\n");
    let out = run(wshd().arg("--config").arg(&no_section));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [pywebsocket] section"));

    let out = run(wshd().arg("--config").arg(dir.0.join("missing.ini")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));

    let unknown = dir.write("b.ini", "[pywebsocket]\nno_such_option = 1\n");
    let out = run(wshd().arg("--config").arg(&unknown));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option 'no-such-option'"));

    let bad_value = dir.write("c.ini", "[pywebsocket]\nport = eighty\n");
    let out = run(wshd().arg("--config").arg(&bad_value));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config file") && err.contains("eighty"), "{err}");
}

#[test]
fn underscore_spellings_and_prefixes_are_accepted() {
    let w = Wshd::spawn_capturing(
        wshd()
            .args(["--server_host", "127.0.0.1", "--po", "0", "--websock_handlers"])
            .arg(examples())
            .args(["--log_level", "info", "--deflate_log", "debug", "--queue", "16"]),
    );
    let (status, mut c) = open_ws(w.addr, "/echo");
    assert_eq!(status, 101);
    c.send(0x81, b"x");
    assert_eq!(c.frame(), (0x81, b"x".to_vec()));
}

#[test]
fn unknown_and_ambiguous_options_exit_2() {
    let out = run(wshd().arg("--no-such-option"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-option"));
    // --log could be --log-level, --log-file, --log-max or --log-count.
    let out = run(wshd().args(["--log", "x"]));
    assert_eq!(out.status.code(), Some(2));
    // fine is not a deflate log level (as in pywebsocket).
    let out = run(wshd().args(["--deflate-log-level", "fine"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let out = run(wshd().arg("--help"));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--config", "--log-file", "--log-max", "--queue", "--shutdown-timeout"] {
        assert!(help.contains(option), "{option} missing from --help");
    }
    let out = run(wshd().arg("--version"));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wshd "));
}

#[test]
fn obsolete_options_warn_and_run() {
    let w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "-w"]).arg(examples()).args([
            "--allow_draft75",
            "--strict",
            "--tls-module",
            "ssl",
        ]),
    );
    let err = w.wait_for_stderr("--tls-module is obsolete");
    assert!(err.contains("[WARNING] wshd: --allow-draft75 is obsolete and ignored"), "{err}");
    assert!(err.contains("--strict is obsolete"), "{err}");
    assert_eq!(open_ws(w.addr, "/echo").0, 101);
}

#[test]
fn python_logging_reaches_the_log_at_its_level() {
    let root = TempTree::empty("pylog");
    root.write(
        "log_wsh.py",
        "import logging\n\
         def web_socket_do_extra_handshake(request):\n    pass\n\
         def web_socket_transfer_data(request):\n\
         \x20   logging.getLogger('handler.test').info('info from python')\n\
         \x20   logging.getLogger('handler.test').debug('debug from python')\n\
         \x20   logging.getLogger('handler.test').critical('critical from python')\n",
    );
    let w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "--log-level", "info", "-d"]).arg(&root.0),
    );
    let (status, mut c) = open_ws(w.addr, "/log");
    assert_eq!(status, 101);
    assert_eq!(c.frame().0, 0x88);
    let err = w.wait_for_stderr("critical from python");
    assert!(err.contains("] [INFO] handler.test: info from python"), "{err}");
    assert!(err.contains("] [CRITICAL] handler.test: critical from python"), "{err}");
    assert!(!err.contains("debug from python"), "{err}");
}

#[test]
fn log_file_rotates_by_size_keeping_log_count_backups() {
    let root = TempTree::empty("rotate");
    let w = Wshd::spawn_capturing(
        wshd()
            .args(["-H", "127.0.0.1", "-p", "0", "--log-level", "info", "-d"])
            .arg(&root.0)
            .args(["-l", "w.log", "--log_max", "1000", "--log-count", "2"]),
    );
    // Each refused handshake writes an INFO record of about 130 bytes.
    for _ in 0..60 {
        assert_eq!(open_ws(w.addr, "/missing").0, 404);
    }
    let log = root.0.join("w.log");
    wait_for(|| root.0.join("w.log.2").exists().then_some(())).expect("two backups");
    for path in [log.clone(), root.0.join("w.log.1"), root.0.join("w.log.2")] {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() < 1000, "{} has {} bytes", path.display(), text.len());
        assert!(text.lines().all(|l| l.starts_with('[')), "{text}");
    }
    assert!(!root.0.join("w.log.3").exists());
}

#[test]
fn the_monitor_logs_open_connections() {
    let w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "-w"]).arg(examples()).args([
            "--log-level",
            "info",
            "--thread-monitor-interval-in-sec",
            "1",
        ]),
    );
    let (_, _c) = open_ws(w.addr, "/echo");
    w.wait_for_stderr("[INFO] wshd::monitor: 1 open WebSocket connections");
}

/// `--memory-trim-interval` reaches the trimmer: once a connection has ended, freed memory
/// is given back and the trim logged at DEBUG (glibc builds, where there is a trim).
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn memory_is_given_back_once_a_connection_ends() {
    let w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "-w"]).arg(examples()).args([
            "--log-level",
            "debug",
            "--memory-trim-interval",
            "0.2",
        ]),
    );
    let (status, mut c) = open_ws(w.addr, "/echo");
    assert_eq!(status, 101);
    c.send(0x81, b"hi");
    assert_eq!(c.frame(), (0x81, b"hi".to_vec()));
    c.send(0x88, &1000u16.to_be_bytes());
    assert_eq!(c.frame().0, 0x88);
    drop(c);
    w.wait_for_stderr("[DEBUG] wshd::memory: returned ");
}

#[test]
fn sigterm_closes_open_websockets_with_1001_and_exits_0() {
    let mut w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "--log-level", "info", "-w"]).arg(examples()),
    );
    // The example echo handler's thread is blocked in receive_message.
    let (status, mut c) = open_ws(w.addr, "/echo");
    assert_eq!(status, 101);
    c.send(0x81, b"before");
    assert_eq!(c.frame(), (0x81, b"before".to_vec()));
    w.signal("TERM");
    let (first, payload) = c.frame();
    assert_eq!(first, 0x88);
    assert_eq!(payload[..2], [0x03, 0xe9], "1001: {payload:?}");
    c.send(0x88, &payload[..2]);
    let status = w.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr: {}", w.stderr());
    assert!(w.stderr().contains("SIGTERM received"));
}

#[test]
fn sigint_reaches_a_python_handler_that_is_not_receiving() {
    let root = TempTree::empty("sleeper");
    root.write(
        "sleep_wsh.py",
        "import time\n\
         def web_socket_do_extra_handshake(request):\n    pass\n\
         def web_socket_transfer_data(request):\n    time.sleep(60)\n",
    );
    let mut w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "--shutdown-timeout", "0.5", "-d"]).arg(&root.0),
    );
    let (status, mut c) = open_ws(w.addr, "/sleep");
    assert_eq!(status, 101);
    w.signal("INT");
    let (first, payload) = c.frame();
    assert_eq!((first, &payload[..2]), (0x88, &[0x03, 0xe9][..]));
    // The handler never returns: wshd exits after the shutdown timeout, still with 0.
    assert_eq!(w.wait_exit().code(), Some(0), "stderr: {}", w.stderr());
}

#[test]
fn processes_share_the_port_and_stop_together() {
    let root = TempTree::empty("processes");
    root.write(
        "pid_wsh.py",
        "import os\n\
         def web_socket_do_extra_handshake(request):\n    pass\n\
         def web_socket_transfer_data(request):\n    \
             request.ws_stream.send_message(str(os.getpid()))\n    \
             request.ws_stream.receive_message()\n",
    );
    let mut w = Wshd::spawn_capturing(
        wshd().args(["-H", "127.0.0.1", "-p", "0", "--processes", "3", "-w"]).arg(&root.0),
    );
    // The kernel spreads connections over the processes by their addresses: 40 are
    // enough to reach more than one (each has its own pid and Python interpreter).
    let mut pids = std::collections::BTreeSet::new();
    let mut open = Vec::new();
    for _ in 0..40 {
        let (status, mut c) = open_ws(w.addr, "/pid");
        assert_eq!(status, 101);
        let (_, pid) = c.frame();
        pids.insert(String::from_utf8(pid).unwrap().parse::<u32>().unwrap());
        open.push(c);
    }
    assert!(pids.len() >= 2, "all 40 connections went to {pids:?}");
    assert!(pids.contains(&w.child.id()), "the first process serves too: {pids:?}");
    // SIGTERM to the first process: every connection, in every process, gets 1001.
    w.signal("TERM");
    for c in &mut open {
        let (first, payload) = c.frame();
        assert_eq!((first, &payload[..2]), (0x88, &[0x03, 0xe9][..]));
        c.send(0x88, &payload[..2]);
    }
    assert_eq!(w.wait_exit().code(), Some(0), "stderr: {}", w.stderr());
    for pid in pids {
        let gone = wait_for(|| (!Path::new(&format!("/proc/{pid}")).exists()).then_some(()));
        assert!(gone.is_some(), "process {pid} still runs after the first one exited");
    }
}

/// Handshakes refused because of a handler are logged at WARNING (the default level)
/// with the reason: the hook's exception, and a WebSocket request for a resource with no
/// handler.
#[test]
fn handler_refusals_are_logged_at_warning() {
    let root = TempTree::empty("refusal-log");
    root.write(
        "raises_wsh.py",
        "def web_socket_do_extra_handshake(request):\n\
         \x20   raise ValueError('no entry for this test')\n\
         def web_socket_transfer_data(request):\n    pass\n",
    );
    let w = Wshd::spawn_capturing(wshd().args(["-H", "127.0.0.1", "-p", "0", "-d"]).arg(&root.0));
    assert_eq!(open_ws(w.addr, "/raises").0, 403);
    // The server's line is written after the handler's, and stderr arrives line by line:
    // wait for the later one.
    let err = w.wait_for_stderr("the handler refused the handshake");
    assert!(err.contains("ValueError: no entry for this test"), "{err}");
    assert!(
        err.contains("[WARNING] wshd_python::handler: web_socket_do_extra_handshake raised"),
        "{err}"
    );
    assert!(
        err.contains("[WARNING] wshd_server::accept: the handler refused the handshake"),
        "{err}"
    );
    assert_eq!(open_ws(w.addr, "/missing").0, 404);
    let err = w.wait_for_stderr("no WebSocket handler for this resource");
    assert!(err.contains("[WARNING] wshd_server::accept: no WebSocket handler"), "{err}");
}

/// The pids serving `/pid` among `tries` connections (closed again).
fn serving_pids(addr: std::net::SocketAddr, tries: usize) -> std::collections::BTreeSet<u32> {
    (0..tries)
        .map(|_| {
            let (status, mut c) = open_ws(addr, "/pid");
            assert_eq!(status, 101);
            let (_, pid) = c.frame();
            String::from_utf8(pid).unwrap().parse::<u32>().unwrap()
        })
        .collect()
}

#[test]
fn a_killed_worker_is_logged_and_replaced() {
    let root = TempTree::empty("worker-replaced");
    root.write(
        "pid_wsh.py",
        "import os\n\
         def web_socket_do_extra_handshake(request):\n    pass\n\
         def web_socket_transfer_data(request):\n    \
             request.ws_stream.send_message(str(os.getpid()))\n",
    );
    let mut w = Wshd::spawn_capturing(
        wshd()
            .args(["-H", "127.0.0.1", "-p", "0", "--processes", "2", "--log-level", "info", "-w"])
            .arg(&root.0),
    );
    let first = w.child.id();
    let worker = *serving_pids(w.addr, 40)
        .iter()
        .find(|&&p| p != first)
        .expect("40 connections reach the worker too");
    // As the OOM killer or a crashing extension would end it.
    let killed = Command::new("kill").args(["-s", "KILL", &worker.to_string()]).status().unwrap();
    assert!(killed.success());
    let log = w.wait_for_stderr(&format!("replaces worker process {worker}"));
    let ended =
        format!("[WARNING] wshd::processes: worker process {worker} ended (signal: 9 (SIGKILL))");
    assert!(log.contains(&ended), "{log}");
    // The replacement serves beside the first process.
    let pids = wait_for(|| {
        let pids = serving_pids(w.addr, 40);
        (pids.len() == 2 && !pids.contains(&worker)).then_some(pids)
    })
    .expect("a new worker serves");
    // SIGTERM still stops every process.
    w.signal("TERM");
    assert_eq!(w.wait_exit().code(), Some(0), "stderr: {}", w.stderr());
    for pid in pids {
        let gone = wait_for(|| (!Path::new(&format!("/proc/{pid}")).exists()).then_some(()));
        assert!(gone.is_some(), "process {pid} still runs after the first one exited");
    }
}
