//! The closed loop of `wshd-load echo --extensions`: connections through wshd's own
//! client (`wshd_server::client`), so that permessage-deflate can be negotiated and every
//! message compressed both ways.
//!
//! It costs the generator more CPU per message than the raw-frame loop in `echo` (a
//! real parser, random masks, a buffer per message), so use it for compression, not
//! to rank servers by plain echo throughput. Refill is always one message per echo.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::task::JoinSet;
use wshd_server::{Message, WebSocket};

use crate::EchoArgs;
use crate::connect::{self, Target};
use crate::echo::{BATCH, Outcome, Shared};
use crate::frames;
use crate::window::{MEASURE, WARMUP};
use wshd_server::{CloseCode, CloseFrame};

/// Opens the connections and spawns a loop for each; returns how many opened and the
/// failures.
pub async fn spawn(
    args: &EchoArgs,
    target: &Target,
    sources: &[Option<IpAddr>],
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<Outcome>,
) -> (usize, BTreeMap<String, usize>) {
    let c = &args.common;
    let opened =
        connect::open_all(target, c.connections, sources, c.concurrency, c.extensions.as_deref())
            .await;
    let agreed = opened.sockets.iter().filter(|(_, ws)| ws.extensions().is_some()).count();
    eprintln!("extensions accepted on {agreed} of {} connections", opened.sockets.len());
    let payload = frames::payload(args.payload.size);
    let message = Arc::new(if args.payload.text {
        Message::Text(String::from_utf8(payload).expect("the payload is ASCII"))
    } else {
        Message::Binary(payload)
    });
    let count = opened.sockets.len();
    for (_, ws) in opened.sockets {
        tasks.spawn(drive(ws, shared.clone(), message.clone(), args.depth as usize));
    }
    (count, opened.errors)
}

/// Runs one connection's closed loop until the window ends, drains what is in flight and
/// closes with 1000.
async fn drive(
    mut ws: WebSocket,
    shared: Arc<Shared>,
    message: Arc<Message>,
    depth: usize,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut sent: VecDeque<Instant> = VecDeque::with_capacity(depth);
    let mut samples: Vec<u64> = Vec::with_capacity(BATCH);
    let text = |e: wshd_server::Error| e.to_string();
    let result: Result<(), String> = async {
        // The first D messages leave in one write.
        for _ in 0..depth {
            ws.feed(&message).await.map_err(text)?;
            sent.push_back(Instant::now());
        }
        ws.flush().await.map_err(text)?;
        loop {
            let reply = ws.recv().await.map_err(text)?;
            let now = Instant::now();
            match reply {
                Some(ref r) if r == &*message => {}
                Some(_) => return Err("echo differs from the message sent".to_owned()),
                None => return Err("server closed the connection".to_owned()),
            }
            // Echoes come back in order, so this one answers the oldest send.
            let sent_at =
                sent.pop_front().ok_or_else(|| "more echoes than messages sent".to_owned())?;
            match shared.phase.load(Ordering::Relaxed) {
                WARMUP => {}
                MEASURE => {
                    outcome.measured += 1;
                    samples.push(now.duration_since(sent_at).as_nanos() as u64);
                    if samples.len() == BATCH {
                        shared.merge(&mut samples);
                    }
                }
                _ => {
                    if sent.is_empty() {
                        return Ok(());
                    }
                    continue;
                }
            }
            // Queued, not written: `recv` writes the queue out before it waits, so the
            // replacements for a burst of echoes leave in one write.
            ws.feed(&message).await.map_err(text)?;
            sent.push_back(Instant::now());
        }
    }
    .await;
    shared.merge(&mut samples);
    match result {
        Ok(()) => match ws.close(Some(CloseFrame::new(CloseCode::NORMAL, ""))).await {
            Ok(()) if ws.peer_close().is_some_and(|c| c.code == CloseCode::NORMAL) => {
                outcome.clean_close = true
            }
            Ok(()) => outcome.error = Some(format!("close answered with {:?}", ws.peer_close())),
            Err(e) => outcome.error = Some(format!("close: {e}")),
        },
        Err(e) => outcome.error = Some(e),
    }
    outcome
}
