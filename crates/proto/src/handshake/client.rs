//! The client side of the opening handshake (RFC 6455 §4.1): writing the request, parsing
//! the server's response head, and checking it.
//!
//! No randomness and no I/O: the caller supplies the 16 random bytes of the key
//! ([`generate_key`]) and moves the bytes. Errors are [`HandshakeError`]s whose status is
//! the one the server sent (101 if it sent 101 with bad headers), or **0** when no status
//! line could be read (malformed or oversized head); nothing is sent back for them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::error::{HandshakeError, InvalidHeader};
use super::head::{HeadError, check_parsed, find_head_end, header_slots};
use super::headers::{ExtensionOffer, is_token, parse_extensions};
use super::headers::{parse_token_list, push_field};
use super::request::Headers;
use super::server::compute_accept;
use crate::config::HandshakeLimits;

/// `Sec-WebSocket-Key` from 16 bytes the caller drew from a good random source
/// (RFC 6455 §4.1: "randomly selected", once per connection).
pub fn generate_key(random16: [u8; 16]) -> String {
    BASE64.encode(random16)
}

/// An opening handshake request to write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientRequest {
    /// `Host` value, e.g. `example.com:8080`.
    pub host: String,
    /// The request-target: path and query, e.g. `/chat?x=1`.
    pub resource: String,
    /// `Sec-WebSocket-Key`, usually from [`generate_key`].
    pub key: String,
    /// `Origin`, if any.
    pub origin: Option<String>,
    /// Subprotocols offered, in preference order; `Sec-WebSocket-Protocol` is sent only when
    /// this is not empty.
    pub protocols: Vec<String>,
    /// A formatted `Sec-WebSocket-Extensions` value (see
    /// [`format_extensions`](super::format_extensions)).
    pub extensions: Option<String>,
    /// Extra headers written last, in order.
    pub headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// The request head:
    ///
    /// ```text
    /// GET <resource> HTTP/1.1\r\n
    /// Host: <host>\r\n
    /// Upgrade: websocket\r\n
    /// Connection: Upgrade\r\n
    /// Sec-WebSocket-Key: <key>\r\n
    /// [Origin: <origin>\r\n]
    /// Sec-WebSocket-Version: 13\r\n
    /// [Sec-WebSocket-Protocol: <p1>, <p2>\r\n]
    /// [Sec-WebSocket-Extensions: <extensions>\r\n]
    /// [extra headers, in order]
    /// \r\n
    /// ```
    ///
    /// Nothing is sanitized: a `resource` that is empty or has a space or control character,
    /// a protocol or header name that is not a token, or a value with CR, LF, NUL or another
    /// control character returns [`InvalidHeader`] (request smuggling).
    pub fn to_bytes(&self) -> Result<Vec<u8>, InvalidHeader> {
        if self.resource.is_empty() || !self.resource.bytes().all(|b| b > b' ' && b != 0x7f) {
            return Err(InvalidHeader::new(
                "request-target",
                "empty, or contains a space or control character",
            ));
        }
        let mut out = Vec::with_capacity(200);
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.resource.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        push_field(&mut out, "Host", &self.host)?;
        out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        push_field(&mut out, "Sec-WebSocket-Key", &self.key)?;
        if let Some(origin) = &self.origin {
            push_field(&mut out, "Origin", origin)?;
        }
        out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
        if !self.protocols.is_empty() {
            if !self.protocols.iter().all(|p| is_token(p)) {
                return Err(InvalidHeader::new("Sec-WebSocket-Protocol", "value is not a token"));
            }
            push_field(&mut out, "Sec-WebSocket-Protocol", &self.protocols.join(", "))?;
        }
        if let Some(extensions) = &self.extensions {
            push_field(&mut out, "Sec-WebSocket-Extensions", extensions)?;
        }
        for (name, value) in &self.headers {
            push_field(&mut out, name, value)?;
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

/// A parsed HTTP/1.x response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase as sent (empty if missing or not valid UTF-8).
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
}

/// Parses a response head from the start of `buf`, scanning all of it; same as
/// [`parse_response_from`]`(buf, 0, limits)`.
pub fn parse_response(
    buf: &[u8],
    limits: &HandshakeLimits,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    parse_response_from(buf, 0, limits)
}

/// Parses a response head from the start of a growing `buf`, with the same contract as
/// [`parse_request_from`](super::parse_request_from): `Ok(None)` means read more and call
/// again with `already_scanned` = this call's `buf.len()`; `Ok(Some((response, n)))` means
/// the head is the first `n` bytes and the rest (the server's first frames) is the caller's.
/// Errors (head over `max_head_bytes`, more than `max_headers` fields, malformed) have
/// status 0: no status line could be trusted.
pub fn parse_response_from(
    buf: &[u8],
    already_scanned: usize,
    limits: &HandshakeLimits,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    parse(buf, already_scanned, limits).map_err(|e| match e {
        HeadError::TooLarge => HandshakeError::new(
            0,
            format!("response head is larger than {} bytes", limits.max_head_bytes),
        ),
        HeadError::TooManyHeaders => HandshakeError::new(
            0,
            format!("response has more than {} header fields", limits.max_headers),
        ),
        HeadError::Malformed(e) => HandshakeError::new(0, format!("malformed response: {e}")),
        HeadError::Truncated => HandshakeError::new(0, "malformed status line"),
    })
}

fn parse(
    buf: &[u8],
    already_scanned: usize,
    limits: &HandshakeLimits,
) -> Result<Option<(Response, usize)>, HeadError> {
    let Some(end) = find_head_end(buf, already_scanned, limits.max_head_bytes)? else {
        return Ok(None);
    };
    let mut slots = vec![httparse::EMPTY_HEADER; header_slots(end, limits.max_headers)];
    let mut resp = httparse::Response::new(&mut slots);
    let n = check_parsed(resp.parse(&buf[..end]))?;
    let Some(status) = resp.code else {
        return Err(HeadError::Truncated);
    };
    let response = Response {
        status,
        reason: resp.reason.unwrap_or_default().to_owned(),
        headers: Headers::from_httparse(resp.headers),
    };
    Ok(Some((response, n)))
}

/// What the server agreed to, from a valid 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAccepted {
    /// The subprotocol the server selected, one of those requested; `None` if it chose none.
    pub protocol: Option<String>,
    /// The extensions the server accepted, `None` if it sent no (or an empty)
    /// `Sec-WebSocket-Extensions`. **Not** checked against what was offered: the caller must
    /// fail the connection if one was not offered (RFC 6455 §4.1, point 5).
    pub extensions: Option<Vec<ExtensionOffer>>,
}

