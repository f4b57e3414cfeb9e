//! The server side of HyBi 00's opening handshake (draft-ietf-hybi-thewebsocketprotocol-00,
//! also known as hixie-76): telling such a request from RFC 6455's, checking it, the
//! `Sec-WebSocket-Key1`/`Key2` challenge and its MD5 answer, and the 101 that carries it.
//!
//! Not here: whether to speak HyBi 00 at all (off by default; the server decides), reading
//! the 8 challenge bytes that follow the head (the caller reads them and passes them in),
//! and the frames after the handshake ([`crate::framing::Hybi00Framing`]). Checks and
//! statuses follow pywebsocket's HyBi 00 handshaker, except where marked.

use md5::{Digest, Md5};

use super::error::{HandshakeError, InvalidHeader};
use super::headers::push_field;
use super::request::{Headers, Request};
use super::server::{check_connection_upgrade, check_request_line, single};

/// The bytes of the challenge that follow the request head (the draft's `key3`).
pub const KEY3_LEN: usize = 8;

/// Whether `req` is a HyBi 00 handshake: it carries `Sec-WebSocket-Key1` or `Key2` and
/// no `Sec-WebSocket-Version` (which every RFC 6455 client sends).
pub fn is_hybi00_request(req: &Request) -> bool {
    let h = &req.headers;
    h.get("sec-websocket-version").is_none()
        && (h.get("sec-websocket-key1").is_some() || h.get("sec-websocket-key2").is_some())
}

/// A request that passed [`validate_hybi00`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hybi00Request {
    /// The full request, headers included.
    pub request: Request,
    /// The two numbers of the challenge, from `Sec-WebSocket-Key1` and `Key2`.
    pub parts: [u32; 2],
    /// `Origin`, if sent.
    pub origin: Option<String>,
    /// `Sec-WebSocket-Protocol`, if sent: one value, not a list, in HyBi 00.
    pub protocol: Option<String>,
    /// `Host`, as sent.
    pub host: String,
}

/// Checks a HyBi 00 request (all failures are 400):
///
/// 1. method `GET` and `HTTP/1.1`;
/// 2. exactly one `Upgrade`, equal to `WebSocket` ignoring case;
/// 3. `Connection` is a token list containing `upgrade`, ignoring case;
/// 4. exactly one `Host` (*stricter*: pywebsocket took the first of several);
/// 5. `Sec-WebSocket-Draft`, if present, is `0`;
/// 6. `Sec-WebSocket-Protocol`, if present, is not empty and only has characters from
///    U+0020 to U+007E;
/// 7. exactly one `Sec-WebSocket-Key1` and one `Key2`, each with at least one digit, at
///    least one space, and a number (its digits read as one decimal number) that is at
///    most 4,294,967,295 and a multiple of its count of spaces (the draft's checks).
///
/// The first failure is returned.
pub fn validate_hybi00(req: Request) -> Result<Hybi00Request, HandshakeError> {
    fn bad(reason: impl Into<std::borrow::Cow<'static, str>>) -> HandshakeError {
        HandshakeError::bad_request(reason)
    }
    check_request_line(&req)?;
    let h = &req.headers;
    match single(h, "upgrade").ok() {
        Some(v) if v.trim_ascii().eq_ignore_ascii_case(b"websocket") => {}
        Some(_) => return Err(bad("Upgrade header must be \"WebSocket\"")),
        None => return Err(bad("exactly one Upgrade header is required")),
    }
    check_connection_upgrade(h)?;
    let host = single(h, "host").map_err(|_| bad("exactly one Host header is required"))?;
    let host = String::from_utf8_lossy(host.trim_ascii()).into_owned();
    if let Some(draft) = h.get("sec-websocket-draft")
        && draft.trim_ascii() != b"0"
    {
        return Err(bad("Sec-WebSocket-Draft must be 0 for HyBi 00"));
    }
    let protocol = match h.get("sec-websocket-protocol") {
        None => None,
        Some([]) => return Err(bad("empty Sec-WebSocket-Protocol")),
        Some(v) if !v.iter().all(|b| (0x20..=0x7e).contains(b)) => {
            return Err(bad("Sec-WebSocket-Protocol has a character outside U+0020 to U+007E"));
        }
        Some(v) => Some(String::from_utf8_lossy(v).into_owned()),
    };
    let parts = [key_part(h, "sec-websocket-key1")?, key_part(h, "sec-websocket-key2")?];
    let origin = h.get("origin").map(|v| String::from_utf8_lossy(v).into_owned());
    Ok(Hybi00Request { request: req, parts, origin, protocol, host })
}

