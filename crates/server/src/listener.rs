//! [`Server`]: binds a listening socket and spawns one task per accepted connection.
//!
//! The accept loop never exits on a per-connection error: when the process runs out of
//! file descriptors it logs and backs off briefly instead of spinning. It does no
//! protocol work itself; `accept` does.
//!
//! [`Server::run`] and [`Server::run_until`] end with a graceful shutdown: the listener
//! closes, open WebSockets get 1001 (see [`crate::Shutdown`]) and the server waits for
//! them up to [`Config::shutdown_timeout`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

use crate::config::Config;
use crate::router::Router;
use crate::shutdown::Shutdown;
use crate::websocket::Timing;

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) config: Config,
    /// The HTTP side: document root, CGI, Basic auth, as checked at bind.
    pub(crate) http: crate::http::Site,
    pub(crate) shutdown: Shutdown,
    /// The config's linger and write high-water mark, which every WebSocket points to.
    pub(crate) timing: Arc<Timing>,
}

/// A bound WebSocket server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

#[cfg(unix)]
impl std::os::fd::AsFd for Server {
    /// The listening socket, e.g. for a host program to wrap a duplicate of it.
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.listener.local_addr().ok()).finish()
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see [`Server::local_addr`]). Fails without
    /// binding when `config.http` names a document root that is not a directory or a CGI
    /// path that is not a URL path.
    pub async fn bind(addr: SocketAddr, router: Router, config: Config) -> io::Result<Server> {
        let http = crate::http::Site::new(&config.http)?;
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux, which saves a
        // system call per connection; elsewhere `accept` sets it on each one.
        socket.set_nodelay(true)?;
        if config.reuse_port {
            socket.set_reuseport(true)?;
        }
        socket.bind(addr)?;
        let listener = socket.listen(config.backlog)?;
        let timing = Arc::new(Timing::of(&config));
        let shared = Arc::new(Shared { router, config, http, shutdown: Shutdown::new(), timing });
        Ok(Server { listener, shared })
    }

    /// Binds every address of `addrs` on one port, as pywebsocket does for a host name with
    /// several addresses: the port of `addrs`, or, when it is 0, the one the first bound
    /// address got. An address that cannot be bound (say IPv4 after a dual-stack IPv6
    /// socket took the port) is skipped with an INFO log line; it is an error only if none
    /// can be. The servers share one [`Shutdown`] handle.
    pub async fn bind_all(
        addrs: &[SocketAddr],
        router: Router,
        config: Config,
    ) -> io::Result<Vec<Server>> {
        let shutdown = Shutdown::new();
        let mut port = None;
        let mut servers = Vec::new();
        let mut last_error = None;
        for addr in addrs {
            let addr = SocketAddr::new(addr.ip(), port.unwrap_or(addr.port()));
            match Server::bind(addr, router.clone(), config.clone()).await {
                Ok(server) => {
                    port.get_or_insert(server.local_addr()?.port());
                    servers.push(server.with_shutdown(shutdown.clone()));
                }
                Err(e) => {
                    tracing::info!("not listening on {addr}: {e}");
                    last_error = Some(e);
                }
            }
        }
        match (servers.is_empty(), last_error) {
            (false, _) => Ok(servers),
            (true, Some(e)) => Err(io::Error::new(
                e.kind(),
                format!("could not listen on any of {addrs:?}; the last error: {e}"),
            )),
            (true, None) => {
                Err(io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on"))
            }
        }
    }

    /// Makes this server use `shutdown` (instead of a handle of its own), so that one
    /// [`Shutdown::trigger`] stops several servers and counts their connections together.
    /// Call it before [`Server::run`].
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Server {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => shared.shutdown = shutdown,
            // Not reached today (connections clone `shared` only once the server runs).
            None => {
                let (router, config) = (self.shared.router.clone(), self.shared.config.clone());
                let (http, timing) = (self.shared.http.clone(), self.shared.timing.clone());
                self.shared = Arc::new(Shared { router, config, http, shutdown, timing });
            }
        }
        self
    }

    /// The handle that shuts this server down (see [`Server::with_shutdown`]).
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shared.shutdown.clone()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until its [`Shutdown`] handle is triggered, then shuts down
    /// gracefully (see [`Server::run_until`]).
    pub async fn run(self) -> io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Accepts connections until `shutdown` completes or the server's [`Shutdown`] handle
    /// is triggered. Then it closes the listener, triggers the handle (every open
    /// WebSocket starts closing with 1001, going away) and waits until they have all
    /// ended or [`Config::shutdown_timeout`] has passed; connections still open then are
    /// left to their tasks.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server { listener, shared } = self;
        let addr = listener.local_addr().ok();
        let handle = shared.shutdown.clone();
        // The accept loop is a task of its own, so it runs on a runtime worker beside the
        // connections it spawns. Awaited right here, it would run on whatever thread
        // awaits `run_until` (with `block_on`, a thread that is not a worker), and every
        // accepted connection would cost a wake-up across threads.
        let mut acceptor = tokio::spawn(accept_loop(listener, shared.clone()));
        tokio::select! {
            () = shutdown => {}
            () = handle.triggered() => {}
            ended = &mut acceptor => {
                if let Err(e) = ended {
                    tracing::error!(?addr, "the accept loop failed: {e}; shutting down");
                }
            }
        }
        acceptor.abort();
        // Once the aborted task is gone, so is the listener: no connection arrives after
        // the trigger below.
        let _ = acceptor.await;
        handle.trigger();
        let open = handle.active_connections();
        if open > 0 {
            tracing::info!(?addr, "shutting down: closing {open} open WebSocket(s) with 1001");
        }
        let limit = shared.config.shutdown_timeout;
        if tokio::time::timeout(limit, handle.drained()).await.is_err() {
            tracing::warn!(
                ?addr,
                "{} WebSocket(s) still open after the shutdown timeout of {limit:?}; not waiting for them",
                handle.active_connections()
            );
        }
        // A CGI script would outlive the process otherwise.
        shared.http.end_cgi();
        Ok(())
    }
}

