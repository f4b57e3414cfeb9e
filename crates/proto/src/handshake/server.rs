//! The server side of the opening handshake (RFC 6455 §4.2): telling a WebSocket attempt
//! from plain HTTP, validating it with pywebsocket's answers, and writing the 101 or the
//! error response.
//!
//! Policy is not here: which subprotocol or extensions to accept, origin checks, and
//! handler lookup (404) belong to the server, which fills an [`Accept`] or builds a
//! [`HandshakeError`] itself. Validation order and statuses follow pywebsocket3's
//! `handshake/hybi.py`; the few places where we are stricter are marked in
//! [`validate_upgrade`].

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use super::error::{HandshakeError, InvalidHeader};
use super::headers::parse_token_list;
use super::headers::{ExtensionOffer, is_field_value, is_token, parse_extensions, push_field};
use super::request::{Headers, Request};

/// RFC 6455 §1.3: the GUID appended to the key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether the request asks for a protocol switch at all (has an `Upgrade` header), so a
/// server can route plain HTTP elsewhere. It says nothing about validity: a request with
/// a bad `Upgrade` header is still an attempt, and [`validate_upgrade`] answers it with 400.
pub fn is_upgrade_request(req: &Request) -> bool {
    req.headers.get("upgrade").is_some()
}

/// A request that passed [`validate_upgrade`]: what a handler needs to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The full request, headers included.
    pub request: Request,
    /// `Sec-WebSocket-Key`, checked to be base64 of 16 bytes.
    pub key: String,
    /// `Sec-WebSocket-Version`: always 13.
    pub version: u8,
    /// `Origin` (or, for old HyBi clients, `Sec-WebSocket-Origin`), if sent.
    pub origin: Option<String>,
    /// `Sec-WebSocket-Protocol` tokens in order (all such headers joined); `None` when the
    /// header is absent, as pywebsocket's `ws_requested_protocols`.
    pub protocols: Option<Vec<String>>,
    /// `Sec-WebSocket-Extensions` offers in order; `None` when absent or empty (pywebsocket
    /// treats an empty value as absent).
    pub extensions: Option<Vec<ExtensionOffer>>,
}

/// Checks a request against RFC 6455 §4.2.1, with pywebsocket's statuses (all 400):
///
/// 1. method `GET` and `HTTP/1.1`;
/// 2. exactly one `Upgrade`, equal to `websocket` ignoring case (*stricter*: pywebsocket
///    reads only the first of several);
/// 3. `Connection` (all such headers joined) is a token list containing `upgrade`, ignoring
///    case;
/// 4. exactly one `Host` (*stricter*: RFC 7230 §5.4 requires 400 for several; pywebsocket
///    only checks presence);
/// 5. `Sec-WebSocket-Version` present; a value with `,` (or several headers) is 400; a value
///    other than `13` is 400 **with `Sec-WebSocket-Version: 13`** (RFC 6455 §4.2.2);
/// 6. `Sec-WebSocket-Protocol` (all joined) is `1#token` if present;
/// 7. `Sec-WebSocket-Extensions` (all joined) parses if present and not empty;
/// 8. exactly one `Sec-WebSocket-Key`, matching `^[+/0-9A-Za-z]{21}[AQgw]==$`, i.e. base64
///    of exactly 16 bytes;
/// 9. no body: no `Transfer-Encoding`, and no `Content-Length` other than 0 (*stricter*:
///    pywebsocket ignored both, and a body's bytes were then read as frames).
///
/// The first failure is returned.
pub fn validate_upgrade(req: Request) -> Result<UpgradeRequest, HandshakeError> {
    fn bad(reason: impl Into<Cow<'static, str>>) -> HandshakeError {
        HandshakeError::bad_request(reason)
    }
    check_request_line(&req)?;
    let h = &req.headers;

    match single(h, "upgrade") {
        Err(0) => return Err(bad("missing Upgrade header")),
        Err(_) => return Err(bad("more than one Upgrade header")),
        Ok(v) if !v.trim_ascii().eq_ignore_ascii_case(b"websocket") => {
            return Err(bad("Upgrade header must be \"websocket\""));
        }
        Ok(_) => {}
    }

    check_connection_upgrade(h)?;

    match single(h, "host") {
        Err(0) => return Err(bad("missing Host header")),
        Err(_) => return Err(bad("more than one Host header")),
        Ok(_) => {}
    }

    let version = h
        .get_combined("sec-websocket-version")
        .ok_or_else(|| bad("missing Sec-WebSocket-Version header"))?;
    if version.trim() != "13" {
        if version.contains(',') {
            return Err(bad("more than one Sec-WebSocket-Version"));
        }
        return Err(bad("unsupported Sec-WebSocket-Version (only 13 is supported)")
            .with_header("Sec-WebSocket-Version", "13"));
    }

    let origin = h
        .get("origin")
        .or_else(|| h.get("sec-websocket-origin"))
        .map(|v| String::from_utf8_lossy(v).into_owned());

    let protocols = match h.get_combined("sec-websocket-protocol") {
        None => None,
        Some(v) => Some(
            parse_token_list(&v)
                .map_err(|e| bad(format!("invalid Sec-WebSocket-Protocol header: {e}")))?,
        ),
    };

    let extensions = match h.get_combined("sec-websocket-extensions") {
        Some(v) if !v.trim().is_empty() => Some(
            parse_extensions(&v)
                .map_err(|e| bad(format!("invalid Sec-WebSocket-Extensions header: {e}")))?,
        ),
        _ => None,
    };

    let key = match single(h, "sec-websocket-key") {
        Err(0) => return Err(bad("missing Sec-WebSocket-Key header")),
        Err(_) => return Err(bad("more than one Sec-WebSocket-Key header")),
        Ok(v) => v.trim_ascii(),
    };
    if !is_valid_key(key) {
        return Err(bad("Sec-WebSocket-Key must be base64 of 16 bytes"));
    }
    // is_valid_key checked it is ASCII.
    let key = String::from_utf8_lossy(key).into_owned();

    if h.get("transfer-encoding").is_some() {
        return Err(bad("a WebSocket handshake has no body, but Transfer-Encoding is set"));
    }
    if h.get_all("content-length").any(|v| v.trim_ascii() != b"0") {
        return Err(bad("a WebSocket handshake has no body, but Content-Length is not 0"));
    }

    Ok(UpgradeRequest { request: req, key, version: 13, origin, protocols, extensions })
}

