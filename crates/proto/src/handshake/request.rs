//! The HTTP/1.x request head as the handshake sees it: [`Headers`], [`Request`] and the
//! incremental parser [`parse_request_from`] (with its one-shot form [`parse_request`]).
//!
//! It parses the head only; it does not read a body, decide what the request means
//! (that is [`super::validate_upgrade`]), or do I/O. Bytes after the head are the caller's.

use std::borrow::Cow;

use super::error::HandshakeError;
use super::head::{HeadError, check_parsed, find_head_end, header_slots};
use crate::config::HandshakeLimits;

/// Header fields in the order received. Names keep their case; lookups ignore ASCII case.
/// Values are raw bytes (HTTP allows `obs-text`), with surrounding whitespace removed by the
/// parser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field (duplicates are kept, in order).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.fields.push((name.into(), value.into()));
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// [`get`](Self::get) as text: `None` if absent **or not valid UTF-8**.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &v[..])
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Every field called `name` combined into one value, joined by `", "` as RFC 7230
    /// §3.2.2 allows for list-valued fields; `None` if there is none. Invalid UTF-8 becomes
    /// U+FFFD, which no token grammar accepts.
    pub fn get_combined(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.get_all(name);
        let first = String::from_utf8_lossy(values.next()?);
        let mut rest = values.peekable();
        if rest.peek().is_none() {
            return Some(first);
        }
        let mut joined = first.into_owned();
        for v in rest {
            joined.push_str(", ");
            joined.push_str(&String::from_utf8_lossy(v));
        }
        Some(Cow::Owned(joined))
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), &v[..]))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub(crate) fn from_httparse(parsed: &[httparse::Header<'_>]) -> Self {
        Headers { fields: parsed.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect() }
    }
}

impl FromIterator<(String, Vec<u8>)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        Headers { fields: iter.into_iter().collect() }
    }
}

/// A parsed HTTP/1.x request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET` (case-sensitive, as HTTP says).
    pub method: String,
    /// The request-target as sent, e.g. `/echo?x=1` (not decoded).
    pub target: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0 (other versions are refused by the parser).
    pub http_minor: u8,
    /// The header fields.
    pub headers: Headers,
}

/// Parses a request head from the start of `buf`, scanning all of it.
///
/// Same as [`parse_request_from`]`(buf, 0, limits)`. Each call costs up to
/// `min(buf.len(), max_head_bytes)`, so a caller that calls again after every read should
/// prefer [`parse_request_from`], which only looks at the new bytes.
pub fn parse_request(
    buf: &[u8],
    limits: &HandshakeLimits,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    parse_request_from(buf, 0, limits)
}

/// Parses a request head from the start of `buf`, which grows as bytes arrive.
///
/// - `Ok(None)`: the head is not complete; read more, append, and call again with
///   `already_scanned = buf.len()` as it was **at this call**. Passing it makes the search
///   for the end of the head look only at new bytes, so a head sent one byte at a time
///   costs linear time in total (CVE-2023-43669). Pass 0 the first time, or when unsure:
///   that is always correct, only slower.
/// - `Ok(Some((request, n)))`: the head is the first `n` bytes. Bytes after it (a body, or a
///   WebSocket frame the client pipelined after its handshake) belong to the caller.
/// - `Err` with **431** when the head does not end within `limits.max_head_bytes` (as soon as
///   `buf` holds that many bytes without a complete head) or has more than
///   `limits.max_headers` fields; **400** when it is malformed (bad request line, bad header
///   syntax, an HTTP version other than 1.0/1.1, obsolete line folding).
///
/// `httparse` runs once, on the complete head, with room for at most `max_headers` fields.
pub fn parse_request_from(
    buf: &[u8],
    already_scanned: usize,
    limits: &HandshakeLimits,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    parse(buf, already_scanned, limits).map_err(|e| match e {
        HeadError::TooLarge => HandshakeError::new(
            431,
            format!("request head is larger than {} bytes", limits.max_head_bytes),
        ),
        HeadError::TooManyHeaders => HandshakeError::new(
            431,
            format!("request has more than {} header fields", limits.max_headers),
        ),
        HeadError::Malformed(e) => HandshakeError::bad_request(format!("malformed request: {e}")),
        HeadError::Truncated => HandshakeError::bad_request("malformed request line"),
    })
}