/// The draft's steps 4 to 7 for one key: its digits as a number, divided by its spaces.
fn key_part(h: &Headers, name: &'static str) -> Result<u32, HandshakeError> {
    let bad = |why: &str| HandshakeError::bad_request(format!("{name}: {why}"));
    let key = single(h, name).map_err(|_| bad("exactly one such header is required"))?;
    let mut number: u64 = 0;
    let mut digits = 0;
    for digit in key.iter().filter(|b| b.is_ascii_digit()) {
        number = number * 10 + u64::from(digit - b'0');
        digits += 1;
        if number > u64::from(u32::MAX) {
            return Err(bad("its number is above 4294967295"));
        }
    }
    let spaces = key.iter().filter(|&&b| b == b' ').count() as u64;
    if digits == 0 {
        return Err(bad("it has no digit"));
    }
    if spaces == 0 {
        return Err(bad("it has no space"));
    }
    if number % spaces != 0 {
        return Err(bad("its number is not a multiple of its spaces"));
    }
    Ok((number / spaces) as u32)
}

/// The challenge: the two parts (big-endian) and `key3`, 16 bytes (pywebsocket's
/// `ws_challenge`).
pub fn challenge(parts: [u32; 2], key3: &[u8; KEY3_LEN]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&parts[0].to_be_bytes());
    out[4..8].copy_from_slice(&parts[1].to_be_bytes());
    out[8..].copy_from_slice(key3);
    out
}

/// The answer to the challenge: the MD5 of [`challenge`].
pub fn challenge_response(parts: [u32; 2], key3: &[u8; KEY3_LEN]) -> [u8; 16] {
    Md5::digest(challenge(parts, key3)).into()
}

/// `Sec-WebSocket-Location`: `ws://` (`wss://` when `secure`) with the `Host` value and
/// the request target; a port equal to the scheme's default (80, 443) is left out, as
/// pywebsocket wrote it.
pub fn location(secure: bool, host: &str, target: &str) -> String {
    let (scheme, default) = if secure { ("wss", ":443") } else { ("ws", ":80") };
    let host = host.strip_suffix(default).unwrap_or(host);
    format!("{scheme}://{host}{target}")
}

/// What the server answers a HyBi 00 handshake with, for [`accept_response`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hybi00Accept {
    /// `Sec-WebSocket-Location` (see [`location`]).
    pub location: String,
    /// `Sec-WebSocket-Origin`: the client's `Origin`; left out when it sent none.
    pub origin: Option<String>,
    /// `Sec-WebSocket-Protocol`: in HyBi 00, the client's value, kept unless the handler
    /// changed it.
    pub protocol: Option<String>,
    /// Extra headers written after the WebSocket ones, in order.
    pub headers: Vec<(String, String)>,
}