/// `GET` and `HTTP/1.1`, which every WebSocket handshake (RFC 6455 and HyBi 00) needs.
pub(super) fn check_request_line(req: &Request) -> Result<(), HandshakeError> {
    if req.method != "GET" {
        return Err(HandshakeError::bad_request("method must be GET"));
    }
    if req.http_minor != 1 {
        return Err(HandshakeError::bad_request("HTTP/1.1 is required"));
    }
    Ok(())
}

/// `Connection` (all such headers joined) is a token list containing `upgrade`, ignoring
/// case, as every WebSocket handshake needs.
pub(super) fn check_connection_upgrade(h: &Headers) -> Result<(), HandshakeError> {
    let connection = h
        .get_combined("connection")
        .ok_or_else(|| HandshakeError::bad_request("missing Connection header"))?;
    let tokens = parse_token_list(&connection)
        .map_err(|e| HandshakeError::bad_request(format!("invalid Connection header: {e}")))?;
    if !tokens.iter().any(|t| t.eq_ignore_ascii_case("upgrade")) {
        return Err(HandshakeError::bad_request("Connection header must contain \"upgrade\""));
    }
    Ok(())
}

/// The value of the only field called `name`, or `Err(count)` when there are 0 or several.
pub(super) fn single<'a>(h: &'a Headers, name: &str) -> Result<&'a [u8], usize> {
    let mut all = h.get_all(name);
    match (all.next(), all.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(0),
        (Some(_), Some(_)) => Err(2),
    }
}

/// pywebsocket's `^[+/0-9A-Za-z]{21}[AQgw]==$`, written out: 22 base64 characters whose
/// last one leaves no stray bits, then `==`, which decodes to exactly 16 bytes.
fn is_valid_key(key: &[u8]) -> bool {
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    key.len() == 24
        && key[..21].iter().all(is_b64)
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
        && &key[22..] == b"=="
        && BASE64.decode(key).is_ok_and(|k| k.len() == 16)
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2 step 5.4): base64 of
/// SHA-1(key + [`WEBSOCKET_GUID`]).
pub fn compute_accept(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// What the server accepts, for [`accept_response`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// The selected subprotocol (must be a token), sent as `Sec-WebSocket-Protocol`.
    pub protocol: Option<String>,
    /// The accepted extensions, already formatted (see
    /// [`format_extensions`](super::format_extensions)), sent as `Sec-WebSocket-Extensions`.
    pub extensions: Option<String>,
    /// Extra headers written after the WebSocket ones, in order (e.g. `Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// Written after `headers` as `name: value` lines exactly as given, unchecked: for
    /// pywebsocket's `request.extra_headers`, whose values test suites fill with CRLF on
    /// purpose (to forge further header lines). Never put a peer's input here.
    pub verbatim_headers: Vec<(String, String)>,
}