fn parse(
    buf: &[u8],
    already_scanned: usize,
    limits: &HandshakeLimits,
) -> Result<Option<(Request, usize)>, HeadError> {
    let Some(end) = find_head_end(buf, already_scanned, limits.max_head_bytes)? else {
        return Ok(None);
    };
    let mut slots = vec![httparse::EMPTY_HEADER; header_slots(end, limits.max_headers)];
    let mut req = httparse::Request::new(&mut slots);
    let n = check_parsed(req.parse(&buf[..end]))?;
    // A complete parse fills all three; be defensive rather than unwrap.
    let (Some(method), Some(target), Some(http_minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Truncated);
    };
    let request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http_minor,
        headers: Headers::from_httparse(req.headers),
    };
    Ok(Some((request, n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const LIMITS: HandshakeLimits = HandshakeLimits { max_head_bytes: 16 * 1024, max_headers: 100 };

    fn parse_ok(buf: &[u8]) -> (Request, usize) {
        parse_request(buf, &LIMITS).unwrap().expect("complete head")
    }

    fn status(buf: &[u8]) -> u16 {
        parse_request(buf, &LIMITS).unwrap_err().status()
    }

    #[test]
    fn rfc7230_3_parses_request_line_and_headers() {
        let (req, n) = parse_ok(b"GET /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a:  2 \r\n\r\n");
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/echo?x=1");
        assert_eq!(req.http_minor, 1);
        assert_eq!(req.headers.len(), 3);
        assert_eq!(req.headers.get("HOST"), Some(&b"a"[..]));
        assert_eq!(req.headers.get_str("x-a"), Some("1"));
        assert_eq!(req.headers.get_all("X-a").collect::<Vec<_>>(), [&b"1"[..], &b"2"[..]]);
        assert_eq!(req.headers.count("x-A"), 2);
        assert_eq!(req.headers.get_combined("x-a").as_deref(), Some("1, 2"));
        assert_eq!(req.headers.get_combined("host").as_deref(), Some("a"));
        assert_eq!(req.headers.get_combined("nope"), None);
        let names: Vec<_> = req.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Host", "X-A", "x-a"]);
        assert_eq!(n, 53);
        let (req, _) = parse_ok(b"POST / HTTP/1.0\r\n\r\n");
        assert_eq!(
            (req.method.as_str(), req.http_minor, req.headers.is_empty()),
            ("POST", 0, true)
        );
    }

    #[test]
    fn non_utf8_header_value_is_kept_as_bytes() {
        let (req, _) = parse_ok(b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n");
        assert_eq!(req.headers.get("x"), Some(&b"caf\xe9"[..]));
        assert_eq!(req.headers.get_str("x"), None);
    }

    #[test]
    fn rfc6455_4_1_pipelined_bytes_after_head_are_not_consumed() {
        let head = b"GET /chat HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut buf = head.to_vec();
        buf.extend_from_slice(&[0x81, 0x85, 1, 2, 3, 4, b'h', b'e', b'l', b'l', b'o']);
        let (_, n) = parse_ok(&buf);
        assert_eq!(n, head.len());
        assert_eq!(buf[n], 0x81);
    }

    #[test]
    fn rfc7230_3_incomplete_head_needs_more_bytes() {
        for buf in [&b""[..], b"GET", b"GET / HTTP/1.1\r\nHost: a\r\n", b"GET / HTTP/1.1\r\n\r"] {
            assert_eq!(parse_request(buf, &LIMITS).unwrap(), None, "{buf:?}");
        }
    }

    #[test]
    fn rfc7230_3_malformed_is_400() {
        for buf in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            b"GET /\r\n\r\n",
            b"G\0T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
        ] {
            assert_eq!(status(buf), 400, "{buf:?}");
        }
    }

    #[test]
    fn rfc6585_5_head_larger_than_limit_is_431() {
        let small = HandshakeLimits { max_head_bytes: 64, max_headers: 100 };
        let fits = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64 - 23));
        assert_eq!(fits.len(), 64);
        assert!(parse_request(fits.as_bytes(), &small).unwrap().is_some());
        let over = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64 - 22));
        assert_eq!(parse_request(over.as_bytes(), &small).unwrap_err().status(), 431);
        // Incomplete, already at the limit: no complete head can fit any more.
        assert_eq!(parse_request(&over.as_bytes()[..64], &small).unwrap_err().status(), 431);
        assert_eq!(parse_request(&over.as_bytes()[..63], &small).unwrap(), None);
    }

    /// CVE-2024-37890 (ws): 2,000 headers must give a clean 431, not a crash.
    #[test]
    fn rfc6585_5_two_thousand_headers_is_431() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..2000 {
            buf.extend_from_slice(b"a:b\r\n");
        }
        buf.extend_from_slice(b"\r\n");
        assert!(buf.len() < LIMITS.max_head_bytes, "the count, not the size, must trigger");
        let e = parse_request(&buf, &LIMITS).unwrap_err();
        assert_eq!(e.status(), 431);
        assert!(e.reason().contains("100 header fields"), "{}", e.reason());
    }

    #[test]
    fn rfc6585_5_header_count_limit_is_inclusive() {
        let head = |n: usize| {
            let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..n {
                buf.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
            }
            buf.extend_from_slice(b"\r\n");
            buf
        };
        assert_eq!(parse_ok(&head(100)).0.headers.len(), 100);
        assert_eq!(status(&head(101)), 431);
        let none = HandshakeLimits { max_head_bytes: 1024, max_headers: 0 };
        assert!(parse_request(&head(0), &none).unwrap().is_some());
        assert_eq!(parse_request(&head(1), &none).unwrap_err().status(), 431);
    }

    #[test]
    fn rfc7230_3_5_leading_empty_lines_are_skipped() {
        let (req, n) = parse_ok(b"\r\n\nGET / HTTP/1.1\r\n\r\nX");
        assert_eq!((req.method.as_str(), n), ("GET", 21));
    }

    /// CVE-2023-43669 (tungstenite): a 1 MiB header sent one byte at a time must cost linear
    /// time and be refused with 431 once 16 KiB have arrived.
    #[test]
    fn rfc6585_5_one_mib_header_byte_at_a_time_is_fast_and_431() {
        let mut wire = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        wire.resize(1024 * 1024, b'a');
        let start = Instant::now();
        let mut buf = Vec::new();
        let mut scanned = 0;
        let mut refused_at = None;
        for &b in &wire {
            buf.push(b);
            match parse_request_from(&buf, scanned, &LIMITS) {
                Ok(None) => scanned = buf.len(),
                Ok(Some(_)) => panic!("no head can be complete"),
                Err(e) => {
                    assert_eq!(e.status(), 431);
                    refused_at = Some(buf.len());
                    break;
                }
            }
        }
        assert_eq!(refused_at, Some(LIMITS.max_head_bytes));
        // A whole 1 MiB buffer at once is refused after looking at 16 KiB only.
        assert_eq!(parse_request(&wire, &LIMITS).unwrap_err().status(), 431);
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    #[test]
    fn rfc7230_3_byte_at_a_time_head_gives_same_result() {
        let wire = b"GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n\x81\x00";
        let mut scanned = 0;
        for len in 0..=wire.len() {
            match parse_request_from(&wire[..len], scanned, &LIMITS).unwrap() {
                None => scanned = len,
                Some((req, n)) => {
                    assert_eq!(len, wire.len() - 2);
                    assert_eq!(n, len);
                    assert_eq!(req.headers.get_str("upgrade"), Some("websocket"));
                    return;
                }
            }
        }
        panic!("head never completed");
    }

    proptest! {
        #[test]
        fn rfc7230_3_parse_request_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = parse_request(&bytes, &LIMITS);
            let tiny = HandshakeLimits { max_head_bytes: 32, max_headers: 2 };
            let _ = parse_request(&bytes, &tiny);
        }

        #[test]
        fn rfc7230_3_incremental_equals_one_shot(
            headers in proptest::collection::vec(("[a-zA-Z-]{1,8}", "[ -~]{0,12}"), 0..6),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            crlf in any::<bool>(),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut wire = format!("GET /p HTTP/1.1{nl}");
            for (n, v) in &headers {
                wire.push_str(&format!("{n}: {v}{nl}"));
            }
            wire.push_str(nl);
            let mut wire = wire.into_bytes();
            wire.extend_from_slice(&tail);
            let one_shot = parse_request(&wire, &LIMITS);
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut scanned = 0;
            let mut incremental = Ok(None);
            for cut in cuts {
                incremental = parse_request_from(&wire[..cut], scanned, &LIMITS);
                match incremental {
                    Ok(None) => scanned = cut,
                    _ => break,
                }
            }
            prop_assert_eq!(incremental, one_shot);
        }
    }
}
