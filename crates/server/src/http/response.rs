//! HTTP/1.1 responses of the static file and CGI server: the head builder ([`Head`]), the
//! short text responses for errors and redirects ([`simple`]), and writing under the idle
//! timeout ([`send`]).
//!
//! Every response carries `Date`, exactly one framing (`Content-Length`, chunked, or none
//! and `Connection: close`), and says `Connection: close` whenever the connection will be
//! closed after it. Header values given to [`Head::header`] must already be valid field
//! values: callers pass their own constants or values checked with
//! `wshd_proto::handshake::is_field_value`. It is not the WebSocket 101 (that is
//! `wshd_proto::handshake::accept_response`).

use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;
use wshd_proto::handshake::status_phrase;

use super::date;
use super::request::Persistence;
use crate::transport::Transport;

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n` (also for HEAD answers and 304, where no body follows).
    Length(u64),
    /// No `Content-Length`: 304 and other bodiless answers that must not claim a length.
    NoBody,
    /// `Transfer-Encoding: chunked` (HTTP/1.1 clients only).
    Chunked,
    /// The body ends when the connection closes (forces `Connection: close`).
    UntilClose,
}

/// A response head being built.
#[derive(Debug)]
pub(crate) struct Head {
    buf: Vec<u8>,
    has_date: bool,
}

impl Head {
    /// `HTTP/1.1 <status> <canonical phrase>`.
    pub(crate) fn new(status: u16) -> Head {
        Head::with_reason(status, status_phrase(status))
    }

    /// `HTTP/1.1 <status> <reason>`; `reason` must be free of control characters.
    pub(crate) fn with_reason(status: u16, reason: &str) -> Head {
        let buf = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        Head { buf, has_date: false }
    }

    /// Adds a header; the value must be a valid field value (see the module doc).
    pub(crate) fn header(mut self, name: &str, value: &str) -> Head {
        self.has_date |= name.eq_ignore_ascii_case("date");
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Adds `Date`, the framing and `Connection`, and ends the head. Whether the connection
    /// stays open is `persist.keep_alive`, unless `framing` is [`Framing::UntilClose`].
    pub(crate) fn finish(mut self, framing: Framing, persist: Persistence) -> Vec<u8> {
        if !self.has_date {
            self = self.header("Date", &date::format(SystemTime::now()));
        }
        self = match framing {
            Framing::Length(n) => self.header("Content-Length", &n.to_string()),
            Framing::Chunked => self.header("Transfer-Encoding", "chunked"),
            Framing::NoBody | Framing::UntilClose => self,
        };
        if framing == Framing::UntilClose || !persist.keep_alive {
            self = self.header("Connection", "close");
        } else if persist.http10 {
            self = self.header("Connection", "keep-alive");
        }
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }
}

/// A complete short response: `<status> <phrase>: <text>\n` as `text/plain`, plus
/// `headers`; the body is left out for HEAD (`head_only`) but its length is still given.
pub(crate) fn simple(
    status: u16,
    text: &str,
    headers: &[(&str, &str)],
    persist: Persistence,
    head_only: bool,
) -> Vec<u8> {
    let body = format!("{status} {}: {text}\n", status_phrase(status));
    let mut head = Head::new(status).header("Content-Type", "text/plain; charset=utf-8");
    for (name, value) in headers {
        head = head.header(name, value);
    }
    let mut out = head.finish(Framing::Length(body.len() as u64), persist);
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Writes `bytes` and flushes them (on TLS a write may leave records in rustls), failing
/// with `TimedOut` when the client does not take them within `timeout`.
pub(crate) async fn send(
    io: &mut Transport,
    bytes: &[u8],
    timeout: Duration,
) -> std::io::Result<()> {
    let write = async {
        io.write_all(bytes).await?;
        io.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the client took no bytes for {timeout:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP11: Persistence = Persistence { keep_alive: true, http10: false };
    const KEEP10: Persistence = Persistence { keep_alive: true, http10: true };

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn head_has_date_framing_and_connection() {
        let h = text(&Head::new(200).header("X", "1").finish(Framing::Length(5), KEEP11));
        assert!(h.starts_with("HTTP/1.1 200 OK\r\nX: 1\r\nDate: "), "{h}");
        assert!(h.ends_with(" GMT\r\nContent-Length: 5\r\n\r\n"), "{h}");
        let h = text(&Head::new(200).finish(Framing::Chunked, KEEP10));
        assert!(h.contains("Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"), "{h}");
        let h = text(&Head::new(200).finish(Framing::UntilClose, KEEP11));
        assert!(h.ends_with("GMT\r\nConnection: close\r\n\r\n"), "{h}");
        let h = text(&Head::new(304).header("date", "x").finish(Framing::NoBody, KEEP11.closing()));
        assert_eq!(h, "HTTP/1.1 304 Not Modified\r\ndate: x\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn simple_response_and_its_head_only_form() {
        let full = text(&simple(404, "no such file", &[("X-A", "b")], KEEP11, false));
        assert!(full.starts_with(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: b\r\n"
        ));
        assert!(
            full.ends_with("Content-Length: 28\r\n\r\n404 Not Found: no such file\n"),
            "{full}"
        );
        let head = text(&simple(404, "no such file", &[], KEEP11, true));
        assert!(head.ends_with("Content-Length: 28\r\n\r\n"), "{head}");
    }
}
