//! `wshd-load`: the command line of the wshd load generator (idle memory, closed-loop echo,
//! open-loop echo, handshake rate, decompression bomb, soak).
//!
//! This file only parses arguments, builds the tokio runtime and hands over to a mode;
//! the measuring lives in `idle`, `echo`, `rate` and `handshakes`, the /proc readings in
//! `procstat` and `usage`, the output in `report` and `load_report`. It is a client for
//! benchmarking servers, not a test suite or a server.
//!
//! One process can hold at most as many connections as its open-file limit allows
//! (20,000 on the project's VMs, not raisable), so keep `--connections` at or below about
//! 19,900 per process and run several processes (and server processes) beyond that.
//! Methodology: shared/docs/performance.md §5.2.

mod bomb;
mod connect;
mod echo;
mod echo_ws;
mod frames;
mod handshakes;
mod idle;
mod load_report;
mod pacer;
mod procstat;
mod rate;
mod rawconn;
mod report;
mod soak;
mod usage;
mod window;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "wshd-load", about = "WebSocket load generator for wshd", version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Opens N idle connections and measures the server's memory per connection (RSS and
    /// kernel slab), then echoes once on each and closes them all with 1000.
    Idle(IdleArgs),
    /// Closed-loop echo: C connections each keep D messages of B bytes in flight; reports
    /// msgs/s, round-trip percentiles and msgs per server CPU-second.
    Echo(EchoArgs),
    /// Open-loop echo at a fixed offered rate; latency is measured from each message's
    /// scheduled send time (free of coordinated omission).
    Rate(RateArgs),
    /// Connection set-up rate: connect, opening handshake, close, over and over.
    Handshakes(HandshakeArgs),
    /// Sends a decompression bomb under permessage-deflate (as one message, then in
    /// fragments) and reports the server's close code, time to close, and peak RSS growth.
    Bomb(BombArgs),
    /// Holds connections for a long time with mixed sizes, compression, slow readers,
    /// aborts and reconnects; every connection keeps a ledger, and the run fails if an
    /// echo was lost, duplicated, reordered or corrupted.
    Soak(soak::SoakArgs),
}

/// Options of `wshd-load bomb`.
#[derive(Args, Debug)]
pub struct BombArgs {
    /// Server URL, `ws://host:port/path`; the server must accept permessage-deflate.
    #[arg(long)]
    url: String,
    /// Pid of the server, whose RSS and peak RSS are read.
    #[arg(long)]
    server_pid: u32,
    /// Size of the message once inflated, MiB of zeros.
    #[arg(long, default_value_t = 64)]
    inflated_mib: usize,
    /// One run per value: the bomb sent as this many fragments, each run on a new
    /// connection (e.g. `1000` alone measures the fragmented bomb on a fresh server).
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    fragments: Vec<usize>,
}

/// Options shared by both modes.
#[derive(Args, Debug)]
struct Common {
    /// Server URL, `ws://host:port/path` or `wss://host:port/path` (with --tls-ca).
    #[arg(long)]
    url: String,
    /// PEM CA that a `wss://` server's certificate must chain to.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Connections to open (at most ~19,900 per process: the fd limit is 20,000).
    #[arg(short = 'c', long)]
    connections: usize,
    /// Bind connections round-robin to 127.0.0.1..=127.0.0.K (0: let the OS choose).
    /// Spreading sources avoids ephemeral-port exhaustion; needs a loopback target.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(0..=254))]
    sources: u8,
    /// Connection attempts (connect + handshake) in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Tokio worker threads of the generator (1 lets it be pinned with taskset).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// `Sec-WebSocket-Extensions` offer, e.g. `permessage-deflate; client_max_window_bits`;
    /// when the server accepts it, every message is compressed both ways.
    #[arg(long)]
    extensions: Option<String>,
}

/// Options of `wshd-load idle`.
#[derive(Args, Debug)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    /// Pid of the server process whose memory is measured.
    #[arg(long)]
    server_pid: u32,
    /// Extra seconds to hold the connections idle before the "after open" reading (on
    /// top of a fixed 2 s settle).
    #[arg(long, default_value_t = 0.0)]
    hold_secs: f64,
}

