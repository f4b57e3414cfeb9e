//! Echo server on the native handler API: every message on every path comes back.
//!
//! ```text
//! cargo run --release -p wshd-server --example echo -- --port 9001
//! ```
//!
//! Prints `listening on ADDR` once bound (with `--port 0` the OS picks the port), so
//! scripts can start it and read the address. This is the server Autobahn|Testsuite runs
//! against. With `--certificate cert.pem --private-key key.pem` it serves `wss://` only.
//! SIGTERM or SIGINT shuts it down as it does the `wshd` binary (every WebSocket closed
//! with 1001, then exit 0).

use std::net::{IpAddr, SocketAddr};

use clap::Parser;
use wshd_server::signals::Signals;
use wshd_server::tls::{ClientAuth, TlsConfig};
use wshd_server::{Config, Handler, Router, Server, WebSocket};

/// jemalloc rather than the system allocator: the library leaves that choice to the binary,
/// and for many idle connections it matters. Each connection's tokio task (640 bytes) and
/// I/O registration (256 bytes) are 128-byte aligned; jemalloc serves both from size
/// classes that are multiples of 128, where glibc's `memalign` leaves fragments around each.
/// Measured with `bench/run.py --cases idle --servers wshd` (15,000 connections): about
/// 1,000 bytes of RSS per idle connection with jemalloc, 1,270 with glibc. The `wshd`
/// binary keeps glibc: its Python handlers run a thread per connection, and jemalloc's
/// per-thread caches cost them more than the alignment saves (29 KB -> 51 KB per idle
/// Python connection, measured the same way).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Echoes each message back as it arrives.
struct Echo;

impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        // `feed` queues the reply; `recv` writes the queue out before it waits, so a
        // burst of messages is answered with one write. (`let else` rather than `while
        // let`, whose matched value would stay in this future while `feed` runs.)
        loop {
            let Ok(Some(message)) = ws.recv().await else { return };
            if ws.feed(&message).await.is_err() {
                return;
            }
        }
    }
}

#[derive(Parser)]
#[command(about = "wshd echo server (native handler API)")]
struct Args {
    /// Address to listen on.
    #[arg(short = 'H', long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(short, long, default_value_t = 9001)]
    port: u16,
    /// Log filter, e.g. `info` or `wshd_server=debug`.
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// Runtime worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Set SO_REUSEPORT, so that several echo processes can share the port (to hold more
    /// connections than one process's file-descriptor limit allows).
    #[arg(long)]
    reuse_port: bool,
    /// Refuse compression extensions (permessage-deflate is accepted by default).
    #[arg(long)]
    no_deflate: bool,
    /// Also accept the legacy deflate-frame and x-webkit-deflate-frame extensions.
    #[arg(long)]
    deflate_frame: bool,
    /// Compression window of our compressor, 8 to 15 bits (default 12).
    #[arg(long, value_parser = clap::value_parser!(u8).range(8..=15))]
    deflate_window_bits: Option<u8>,
    /// zlib memory level of our compressor, 1 to 9 (default 5).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=9))]
    deflate_mem_level: Option<u8>,
    /// Send a keepalive ping after this many seconds without input (default: off).
    #[arg(long)]
    ping_interval: Option<u64>,
    /// Serve wss:// with this PEM certificate chain (needs --private-key).
    #[arg(long, requires = "private_key")]
    certificate: Option<std::path::PathBuf>,
    /// PEM private key for --certificate.
    #[arg(long, requires = "certificate")]
    private_key: Option<std::path::PathBuf>,
}

fn config(args: &Args) -> Config {
    let mut config = Config::default();
    config.deflate.enabled = !args.no_deflate;
    config.deflate.deflate_frame = args.deflate_frame;
    if let Some(bits) = args.deflate_window_bits {
        config.deflate.server_max_window_bits = bits;
    }
    if let Some(level) = args.deflate_mem_level {
        config.deflate.mem_level = level;
    }
    config.ping_interval = args.ping_interval.map(std::time::Duration::from_secs);
    config.reuse_port = args.reuse_port;
    if let (Some(cert), Some(key)) = (&args.certificate, &args.private_key) {
        let tls = TlsConfig::from_pem_files(cert, key, ClientAuth::Off);
        config.tls = Some(tls.unwrap_or_else(|e| {
            eprintln!("echo: {e}");
            std::process::exit(1)
        }));
    }
    config
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log_level))
        .with_writer(std::io::stderr)
        .init();
    purge_freed_memory_in_the_background();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n);
    }
    runtime.enable_all().build()?.block_on(async {
        // As the wshd binary: SIGTERM or SIGINT closes every WebSocket with 1001 and
        // exits 0 once they are closed (at most the shutdown timeout); a second exits 1.
        let signals = Signals::install()?;
        let router = Router::new().fallback(Echo);
        let server =
            Server::bind(SocketAddr::new(args.host, args.port), router, config(&args)).await?;
        tokio::spawn(signals.shut_down_on_signal(server.shutdown_handle()));
        println!("listening on {}", server.local_addr()?);
        server.run().await
    })
}

/// jemalloc gives the pages of freed memory back to the system (after `dirty_decay_ms`,
/// 10 s by default) only when the arena that freed them is used again, so a server whose
/// clients have left keeps what they used. A background thread of jemalloc's own purges
/// them on time instead; one is enough for this server.
fn purge_freed_memory_in_the_background() {
    #[cfg(not(target_env = "msvc"))]
    {
        let set = tikv_jemalloc_ctl::max_background_threads::write(1)
            .and_then(|()| tikv_jemalloc_ctl::background_thread::write(true));
        if let Err(e) = set {
            tracing::warn!(
                "jemalloc's background purging is off ({e}): freed memory stays resident"
            );
        }
    }
}
