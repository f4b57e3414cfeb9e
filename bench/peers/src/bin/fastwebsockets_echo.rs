//! Echo server on fastwebsockets (hyper upgrade, `FragmentCollector` so fragmented
//! messages come back whole and text is UTF-8 checked): every text or binary message
//! comes back as it came; pings are answered and closes echoed by the crate. The shape of
//! the crate's own `examples/echo_server.rs`. A benchmark peer for wshd, not part of wshd.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = tokio::task::unconstrained(echo(fut)).await;
    });
    Ok(response)
}

fn main() -> std::io::Result<()> {
    wshd_bench_peers::run(|stream| async move {
        let io = TokioIo::new(stream);
        let _ =
            http1::Builder::new().serve_connection(io, service_fn(upgrade)).with_upgrades().await;
    })
}