/// The 101 of HyBi 00 and, after its blank line, the 16 bytes of the challenge's answer:
///
/// ```text
/// HTTP/1.1 101 WebSocket Protocol Handshake\r\n
/// Upgrade: WebSocket\r\n
/// Connection: Upgrade\r\n
/// Sec-WebSocket-Location: <location>\r\n
/// [Sec-WebSocket-Origin: <origin>\r\n]
/// [Sec-WebSocket-Protocol: <protocol>\r\n]
/// [extra headers, in order]
/// \r\n
/// <challenge_response>
/// ```
///
/// A value with CR, LF or another control character returns [`InvalidHeader`].
pub fn accept_response(
    accept: &Hybi00Accept,
    response: &[u8; 16],
) -> Result<Vec<u8>, InvalidHeader> {
    let mut out = Vec::with_capacity(200);
    out.extend_from_slice(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n");
    out.extend_from_slice(b"Upgrade: WebSocket\r\nConnection: Upgrade\r\n");
    push_field(&mut out, "Sec-WebSocket-Location", &accept.location)?;
    if let Some(origin) = &accept.origin {
        push_field(&mut out, "Sec-WebSocket-Origin", origin)?;
    }
    if let Some(protocol) = &accept.protocol {
        push_field(&mut out, "Sec-WebSocket-Protocol", protocol)?;
    }
    for (name, value) in &accept.headers {
        push_field(&mut out, name, value)?;
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(response);
    Ok(out)
}

/// A client's side of the challenge: the two keys, the 8 bytes after the head, and the
/// answer a server must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChallenge {
    /// `Sec-WebSocket-Key1`.
    pub key1: String,
    /// `Sec-WebSocket-Key2`.
    pub key2: String,
    /// The 8 bytes sent after the head.
    pub key3: [u8; KEY3_LEN],
    /// The MD5 answer the server's 101 must end with.
    pub expected: [u8; 16],
}

impl ClientChallenge {
    /// Draws a challenge as the draft's section 4.1 does; `random(n)` gives a number below
    /// `n` (the caller's generator: this crate draws nothing itself).
    pub fn new(mut random: impl FnMut(u32) -> u32) -> ClientChallenge {
        let (key1, part1) = client_key(&mut random);
        let (key2, part2) = client_key(&mut random);
        let key3 = std::array::from_fn(|_| random(256) as u8);
        let expected = challenge_response([part1, part2], &key3);
        ClientChallenge { key1, key2, key3, expected }
    }
}

/// One key: a number times 1 to 12 spaces, written with 1 to 12 other characters and the
/// spaces inserted (never first or last); returns it and the number.
fn client_key(random: &mut impl FnMut(u32) -> u32) -> (String, u32) {
    let spaces = 1 + random(12);
    let number = random(u32::MAX / spaces);
    let mut key: Vec<u8> = (u64::from(number) * u64::from(spaces)).to_string().into_bytes();
    for _ in 0..1 + random(12) {
        // U+0021 to U+002F and U+003A to U+007E: 15 and 69 characters.
        let r = random(84) as u8;
        let c = if r < 15 { 0x21 + r } else { 0x3a + r - 15 };
        let at = random(key.len() as u32 + 1) as usize;
        key.insert(at, c);
    }
    for _ in 0..spaces {
        let at = 1 + random(key.len() as u32 - 1) as usize;
        key.insert(at, b' ');
    }
    (String::from_utf8(key).expect("ASCII"), number)
}

/// A HyBi 00 client's request: the head for `resource` on `host`, then the challenge's 8
/// bytes. A value with CR, LF or another control character returns [`InvalidHeader`].
pub fn client_request(
    host: &str,
    resource: &str,
    origin: Option<&str>,
    protocol: Option<&str>,
    challenge: &ClientChallenge,
) -> Result<Vec<u8>, InvalidHeader> {
    if resource.is_empty() || !resource.bytes().all(|b| b > b' ' && b != 0x7f) {
        return Err(InvalidHeader::new("request-target", "empty, or has a space or control"));
    }
    let mut out =
        format!("GET {resource} HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n")
            .into_bytes();
    push_field(&mut out, "Host", host)?;
    if let Some(origin) = origin {
        push_field(&mut out, "Origin", origin)?;
    }
    if let Some(protocol) = protocol {
        push_field(&mut out, "Sec-WebSocket-Protocol", protocol)?;
    }
    push_field(&mut out, "Sec-WebSocket-Key1", &challenge.key1)?;
    push_field(&mut out, "Sec-WebSocket-Key2", &challenge.key2)?;
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&challenge.key3);
    Ok(out)
}