/// The `101 Switching Protocols` response, byte for byte as pywebsocket writes it:
///
/// ```text
/// HTTP/1.1 101 Switching Protocols\r\n
/// Upgrade: websocket\r\n
/// Connection: Upgrade\r\n
/// Sec-WebSocket-Accept: <compute_accept(key)>\r\n
/// [Sec-WebSocket-Protocol: <protocol>\r\n]
/// [Sec-WebSocket-Extensions: <extensions>\r\n]
/// [extra headers, in order]
/// \r\n
/// ```
///
/// No `Server` or `Date`. Nothing is sanitized: a protocol that is not a token, a header
/// name that is not a token, or a value with CR, LF, NUL or another control character
/// returns [`InvalidHeader`] (response splitting), and the server should answer 500 instead.
pub fn accept_response(key: &str, accept: &Accept) -> Result<Vec<u8>, InvalidHeader> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    push_field(&mut out, "Sec-WebSocket-Accept", &compute_accept(key))?;
    if let Some(protocol) = &accept.protocol {
        if !is_token(protocol) {
            return Err(InvalidHeader::new("Sec-WebSocket-Protocol", "value is not a token"));
        }
        push_field(&mut out, "Sec-WebSocket-Protocol", protocol)?;
    }
    if let Some(extensions) = &accept.extensions {
        push_field(&mut out, "Sec-WebSocket-Extensions", extensions)?;
    }
    for (name, value) in &accept.headers {
        push_field(&mut out, name, value)?;
    }
    for (name, value) in &accept.verbatim_headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// The canonical reason phrase of `status` (RFC 9110 §15, RFC 6585), or `"Unknown"`.
