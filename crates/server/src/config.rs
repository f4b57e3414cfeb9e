//! Server configuration: limits and timeouts, each with a documented default.
//!
//! This is plain data. The command line that fills it in lives in the binary.

use std::time::Duration;

use wshd_proto::deflate::DeflateConfig;
use wshd_proto::{HandshakeLimits, Limits};

pub use crate::http::HttpConfig;

/// Limits and timeouts of a [`crate::Server`]. `Config::default()` gives the defaults
/// documented on each field.
#[derive(Debug, Clone)]
pub struct Config {
    /// Frame and message size limits (default 16 MiB each; over the limit closes with 1009).
    pub limits: Limits,
    /// Request head limits (default 16 KiB and 100 headers; over the limit answers 431).
    pub handshake_limits: HandshakeLimits,
    /// Time from TCP accept to a complete request head (default 10 s), the TLS handshake
    /// included when `tls` is set. A client that has not sent its whole handshake by
    /// then is disconnected.
    pub handshake_timeout: Duration,
    /// Time to wait for the peer's close frame after sending ours (default 10 s).
    pub close_timeout: Duration,
    /// Time to wait for the peer to close TCP after we shut down our side, reading and
    /// discarding what it still sends (default 2 s). This keeps a final close frame or
    /// error response from being destroyed by a TCP reset. Not used after a completed
    /// closing handshake on plain TCP: the peer then has nothing left to send, and the
    /// socket is closed at once.
    pub linger_timeout: Duration,
    /// Send a ping after this long without receiving anything (default: off).
    pub ping_interval: Option<Duration>,
    /// After a keepalive ping, fail the connection with 1011 if nothing arrives within
    /// this time (default 20 s). Only used when `ping_interval` is set.
    pub ping_timeout: Duration,
    /// Fail a WebSocket whose peer takes none of the bytes waiting for it for this long
    /// (default 30 s; `None`: never). A peer that stopped reading otherwise holds its
    /// connection, its buffers and, for a Python handler, its thread forever. Logged at
    /// WARN; the handler's send fails.
    pub send_timeout: Option<Duration>,
    /// Close a WebSocket with 1001 when no data message went either way for this long
    /// (default: off). Pings and pongs do not count, so keepalive pings do not keep an
    /// unused connection open. Logged at INFO.
    pub idle_timeout: Option<Duration>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are believed: a
    /// request from one of them is served as from the client it names (handlers, CGI's
    /// `REMOTE_ADDR` and the log see that address). From anyone else the headers are
    /// ignored. Default: none.
    pub trusted_proxies: Vec<crate::TrustedProxy>,
    /// Unsent bytes at which [`crate::WebSocket::feed`] writes to the socket instead of
    /// only queueing (default 64 KiB).
    pub write_high_water: usize,
    /// The listen backlog (default 1024).
    pub backlog: u32,
    /// Set `SO_REUSEPORT` on the listening socket, so that several processes can listen
    /// on one port and the kernel spreads connections over them (default: off).
    pub reuse_port: bool,
    /// On shutdown (see [`crate::Shutdown`]): how long the server waits for open
    /// WebSockets to finish their closing handshakes after sending them 1001 (default 5 s).
    pub shutdown_timeout: Duration,
    /// For requests whose target is an absolute `ws://` / `wss://` URI: the host it must
    /// name, else the request is not served as a WebSocket (404). Default: not checked
    /// (pywebsocket's `-V`).
    pub validation_host: Option<String>,
    /// The same for the URI's port (80 for `ws`, 443 for `wss` when absent); pywebsocket's
    /// `-P`. Default: not checked.
    pub validation_port: Option<u16>,
    /// Compression: permessage-deflate accepted by default with a 12-bit compression
    /// window and memory level 5 (about 210 KB per connection once both directions have
    /// carried a compressed message); deflate-frame off. See `DeflateConfig`.
    pub deflate: DeflateConfig,
    /// The close code for a frame with reserved bits set or a reserved opcode (default
    /// 1002, protocol error, as RFC 6455 practice and Autobahn|Testsuite expect). Set
    /// 1003 for pywebsocket's code, which its own end-to-end suite asserts.
    pub unsupported_frame_close_code: u16,
    /// Serve HyBi 00 (hixie-76) handshakes as well as RFC 6455's, with HyBi 00's frames
    /// (default: off, and such a handshake is refused with 400). Browsers dropped HyBi 00:
    /// it has no masking, which is what lets a hostile page poison a proxy's cache, and
    /// only legacy clients speak it.
    pub allow_hybi00: bool,
    /// Serve TLS only (`wss://`) with this certificate, key and client-certificate
    /// policy (default: off, plain `ws://`). See [`crate::tls::TlsConfig`] for its
    /// defaults. The TLS handshake runs in each connection's own task.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Plain HTTP for paths without a WebSocket handler (static files, CGI, keep-alive) and
    /// HTTP Basic authentication for every request. Default: no document root (such paths
    /// are 404), no CGI, no authentication; see [`HttpConfig`].
    pub http: HttpConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(10),
            linger_timeout: Duration::from_secs(2),
            ping_interval: None,
            ping_timeout: Duration::from_secs(20),
            send_timeout: Some(Duration::from_secs(30)),
            idle_timeout: None,
            trusted_proxies: Vec::new(),
            write_high_water: 64 * 1024,
            backlog: 1024,
            reuse_port: false,
            shutdown_timeout: Duration::from_secs(5),
            validation_host: None,
            validation_port: None,
            deflate: DeflateConfig::default(),
            unsupported_frame_close_code: 1002,
            allow_hybi00: false,
            tls: None,
            http: HttpConfig::default(),
        }
    }
}
