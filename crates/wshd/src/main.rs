//! `wshd`: serves a directory of pywebsocket `*_wsh.py` handlers; `wshd client` is the
//! echo client instead (`echo_client.rs`).
//!
//! This file parses pywebsocket's `standalone.py` options (and `--config`), changes to the
//! document root, sets up logging, loads the handler tree and serves it, with the document
//! root's files and CGI scripts for the other paths, until SIGTERM or SIGINT, which close
//! every open WebSocket with 1001 and exit 0. It contains no protocol or Python logic:
//! those are `wshd-server` and `wshd-python`.

mod args;
mod config_file;
mod echo_client;
mod ini;
mod logging;
mod processes;
mod tls_options;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wshd_python::{HandlerTree, LoadOptions};
use wshd_server::signals::Signals;
use wshd_server::{Config, HttpConfig, Router, Server, Shutdown};

use crate::args::Args;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "client") {
        return echo_client::main(argv[1..].to_vec());
    }
    let args = parse_args(argv);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("wshd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, with `--config`'s entries placed before it (so it wins). Exits with
/// status 2 on a usage or config file error, as clap does.
fn parse_args(argv: Vec<OsString>) -> Args {
    let first = Args::try_parse_from(&argv).unwrap_or_else(|e| e.exit());
    let Some(path) = &first.config else { return first };
    let from_file = match config_file::arguments(path) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("wshd: {e}");
            std::process::exit(2);
        }
    };
    let mut merged = Vec::with_capacity(argv.len() + from_file.len());
    merged.extend(argv.first().cloned());
    merged.extend(from_file);
    merged.extend(argv.into_iter().skip(1));
    Args::try_parse_from(merged).unwrap_or_else(|e| {
        eprintln!("wshd: with the options of the config file {}:", path.display());
        e.exit()
    })
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    processes::watch_parent()?;
    // Worker processes start where this one did, where the command line's paths point.
    let start_dir = std::env::current_dir()?;
    // pywebsocket changes to the document root first; every later relative path
    // (-w, -s, -m, -k, -c, --tls-client-ca) resolves against it.
    std::env::set_current_dir(&args.document_root).map_err(|e| {
        format!("cannot change to the document root {}: {e}", args.document_root.display())
    })?;
    // Then logging, as pywebsocket: a relative --log-file is under the document root.
    logging::init(args)?;
    for warning in args.obsolete_option_warnings() {
        tracing::warn!("{warning}");
    }
    // As pywebsocket: the TLS combinations are checked (exit 1) before handlers load.
    let tls = tls_options::config(args)?;
    let options = LoadOptions {
        root: args.websock_handlers.clone(),
        scan_dir: args.scan_dir.clone(),
        allow_handlers_outside_root: args.allow_handlers_outside_root_dir,
        encoding: args.handler_encoding.clone(),
        map_file: args.websock_handlers_map_file.clone(),
    };
    let (tree, _warnings) = HandlerTree::load(&options)?;
    let router = tree.router(args.strict_extra_headers);
    let config = Config {
        validation_host: args.validation_host.clone(),
        validation_port: args.validation_port,
        unsupported_frame_close_code: args.unsupported_frame_close_code,
        tls,
        http: http_config(args)?,
        backlog: args.queue,
        reuse_port: args.reuse_port || args.processes > 1,
        shutdown_timeout: Duration::from_secs_f64(args.shutdown_timeout),
        ping_interval: args.ping_interval.map(Duration::from_secs_f64),
        ping_timeout: Duration::from_secs_f64(args.ping_timeout),
        send_timeout: Some(args.send_timeout).filter(|s| *s > 0.0).map(Duration::from_secs_f64),
        idle_timeout: args.idle_timeout.map(Duration::from_secs_f64),
        trusted_proxies: args.trusted_proxies.clone(),
        allow_hybi00: args.allow_hybi00,
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(serve(args, router, config, &start_dir));
    // Handler threads still running (stuck handlers) do not hold up the exit.
    runtime.shutdown_background();
    result
}

/// How long `--processes` waits for each worker to listen (starting one loads its Python
/// handlers) before giving up on the start.
const WORKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Listens on every address of `-H` (one port for all: the first bound one when `-p 0`),
/// as pywebsocket does, and serves until SIGTERM or SIGINT, then shuts down gracefully.
async fn serve(
    args: &Args,
    router: Router,
    config: Config,
    start_dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    // Installed before anything is bound, so a signal right after "listening on" counts.
    let signals = Signals::install()?;
    let addrs = bind_addresses(&args.server_host, args.port).await?;
    let servers = Server::bind_all(&addrs, router, config.clone()).await.map_err(|e| {
        format!("could not listen on host {:?} port {}: {e}", args.server_host, args.port)
    })?;
    let shutdown = servers[0].shutdown_handle();
    let port = servers[0].local_addr()?.port();
    tokio::spawn(signals.shut_down_on_signal(shutdown.clone()));
    if args.thread_monitor_interval_in_sec > 0 {
        let every = Duration::from_secs(args.thread_monitor_interval_in_sec.unsigned_abs());
        tokio::spawn(monitor(shutdown.clone(), every));
    }
    if args.memory_trim_interval > 0.0 {
        let every = Duration::from_secs_f64(args.memory_trim_interval);
        tokio::spawn(wshd_server::memory::release_after_connections_end(shutdown.clone(), every));
    }
    // --processes: the others share the port; a shutdown here is passed on to them. Our
    // "listening on" comes once they all listen, so whoever waits for it finds every
    // process accepting.
    let workers = match args.processes {
        1 => None,
        n => {
            let mut workers = processes::Workers::start(usize::from(n) - 1, port, start_dir)?;
            workers.wait_listening(WORKER_START_TIMEOUT).await?;
            // Workers that end are replaced until the shutdown, which stops them all.
            let patience = config.shutdown_timeout + Duration::from_secs(2);
            Some(tokio::spawn(workers.supervise(shutdown.clone(), WORKER_START_TIMEOUT, patience)))
        }
    };
    for server in &servers {
        println!("listening on {}", server.local_addr()?);
    }
    let tasks: Vec<_> = servers.into_iter().map(|s| tokio::spawn(s.run())).collect();
    for task in tasks {
        task.await??;
    }
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    tracing::info!("shut down");
    Ok(())
}

/// Static files and CGI from the document root (the current directory by now), and
/// `--basic-auth`.
fn http_config(args: &Args) -> Result<HttpConfig, Box<dyn std::error::Error>> {
    let root = std::env::current_dir().map_err(|e| {
        format!("cannot name the document root {}: {e}", args.document_root.display())
    })?;
    Ok(HttpConfig {
        document_root: Some(root),
        cgi_paths: args.cgi_paths.iter().filter(|p| !p.is_empty()).cloned().collect(),
        basic_auth: args.basic_auth.then(|| args.basic_auth_credential.clone()),
        ..HttpConfig::default()
    })
}

/// `--thread-monitor-interval-in-sec`: logs the number of open WebSocket connections at
/// INFO (pywebsocket logged its active threads, one per connection).
async fn monitor(shutdown: Shutdown, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        tracing::info!(target: "wshd::monitor", "{} open WebSocket connections", shutdown.active_connections());
    }
}

/// The addresses for `-H`: every address of the host; for `''` (the default) the IPv6
/// wildcard, which also accepts IPv4 on Linux, then the IPv4 wildcard.
async fn bind_addresses(
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error>> {
    if host.is_empty() {
        return Ok(vec![
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
        ]);
    }
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("no address for host {host:?}").into());
    }
    Ok(addrs)
}