pub fn status_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A complete error response that closes the connection:
///
/// ```text
/// HTTP/1.1 <status> <status_phrase(status)>\r\n
/// [headers, in order]
/// Content-Type: text/plain; charset=utf-8\r\n
/// Content-Length: <n>\r\n
/// Connection: close\r\n
/// \r\n
/// <status> <phrase>: <reason>\n
/// ```
///
/// Meant for 4xx and 5xx; a `status` outside 100..=999 is written as 500. This is the
/// last-resort path, so it never fails: a header in `headers` whose name is not a token or
/// whose value has a control character is **left out**, as is any caller header named
/// `Content-Type`, `Content-Length` or `Connection` (this function writes its own).
/// `reason` only goes in the body, so it needs no escaping.
pub fn error_response(status: u16, reason: &str, headers: &[(String, String)]) -> Vec<u8> {
    let status = if (100..=999).contains(&status) { status } else { 500 };
    let phrase = status_phrase(status);
    let body = format!("{status} {phrase}: {reason}\n");
    let mut out = format!("HTTP/1.1 {status} {phrase}\r\n").into_bytes();
    for (name, value) in headers {
        let ours = ["content-type", "content-length", "connection"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if !ours && is_token(name) && is_field_value(value) {
            // Cannot fail: both were just checked.
            let _ = push_field(&mut out, name, value);
        }
    }
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HandshakeLimits;
    use crate::handshake::{generate_key, parse_request, parse_response, validate_response};
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// The RFC 6455 §1.2 example request, with `extra` header lines added and the header
    /// lines whose names are in `drop` removed.
    fn request(drop: &[&str], extra: &str) -> Request {
        let mut head = String::from("GET /chat HTTP/1.1\r\n");
        for line in [
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Origin: http://example.com",
            "Sec-WebSocket-Version: 13",
        ] {
            let name = line.split(':').next().unwrap();
            if !drop.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                head.push_str(line);
                head.push_str("\r\n");
            }
        }
        head.push_str(extra);
        head.push_str("\r\n");
        parse_request(head.as_bytes(), &HandshakeLimits::default()).unwrap().unwrap().0
    }

    fn rejected(drop: &[&str], extra: &str) -> HandshakeError {
        validate_upgrade(request(drop, extra)).unwrap_err()
    }

    fn assert_400(drop: &[&str], extra: &str) {
        let e = rejected(drop, extra);
        assert_eq!(e.status(), 400, "{drop:?} {extra:?}: {e}");
        assert!(e.headers().is_empty(), "{drop:?} {extra:?}");
    }

    #[test]
    fn rfc6455_1_3_accept_key_example() {
        assert_eq!(compute_accept(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn rfc6455_4_2_1_valid_request_is_accepted() {
        let up = validate_upgrade(request(&[], "")).unwrap();
        assert_eq!(up.key, KEY);
        assert_eq!(up.version, 13);
        assert_eq!(up.origin.as_deref(), Some("http://example.com"));
        assert_eq!(up.protocols, None);
        assert_eq!(up.extensions, None);
        assert_eq!(up.request.target, "/chat");
        assert!(is_upgrade_request(&up.request));
    }

    #[test]
    fn a_handshake_with_a_body_is_refused() {
        for extra in
            ["Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n", "Content-Length: 0, 5\r\n"]
        {
            assert_400(&[], extra);
            assert!(rejected(&[], extra).reason().contains("no body"), "{extra}");
        }
        assert!(validate_upgrade(request(&[], "Content-Length: 0\r\n")).is_ok());
    }

    #[test]
    fn rfc6455_4_2_1_plain_http_is_not_an_upgrade() {
        let req = request(&["upgrade"], "");
        assert!(!is_upgrade_request(&req));
        assert!(is_upgrade_request(&request(&["upgrade"], "Upgrade: h2c\r\n")));
    }

    #[test]
    fn rfc6455_4_2_1_case_and_token_lists_are_accepted() {
        let up = validate_upgrade(request(
            &["upgrade", "connection"],
            "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n",
        ))
        .unwrap();
        assert_eq!(up.key, KEY);
        // Connection split over two header lines.
        validate_upgrade(request(
            &["connection"],
            "Connection: keep-alive\r\nConnection: UPGRADE\r\n",
        ))
        .unwrap();
    }

    #[test]
    fn rfc6455_4_2_1_method_must_be_get() {
        let mut req = request(&[], "");
        req.method = "POST".into();
        assert_eq!(validate_upgrade(req).unwrap_err().status(), 400);
    }

    #[test]
    fn rfc6455_4_2_1_http_1_0_is_400() {
        let mut req = request(&[], "");
        req.http_minor = 0;
        assert_eq!(validate_upgrade(req).unwrap_err().status(), 400);
    }

    #[test]
    fn rfc6455_4_2_1_upgrade_header_checked() {
        assert_400(&["upgrade"], "");
        assert_400(&["upgrade"], "Upgrade: websocket, foo\r\n");
        assert_400(&["upgrade"], "Upgrade: h2c\r\n");
        assert_400(&[], "Upgrade: websocket\r\n");
    }

    #[test]
    fn rfc6455_4_2_1_connection_header_checked() {
        assert_400(&["connection"], "");
        assert_400(&["connection"], "Connection: keep-alive\r\n");
        assert_400(&["connection"], "Connection: upgraded\r\n");
        assert_400(&["connection"], "Connection: keep alive, upgrade\r\n");
    }

    #[test]
    fn rfc6455_4_2_1_host_required_once() {
        assert_400(&["host"], "");
        assert_400(&[], "Host: other.example.com\r\n");
    }

    #[test]
    fn rfc6455_4_2_1_version_missing_is_400() {
        assert_400(&["sec-websocket-version"], "");
    }

    #[test]
    fn rfc6455_4_2_1_version_list_is_400_without_version_header() {
        assert_400(&["sec-websocket-version"], "Sec-WebSocket-Version: 13, 8\r\n");
        assert_400(&[], "Sec-WebSocket-Version: 13\r\n");
    }

    #[test]
    fn rfc6455_4_2_1_version_not_13_is_400_with_version_header() {
        for v in ["8", "14", "", "013", "thirteen"] {
            let e =
                rejected(&["sec-websocket-version"], &format!("Sec-WebSocket-Version: {v}\r\n"));
            assert_eq!(e.status(), 400, "{v:?}");
            assert_eq!(e.headers(), [("Sec-WebSocket-Version".into(), "13".into())], "{v:?}");
            let wire = String::from_utf8(e.to_response()).unwrap();
            assert!(wire.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{wire}");
        }
    }

    #[test]
    fn rfc6455_4_2_1_key_must_be_base64_of_16_bytes() {
        for key in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25jZR==",
            "dGhlIHNhbXBsZSBub25jZQ==x",
            "dGhlIHNhbXBsZSBub25jZQ=,",
            "dGhlIHNhbXBsZSBub25j!Q==",
            "dGhlIHNhbXBsZSBub25jZQ=a",
            "dGhlIHNhbXBsZSBub25jZXRlc3Q=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_400(&["sec-websocket-key"], &format!("Sec-WebSocket-Key: {key}\r\n"));
        }
        assert_400(&["sec-websocket-key"], "");
        assert_400(&[], "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
        for key in
            ["AAAAAAAAAAAAAAAAAAAAAA==", "+/+/+/+/+/+/+/+/+/+/+w==", "zzzzzzzzzzzzzzzzzzzzzg=="]
        {
            let up = validate_upgrade(request(
                &["sec-websocket-key"],
                &format!("Sec-WebSocket-Key: {key}\r\n"),
            ))
            .unwrap();
            assert_eq!(up.key, key);
        }
    }

    #[test]
    fn rfc6455_4_2_1_protocols_parsed_and_joined() {
        let up = validate_upgrade(request(
            &[],
            "Sec-WebSocket-Protocol: chat, superchat\r\nsec-websocket-protocol: v2\r\n",
        ))
        .unwrap();
        assert_eq!(up.protocols.unwrap(), ["chat", "superchat", "v2"]);
    }

    #[test]
    fn rfc6455_4_2_1_invalid_protocol_is_400() {
        for v in ["", " , ", "chat superchat", "a/b", "\"chat\""] {
            assert_400(&[], &format!("Sec-WebSocket-Protocol: {v}\r\n"));
        }
    }

    #[test]
    fn rfc6455_9_1_extensions_parsed() {
        let up = validate_upgrade(request(
            &[],
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
             Sec-WebSocket-Extensions: x-foo\r\n",
        ))
        .unwrap();
        let ext = up.extensions.unwrap();
        assert_eq!(ext.len(), 2);
        assert!(ext[0].has_param("client_max_window_bits"));
        assert_eq!(ext[1].name, "x-foo");
        // pywebsocket treats an empty value as absent.
        let up = validate_upgrade(request(&[], "Sec-WebSocket-Extensions: \r\n")).unwrap();
        assert_eq!(up.extensions, None);
    }

    #[test]
    fn rfc6455_9_1_invalid_extensions_is_400() {
        for v in ["a;", "a; b=\"c d\"", "a b", "a; b=\"unterminated"] {
            assert_400(&[], &format!("Sec-WebSocket-Extensions: {v}\r\n"));
        }
    }

    #[test]
    fn rfc6455_10_2_origin_and_legacy_origin() {
        let up =
            validate_upgrade(request(&["origin"], "Sec-WebSocket-Origin: http://old\r\n")).unwrap();
        assert_eq!(up.origin.as_deref(), Some("http://old"));
        let up = validate_upgrade(request(&["origin"], "")).unwrap();
        assert_eq!(up.origin, None);
    }

    /// CVE-2021-32640 / CVE-2020-7662: hostile 100k-character protocol and extension values
    /// inside a real request must be refused quickly.
    #[test]
    fn rfc6455_4_2_1_redos_headers_are_fast() {
        let limits = HandshakeLimits { max_head_bytes: 1 << 20, max_headers: 100 };
        let hostile = [
            format!("Sec-WebSocket-Extensions: a;b=\"{}", "\\c".repeat(50_000)),
            format!("Sec-WebSocket-Protocol: a{} b c", " ,".repeat(50_000)),
        ];
        let start = Instant::now();
        for line in hostile {
            let head = format!(
                "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{line}\r\n\r\n"
            );
            let req = match parse_request(head.as_bytes(), &limits) {
                Ok(Some((r, _))) => r,
                other => panic!("{other:?}"),
            };
            assert_eq!(validate_upgrade(req).unwrap_err().status(), 400);
        }
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    #[test]
    fn rfc6455_4_2_2_accept_response_exact_bytes() {
        let wire = accept_response(KEY, &Accept::default()).unwrap();
        assert_eq!(
            wire,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        let accept = Accept {
            protocol: Some("chat".into()),
            extensions: Some("permessage-deflate; server_no_context_takeover".into()),
            headers: vec![("Set-Cookie".into(), "a=b".into()), ("X-Root".into(), "yes".into())],
            verbatim_headers: vec![],
        };
        let wire = String::from_utf8(accept_response(KEY, &accept).unwrap()).unwrap();
        assert_eq!(
            wire,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Protocol: chat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\
             Set-Cookie: a=b\r\nX-Root: yes\r\n\r\n"
        );
    }

    /// pywebsocket's extra_headers: what the handler wrote, CRLF and all, after the
    /// checked headers.
    #[test]
    fn verbatim_headers_go_out_as_given() {
        let accept = Accept {
            headers: vec![("Set-Cookie".into(), "a=b".into())],
            verbatim_headers: vec![(
                "Set-Cookie".into(),
                "ws=1; HttpOnly\r\nSec-WebSocket-Origin: http://x".into(),
            )],
            ..Accept::default()
        };
        let wire = String::from_utf8(accept_response(KEY, &accept).unwrap()).unwrap();
        assert!(
            wire.ends_with(
                "Set-Cookie: a=b\r\nSet-Cookie: ws=1; HttpOnly\r\nSec-WebSocket-Origin: http://x\r\n\r\n"
            ),
            "{wire}"
        );
    }

    #[test]
    fn rfc6455_4_2_2_accept_response_refuses_response_splitting() {
        let bad = [
            Accept { protocol: Some("chat\r\nX: y".into()), ..Accept::default() },
            Accept { protocol: Some("a b".into()), ..Accept::default() },
            Accept { extensions: Some("x\r\n\r\nHTTP/1.1 200 OK".into()), ..Accept::default() },
            Accept { headers: vec![("X\r\nY".into(), "v".into())], ..Accept::default() },
            Accept { headers: vec![("X".into(), "v\nY: z".into())], ..Accept::default() },
            Accept { headers: vec![("X".into(), "v\0".into())], ..Accept::default() },
            Accept { headers: vec![("".into(), "v".into())], ..Accept::default() },
        ];
        for accept in bad {
            assert!(accept_response(KEY, &accept).is_err(), "{accept:?}");
        }
    }

    #[test]
    fn rfc7231_6_error_response_exact_bytes() {
        let wire = error_response(
            400,
            "unsupported version",
            &[("Sec-WebSocket-Version".into(), "13".into())],
        );
        let body = "400 Bad Request: unsupported version\n";
        let expected = format!(
            "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8(wire).unwrap(), expected);
    }

    #[test]
    fn rfc7231_6_error_response_drops_unsafe_and_duplicate_headers() {
        let wire = error_response(
            431,
            "too\r\nbig",
            &[
                ("X\r\nEvil".into(), "1".into()),
                ("X-Evil".into(), "1\r\nSet-Cookie: a".into()),
                ("connection".into(), "keep-alive".into()),
                ("X-Ok".into(), "1".into()),
            ],
        );
        let wire = String::from_utf8(wire).unwrap();
        let (head, body) = wire.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nX-Ok: 1\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 46\r\nConnection: close"
        );
        assert_eq!(body.len(), 46);
        assert!(error_response(7, "x", &[]).starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"));
    }

    #[test]
    fn rfc7231_6_canonical_phrases() {
        for (s, p) in [
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (408, "Request Timeout"),
            (426, "Upgrade Required"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (599, "Unknown"),
        ] {
            assert_eq!(status_phrase(s), p);
        }
    }

    const FIELDS: [&str; 9] = [
        "Upgrade",
        "Connection",
        "Host",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Origin",
        "Sec-WebSocket-Origin",
    ];

    proptest! {
        #[test]
        fn rfc6455_4_1_every_generated_key_is_valid(bytes in any::<[u8; 16]>()) {
            prop_assert!(is_valid_key(generate_key(bytes).as_bytes()));
        }

        /// Arbitrary values for the fields the validator reads: it never panics, and
        /// whatever it accepts gives a 101 that a client accepts too.
        #[test]
        fn rfc6455_4_2_1_validate_upgrade_never_panics(
            fields in proptest::collection::vec(
                (0..FIELDS.len(), prop_oneof![
                    Just("websocket".to_owned()),
                    Just("Upgrade".to_owned()),
                    Just("13".to_owned()),
                    Just(KEY.to_owned()),
                    "[\t -~]{0,24}",
                ]),
                0..12,
            ),
            from_valid in any::<bool>(),
        ) {
            let mut req = if from_valid { request(&[], "") } else { request(&FIELDS, "") };
            for (i, value) in fields {
                req.headers.push(FIELDS[i], value);
            }
            if let Ok(up) = validate_upgrade(req) {
                let wire = accept_response(&up.key, &Accept::default()).unwrap();
                let limits = HandshakeLimits::default();
                let resp = parse_response(&wire, &limits).unwrap().unwrap().0;
                prop_assert!(validate_response(&resp, &up.key, &[]).is_ok());
            }
        }
    }
}
