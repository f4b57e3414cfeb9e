//! `wshd`: serves a directory of pywebsocket `*_wsh.py` handlers.
//!
//! This file parses pywebsocket's `standalone.py` core options, changes to the document
//! root, loads the handler tree and serves it, with the document root's files and CGI
//! scripts for the other paths. It contains no protocol or Python logic:
//! those are `wshd-server` and `wshd-python`.

mod args;
mod tls_options;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wshd_python::{HandlerTree, LoadOptions, PythonHandler};
use wshd_server::{Config, HttpConfig, Router, Server};

use crate::args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(args.log_filter()))
        .with_writer(std::io::stderr)
        .init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("wshd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    // pywebsocket changes to the document root first; every later relative path
    // (-w, -s, -m, -k, -c, --tls-client-ca) resolves against it.
    std::env::set_current_dir(&args.document_root).map_err(|e| {
        format!("cannot change to the document root {}: {e}", args.document_root.display())
    })?;
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
    let router = router(&tree);
    let config = Config {
        validation_host: args.validation_host.clone(),
        validation_port: args.validation_port,
        unsupported_frame_close_code: args.unsupported_frame_close_code,
        tls,
        http: http_config(args)?,
        ..Config::default()
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(args, router, config))
}

/// Listens on every address of `-H` (one port for all: the first bound one when `-p 0`),
/// as pywebsocket does, and serves until the process ends.
async fn serve(
    args: &Args,
    router: Router,
    config: Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut port = args.port;
    let mut servers = Vec::new();
    for addr in bind_addresses(&args.server_host, port).await? {
        let addr = SocketAddr::new(addr.ip(), port);
        match Server::bind(addr, router.clone(), config.clone()).await {
            Ok(server) => {
                let bound = server.local_addr()?;
                port = bound.port();
                println!("listening on {bound}");
                servers.push(server);
            }
            // pywebsocket skips addresses it cannot bind (e.g. IPv4 after a dual-stack
            // IPv6 socket took the port) and logs them.
            Err(e) => tracing::info!("not listening on {addr}: {e}"),
        }
    }
    if servers.is_empty() {
        return Err(format!(
            "could not listen on any address of {:?} port {}",
            args.server_host, args.port
        )
        .into());
    }
    let tasks: Vec<_> = servers.into_iter().map(|s| tokio::spawn(s.run())).collect();
    for task in tasks {
        task.await??;
    }
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

fn router(tree: &HandlerTree) -> Router {
    tree.iter().fold(Router::new(), |router, (path, handlers)| {
        router.route_dyn(path, Arc::new(PythonHandler::new(handlers.clone())))
    })
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
