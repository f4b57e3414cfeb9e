//! `wshd-load idle`: server memory per idle connection (RSS and kernel slab).
//!
//! Reads the server's RSS and the kernel slab, opens N connections, lets them settle,
//! reads again, echoes 20 bytes once on every connection (servers may allocate lazily),
//! reads again, then closes all with 1000 and counts clean closes. It does not measure
//! throughput or latency (that is `echo`), and it cannot tell which process the slab
//! belongs to: on loopback the slab growth covers both ends of each connection.

use std::error::Error;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use wshd_server::{Message, WebSocket};

use crate::IdleArgs;
use crate::connect::{self, Target};
use crate::procstat;
use crate::report::{self, IdleReport, Snapshot};
use wshd_server::{CloseCode, CloseFrame};

/// Fixed wait between the last open and the "after open" reading, so that the server
/// has finished with every handshake.
const SETTLE: Duration = Duration::from_secs(2);
/// Wait after the echoes (and after closing) before reading, for the same reason.
const AFTER_ECHO: Duration = Duration::from_secs(1);
/// Time allowed for one echo to come back.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the idle measurement and prints its report.
pub async fn run(args: &IdleArgs) -> Result<(), Box<dyn Error>> {
    let c = &args.common;
    connect::check_fd_budget(c.connections)?;
    let target = Target::resolve_with_tls(&c.url, c.tls_ca.as_deref()).await?;
    let sources = connect::sources(c.sources, &target)?;
    let pid = args.server_pid.to_string();
    let snapshot = || -> Result<Snapshot, Box<dyn Error>> {
        Ok(Snapshot {
            server: procstat::memory(&pid)
                .map_err(|e| format!("cannot read the server's memory (pid {pid}): {e}"))?,
            client: procstat::memory("self")?,
            slab: procstat::slab()?,
        })
    };

    let before = snapshot()?;
    let opened =
        connect::open_all(&target, c.connections, &sources, c.concurrency, c.extensions.as_deref())
            .await;
    let settle = SETTLE + Duration::from_secs_f64(args.hold_secs.max(0.0));
    tokio::time::sleep(settle).await;
    let after_open = snapshot()?;
    let mut errors = opened.errors;
    if c.extensions.is_some() {
        let agreed = opened.sockets.iter().filter(|(_, ws)| ws.extensions().is_some()).count();
        eprintln!("extensions accepted on {agreed} of {} connections", opened.sockets.len());
    }

    // One echo per connection, all at once.
    let mut tasks = JoinSet::new();
    for (i, ws) in opened.sockets {
        tasks.spawn(echo_once(i, ws));
    }
    let mut sockets = Vec::with_capacity(tasks.len());
    let mut echo_ok = 0;
    while let Some(joined) = tasks.join_next().await {
        let (ws, outcome) = joined?;
        match outcome {
            Ok(()) => echo_ok += 1,
            Err(e) => *errors.entry(format!("echo: {e}")).or_default() += 1,
        }
        sockets.push(ws);
    }
    tokio::time::sleep(AFTER_ECHO).await;
    let after_echo = snapshot()?;

    // Close every connection with 1000 and wait for each closing handshake.
    let opened_count = sockets.len();
    let close_start = Instant::now();
    let mut tasks = JoinSet::new();
    for mut ws in sockets {
        tasks.spawn(async move {
            let result = ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await;
            clean_close(&ws, result)
        });
    }
    let mut clean_closes = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(()) => clean_closes += 1,
            Err(e) => *errors.entry(format!("close: {e}")).or_default() += 1,
        }
    }
    let close_secs = close_start.elapsed().as_secs_f64();
    tokio::time::sleep(AFTER_ECHO).await;
    let after_close = snapshot()?;

    let report = IdleReport {
        url: c.url.clone(),
        server_pid: args.server_pid,
        requested: c.connections,
        opened: opened_count,
        failed: opened.failed,
        errors,
        sources: c.sources,
        open_secs: opened.elapsed.as_secs_f64(),
        settle_secs: settle.as_secs_f64(),
        before,
        after_open,
        after_echo,
        after_close,
        echo_ok,
        clean_closes,
        close_secs,
    };
    report::emit(&report.line(), &report.json(), c.json.as_deref())?;
    report::print_errors(&report.errors);
    if report.opened < report.requested
        || report.echo_ok < report.opened
        || report.clean_closes < report.opened
    {
        return Err("some connections failed to open, echo or close cleanly".into());
    }
    Ok(())
}

/// Sends one 20-byte binary message (which carries the connection's index) and checks
/// that the same bytes come back.
async fn echo_once(i: usize, mut ws: WebSocket) -> (WebSocket, Result<(), String>) {
    let mut payload = *b"wshd-load idle \0\0\0\0\0";
    payload[15..].copy_from_slice(&(i as u64).to_le_bytes()[..5]);
    let outcome = async {
        ws.send_binary(&payload).await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(ECHO_TIMEOUT, ws.recv()).await {
            Err(_) => Err("no answer within 10 s".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(None)) => Err("server closed the connection".to_owned()),
            Ok(Ok(Some(Message::Binary(data)))) if data == payload => Ok(()),
            Ok(Ok(Some(_))) => Err("answer differs from the message sent".to_owned()),
        }
    }
    .await;
    (ws, outcome)
}

/// A close is clean when our closing handshake completed and the server answered 1000.
fn clean_close(ws: &WebSocket, result: Result<(), wshd_server::Error>) -> Result<(), String> {
    result.map_err(|e| e.to_string())?;
    match ws.peer_close() {
        Some(c) if c.code == CloseCode::NORMAL => Ok(()),
        Some(c) => Err(format!("server answered close with {}", c.code.0)),
        None => Err("no close frame from the server".to_owned()),
    }
}
