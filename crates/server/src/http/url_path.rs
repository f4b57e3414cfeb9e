//! The path of an HTTP request target, decoded into segments that are safe to join to the
//! document root, and the query beside it.
//!
//! This is the syntactic half of keeping requests inside the root: every segment is
//! percent-decoded on its own, and a segment that decodes to `.` or `..`, or that contains
//! `/`, `\` or NUL (`%2f`, `%5c`, `%00`, a literal backslash) is refused, never normalized.
//! Empty segments (`//`) are skipped. The filesystem half (symlinks) is
//! `static_files::resolve`. It does no I/O.

use std::fmt::Write as _;

/// A request path split into decoded segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlPath {
    /// Decoded segments, none empty, none `.` or `..`, none containing `/`, `\` or NUL.
    pub(crate) segments: Vec<Vec<u8>>,
    /// The path as sent (still percent-encoded), starting with `/`.
    pub(crate) raw: String,
    /// The query as sent, without its `?` (empty when there is none).
    pub(crate) query: String,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Not an origin-form path, or a broken `%` escape: 400.
    Malformed(&'static str),
    /// A segment that could leave the directory it names: 403.
    Forbidden(&'static str),
}

impl PathError {
    pub(crate) fn status(&self) -> u16 {
        match self {
            PathError::Malformed(_) => 400,
            PathError::Forbidden(_) => 403,
        }
    }

    pub(crate) fn reason(&self) -> &'static str {
        match self {
            PathError::Malformed(r) | PathError::Forbidden(r) => r,
        }
    }
}

impl UrlPath {
    /// Parses an origin-form target (`/a/b?q#f`) or the path of an absolute `http(s)://`
    /// one. The fragment is dropped.
    pub(crate) fn parse(target: &str) -> Result<UrlPath, PathError> {
        let target = wshd_proto::handshake::Target::parse(strip_http_authority(target));
        let (raw, query) = (target.path, target.query.unwrap_or_default());
        if !raw.starts_with('/') {
            return Err(PathError::Malformed("request target is not a path starting with /"));
        }
        let mut segments = Vec::new();
        for part in raw.split('/').filter(|p| !p.is_empty()) {
            let seg = percent_decode(part)
                .ok_or(PathError::Malformed("request path has a broken % escape"))?;
            if seg == b"." || seg == b".." {
                return Err(PathError::Forbidden("request path has a . or .. segment"));
            }
            if seg.iter().any(|&b| matches!(b, b'/' | b'\\' | 0)) {
                return Err(PathError::Forbidden(
                    "request path has an encoded /, a backslash or NUL in a segment",
                ));
            }
            segments.push(seg);
        }
        Ok(UrlPath { segments, raw: raw.to_owned(), query: query.to_owned() })
    }

    /// Whether the path as sent ends with `/` (a directory URL).
    pub(crate) fn has_trailing_slash(&self) -> bool {
        self.raw.ends_with('/')
    }

    /// The decoded segments `range` joined as `/a/b` (lossy for bytes that are not UTF-8);
    /// `/` when the range is empty.
    pub(crate) fn decoded(&self, range: std::ops::Range<usize>) -> String {
        let mut out = String::new();
        for seg in &self.segments[range] {
            out.push('/');
            out.push_str(&String::from_utf8_lossy(seg));
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

/// `http://host:port/p` → `/p`; anything else unchanged.
fn strip_http_authority(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if target.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme)) {
            let rest = &target[scheme.len()..];
            return rest.find(['/', '?']).map_or("/", |i| &rest[i..]);
        }
    }
    target
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes `bytes` for use as one path segment of a URL (RFC 3986 unreserved
/// characters and a few safe sub-delimiters stay as they are).
pub(crate) fn percent_encode_segment(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(target: &str) -> Vec<String> {
        UrlPath::parse(target)
            .unwrap()
            .segments
            .into_iter()
            .map(|s| String::from_utf8(s).unwrap())
            .collect()
    }

    #[test]
    fn splits_decodes_and_keeps_query() {
        let p = UrlPath::parse("/a%20b//c/?x=1&y=%2f#frag").unwrap();
        assert_eq!(p.segments, [b"a b".to_vec(), b"c".to_vec()]);
        assert_eq!(p.raw, "/a%20b//c/");
        assert_eq!(p.query, "x=1&y=%2f");
        assert!(p.has_trailing_slash());
        assert_eq!(p.decoded(0..2), "/a b/c");
        assert_eq!(p.decoded(0..0), "/");
        assert_eq!(segs("/"), Vec::<String>::new());
        assert_eq!(segs("http://example.com:8080/x/y?q"), ["x", "y"]);
        assert_eq!(segs("HTTP://example.com"), Vec::<String>::new());
        assert_eq!(segs("/%2E%2E%2E"), ["..."]);
    }

    #[test]
    fn every_traversal_form_is_forbidden() {
        for target in [
            "/..",
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/./a",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/.%2e/x",
            "/a%2f..%2f..%2fetc",
            "/a%2F..",
            "/..%5c..%5cetc",
            "/a\\..\\..\\etc",
            "/a%00.html",
            "/%5c",
        ] {
            let e = UrlPath::parse(target).unwrap_err();
            assert_eq!(e.status(), 403, "{target}");
        }
    }

    #[test]
    fn malformed_targets_are_400() {
        for target in ["*", "a/b", "/a%", "/a%4", "/a%zz", ""] {
            assert_eq!(UrlPath::parse(target).unwrap_err().status(), 400, "{target:?}");
        }
    }

    #[test]
    fn encodes_a_segment_for_a_link() {
        assert_eq!(
            percent_encode_segment(b"a b<&>\"'#?%/\xff.txt"),
            "a%20b%3C&%3E%22'%23%3F%25%2F%FF.txt"
        );
    }
}
