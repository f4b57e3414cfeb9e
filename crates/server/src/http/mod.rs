//! The plain HTTP side of the server: requests for paths without a WebSocket handler are
//! served from the document root, as static files (`static_files`, `listing`) or CGI
//! scripts (`cgi`), over keep-alive connections; and the Basic credential every request
//! must carry (`auth`), WebSocket handshakes included.
//!
//! `accept.rs` reads each request head and decides; this module answers one request and
//! says whether the connection can carry another ([`Next`]). It never handles a WebSocket
//! upgrade (a later request on a kept-alive connection can be one: `accept.rs` routes it
//! like a first one).
//!
//! Decisions, with pywebsocket's in brackets: GET and HEAD only, other methods 501 [same];
//! POST only to CGI [same]; a path segment that is `.`/`..` or hides `/`, `\` or NUL is
//! 403 [`..` silently dropped]; a symlink that resolves outside the root is 403 [followed];
//! HTTP/1.1 keep-alive [one request per connection].

mod auth;
mod cgi;
mod cgi_process;
mod config;
mod date;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod listing;
mod mime;
mod request;
mod response;
mod static_files;
mod url_path;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use config::HttpConfig;

use wshd_proto::handshake::{HandshakeError, Request, is_upgrade_request};

use self::auth::BasicAuth;
use self::request::{BodyFraming, Persistence, body_framing};
use self::response::{send, simple};
use self::url_path::UrlPath;
use crate::transport::Transport;

/// What [`HttpConfig`] becomes when the server binds: the canonical document root, the
/// CGI prefixes as decoded segments, the expected credential.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    root: Option<PathBuf>,
    cgi: Vec<Vec<Vec<u8>>>,
    auth: Option<BasicAuth>,
    config: HttpConfig,
    processes: cgi_process::CgiProcesses,
}

impl Site {
    /// Checks the configuration: the document root must be an existing directory, and each
    /// CGI path a plain `/dir` URL path.
    pub(crate) fn new(config: &HttpConfig) -> io::Result<Site> {
        let root = match &config.document_root {
            None => None,
            Some(dir) => {
                let canonical = std::fs::canonicalize(dir).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("document root {}: {e}; give an existing directory", dir.display()),
                    )
                })?;
                if !canonical.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("document root {} is not a directory", dir.display()),
                    ));
                }
                Some(canonical)
            }
        };
        let cgi = config
            .cgi_paths
            .iter()
            .map(|p| match UrlPath::parse(p) {
                Ok(u) if u.query.is_empty() && !p.contains('#') => Ok(u.segments),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("CGI path {p:?} is not a URL path like /cgi-bin"),
                )),
            })
            .collect::<io::Result<_>>()?;
        let auth = config.basic_auth.as_deref().map(BasicAuth::new);
        let processes = cgi_process::CgiProcesses::new(config.cgi_max_processes);
        Ok(Site { root, cgi, auth, config: config.clone(), processes })
    }

    /// The CGI scripts running for this server.
    pub(crate) fn cgi_processes(&self) -> &cgi_process::CgiProcesses {
        &self.processes
    }

    /// Kills every CGI script still running, with its process group (on shutdown).
    pub(crate) fn end_cgi(&self) {
        let ended = self.processes.end_all();
        if ended > 0 {
            tracing::info!(
                "shutting down: killed {ended} running CGI script(s) with their process groups"
            );
        }
    }

    /// Whether paths without a WebSocket handler are served (there is a document root).
    pub(crate) fn serves_files(&self) -> bool {
        self.root.is_some()
    }

    /// `Ok` when Basic auth is off or `request` carries the credential, else the 401.
    pub(crate) fn authorize(&self, request: &Request) -> Result<(), HandshakeError> {
        self.auth.as_ref().map_or(Ok(()), |a| a.check(request))
    }

    /// The keep-alive idle timeout.
    pub(crate) fn idle_timeout(&self) -> std::time::Duration {
        self.config.idle_timeout
    }
}

