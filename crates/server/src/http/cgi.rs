//! CGI/1.1 (RFC 3875) for scripts under the configured URL prefixes (pywebsocket's `-x`).
//!
//! A request is CGI when its path starts with a prefix and leads, through directories, to a
//! regular file inside the document root with an execute bit; the rest of the path is
//! `PATH_INFO`. Anything else under a prefix (a non-executable file, a directory) is left
//! to the static file server, as pywebsocket does. The script is executed directly (the
//! kernel honours its `#!` line) in the document root, with the server's environment plus
//! the RFC 3875 meta-variables and `HTTP_*` for the request headers (not `Authorization`,
//! `Proxy-Authorization` or `Proxy`: httpoxy). The request body (`Content-Length` only, at
//! most `cgi_max_request_body`) is read first and given on stdin; stderr is the server's.
//!
//! The script's header block is parsed (`Status`, `Location` without `Status` is 302,
//! `Content-Length`; hop-by-hop fields dropped), then its body is relayed in chunks: with the
//! script's `Content-Length` if it gave one, else chunked for HTTP/1.1 clients, else until
//! the connection closes. Bytes go through the connection's transport, so this works over
//! TLS too. The whole request runs under `cgi_timeout` and `cgi_max_output`: past either,
//! the script is killed, and the client gets 500 if its head was not sent yet (else the
//! connection is closed). Every child is waited for, so none is left a zombie.
//!
//! Not supported: NPH scripts, local redirects (a `Location: /path` is sent to the client
//! as a 302 instead of being served internally), chunked request bodies (411).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdout, Command};
use tokio::time::Instant;
use wshd_proto::handshake::{is_field_value, is_token, status_phrase};

use super::request::{BodyFraming, Persistence};
use super::response::{Framing, Head, send};
use super::static_files::{Lookup, resolve};
use super::url_path::UrlPath;
use super::{Exchange, Next};

/// Largest header block a script may print before its blank line.
const MAX_HEADER_BLOCK: u64 = 64 * 1024;
/// Size of the buffer the script's output is relayed through.
const CHUNK: usize = 64 * 1024;

/// A script found for a request.
#[derive(Debug)]
pub(crate) struct Script {
    /// Canonical path of the executable.
    path: PathBuf,
    /// `url.segments[..end]` name the script (`SCRIPT_NAME`); the rest is `PATH_INFO`.
    end: usize,
}

/// The script `url` runs, if it is a CGI request (see the module doc).
pub(crate) async fn find(root: &Path, prefixes: &[Vec<Vec<u8>>], url: &UrlPath) -> Option<Script> {
    for prefix in prefixes {
        if url.segments.len() <= prefix.len() || !url.segments.starts_with(prefix) {
            continue;
        }
        let mut end = prefix.len() + 1;
        loop {
            match resolve(root, &url.segments[..end]).await {
                Lookup::Found(_, meta) if meta.is_dir() && end < url.segments.len() => end += 1,
                Lookup::Found(path, meta)
                    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 =>
                {
                    return Some(Script { path, end });
                }
                _ => break,
            }
        }
    }
    None
}

/// Why relaying a script's output stopped early.
enum RelayError {
    /// The script misbehaved (bad headers, too much output): logged as a warning.
    Script(String),
    /// The client went away or stopped reading.
    Client(std::io::Error),
}

