//! The command line: pywebsocket `standalone.py`'s core options, in both spellings
//! (`--log-level` and `--log_level`), unambiguous prefixes accepted, as argparse does.
//!
//! TLS options (`-t`, `-k`, `-c`, `--tls-client-*`) are checked and turned into a TLS
//! setting by `tls_options`.
//! `--config FILE` entries are turned into arguments placed before the command line's by
//! `config_file`, so every option here can also be set there. Obsolete pywebsocket options
//! (`--allow-draft75`, `--strict`, `--tls-module`) are accepted and ignored with a warning.
//! An unknown option exits with status 2 and a message.

use std::path::PathBuf;

use clap::Parser;

/// wshd: a WebSocket server for pywebsocket handler trees.
#[derive(Parser, Debug)]
#[command(
    name = "wshd",
    version,
    about,
    infer_long_args = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Args {
    /// Print the version (long form only: `-V` is the validation host, as in pywebsocket).
    #[arg(long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// Host to listen on; empty (the default) listens on every address.
    #[arg(short = 'H', long = "server-host", visible_alias = "server_host", default_value = "")]
    pub server_host: String,
    /// Port to listen on; 0 picks a free one (the bound address is printed).
    #[arg(short = 'p', long = "port", default_value_t = 80)]
    pub port: u16,
    /// For absolute request URIs (`GET ws://host/...`): serve only those naming this host.
    #[arg(short = 'V', long = "validation-host", visible_alias = "validation_host")]
    pub validation_host: Option<String>,
    /// For absolute request URIs: serve only those naming this port (80 for ws, 443 for
    /// wss when the URI has none).
    #[arg(short = 'P', long = "validation-port", visible_alias = "validation_port")]
    pub validation_port: Option<u16>,
    /// Handler root: `<root>/<name>_wsh.py` serves `/<name>`. Relative to the document root.
    #[arg(
        short = 'w',
        long = "websock-handlers",
        visible_alias = "websock_handlers",
        default_value = "."
    )]
    pub websock_handlers: PathBuf,
    /// Only load handlers under this directory (it must be under the handler root).
    #[arg(short = 's', long = "scan-dir", visible_alias = "scan_dir")]
    pub scan_dir: Option<PathBuf>,
    /// Alias map file: lines `alias_path existing_path`.
    #[arg(
        short = 'm',
        long = "websock-handlers-map-file",
        visible_alias = "websock_handlers_map_file"
    )]
    pub websock_handlers_map_file: Option<PathBuf>,
    /// Document root: wshd changes to it before anything else, and serves its files (and
    /// CGI scripts, see `-x`) for paths without a WebSocket handler.
    #[arg(
        short = 'd',
        long = "document-root",
        visible_alias = "document_root",
        default_value = "."
    )]
    pub document_root: PathBuf,
    /// Load handler files whose symlink target lies outside the handler root.
    #[arg(
        long = "allow-handlers-outside-root-dir",
        visible_alias = "allow_handlers_outside_root_dir"
    )]
    pub allow_handlers_outside_root_dir: bool,
    /// Encoding of handler files (default UTF-8).
    #[arg(long = "handler-encoding", visible_alias = "handler_encoding")]
    pub handler_encoding: Option<String>,
    /// Serve TLS only (wss://); needs --private-key and --certificate. TLS 1.2 and 1.3.
    #[arg(short = 't', long = "tls")]
    pub tls: bool,
    /// PEM private key for --tls (PKCS#8, PKCS#1 or SEC1). Relative to the document root.
    #[arg(short = 'k', long = "private-key", visible_alias = "private_key")]
    pub private_key: Option<PathBuf>,
    /// PEM certificate chain for --tls (the server's certificate first). Relative to the
    /// document root.
    #[arg(short = 'c', long = "certificate")]
    pub certificate: Option<PathBuf>,
    /// Require a client certificate, verified against --tls-client-ca (needs --tls).
    #[arg(long = "tls-client-auth")]
    pub tls_client_auth: bool,
    /// With --tls-client-auth: ask for a client certificate but accept clients without
    /// one (a certificate sent must still verify).
    #[arg(long = "tls-client-cert-optional")]
    pub tls_client_cert_optional: bool,
    /// PEM bundle of the CAs that client certificates must chain to. Relative to the
    /// document root.
    #[arg(long = "tls-client-ca")]
    pub tls_client_ca: Option<PathBuf>,
    /// Obsolete spelling of --tls-client-ca (pywebsocket 2012), accepted with a warning.
    #[arg(long = "ca-certificate")]
    pub ca_certificate: Option<PathBuf>,
    /// INI file with a `[pywebsocket]` section of `option = value` lines (long option names,
    /// either spelling; flags take true/false). Read from the directory wshd was started
    /// in; options on the command line win.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level: fine, debug, info, warning (warn), error or critical.
    #[arg(long = "log-level", visible_alias = "log_level", default_value = "warn",
          value_parser = ["fine", "debug", "info", "warning", "warn", "error", "critical"])]
    pub log_level: String,
    /// Close code for a frame with reserved bits or a reserved opcode: 1002 (protocol
    /// error, RFC 6455 practice, the default) or 1003 (what pywebsocket sends).
    #[arg(long = "unsupported-frame-close-code", visible_alias = "unsupported_frame_close_code",
          default_value_t = 1002, value_parser = clap::value_parser!(u16).range(1002..=1003))]
    pub unsupported_frame_close_code: u16,
    /// URL path prefixes, comma-separated (e.g. `/cgi-bin,/htbin`), under which executable
    /// files of the document root run as CGI scripts.
    #[arg(short = 'x', long = "cgi-paths", visible_alias = "cgi_paths", value_delimiter = ',')]
    pub cgi_paths: Vec<String>,
    /// Require HTTP Basic authentication on every request (WebSocket, static files, CGI).
    #[arg(long = "basic-auth", visible_alias = "basic_auth")]
    pub basic_auth: bool,
    /// The credential `--basic-auth` requires, as `user:password`.
    #[arg(
        long = "basic-auth-credential",
        visible_alias = "basic_auth_credential",
        default_value = "test:test"
    )]
    pub basic_auth_credential: String,
    /// Level of the compression (deflate) log targets: debug, info, warning (warn), error
    /// or critical (not fine, as in pywebsocket).
    #[arg(long = "deflate-log-level", visible_alias = "deflate_log_level", default_value = "warn",
          value_parser = ["debug", "info", "warning", "warn", "error", "critical"])]
    pub deflate_log_level: String,
    /// Log to this file instead of stderr (relative to the document root), rotated by size.
    #[arg(short = 'l', long = "log-file", visible_alias = "log_file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Size in bytes at which the log file is rotated (0: never).
    #[arg(long = "log-max", visible_alias = "log_max", default_value_t = 262_144)]
    pub log_max: u64,
    /// Rotated log files kept: FILE.1 (newest) to FILE.N (0: never rotate).
    #[arg(long = "log-count", visible_alias = "log_count", default_value_t = 5)]
    pub log_count: u32,
    /// If > 0: log the number of open WebSocket connections at INFO every this many
    /// seconds (pywebsocket logged its active threads).
    #[arg(
        long = "thread-monitor-interval-in-sec",
        visible_alias = "thread_monitor_interval_in_sec",
        default_value_t = -1,
        allow_negative_numbers = true
    )]
    pub thread_monitor_interval_in_sec: i64,
    /// Listen backlog (pywebsocket's default is 128; wshd's is larger).
    #[arg(short = 'q', long = "queue", default_value_t = 1024)]
    pub queue: u32,
    /// On SIGTERM/SIGINT: seconds to wait for open WebSockets to finish their closing
    /// handshakes after sending them 1001 (going away) before exiting.
    #[arg(long = "shutdown-timeout", visible_alias = "shutdown_timeout", default_value_t = 5.0,
          value_parser = parse_seconds)]
    pub shutdown_timeout: f64,
    /// Send a WebSocket ping after this many seconds without anything from the peer, so
    /// an idle connection outlives the idle timeouts of proxies and NATs on the way
    /// (default: off; nginx and Apache time idle proxied connections out at 60 s).
    #[arg(long = "ping-interval", visible_alias = "ping_interval", value_parser = parse_positive_seconds)]
    pub ping_interval: Option<f64>,
    /// After a keepalive ping, close the connection with 1011 if nothing arrives within
    /// this many seconds (default 20; only with --ping-interval).
    #[arg(long = "ping-timeout", visible_alias = "ping_timeout", default_value_t = 20.0,
          value_parser = parse_positive_seconds)]
    pub ping_timeout: f64,
    /// Drop a WebSocket whose peer takes none of the bytes waiting for it for this many
    /// seconds: it stopped reading (default 30; 0: never). Logged at WARN.
    #[arg(long = "send-timeout", visible_alias = "send_timeout", default_value_t = 30.0,
          value_parser = parse_seconds)]
    pub send_timeout: f64,
    /// Close a WebSocket with 1001 when no message went either way for this many seconds
    /// (default: off). Pings and pongs do not count. Logged at INFO.
    #[arg(long = "idle-timeout", visible_alias = "idle_timeout", value_parser = parse_positive_seconds)]
    pub idle_timeout: Option<f64>,
    /// At most this often (seconds), once connections have ended, return the memory they
    /// freed to the system: glibc keeps freed memory for reuse otherwise (default 10; 0:
    /// never). Logged at DEBUG under wshd::memory.
    #[arg(long = "memory-trim-interval", visible_alias = "memory_trim_interval",
          default_value_t = 10.0, value_parser = parse_seconds)]
    pub memory_trim_interval: f64,
    /// A reverse proxy whose Forwarded / X-Forwarded-For headers name the client (an
    /// address such as 127.0.0.1, or a network such as 10.0.0.0/8; repeat for several).
    /// Handlers, CGI's REMOTE_ADDR and the log then see the client's address. The headers
    /// of anyone else are ignored. Default: none.
    #[arg(long = "trusted-proxy", visible_alias = "trusted_proxy", value_name = "ADDR[/BITS]")]
    pub trusted_proxies: Vec<wshd_server::TrustedProxy>,
    /// Also answer HyBi 00 (hixie-76) handshakes, for legacy clients: the protocol of
    /// 2010 browsers, with no masking (the reason proxies' caches could be poisoned
    /// through it), which today's browsers no longer speak. Default: off (400).
    #[arg(long = "allow-hybi00", visible_alias = "allow_hybi00")]
    pub allow_hybi00: bool,
    /// Server processes sharing the port (SO_REUSEPORT), each with its own Python
    /// interpreter: Python handlers then use every core, and the connections of all of
    /// them together may exceed one process's file-descriptor limit.
    #[arg(long = "processes", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub processes: u16,
    /// Set SO_REUSEPORT on the listening sockets, so several wshd processes can listen on
    /// one port (`--processes` does this for its own processes).
    #[arg(long = "reuse-port", visible_alias = "reuse_port")]
    pub reuse_port: bool,
    /// Refuse the handshake (500) when a handler's `request.extra_headers` holds a name
    /// that is not a token or a value with CR, LF or NUL. Off by default: they go out
    /// as written, as pywebsocket writes them (test suites forge header lines so).
    #[arg(long = "strict-extra-headers", visible_alias = "strict_extra_headers")]
    pub strict_extra_headers: bool,
    /// Obsolete (pywebsocket: draft-75 handshake); accepted and ignored with a warning.
    #[arg(long = "allow-draft75", visible_alias = "allow_draft75", hide = true)]
    pub allow_draft75: bool,
    /// Obsolete (pywebsocket: strict draft-75 checks); accepted and ignored with a warning.
    #[arg(long = "strict", hide = true)]
    pub strict: bool,
    /// Obsolete (pywebsocket: TLS backend); accepted and ignored with a warning.
    #[arg(long = "tls-module", visible_alias = "tls_module", hide = true,
          value_parser = ["ssl", "pyopenssl"])]
    pub tls_module: Option<String>,
}

fn parse_positive_seconds(s: &str) -> Result<f64, String> {
    match parse_seconds(s)? {
        v if v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds above 0")),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 86400")),
    }
}

impl Args {
    /// Warnings for options that are accepted only for compatibility and do nothing.
    pub fn obsolete_option_warnings(&self) -> Vec<&'static str> {
        let mut warnings = Vec::new();
        if self.allow_draft75 {
            warnings.push(
                "--allow-draft75 is obsolete and ignored (draft-75 handshakes are not supported)",
            );
        }
        if self.strict {
            warnings
                .push("--strict is obsolete and ignored (it only applied to draft-75 handshakes)");
        }
        if self.tls_module.is_some() {
            warnings.push("--tls-module is obsolete and ignored (wshd's TLS is always rustls)");
        }
        warnings
    }
}
