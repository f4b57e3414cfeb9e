//! Opening many client connections: the target URL, source addresses, bounded concurrency.
//!
//! Connections are spread round-robin over source addresses 127.0.0.1..127.0.0.K so that
//! no single (source IP, destination) pair runs out of ephemeral ports. This module does
//! not drive connections once they are open; `idle` and `echo` do.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use wshd_server::WebSocket;
use wshd_server::client::{ClientConfig, ClientTls, connect};

use crate::procstat;

/// File descriptors kept free for the runtime, stdio and /proc reads.
const FD_RESERVE: u64 = 64;

/// Where to connect: a resolved `ws://host:port/path`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The `Host` header (the URL's authority).
    pub host: String,
    /// Path and query.
    pub resource: String,
    /// TLS, for a `wss://` URL (see [`Target::resolve_with_tls`]).
    pub tls: Option<ClientTls>,
}

impl Target {
    /// Parses and resolves a `ws://host[:port][/path]` URL (port 80 by default).
    pub async fn resolve(url: &str) -> io::Result<Target> {
        let invalid =
            || io::Error::new(io::ErrorKind::InvalidInput, format!("not a ws:// URL: {url}"));
        let rest = url.strip_prefix("ws://").ok_or_else(invalid)?;
        let (authority, resource) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        let with_port = if has_port { authority.to_owned() } else { format!("{authority}:80") };
        let addr = tokio::net::lookup_host(with_port).await?.next().ok_or_else(invalid)?;
        Ok(Target { addr, host: authority.to_owned(), resource: resource.to_owned(), tls: None })
    }

    /// Like [`Target::resolve`], and also `wss://host[:port][/path]` (port 443 by default),
    /// whose certificate must chain to a CA of the PEM file `ca`.
    pub async fn resolve_with_tls(url: &str, ca: Option<&std::path::Path>) -> io::Result<Target> {
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        let Some(rest) = url.strip_prefix("wss://") else {
            if ca.is_some() {
                return Err(invalid(format!("--tls-ca is only for wss:// URLs, not {url}")));
            }
            return Target::resolve(url).await;
        };
        let ca =
            ca.ok_or_else(|| invalid(format!("{url} needs --tls-ca (the PEM CA to trust)")))?;
        let has_port = rest
            .split('/')
            .next()
            .and_then(|a| a.rsplit_once(':'))
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        let ws_url = if has_port {
            format!("ws://{rest}")
        } else {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!("ws://{authority}:443{path}")
        };
        let mut target = Target::resolve(&ws_url).await?;
        if !has_port {
            target.host = target.host.trim_end_matches(":443").to_owned();
        }
        let roots = wshd_server::tls::read_certificates(ca).map_err(|e| invalid(e.to_string()))?;
        let tls =
            ClientTls::new(&roots, None).map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
        target.tls = Some(tls);
        Ok(target)
    }
}

/// Source addresses to bind client sockets to: 127.0.0.1..=127.0.0.`count`, or none
/// (the OS chooses) when `count` is 0. Loopback sources only reach a loopback target.
pub fn sources(count: u8, target: &Target) -> io::Result<Vec<Option<IpAddr>>> {
    if count == 0 {
        return Ok(vec![None]);
    }
    if !matches!(target.addr.ip(), IpAddr::V4(ip) if ip.is_loopback()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "--sources binds to 127.0.0.x, which cannot reach {}; use --sources 0",
                target.addr
            ),
        ));
    }
    Ok((1..=count).map(|i| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))).collect())
}

/// Fails early when `connections` sockets would not fit under this process's open-file
/// limit (20,000 on the project's VMs and not raisable, so about 19,900 per process).
pub fn check_fd_budget(connections: usize) -> io::Result<()> {
    match procstat::open_files_limit() {
        Some(limit) if connections as u64 + FD_RESERVE > limit => Err(io::Error::other(format!(
            "{connections} connections need more than this process's open-file limit of \
             {limit} (keep N <= {}); run several wshd-load processes instead",
            limit.saturating_sub(FD_RESERVE)
        ))),
        _ => Ok(()),
    }
}

/// The outcome of [`open_all`].
#[derive(Debug)]
pub struct Opened {
    /// Open connections, each with its index (0..n) in the order of attempts.
    pub sockets: Vec<(usize, WebSocket)>,
    /// Number of attempts that failed.
    pub failed: usize,
    /// Failure messages and how often each occurred.
    pub errors: BTreeMap<String, usize>,
    /// Wall time from the first attempt to the last result.
    pub elapsed: Duration,
}

/// Opens `n` connections (TCP connect plus opening handshake), with at most `in_flight`
/// attempts at a time, connection `i` bound to `sources[i % sources.len()]`, each offering
/// `extensions` if given.
pub async fn open_all(
    target: &Target,
    n: usize,
    sources: &[Option<IpAddr>],
    in_flight: usize,
    extensions: Option<&str>,
) -> Opened {
    let configs: Arc<Vec<ClientConfig>> = Arc::new(
        sources
            .iter()
            .map(|&local_addr| ClientConfig {
                local_addr,
                extensions: extensions.map(str::to_owned),
                tls: target.tls.clone(),
                ..ClientConfig::default()
            })
            .collect(),
    );
    let target = Arc::new(target.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..in_flight.clamp(1, n.max(1)) {
        let (configs, target, next) = (configs.clone(), target.clone(), next.clone());
        workers.spawn(async move {
            let mut opened = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let config = &configs[i % configs.len()];
                match connect(target.addr, Some(&target.host), &target.resource, config).await {
                    Ok((ws, _)) => opened.push((i, ws)),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (opened, errors)
        });
    }
    let mut result = Opened {
        sockets: Vec::with_capacity(n),
        failed: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = workers.join_next().await {
        let (opened, errors) = joined.expect("connect worker panicked");
        result.sockets.extend(opened);
        result.failed += errors.len();
        for e in errors {
            *result.errors.entry(e).or_default() += 1;
        }
    }
    result.elapsed = start.elapsed();
    result.sockets.sort_unstable_by_key(|(i, _)| *i);
    result
}
