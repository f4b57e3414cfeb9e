//! [`Server`]: binds a listening socket and spawns one task per accepted connection.
//!
//! The accept loop never exits on a per-connection error: when the process runs out of
//! file descriptors it logs and backs off briefly instead of spinning. It does no
//! protocol work itself; `accept` does.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

use crate::config::Config;
use crate::router::Router;

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) config: Config,
    /// The HTTP side: document root, CGI, Basic auth, as checked at bind.
    pub(crate) http: crate::http::Site,
}

/// A bound WebSocket server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
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
        socket.bind(addr)?;
        let listener = socket.listen(config.backlog)?;
        Ok(Server { listener, shared: Arc::new(Shared { router, config, http }) })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections forever.
    pub async fn run(self) -> io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Accepts connections until `shutdown` completes; open connections keep running.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                () = &mut shutdown => return Ok(()),
            };
            match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(crate::accept::serve(stream, peer, self.shared.clone()));
                }
                Err(e) if is_resource_exhaustion(&e) => {
                    tracing::warn!(
                        "accept failed: {e}; retrying in 100 ms (raise the file descriptor limit or lower the load)"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => tracing::debug!("accept failed: {e}"),
            }
        }
    }
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or memory, not the peer's fault.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}
