//! Echo server on tokio-tungstenite with its default configuration: every text or binary
//! message comes back as it came. The loop is the crate's own `examples/echo-server.rs`
//! (split the stream, keep data messages, `forward` them to the sink, which flushes only
//! when no further message is ready). A benchmark peer for wshd, not part of wshd.

use futures_util::{StreamExt, TryStreamExt, future};

fn main() -> std::io::Result<()> {
    wshd_bench_peers::run(|stream| async move {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
        let (write, read) = ws.split();
        let _ =
            read.try_filter(|m| future::ready(m.is_text() || m.is_binary())).forward(write).await;
    })
}