/// What happens to the connection after one HTTP exchange.
#[derive(Debug)]
pub(crate) enum Next {
    /// Read the next request; these bytes (pipelined) have already arrived.
    KeepAlive(Vec<u8>),
    /// Close it (gracefully: whatever was written has been flushed).
    Close,
}

/// One request being answered.
pub(crate) struct Exchange<'a> {
    io: &'a mut Transport,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    site: &'a Site,
    request: &'a Request,
    persist: Persistence,
    head_only: bool,
    /// Bytes read after the head: the start of the body, or of the next request.
    leftover: Vec<u8>,
}

impl Exchange<'_> {
    /// Sends a short text response and says what comes next.
    async fn reply(&mut self, status: u16, text: &str, headers: &[(&str, &str)]) -> Next {
        let bytes = simple(status, text, headers, self.persist, self.head_only);
        self.log(status, text);
        self.send_and_finish(&bytes).await
    }

    /// Writes `bytes` (a whole response) and says what comes next.
    async fn send_and_finish(&mut self, bytes: &[u8]) -> Next {
        match send(self.io, bytes, self.site.config.idle_timeout).await {
            Ok(()) => self.finish(),
            Err(e) => {
                tracing::debug!(peer = %self.peer, "HTTP response not delivered: {e}");
                Next::Close
            }
        }
    }

    /// After a complete response: keep the connection if the client wants it.
    fn finish(&mut self) -> Next {
        if self.persist.keep_alive {
            Next::KeepAlive(std::mem::take(&mut self.leftover))
        } else {
            Next::Close
        }
    }

    fn log(&self, status: u16, text: &str) {
        let (peer, method, target) = (self.peer, &self.request.method, &self.request.target);
        if status >= 500 {
            tracing::warn!(%peer, %method, %target, status, "HTTP {status}: {text}");
        } else {
            tracing::info!(%peer, %method, %target, status, "HTTP {status}: {text}");
        }
    }
}

/// Answers one request for a path without a WebSocket handler. The caller has checked
/// Basic auth, and that there is a document root.
pub(crate) async fn serve(
    io: &mut Transport,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    site: &Site,
    request: &Request,
    leftover: Vec<u8>,
) -> Next {
    let mut ex = Exchange {
        io,
        peer,
        local,
        site,
        request,
        persist: Persistence::of(request),
        head_only: request.method == "HEAD",
        leftover,
    };
    if is_upgrade_request(request) {
        // A WebSocket attempt at a path without a handler: whatever the answer, the client
        // wanted another protocol on this connection, so it is not reused.
        ex.persist = ex.persist.closing();
    }
    let framing = match body_framing(request) {
        Ok(f) => f,
        Err(why) => {
            ex.persist = ex.persist.closing();
            return ex.reply(400, why, &[]).await;
        }
    };
    let url = match UrlPath::parse(&request.target) {
        Ok(u) => u,
        Err(e) => {
            // The body, if any, is not read: the connection cannot carry another request.
            if framing != BodyFraming::None {
                ex.persist = ex.persist.closing();
            }
            return ex.reply(e.status(), e.reason(), &[]).await;
        }
    };
    let Some(root) = site.root.as_deref() else {
        ex.persist = ex.persist.closing();
        return ex.reply(404, "no handler for this resource", &[]).await;
    };
    if let Some(script) = cgi::find(root, &site.cgi, &url).await {
        return cgi::run(&mut ex, root, &url, script, framing).await;
    }
    if framing != BodyFraming::None {
        // A body for a static file is never read.
        ex.persist = ex.persist.closing();
    }
    match request.method.as_str() {
        "GET" | "HEAD" => static_files::serve(&mut ex, root, &url).await,
        "POST" => ex.reply(501, "POST is only served to CGI scripts", &[]).await,
        _ => ex.reply(501, "only GET and HEAD are served here", &[]).await,
    }
}