/// How `echo` keeps D messages in flight.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Refill {
    /// Write D frames in one write, wait for all D echoes, repeat (pipelining).
    Burst,
    /// Write one replacement per echo (those answered by one read leave in one write).
    Each,
}

impl Refill {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Refill::Burst => "burst",
            Refill::Each => "each",
        }
    }
}

/// The messages `echo` and `rate` send.
#[derive(Args, Debug)]
struct Payload {
    /// Payload bytes per message (binary unless --text).
    #[arg(short = 'b', long, default_value_t = 20)]
    size: usize,
    /// Send text messages (printable ASCII) instead of binary ones.
    #[arg(long)]
    text: bool,
}

/// The measured window of `echo`, `rate` and `handshakes`.
#[derive(Args, Debug)]
struct Window {
    /// Length of the measured window, seconds.
    #[arg(short = 't', long, default_value_t = 5.0)]
    duration_secs: f64,
    /// Seconds of load before the window starts (not counted).
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Pid of the server, to report its CPU time and RSS, and the work done per server
    /// CPU-second.
    #[arg(long)]
    server_pid: Option<u32>,
    /// With --server-pid: count every process in that pid's session, not only the pid
    /// (a server of several processes, such as nginx or Apache in front of wshd, started
    /// under `setsid` so that the pid leads the session).
    #[arg(long, requires = "server_pid")]
    server_session: bool,
}

impl Window {
    /// The server to sample, if a pid was given.
    fn server(&self) -> Option<usage::Server> {
        self.server_pid.map(|pid| usage::Server { pid, whole_session: self.server_session })
    }
}

/// Options of `wshd-load echo`.
#[derive(Args, Debug)]
struct EchoArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    payload: Payload,
    /// Messages kept in flight per connection.
    #[arg(short = 'd', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    depth: u32,
    /// How the D messages are refilled (`each` always with --extensions).
    #[arg(long, value_enum, default_value_t = Refill::Burst)]
    refill: Refill,
    #[command(flatten)]
    window: Window,
}

/// Options of `wshd-load rate`.
#[derive(Args, Debug)]
struct RateArgs {
    #[command(flatten)]
    common: Common,
    /// Offered load, messages per second over all connections together.
    #[arg(short = 'r', long)]
    rate: f64,
    #[command(flatten)]
    payload: Payload,
    #[command(flatten)]
    window: Window,
    /// Abort when this many MiB wait unsent on one connection (the server fell behind).
    #[arg(long, default_value_t = 64)]
    max_backlog_mib: usize,
}

/// Options of `wshd-load handshakes`.
#[derive(Args, Debug)]
struct HandshakeArgs {
    /// Server URL, `ws://host:port/path`.
    #[arg(long)]
    url: String,
    /// Cycles (connect, handshake, close) in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Bind connections round-robin to 127.0.0.1..=127.0.0.K (0: let the OS choose), so
    /// that sockets in TIME_WAIT do not exhaust one address's ephemeral ports.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u8).range(0..=254))]
    sources: u8,
    #[command(flatten)]
    window: Window,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.mode {
        Mode::Idle(a) => a.common.threads,
        Mode::Echo(a) => a.common.threads,
        Mode::Rate(a) => a.common.threads,
        Mode::Handshakes(a) => a.threads,
        Mode::Bomb(_) => 1,
        Mode::Soak(_) => 1,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wshd-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match &cli.mode {
            Mode::Idle(args) => idle::run(args).await,
            Mode::Echo(args) => echo::run(args).await,
            Mode::Rate(args) => rate::run(args).await,
            Mode::Handshakes(args) => handshakes::run(args).await,
            Mode::Bomb(args) => bomb::run(args).await,
            Mode::Soak(args) => soak::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wshd-load: {e}");
            ExitCode::FAILURE
        }
    }
}