/// Runs `script` for the request in `ex` and relays its answer.
pub(crate) async fn run(
    ex: &mut Exchange<'_>,
    root: &Path,
    url: &UrlPath,
    script: Script,
    framing: BodyFraming,
) -> Next {
    let config = &ex.site.config;
    let deadline = Instant::now() + config.cgi_timeout;
    let (max_body, max_output) = (config.cgi_max_request_body, config.cgi_max_output);
    if !matches!(ex.request.method.as_str(), "GET" | "HEAD" | "POST") {
        if framing != BodyFraming::None {
            ex.persist = ex.persist.closing();
        }
        return ex.reply(501, "CGI scripts are run for GET, HEAD and POST only", &[]).await;
    }
    let body_len = match framing {
        BodyFraming::None => 0,
        BodyFraming::Length(n) if n <= max_body => n,
        BodyFraming::Length(_) => {
            ex.persist = ex.persist.closing();
            let text = format!("a CGI request body may have at most {max_body} bytes");
            return ex.reply(413, &text, &[]).await;
        }
        BodyFraming::TransferEncoded => {
            ex.persist = ex.persist.closing();
            return ex.reply(411, "a CGI request body needs a Content-Length", &[]).await;
        }
    };
    let body = match tokio::time::timeout_at(deadline, read_body(ex, body_len)).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            tracing::debug!(peer = %ex.peer, "CGI request body not received: {e}");
            return Next::Close;
        }
        Err(_) => {
            ex.persist = ex.persist.closing();
            return ex.reply(408, "the request body did not arrive in time", &[]).await;
        }
    };
    let name = url.decoded(0..script.end);
    let Some(slot) = ex.site.cgi_processes().slot() else {
        tracing::warn!(peer = %ex.peer, "CGI {name}: {} scripts are running already, the most allowed; answered 503", config.cgi_max_processes);
        return ex.reply(503, "too many CGI scripts are running; try again later", &[]).await;
    };
    let mut command = command(ex, root, url, &script, body_len, framing);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(script = %script.path.display(), "CGI script could not be started: {e}");
            return ex.reply(500, "the CGI script could not be started", &[]).await;
        }
    };
    let pipes = (child.stdin.take(), child.stdout.take());
    // From here the script's whole process group ends with its request, whatever happens.
    let group = ex.site.cgi_processes().watch(child, slot, deadline, name.clone());
    let (Some(mut stdin), Some(stdout)) = pipes else {
        group.kill();
        return ex.reply(500, "the CGI script has no pipes", &[]).await;
    };
    // Written concurrently, so a script that prints before it reads cannot deadlock us.
    let feeder = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let mut head_sent = false;
    let relayed =
        tokio::time::timeout_at(deadline, relay(ex, stdout, max_output, &mut head_sent)).await;
    feeder.abort();
    let failure = match relayed {
        Ok(Ok(next)) => {
            group.finish();
            return next;
        }
        Ok(Err(RelayError::Client(e))) => {
            tracing::debug!(peer = %ex.peer, "CGI {name}: client gone: {e}; killing its process group");
            group.kill();
            return Next::Close;
        }
        Ok(Err(RelayError::Script(why))) => why,
        Err(_) => format!("no complete output within {:?}; killed", ex.site.config.cgi_timeout),
    };
    tracing::warn!(peer = %ex.peer, "CGI {name}: {failure}");
    group.kill();
    if head_sent {
        return Next::Close;
    }
    ex.reply(500, "the CGI script failed", &[]).await
}