/// Accepts connections and spawns a task for each, until the task is aborted.
///
/// Out of descriptors (or memory), it retries every 100 ms, and logs once per episode: a
/// WARNING when accepting starts to fail, an INFO line when it works again.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Since when, and how often, accepting has failed for want of resources.
    let mut exhausted: Option<(std::time::Instant, u64)> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Some((since, failures)) = exhausted.take() {
                    tracing::info!(
                        "accepting connections again after {failures} failed attempt(s) over {:.1} s",
                        since.elapsed().as_secs_f64()
                    );
                }
                tokio::spawn(crate::accept::serve(stream, peer, shared.clone()));
            }
            Err(e) if is_resource_exhaustion(&e) => {
                match &mut exhausted {
                    Some((_, failures)) => *failures += 1,
                    None => {
                        tracing::warn!(
                            "accept failed: {e}; new connections wait in the backlog, retried every 100 ms, until descriptors or memory free up (raise the file descriptor limit or lower the load); logged once until accepting works again"
                        );
                        exhausted = Some((std::time::Instant::now(), 1));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => tracing::debug!("accept failed: {e}"),
        }
    }
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or memory, not the peer's fault.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    /// A server on a free port, a client connected to it, and the server's side of that
    /// connection, accepted (no task serves it).
    async fn accept_one() -> (Server, TcpStream, TcpStream, SocketAddr) {
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = Server::bind(addr, Router::new(), Config::default()).await.unwrap();
        let client = TcpStream::connect(server.local_addr().unwrap()).await.unwrap();
        let (accepted, peer) = server.listener.accept().await.unwrap();
        (server, client, accepted, peer)
    }

    /// `accept` no longer sets TCP_NODELAY on Linux: the listener must, for every
    /// accepted socket to inherit it (small frames must not wait behind Nagle's algorithm).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn accepted_sockets_have_nodelay() {
        let (_server, client, accepted, _) = accept_one().await;
        assert!(accepted.nodelay().unwrap(), "accepted socket without TCP_NODELAY");
        drop(client);
    }

    /// Each accepted connection's handshake task is allocated and copied at spawn, so its
    /// size is paid per handshake; rustls's handshake state is boxed to keep plain
    /// connections from carrying it (3,176 bytes before). The bound is what rustc 1.95
    /// gives, with a little room; raise it only for a reason.
    #[tokio::test]
    async fn handshake_task_stays_small() {
        let (server, client, accepted, peer) = accept_one().await;
        let task = crate::accept::serve(accepted, peer, server.shared.clone());
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2400, "a connection's handshake task takes {size} bytes");
        drop(client);
    }
}
