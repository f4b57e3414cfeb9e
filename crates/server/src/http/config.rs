//! [`HttpConfig`]: what the server does with requests that are not WebSocket handshakes
//! (static files, CGI, keep-alive) and the HTTP Basic credential every request must carry.
//!
//! Plain data with documented defaults; the command line that fills it in lives in the
//! binary. The defaults serve nothing: without a document root every path that has no
//! WebSocket handler is answered 404, as before this existed.

use std::path::PathBuf;
use std::time::Duration;

/// The HTTP side of a [`crate::Server`], `Config::http`. `HttpConfig::default()` gives the
/// defaults documented on each field. Its `Debug` output hides the Basic credential.
#[derive(Clone)]
pub struct HttpConfig {
    /// Directory whose files are served to GET and HEAD requests for paths without a
    /// WebSocket handler (pywebsocket's `-d`). Default: none, every such path is 404.
    /// It must exist when the server binds; it is canonicalized then, and no request
    /// reaches a file outside it (symlinks included).
    pub document_root: Option<PathBuf>,
    /// URL path prefixes whose executable files run as CGI scripts (pywebsocket's `-x`,
    /// e.g. `["/cgi-bin"]`). Default: none. Only used with a `document_root`; a prefix
    /// matches whole path segments.
    pub cgi_paths: Vec<String>,
    /// Longest a CGI request may take, from the end of its request head to the end of the
    /// script's output (default 30 s). The script is killed when it passes; the client gets
    /// 500 if nothing was sent yet, else the connection is closed.
    pub cgi_timeout: Duration,
    /// Most bytes a CGI script may print, headers included (default 16 MiB). Over it the
    /// script is killed: 500 if nothing was sent yet, else the connection is closed.
    pub cgi_max_output: u64,
    /// Most CGI scripts running at once (default 64); a request over it is answered 503.
    /// Each script runs in a process group of its own, which is killed when the script
    /// exits, at its timeout, when its client leaves, and on shutdown.
    pub cgi_max_processes: usize,
    /// Largest request body given to a CGI script on stdin (default 10 MiB); a bigger
    /// `Content-Length` is answered 413. The body is read before the script starts.
    pub cgi_max_request_body: u64,
    /// `user:password` that every request, WebSocket handshakes included, must present with
    /// HTTP Basic authentication (pywebsocket's `--basic-auth` with
    /// `--basic-auth-credential`). Default: none, no authentication. A missing or wrong
    /// `Authorization` is answered 401 with `WWW-Authenticate: Basic realm="Pywebsocket"`.
    pub basic_auth: Option<String>,
    /// How long a kept-alive HTTP connection may wait for the complete head of its next
    /// request, and how long a client may take to accept each chunk of a response
    /// (default 15 s). Then the connection is closed.
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("document_root", &self.document_root)
            .field("cgi_paths", &self.cgi_paths)
            .field("cgi_timeout", &self.cgi_timeout)
            .field("cgi_max_output", &self.cgi_max_output)
            .field("cgi_max_request_body", &self.cgi_max_request_body)
            .field("cgi_max_processes", &self.cgi_max_processes)
            .field("basic_auth", &self.basic_auth.as_ref().map(|_| "<hidden>"))
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            document_root: None,
            cgi_paths: Vec::new(),
            cgi_timeout: Duration::from_secs(30),
            cgi_max_output: 16 * 1024 * 1024,
            cgi_max_request_body: 10 * 1024 * 1024,
            cgi_max_processes: 64,
            basic_auth: None,
            idle_timeout: Duration::from_secs(15),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_credential() {
        let c = HttpConfig { basic_auth: Some("user:hunter2".into()), ..HttpConfig::default() };
        let shown = format!("{c:?}");
        assert!(shown.contains("basic_auth: Some(\"<hidden>\")"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
