//! `wshd-load bomb`: sends a decompression bomb and reports how the server refused it.
//!
//! The bomb is `--inflated-mib` MiB of zeros (64 by default) sent compressed under
//! permessage-deflate, once for each entry of `--fragments` (default: as one message,
//! then as 1,000 fragments), each on a new connection. For each it reports the close code the server answered with, the
//! time from the first byte sent to that close, and the growth of the server's peak RSS
//! (`VmHWM`), which shows whether the server ever held the inflated message. It is a
//! measurement, not a pass/fail test: the core's tests assert the behaviour.

use std::error::Error;
use std::time::{Duration, Instant};

use wshd_server::client::{ClientConfig, connect};
use wshd_server::{MessageKind, WebSocket};

use crate::BombArgs;
use crate::connect::Target;
use crate::procstat;
use wshd_server::CloseCode;

/// How long to wait for the server's close after the bomb is sent.
const PATIENCE: Duration = Duration::from_secs(30);

pub async fn run(args: &BombArgs) -> Result<(), Box<dyn Error>> {
    let target = Target::resolve(&args.url).await?;
    let pid = args.server_pid.to_string();
    let config = ClientConfig {
        extensions: Some("permessage-deflate; client_max_window_bits".into()),
        ..ClientConfig::default()
    };
    let total = args.inflated_mib << 20;
    for &fragments in &args.fragments {
        let fragments = fragments.max(1);
        let (mut ws, _) =
            connect(target.addr, Some(&target.host), &target.resource, &config).await?;
        if ws.extensions().is_none() {
            return Err("the server did not accept permessage-deflate".into());
        }
        let before = procstat::memory(&pid)?;
        let started = Instant::now();
        let sent = send_zeros(&mut ws, total, fragments).await;
        let code = tokio::time::timeout(PATIENCE, closing_code(&mut ws)).await;
        let elapsed = started.elapsed();
        let after = procstat::memory(&pid)?;
        let code = match code {
            Ok(Some(c)) => c.to_string(),
            Ok(None) => "none".into(),
            Err(_) => format!("no close within {PATIENCE:?}"),
        };
        println!(
            "bomb inflated={} MiB fragments={fragments} sent={} | server close code {code} after {:.1} ms | \
             server peak RSS {:.1} -> {:.1} MiB (+{:.1} MiB), RSS now {:.1} MiB",
            args.inflated_mib,
            if sent { "all" } else { "partly (server closed first)" },
            elapsed.as_secs_f64() * 1e3,
            mib(before.peak_rss),
            mib(after.peak_rss),
            mib(after.peak_rss.saturating_sub(before.peak_rss)),
            mib(after.rss),
        );
    }
    Ok(())
}

/// Sends `total` zero bytes as one binary message in `fragments` pieces; false if the
/// server closed the connection before everything was written.
async fn send_zeros(ws: &mut WebSocket, total: usize, fragments: usize) -> bool {
    let piece = vec![0u8; total.div_ceil(fragments)];
    let mut left = total;
    while left > 0 {
        let n = left.min(piece.len());
        left -= n;
        if ws.send_fragment(MessageKind::Binary, &piece[..n], left == 0).await.is_err() {
            return false;
        }
    }
    true
}

/// Reads until the server's close frame and returns its code.
async fn closing_code(ws: &mut WebSocket) -> Option<u16> {
    loop {
        match ws.recv().await {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                return ws.peer_close().map(|c| c.code.0).filter(|&c| c != CloseCode::NO_STATUS.0);
            }
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