/// Checks a server's answer to [`client_request`]: a 101 with `Upgrade: WebSocket` and
/// `Connection: Upgrade`. The 16 bytes after the head must then equal
/// [`ClientChallenge::expected`] (the caller reads them). Returns the subprotocol, if any.
pub fn validate_client_response(
    response: &super::Response,
) -> Result<Option<String>, HandshakeError> {
    let refuse = |why: &str| HandshakeError::new(response.status, why.to_owned());
    if response.status != 101 {
        return Err(refuse("the server did not answer 101"));
    }
    let h = &response.headers;
    if !h.get("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket")) {
        return Err(refuse("the 101 has no Upgrade: WebSocket"));
    }
    if !h.get("connection").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"upgrade")) {
        return Err(refuse("the 101 has no Connection: Upgrade"));
    }
    Ok(h.get_str("sec-websocket-protocol").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandshakeLimits;
    use crate::handshake::parse_request;

    /// The draft's worked example (section 1.3 of draft-ietf-hybi-thewebsocketprotocol-00).
    const EXAMPLE: &[u8] = b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\n\
        Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
        Origin: http://example.com\r\n\r\n";

    fn request(head: &[u8]) -> Request {
        parse_request(head, &HandshakeLimits::default()).unwrap().unwrap().0
    }

    #[test]
    fn the_drafts_example_gets_its_answer() {
        let req = request(EXAMPLE);
        assert!(is_hybi00_request(&req));
        let up = validate_hybi00(req).unwrap();
        assert_eq!(up.protocol.as_deref(), Some("sample"));
        assert_eq!(up.origin.as_deref(), Some("http://example.com"));
        let answer = challenge_response(up.parts, b"^n:ds[4U");
        assert_eq!(&answer, b"8jKS'y:G*Co,Wxa-");
        let accept = Hybi00Accept {
            location: location(false, &up.host, &up.request.target),
            origin: up.origin.clone(),
            protocol: up.protocol.clone(),
            headers: Vec::new(),
        };
        let wire = accept_response(&accept, &answer).unwrap();
        assert_eq!(
            wire,
            b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Location: ws://example.com/demo\r\n\
              Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Protocol: sample\r\n\
              \r\n8jKS'y:G*Co,Wxa-"
        );
    }

    #[test]
    fn rfc6455_requests_are_not_hybi00() {
        let req = request(
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        assert!(!is_hybi00_request(&req));
    }

    #[test]
    fn bad_keys_and_headers_are_400_with_the_reason() {
        let with = |from: &str, to: &str| {
            let head = String::from_utf8(EXAMPLE.to_vec()).unwrap().replace(from, to);
            validate_hybi00(request(head.as_bytes())).unwrap_err()
        };
        let cases = [
            ("4 @1  46546xW%0l 1 5", "4@146546xW%0l15", "no space"),
            ("4 @1  46546xW%0l 1 5", "a b", "no digit"),
            ("4 @1  46546xW%0l 1 5", "1  3", "not a multiple"),
            ("4 @1  46546xW%0l 1 5", "99999999999 ", "above 4294967295"),
            ("Upgrade: WebSocket", "Upgrade: h2c", "Upgrade"),
            ("Connection: Upgrade", "Connection: close", "Connection"),
            ("GET /demo HTTP/1.1", "POST /demo HTTP/1.1", "GET"),
            ("Origin:", "Sec-WebSocket-Draft: 2\r\nOrigin:", "Draft"),
            ("Sec-WebSocket-Protocol: sample", "Sec-WebSocket-Protocol: ", "empty"),
            ("Host: example.com", "Host: a\r\nHost: b", "Host"),
        ];
        for (from, to, says) in cases {
            let e = with(from, to);
            assert_eq!(e.status(), 400, "{to}");
            assert!(e.reason().contains(says), "{to}: {}", e.reason());
        }
    }

    #[test]
    fn the_location_leaves_out_the_default_port_only() {
        assert_eq!(location(false, "h:80", "/a?b"), "ws://h/a?b");
        assert_eq!(location(false, "h:8080", "/"), "ws://h:8080/");
        assert_eq!(location(true, "h:443", "/"), "wss://h/");
        assert_eq!(location(true, "h:80", "/"), "wss://h:80/");
    }

    #[test]
    fn a_clients_challenge_is_what_a_server_checks_and_answers() {
        // A small deterministic generator: what matters is that every draw is used.
        let mut state = 0x2545_f491_u32;
        let mut random = |n: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state % n
        };
        for _ in 0..200 {
            let challenge = ClientChallenge::new(&mut random);
            for key in [&challenge.key1, &challenge.key2] {
                assert!(!key.starts_with(' ') && !key.ends_with(' '), "{key:?}");
                assert!(key.bytes().any(|b| !b.is_ascii_digit() && b != b' '), "{key:?}");
            }
            let wire =
                client_request("h:1", "/x", Some("http://o"), Some("p"), &challenge).unwrap();
            let (req, used) = parse_request(&wire, &HandshakeLimits::default()).unwrap().unwrap();
            assert_eq!(&wire[used..], challenge.key3);
            assert!(is_hybi00_request(&req));
            let up = validate_hybi00(req).unwrap();
            assert_eq!(challenge_response(up.parts, &challenge.key3), challenge.expected);
        }
    }

    #[test]
    fn a_header_that_would_split_the_response_is_refused() {
        let accept = Hybi00Accept { location: "ws://a/\r\nX: y".into(), ..Hybi00Accept::default() };
        assert!(accept_response(&accept, &[0; 16]).is_err());
    }
}
