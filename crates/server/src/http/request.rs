//! What an HTTP request head says about its connection and its body: whether the client
//! wants the connection kept open ([`Persistence`]) and how its body is framed
//! ([`body_framing`]).
//!
//! It reads no bytes; serving the body is up to the code that needs it (only CGI reads one).

use wshd_proto::handshake::Request;

/// Whether the connection stays open after this request, and which HTTP version asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Persistence {
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
    /// The request was HTTP/1.0: a kept-alive answer must say `Connection: keep-alive`, and
    /// no chunked encoding.
    pub(crate) http10: bool,
}

impl Persistence {
    /// RFC 9112 §9.3 for HTTP/1.1, and the HTTP/1.0 `keep-alive` convention.
    pub(crate) fn of(request: &Request) -> Persistence {
        let value = request.headers.get_combined("connection").unwrap_or_default();
        let has = |token: &str| value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
        let http10 = request.http_minor == 0;
        let keep_alive = if http10 { has("keep-alive") && !has("close") } else { !has("close") };
        Persistence { keep_alive, http10 }
    }

    /// The same, but closing.
    pub(crate) fn closing(self) -> Persistence {
        Persistence { keep_alive: false, ..self }
    }
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length: n` with n > 0.
    Length(u64),
    /// `Transfer-Encoding` (chunked or otherwise): not supported for request bodies.
    TransferEncoded,
}

/// The framing of `request`'s body, or a reason for 400 when it is ambiguous: several
/// different `Content-Length` values, one that is not a number, or `Content-Length` with
/// `Transfer-Encoding` (RFC 9112 §6.3: a request smuggling vector, refused outright).
pub(crate) fn body_framing(request: &Request) -> Result<BodyFraming, &'static str> {
    let te = request.headers.get("transfer-encoding").is_some();
    let mut length = None;
    for value in request.headers.get_all("content-length") {
        let parsed = std::str::from_utf8(value)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("Content-Length is not a number")?;
        if length.is_some_and(|l| l != parsed) {
            return Err("several different Content-Length values");
        }
        length = Some(parsed);
    }
    match (te, length) {
        (true, Some(_)) => Err("both Transfer-Encoding and Content-Length"),
        (true, None) => Ok(BodyFraming::TransferEncoded),
        (false, Some(n)) if n > 0 => Ok(BodyFraming::Length(n)),
        (false, _) => Ok(BodyFraming::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wshd_proto::HandshakeLimits;
    use wshd_proto::handshake::parse_request;

    fn req(head: &str) -> Request {
        parse_request(head.as_bytes(), &HandshakeLimits::default()).unwrap().unwrap().0
    }

    #[test]
    fn rfc9112_9_3_persistence_by_version_and_connection_header() {
        let p = |h: &str| Persistence::of(&req(h)).keep_alive;
        assert!(p("GET / HTTP/1.1\r\n\r\n"));
        assert!(!p("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!p("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n"));
        assert!(!p("GET / HTTP/1.0\r\n\r\n"));
        assert!(p("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(Persistence::of(&req("GET / HTTP/1.0\r\n\r\n")).http10);
    }

    #[test]
    fn rfc9112_6_body_framing() {
        let f = |h: &str| body_framing(&req(h));
        assert_eq!(f("GET / HTTP/1.1\r\n\r\n"), Ok(BodyFraming::None));
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), Ok(BodyFraming::None));
        assert_eq!(f("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), Ok(BodyFraming::Length(12)));
        assert_eq!(
            f("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            f("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyFraming::TransferEncoded)
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(f(bad).is_err(), "{bad}");
        }
    }
}
