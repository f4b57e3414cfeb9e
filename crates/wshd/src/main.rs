//! `wshd`: serves a directory of pywebsocket `*_wsh.py` handlers.
//!
//! This file parses pywebsocket's `standalone.py` core options, changes to the document
//! root, loads the handler tree and serves it. It contains no protocol or Python logic:
//! those are `wshd-server` and `wshd-python`.

mod args;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use wshd_python::{HandlerTree, LoadOptions, PythonHandler};
use wshd_server::{Config, Router, Server};

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
    // (-w, -s, -m) resolves against it.
    std::env::set_current_dir(&args.document_root).map_err(|e| {
        format!("cannot change to the document root {}: {e}", args.document_root.display())
    })?;
    let options = LoadOptions {
        root: args.websock_handlers.clone(),
        scan_dir: args.scan_dir.clone(),
        allow_handlers_outside_root: args.allow_handlers_outside_root_dir,
        encoding: args.handler_encoding.clone(),
        map_file: args.websock_handlers_map_file.clone(),
    };
    let (tree, _warnings) = HandlerTree::load(&options)?;
    let router = router(&tree);
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let addr = bind_address(&args.server_host, args.port).await?;
        let server = Server::bind(addr, router, Config::default()).await?;
        println!("listening on {}", server.local_addr()?);
        server.run().await?;
        Ok(())
    })
}

fn router(tree: &HandlerTree) -> Router {
    tree.iter().fold(Router::new(), |router, (path, handlers)| {
        router.route_dyn(path, Arc::new(PythonHandler::new(handlers.clone())))
    })
}

/// `-H ''` (the default) listens on every address, IPv6 and IPv4; otherwise the host's
/// first address.
async fn bind_address(host: &str, port: u16) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    if host.is_empty() {
        return Ok(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)));
    }
    let mut addrs = tokio::net::lookup_host((host, port)).await?;
    addrs.next().ok_or_else(|| format!("no address for host {host:?}").into())
}