/// Checks the server's response against RFC 6455 §4.1 (the client's part):
///
/// - status 101 (else the error carries the server's status);
/// - exactly one `Upgrade`, equal to `websocket` ignoring case;
/// - `Connection` (all joined) is a token list containing `upgrade`, ignoring case;
/// - exactly one `Sec-WebSocket-Accept`, equal to [`compute_accept`]`(key)`;
/// - at most one `Sec-WebSocket-Protocol`, a single token, one of `requested_protocols`
///   (compared exactly); none may be returned if none was requested;
/// - `Sec-WebSocket-Extensions` (all joined), if present and not empty, parses.
pub fn validate_response(
    resp: &Response,
    key: &str,
    requested_protocols: &[String],
) -> Result<ClientAccepted, HandshakeError> {
    let fail = |reason: String| HandshakeError::new(resp.status, reason);
    if resp.status != 101 {
        return Err(fail(format!("server answered {} instead of 101", resp.status)));
    }
    let h = &resp.headers;

    let mut upgrade = h.get_all("upgrade");
    match (upgrade.next(), upgrade.next()) {
        (Some(v), None) if v.trim_ascii().eq_ignore_ascii_case(b"websocket") => {}
        (None, _) => return Err(fail("missing Upgrade header".into())),
        (Some(_), Some(_)) => return Err(fail("more than one Upgrade header".into())),
        (Some(_), None) => return Err(fail("Upgrade header is not \"websocket\"".into())),
    }

    let connection =
        h.get_combined("connection").ok_or_else(|| fail("missing Connection header".into()))?;
    let tokens = parse_token_list(&connection)
        .map_err(|e| fail(format!("invalid Connection header: {e}")))?;
    if !tokens.iter().any(|t| t.eq_ignore_ascii_case("upgrade")) {
        return Err(fail("Connection header does not contain \"upgrade\"".into()));
    }

    let mut accept = h.get_all("sec-websocket-accept");
    match (accept.next(), accept.next()) {
        (Some(v), None) if v.trim_ascii() == compute_accept(key).as_bytes() => {}
        (None, _) => return Err(fail("missing Sec-WebSocket-Accept header".into())),
        (Some(_), Some(_)) => return Err(fail("more than one Sec-WebSocket-Accept header".into())),
        (Some(_), None) => return Err(fail("wrong Sec-WebSocket-Accept".into())),
    }

    let mut protocol = h.get_all("sec-websocket-protocol");
    let protocol = match (protocol.next(), protocol.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(fail("more than one Sec-WebSocket-Protocol header".into()));
        }
        (Some(v), None) => {
            let v = std::str::from_utf8(v.trim_ascii()).unwrap_or("");
            if !is_token(v) {
                return Err(fail("Sec-WebSocket-Protocol is not a single token".into()));
            }
            if !requested_protocols.iter().any(|p| p == v) {
                return Err(fail(format!("server selected subprotocol {v:?}, not requested")));
            }
            Some(v.to_owned())
        }
    };

    let extensions = match h.get_combined("sec-websocket-extensions") {
        Some(v) if !v.trim().is_empty() => Some(
            parse_extensions(&v)
                .map_err(|e| fail(format!("invalid Sec-WebSocket-Extensions header: {e}")))?,
        ),
        _ => None,
    };

    Ok(ClientAccepted { protocol, extensions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Accept, accept_response, format_extensions, parse_request};
    use crate::handshake::{error_response, validate_upgrade};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn limits() -> HandshakeLimits {
        HandshakeLimits::default()
    }

    fn response(lines: &[&str]) -> Response {
        let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for l in lines {
            head.push_str(l);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        parse_response(head.as_bytes(), &limits()).unwrap().unwrap().0
    }

    fn ok_lines() -> Vec<String> {
        vec![
            "Upgrade: websocket".into(),
            "Connection: Upgrade".into(),
            format!("Sec-WebSocket-Accept: {ACCEPT}"),
        ]
    }

    fn with(extra: &[&str], drop: &str) -> Response {
        let mut lines: Vec<String> = ok_lines();
        lines.retain(|l| drop.is_empty() || !l.starts_with(drop));
        lines.extend(extra.iter().map(|s| s.to_string()));
        response(&lines.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn rejected(resp: &Response, protocols: &[&str]) -> HandshakeError {
        let protocols: Vec<String> = protocols.iter().map(|s| s.to_string()).collect();
        validate_response(resp, KEY, &protocols).unwrap_err()
    }

    #[test]
    fn rfc6455_4_1_generate_key_is_base64_of_16_bytes() {
        assert_eq!(generate_key(*b"the sample nonce"), KEY);
        assert_eq!(generate_key([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
    }

    #[test]
    fn rfc6455_4_1_request_bytes() {
        let req = ClientRequest {
            host: "server.example.com".into(),
            resource: "/chat".into(),
            key: KEY.into(),
            origin: Some("http://example.com".into()),
            protocols: vec!["chat".into(), "superchat".into()],
            extensions: Some("permessage-deflate".into()),
            headers: vec![("Cookie".into(), "a=b".into())],
        };
        assert_eq!(
            String::from_utf8(req.to_bytes().unwrap()).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\nCookie: a=b\r\n\r\n"
        );
        let minimal = ClientRequest {
            host: "h".into(),
            resource: "/".into(),
            key: KEY.into(),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(minimal.to_bytes().unwrap()).unwrap(),
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    #[test]
    fn rfc6455_4_1_request_refuses_injection() {
        let base = ClientRequest {
            host: "h".into(),
            resource: "/".into(),
            key: KEY.into(),
            ..Default::default()
        };
        let bad = [
            ClientRequest { resource: "/ HTTP/1.1\r\nX: y".into(), ..base.clone() },
            ClientRequest { resource: "".into(), ..base.clone() },
            ClientRequest { resource: "/a b".into(), ..base.clone() },
            ClientRequest { host: "h\r\nX: y".into(), ..base.clone() },
            ClientRequest { origin: Some("o\n".into()), ..base.clone() },
            ClientRequest { protocols: vec!["a b".into()], ..base.clone() },
            ClientRequest { extensions: Some("e\0".into()), ..base.clone() },
            ClientRequest { headers: vec![("a:b".into(), "c".into())], ..base.clone() },
        ];
        for req in bad {
            assert!(req.to_bytes().is_err(), "{req:?}");
        }
    }

    #[test]
    fn rfc6455_4_1_valid_response_accepted() {
        let got = validate_response(&with(&[], ""), KEY, &[]).unwrap();
        assert_eq!(got, ClientAccepted { protocol: None, extensions: None });
        let resp = with(
            &[
                "Sec-WebSocket-Protocol: chat",
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
            ],
            "Upgrade",
        );
        // Upgrade dropped above; put a capitalised one back.
        let mut resp = resp;
        resp.headers.push("upgrade", "WebSocket");
        let got = validate_response(&resp, KEY, &["superchat".into(), "chat".into()]).unwrap();
        assert_eq!(got.protocol.as_deref(), Some("chat"));
        assert!(got.extensions.unwrap()[0].has_param("server_no_context_takeover"));
        let resp = with(&["Connection: keep-alive, upgrade"], "Connection");
        validate_response(&resp, KEY, &[]).unwrap();
    }

    #[test]
    fn rfc6455_4_1_status_not_101_keeps_status() {
        let resp = parse_response(&error_response(403, "no", &[]), &limits()).unwrap().unwrap().0;
        let e = rejected(&resp, &[]);
        assert_eq!(e.status(), 403);
        assert!(e.reason().contains("403"));
    }

    #[test]
    fn rfc6455_4_1_upgrade_checked() {
        assert_eq!(rejected(&with(&[], "Upgrade"), &[]).status(), 101);
        rejected(&with(&["Upgrade: h2c"], "Upgrade"), &[]);
        rejected(&with(&["Upgrade: websocket"], ""), &[]);
    }

    #[test]
    fn rfc6455_4_1_connection_checked() {
        rejected(&with(&[], "Connection"), &[]);
        rejected(&with(&["Connection: close"], "Connection"), &[]);
        rejected(&with(&["Connection: up grade"], "Connection"), &[]);
    }

    #[test]
    fn rfc6455_4_1_accept_checked() {
        rejected(&with(&[], "Sec-WebSocket-Accept"), &[]);
        rejected(
            &with(&["Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="], "Sec-WebSocket-Accept"),
            &[],
        );
        let dup = format!("Sec-WebSocket-Accept: {ACCEPT}");
        rejected(&with(&[&dup], ""), &[]);
    }

    #[test]
    fn rfc6455_4_1_protocol_must_be_requested() {
        rejected(&with(&["Sec-WebSocket-Protocol: chat"], ""), &[]);
        rejected(&with(&["Sec-WebSocket-Protocol: chat"], ""), &["superchat"]);
        rejected(&with(&["Sec-WebSocket-Protocol: Chat"], ""), &["chat"]);
        rejected(&with(&["Sec-WebSocket-Protocol: chat, superchat"], ""), &["chat", "superchat"]);
        rejected(
            &with(&["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"], ""),
            &["chat"],
        );
    }

    #[test]
    fn rfc6455_9_1_response_extensions_must_parse() {
        rejected(&with(&["Sec-WebSocket-Extensions: a; b=\"c"], ""), &[]);
        let got = validate_response(&with(&["Sec-WebSocket-Extensions: "], ""), KEY, &[]).unwrap();
        assert_eq!(got.extensions, None);
    }

    #[test]
    fn rfc7230_3_response_parse_errors_have_status_0() {
        let e = parse_response(b"HTTP/1.1 1O1 Nope\r\n\r\n", &limits()).unwrap_err();
        assert_eq!(e.status(), 0);
        let big = vec![b'a'; limits().max_head_bytes];
        assert_eq!(parse_response(&big, &limits()).unwrap_err().status(), 0);
        assert_eq!(parse_response(b"HTTP/1.1 101 OK\r\n", &limits()).unwrap(), None);
    }

    #[test]
    fn rfc6455_4_1_response_pipelined_frame_not_consumed() {
        let mut wire = accept_response(KEY, &Accept::default()).unwrap();
        let head_len = wire.len();
        wire.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        let mut scanned = 0;
        for len in 0..=wire.len() {
            if let Some((resp, n)) = parse_response_from(&wire[..len], scanned, &limits()).unwrap()
            {
                assert_eq!((len, n), (head_len, head_len));
                validate_response(&resp, KEY, &[]).unwrap();
                return;
            }
            scanned = len;
        }
        panic!("response head never completed");
    }

    /// Client request → server parse and validate → 101 → client parse and validate.
    #[test]
    fn rfc6455_4_round_trip_client_server_client() {
        let key = generate_key(*b"0123456789abcdef");
        let req = ClientRequest {
            host: "localhost:9001".into(),
            resource: "/echo?x=1".into(),
            key: key.clone(),
            origin: Some("http://localhost".into()),
            protocols: vec!["chat".into(), "superchat".into()],
            extensions: Some(format_extensions(&[ExtensionOffer::new("permessage-deflate")
                .with_param("client_max_window_bits", None)])),
            headers: vec![("X-Test".into(), "1".into())],
        };
        let mut wire = req.to_bytes().unwrap();
        wire.extend_from_slice(b"\x81\x80maskXX");
        let (parsed, n) = parse_request(&wire, &limits()).unwrap().unwrap();
        assert_eq!(&wire[n..], b"\x81\x80maskXX");
        let up = validate_upgrade(parsed).unwrap();
        assert_eq!(up.key, key);
        assert_eq!(up.request.target, "/echo?x=1");
        assert_eq!(up.origin.as_deref(), Some("http://localhost"));
        assert_eq!(up.protocols.as_deref(), Some(&req.protocols[..]));
        let offers = up.extensions.unwrap();
        assert_eq!(offers[0].param("client_max_window_bits"), Some(None));
        assert_eq!(up.request.headers.get_str("x-test"), Some("1"));

        let accept = Accept {
            protocol: Some("superchat".into()),
            extensions: Some("permessage-deflate; client_max_window_bits=15".into()),
            headers: vec![("Set-Cookie".into(), "s=1".into())],
            verbatim_headers: vec![],
        };
        let answer = accept_response(&up.key, &accept).unwrap();
        let (resp, n) = parse_response(&answer, &limits()).unwrap().unwrap();
        assert_eq!(n, answer.len());
        assert_eq!((resp.status, resp.reason.as_str()), (101, "Switching Protocols"));
        let got = validate_response(&resp, &key, &req.protocols).unwrap();
        assert_eq!(got.protocol.as_deref(), Some("superchat"));
        assert_eq!(got.extensions.unwrap()[0].param("client_max_window_bits"), Some(Some("15")));
        // The wrong key fails.
        assert_eq!(validate_response(&resp, KEY, &req.protocols).unwrap_err().status(), 101);
    }
}
