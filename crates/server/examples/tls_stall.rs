//! Measures what clients that stall in the TLS handshake cost a normal `wss://` client:
//! the time of a full connect (TCP, TLS, WebSocket handshake), one echo and the close,
//! first with no stalled client, then with `--stalled` TCP connections open to the TLS
//! port that never send a ClientHello.
//!
//! ```text
//! cargo run --release -p wshd-server --example tls_stall -- --stalled 100 --rounds 200
//! ```
//!
//! By default it serves an in-process echo server (its own runtime, two worker
//! threads) with a certificate made at start (rcgen). With `--server ADDR --ca FILE`
//! it measures another server instead (`--write-certs DIR` writes a certificate, key
//! and CA to start one with). This is a measurement tool, not a test: it asserts
//! nothing about time.

#[path = "../tests/pki/mod.rs"]
mod pki;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::net::TcpStream;
use wshd_server::client::{ClientConfig, ClientTls, connect};
use wshd_server::rustls::pki_types::CertificateDer;
use wshd_server::rustls::pki_types::pem::PemObject;
use wshd_server::tls::{ClientAuth, TlsConfig};
use wshd_server::{Config, Handler, Message, Router, Server, WebSocket};

#[derive(Parser)]
#[command(about = "time of a wss handshake+echo with and without stalled TLS clients")]
struct Args {
    /// TCP connections that never send a ClientHello, opened before the second run.
    #[arg(long, default_value_t = 100)]
    stalled: usize,
    /// Handshake+echo rounds per run (one after the other).
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Measure this server instead of an in-process one.
    #[arg(long, requires = "ca")]
    server: Option<SocketAddr>,
    /// PEM CA that the `--server`'s certificate chains to; its name must be localhost.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The resource to open on `--server` (it must echo).
    #[arg(long, default_value = "/echo")]
    resource: String,
    /// Write cert.pem, key.pem (for localhost and 127.0.0.1) and ca.pem here and exit.
    #[arg(long)]
    write_certs: Option<PathBuf>,
    /// Give up on one handshake+echo after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

struct Echo;

impl Handler for Echo {
    async fn transfer_data(&self, ws: &mut WebSocket) {
        while let Ok(Some(m)) = ws.recv().await {
            if ws.send(&m).await.is_err() {
                return;
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let ca = pki::Ca::new("wshd tls_stall CA");
    let leaf = ca.server();
    if let Some(dir) = &args.write_certs {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("cert.pem"), &leaf.cert_pem)?;
        std::fs::write(dir.join("key.pem"), &leaf.key_pem)?;
        std::fs::write(dir.join("ca.pem"), ca.pem())?;
        println!("wrote cert.pem, key.pem and ca.pem to {}", dir.display());
        return Ok(());
    }
    let (addr, roots) = match (&args.server, &args.ca) {
        (Some(addr), Some(ca_file)) => {
            let roots = CertificateDer::pem_file_iter(ca_file)?.collect::<Result<Vec<_>, _>>()?;
            (*addr, roots)
        }
        _ => {
            let tls = TlsConfig::from_pem(
                leaf.cert_pem.as_bytes(),
                leaf.key_pem.as_bytes(),
                ClientAuth::Off,
            )?;
            // Stalled clients must outlive the measurement.
            let config = Config {
                tls: Some(tls),
                handshake_timeout: Duration::from_secs(600),
                ..Config::default()
            };
            (serve_in_background(config)?, vec![ca.der()])
        }
    };
    let client = ClientConfig {
        tls: Some(ClientTls::new(&roots, None)?),
        handshake_timeout: Duration::from_secs(args.timeout),
        ..ClientConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        // Warm-up: first connections pay for lazy setup on both sides.
        rounds(addr, &args.resource, &client, 5).await;
        let before = rounds(addr, &args.resource, &client, args.rounds).await;
        report("without stalled clients", &before);
        let mut stalled = Vec::with_capacity(args.stalled);
        for _ in 0..args.stalled {
            stalled.push(TcpStream::connect(addr).await?);
        }
        // Let the server accept them all before measuring.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let during = rounds(addr, &args.resource, &client, args.rounds).await;
        report(&format!("with {} stalled clients", args.stalled), &during);
        let open = stalled.iter().filter(|s| still_open(s)).count();
        println!("stalled connections still open at the end: {open} of {}", stalled.len());
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}

/// Starts the echo server on its own runtime and thread; returns its address.
fn serve_in_background(config: Config) -> std::io::Result<SocketAddr> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let server = rt.block_on(Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        Router::new().route("/echo", Echo),
        config,
    ))?;
    let addr = server.local_addr()?;
    std::thread::spawn(move || rt.block_on(server.run()));
    Ok(addr)
}

/// Times `n` sequential handshake+echo+close rounds; a failed round counts as `None`.
async fn rounds(
    addr: SocketAddr,
    resource: &str,
    client: &ClientConfig,
    n: usize,
) -> Vec<Option<Duration>> {
    let host = format!("localhost:{}", addr.port());
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let ok = async {
            let (mut ws, _) = connect(addr, Some(&host), resource, client).await?;
            ws.send_text("ping").await?;
            let echoed = ws.recv().await? == Some(Message::Text("ping".into()));
            let elapsed = start.elapsed();
            ws.close(Some(wshd_server::CloseFrame::new(wshd_server::CloseCode::NORMAL, "")))
                .await?;
            Ok::<_, wshd_server::Error>(echoed.then_some(elapsed))
        }
        .await;
        times.push(ok.ok().flatten());
    }
    times
}

fn report(label: &str, times: &[Option<Duration>]) {
    let mut ok: Vec<Duration> = times.iter().flatten().copied().collect();
    ok.sort();
    let failed = times.len() - ok.len();
    if ok.is_empty() {
        println!("{label}: all {} rounds failed", times.len());
        return;
    }
    let at = |q: f64| ok[((ok.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label}: {} rounds, {failed} failed; handshake+echo median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        ok[ok.len() - 1].as_secs_f64() * 1e3,
    );
}

/// Whether the server has not closed a stalled connection (nothing to read, no EOF).
fn still_open(s: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
