//! What the peer echo servers share: the command line (the same shape as wshd's
//! `examples/echo`: `--host --port --threads`) and the runtime that serves it.
//!
//! Each binary in `src/bin` only says how one connection is accepted and echoed. This is
//! bench tooling outside the main workspace, not part of wshd.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use tokio::net::{TcpListener, TcpStream};

/// Command line of every peer echo server.
#[derive(Parser, Debug)]
pub struct Args {
    /// Address to listen on.
    #[arg(short = 'H', long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(short, long, default_value_t = 9001)]
    pub port: u16,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Parses the command line, binds, prints `listening on ADDR` (for scripts that start us
/// with `--port 0`), and runs `serve` on a task for every accepted connection, forever.
pub fn run<F, Fut>(serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    runtime.enable_all().build()?.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: report, and keep serving the rest.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream));
        }
    })
}