/// Takes `len` body bytes: those already read after the head first, then from the client
/// (sending `100 Continue` first if the client waits for it).
async fn read_body(ex: &mut Exchange<'_>, len: u64) -> std::io::Result<Vec<u8>> {
    let have = (ex.leftover.len() as u64).min(len) as usize;
    let mut body: Vec<u8> = ex.leftover.drain(..have).collect();
    let missing = len - have as u64;
    if missing == 0 {
        return Ok(body);
    }
    let expects =
        ex.request.headers.get("expect").is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
    if expects && !ex.persist.http10 {
        ex.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        ex.io.flush().await?;
    }
    let got = (&mut *ex.io).take(missing).read_to_end(&mut body).await?;
    if (got as u64) < missing {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(body)
}

/// RFC 3875 §4.1 meta-variables to unset when the server's own environment has them.
const META: &[&str] = &[
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

fn command(
    ex: &Exchange<'_>,
    root: &Path,
    url: &UrlPath,
    script: &Script,
    body_len: u64,
    framing: BodyFraming,
) -> Command {
    let request = ex.request;
    let mut cmd = Command::new(&script.path);
    cmd.current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, which `cgi_process.rs` ends as a whole.
        .process_group(0)
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let stale = name.to_str().is_some_and(|n| n.starts_with("HTTP_") || META.contains(&n));
        if stale {
            cmd.env_remove(name);
        }
    }
    let path_info = if script.end < url.segments.len() {
        let mut p = url.decoded(script.end..url.segments.len());
        if url.has_trailing_slash() {
            p.push('/');
        }
        p
    } else {
        String::new()
    };
    if !path_info.is_empty() {
        cmd.env("PATH_TRANSLATED", format!("{}{path_info}", root.display()));
    }
    let host = request.headers.get_str("host").map(host_without_port);
    let server_name = match (host, ex.local) {
        (Some(h), _) if !h.is_empty() => h.to_owned(),
        (_, Some(local)) => local.ip().to_string(),
        _ => String::new(),
    };
    cmd.env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_SOFTWARE", concat!("wshd/", env!("CARGO_PKG_VERSION")))
        .env("SERVER_PROTOCOL", if request.http_minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" })
        .env("SERVER_NAME", server_name)
        .env("SERVER_PORT", ex.local.map(|a| a.port().to_string()).unwrap_or_default())
        .env("REQUEST_METHOD", &request.method)
        .env("SCRIPT_NAME", url.decoded(0..script.end))
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", &url.query)
        .env("REMOTE_ADDR", ex.peer.ip().to_string())
        .env("REMOTE_HOST", ex.peer.ip().to_string());
    if let BodyFraming::Length(_) = framing {
        cmd.env("CONTENT_LENGTH", body_len.to_string());
    }
    if let Some(t) = request.headers.get("content-type") {
        cmd.env("CONTENT_TYPE", OsString::from_vec(t.to_vec()));
    }
    if let Some(user) = ex.site.auth.as_ref().map(|a| a.user()) {
        cmd.env("AUTH_TYPE", "Basic").env("REMOTE_USER", user);
    }
    let mut http: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (name, value) in request.headers.iter() {
        let skip =
            ["authorization", "proxy-authorization", "proxy", "content-type", "content-length"];
        if skip.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            continue;
        }
        let var = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
        let joined = http.entry(var).or_default();
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(value);
    }
    for (var, value) in http {
        cmd.env(var, OsString::from_vec(value));
    }
    cmd
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn host_without_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// The parsed header block of a script's output.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CgiHead {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) content_length: Option<u64>,
}

/// Reads the header block, sends the response head, relays the body.
async fn relay(
    ex: &mut Exchange<'_>,
    mut stdout: ChildStdout,
    max_output: u64,
    head_sent: &mut bool,
) -> Result<Next, RelayError> {
    let limit = MAX_HEADER_BLOCK.min(max_output) as usize;
    let mut buf = Vec::with_capacity(4096);
    let mut scan = HeaderScan::default();
    let body_start = loop {
        if let Some(end) = scan.feed(&buf) {
            break end;
        }
        if buf.len() >= limit {
            return Err(RelayError::Script(format!("no end of headers within {limit} bytes")));
        }
        buf.reserve(4096.min(limit - buf.len()));
        let room = (limit - buf.len()) as u64;
        let n = (&mut stdout)
            .take(room)
            .read_buf(&mut buf)
            .await
            .map_err(|e| RelayError::Script(format!("reading its output failed: {e}")))?;
        if n == 0 {
            return Err(RelayError::Script(
                "it ended before a blank line ended its headers".into(),
            ));
        }
    };
    let head = parse_head(&buf[..body_start]).map_err(RelayError::Script)?;
    let mut total = buf.len() as u64;
    let bodiless = ex.head_only || matches!(head.status, 204 | 304);
    let framing = if ex.head_only {
        // The head a GET would get; no body follows it.
        head.content_length.map_or(Framing::NoBody, Framing::Length)
    } else if bodiless {
        Framing::NoBody
    } else {
        match head.content_length {
            Some(n) => Framing::Length(n),
            None if ex.persist.http10 => Framing::UntilClose,
            None => Framing::Chunked,
        }
    };
    let response = response_head(&head, framing, ex.persist);
    let timeout = ex.site.config.idle_timeout;
    ex.log(head.status, "CGI");
    send(ex.io, &response, timeout).await.map_err(RelayError::Client)?;
    *head_sent = true;

    let mut pending = buf.split_off(body_start);
    drop(buf);
    let mut left = match framing {
        Framing::Length(n) if !bodiless => n,
        _ => u64::MAX,
    };
    let mut chunk = vec![0u8; CHUNK];
    loop {
        if !pending.is_empty() {
            let data =
                if bodiless { &[][..] } else { &pending[..pending.len().min(left as usize)] };
            if !data.is_empty() {
                write_body(ex, data, framing).await?;
                left -= data.len() as u64;
            }
            pending.clear();
        }
        let n = stdout
            .read(&mut chunk)
            .await
            .map_err(|e| RelayError::Script(format!("reading its output failed: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max_output {
            return Err(RelayError::Script(format!(
                "printed more than {max_output} bytes; killed"
            )));
        }
        pending.extend_from_slice(&chunk[..n]);
    }
    match framing {
        Framing::Chunked if !bodiless => {
            send(ex.io, b"0\r\n\r\n", timeout).await.map_err(RelayError::Client)?;
        }
        Framing::Length(_) if !bodiless && left > 0 => {
            return Err(RelayError::Script("printed less than its Content-Length".into()));
        }
        Framing::UntilClose => return Ok(Next::Close),
        _ => {}
    }
    Ok(ex.finish())
}

/// The response head for a script's parsed header block.
pub(super) fn response_head(head: &CgiHead, framing: Framing, persist: Persistence) -> Vec<u8> {
    let mut response = Head::with_reason(head.status, &head.reason);
    for (name, value) in &head.headers {
        response = response.header(name, value);
    }
    response.finish(framing, persist)
}

async fn write_body(
    ex: &mut Exchange<'_>,
    data: &[u8],
    framing: Framing,
) -> Result<(), RelayError> {
    let timeout = ex.site.config.idle_timeout;
    if framing == Framing::Chunked {
        let size = format!("{:x}\r\n", data.len());
        send(ex.io, size.as_bytes(), timeout).await.map_err(RelayError::Client)?;
        send(ex.io, data, timeout).await.map_err(RelayError::Client)?;
        send(ex.io, b"\r\n", timeout).await.map_err(RelayError::Client)
    } else {
        send(ex.io, data, timeout).await.map_err(RelayError::Client)
    }
}

/// Finds the blank line that ends a header block (LF or CRLF line ends), looking at each
/// byte once however the output is split.
#[derive(Debug, Default)]
pub(super) struct HeaderScan {
    /// Start of the line being scanned.
    line_start: usize,
    /// Bytes already looked at.
    scanned: usize,
}

impl HeaderScan {
    /// The offset just after the blank line, once `buf` holds it.
    pub(super) fn feed(&mut self, buf: &[u8]) -> Option<usize> {
        while let Some(i) = buf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + i;
            let line = &buf[self.line_start..end];
            self.scanned = end + 1;
            self.line_start = end + 1;
            if line.is_empty() || line == b"\r" {
                return Some(end + 1);
            }
        }
        self.scanned = buf.len();
        None
    }
}

/// Parses a header block (RFC 3875 §6.2-6.3), including its blank line.
pub(super) fn parse_head(block: &[u8]) -> Result<CgiHead, String> {
    let text = std::str::from_utf8(block).map_err(|_| "its headers are not UTF-8".to_owned())?;
    let mut status = None;
    let mut location = false;
    let mut content_length = None;
    let mut headers = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (name, value) =
            line.split_once(':').ok_or_else(|| format!("header line without a colon: {line:?}"))?;
        let value = value.trim_matches([' ', '\t']);
        if !is_token(name) || !is_field_value(value) {
            return Err(format!("malformed header line: {line:?}"));
        }
        match name.to_ascii_lowercase().as_str() {
            "status" => {
                let (code, reason) = value.split_once(' ').unwrap_or((value, ""));
                let code: u16 = code
                    .parse()
                    .ok()
                    .filter(|c| (200..=599).contains(c) && code.len() == 3)
                    .ok_or_else(|| format!("bad Status: {value:?}"))?;
                let reason = reason.trim();
                let reason = if reason.is_empty() { status_phrase(code) } else { reason };
                status = Some((code, reason.to_owned()));
            }
            "content-length" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("bad Content-Length: {value:?}"))?;
                if content_length.is_some_and(|c| c != n) {
                    return Err("several different Content-Length values".into());
                }
                content_length = Some(n);
            }
            "connection" | "transfer-encoding" | "keep-alive" => {}
            lower => {
                location |= lower == "location";
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    if headers.is_empty() && status.is_none() && content_length.is_none() {
        return Err("it printed no headers".into());
    }
    let (status, reason) = match status {
        Some(s) => s,
        None if location => (302, status_phrase(302).to_owned()),
        None => (200, status_phrase(200).to_owned()),
    };
    Ok(CgiHead { status, reason, headers, content_length })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3875_6_3_status_location_and_other_headers() {
        let h = parse_head(b"Content-Type: text/plain\r\nX-A:  1 \r\n\r\n").unwrap();
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        assert_eq!(
            h.headers,
            [("Content-Type".into(), "text/plain".into()), ("X-A".into(), "1".into())]
        );
        let h =
            parse_head(b"Status: 404 Gone Fishing\nContent-Length: 3\nConnection: keep-alive\n\n")
                .unwrap();
        assert_eq!((h.status, h.reason.as_str(), h.content_length), (404, "Gone Fishing", Some(3)));
        assert!(h.headers.is_empty());
        let h = parse_head(b"Location: http://example.com/\n\n").unwrap();
        assert_eq!(h.status, 302);
        let h = parse_head(b"Location: /x\nStatus: 303\n\n").unwrap();
        assert_eq!((h.status, h.reason.as_str()), (303, "Unknown"));
        for bad in [
            &b"\n"[..],
            b"no colon here\n\n",
            b"Bad Name: x\n\n",
            b"Status: 99 x\n\n",
            b"Status: 1000\n\n",
            b"Status: abc\n\n",
            b"Content-Length: -1\n\n",
            b"Content-Length: 1\nContent-Length: 2\n\n",
            b"X: a\x01b\n\n",
            b"X: caf\xe9\n\n",
        ] {
            assert!(parse_head(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn header_scan_finds_the_blank_line_however_split() {
        let out = b"A: 1\r\nB: 2\n\r\nbody\n\nmore";
        let end = 13;
        for cut in 0..out.len() {
            let mut scan = HeaderScan::default();
            let first = scan.feed(&out[..cut]);
            let found = first.or_else(|| scan.feed(out));
            assert_eq!(found, Some(end), "cut at {cut}");
        }
        assert_eq!(HeaderScan::default().feed(b"\nbody"), Some(1));
        assert_eq!(HeaderScan::default().feed(b"A: 1\r\n"), None);
    }

    #[test]
    fn host_port_is_stripped() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
